// libFuzzer: fwgate's own scans of nft text (gate/nft): nft's diagnostics, interface names,
// include statements and their resolution over an in-memory tree, rule statements. Linear work
// whatever the text; never a crash.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "gate/nft/diagnostics.h"
#include "gate/nft/interface_scan.h"
#include "gate/nft/rule_locations.h"
#include "gate/nft/source.h"

namespace {

// The fuzzed text is the root file; every include it names exists and holds the same text.
class EchoFiles : public fwgate::nft::RulesetFiles {
 public:
  explicit EchoFiles(std::string text) : text_(std::move(text)) {}
  fwgate::Result<std::string> Read(const std::string&, size_t max_bytes) override {
    if (text_.size() > max_bytes) return fwgate::Error::BadInput("too large");
    return text_;
  }
  bool Exists(const std::string&) override { return true; }
  std::vector<std::string> Glob(const std::string& pattern, size_t) override { return {pattern}; }

 private:
  std::string text_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto diags = fwgate::nft::ParseNftErrors(text, "fuzz.nft");
  (void)fwgate::nft::MissingInterfacesFromDiagnostics(diags);
  (void)fwgate::nft::MissingTablesFromDiagnostics(diags);
  for (const auto& d : diags) {
    (void)fwgate::nft::UnsupportedReason(d);
    (void)d.ToStringWithContext();
  }
  (void)fwgate::nft::ScanInterfaceNames(text);
  auto scanned = fwgate::nft::ScanStatements(text);
  (void)fwgate::nft::LocateRules(fwgate::nft::ParseEchoedRules(text), scanned, [](int l, int c) {
    return fwgate::SourceLocation{"f", l, c};
  });
  EchoFiles files(text);
  fwgate::nft::FlattenOptions o;
  o.max_total_bytes = 1 << 20;
  o.max_files = 64;
  auto flat = fwgate::nft::Flatten(files, "/fuzz/root.nft", o);
  if (auto* f = std::get_if<fwgate::nft::FlatText>(&flat)) {
    (void)f->Map(1, 1);
    (void)f->Line("/fuzz/root.nft", 2);
  }
  return 0;
}
