// libFuzzer: probe JSON read back (gate/probe/probe_json.h), as any fleet tool could write it.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "gate/probe/probe_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;
  if (doc.is_object() && doc.contains("nodes") && doc["nodes"].is_array()) {
    for (const auto& n : doc["nodes"]) (void)fwgate::probe::NodeFactsFromJson(n);
  } else {
    (void)fwgate::probe::NodeFactsFromJson(doc);
  }
  return 0;
}
