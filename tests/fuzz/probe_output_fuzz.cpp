// libFuzzer: the probe script's output parser (gate/probe/probe_script.h) on arbitrary bytes, as
// a hostile or broken node could send them. Must never crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gate/probe/probe_script.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)fwgate::probe::ParseProbeOutput(text, "fixture0nonce01");
  return 0;
}
