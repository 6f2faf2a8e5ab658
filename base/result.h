// Result<T>: a value or an Error (std::error_code plus context), returned at every OS boundary.
// Plain value types; not thread-safe beyond what std::variant offers.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace fwgate {

// What went wrong and while doing what ("dumping rules of table inet storage").
struct Error {
  std::error_code code;
  std::string context;

  static Error FromErrno(int err, std::string context) {
    return Error{std::error_code(err, std::system_category()), std::move(context)};
  }
  static Error Msg(std::string context, std::errc code = std::errc::invalid_argument) {
    return Error{std::make_error_code(code), std::move(context)};
  }
  // "context: strerror" (or just the context when the code carries no extra meaning).
  [[nodiscard]] std::string ToString() const {
    if (!code) return context;
    return context.empty() ? code.message() : context + ": " + code.message();
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result for operations that produce no value.
struct Ok {};
using Status = Result<Ok>;

inline Status OkStatus() { return Ok{}; }

}  // namespace fwgate
