// Result<T>: a value or an Error, returned at every OS boundary and by every parser. An Error
// carries a kind (what it means for the caller: bad input, unavailable, internal), the OS error
// code when there was one, and context ("dumping rules of table inet storage").
// Plain value types; not thread-safe beyond what std::variant offers.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace fwgate {

// What an error means for the answer (base/outcome.h maps kinds to outcomes).
enum class ErrorKind {
  kBadInput,     // the user's input is wrong: a ruleset, an inventory, a flag (exit 2)
  kUnavailable,  // something needed could not be reached or read: no privilege, a node
                 // unreachable, a tool or kernel feature missing, an OS call failed (exit 3)
  kInternal,     // a bug or an impossible state in fwgate itself (exit 3, never pass)
};

struct Error {
  ErrorKind kind = ErrorKind::kUnavailable;
  std::error_code code;  // the OS error when there was one; empty for message-only errors
  std::string context;   // what was being done, or the whole message

  // An OS call failed with errno `err` while doing `context`.
  static Error FromErrno(int err, std::string context, ErrorKind kind = ErrorKind::kUnavailable) {
    return Error{kind, std::error_code(err, std::system_category()), std::move(context)};
  }
  static Error BadInput(std::string message) {
    return Error{ErrorKind::kBadInput, {}, std::move(message)};
  }
  static Error Unavailable(std::string message) {
    return Error{ErrorKind::kUnavailable, {}, std::move(message)};
  }
  static Error Internal(std::string message) {
    return Error{ErrorKind::kInternal, {}, std::move(message)};
  }

  // The same error with "prefix: " in front of its context.
  [[nodiscard]] Error Wrap(const std::string& prefix) const {
    return Error{kind, code, context.empty() ? prefix : prefix + ": " + context};
  }
  // The OS errno, or 0 for message-only errors.
  [[nodiscard]] int Errno() const {
    return code && code.category() == std::system_category() ? code.value() : 0;
  }
  // "context: strerror" for OS errors, the context alone otherwise.
  [[nodiscard]] std::string ToString() const {
    if (!code) return context;
    return context.empty() ? code.message() : context + ": " + code.message();
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

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
