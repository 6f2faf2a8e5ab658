// libFuzzer: the inventory readers (INI, YAML, ansible-inventory JSON) and host patterns
// (gate/probe/inventory.h). The first byte picks the file name's kind.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gate/probe/inventory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kNames[] = {"inventory.ini", "inventory.yml", "inventory.json", "hosts"};
  std::string_view name = kNames[data[0] % 4];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto inv = fwgate::probe::ParseInventory(text, name);
  if (inv) {
    (void)inv->Select("");
    (void)inv->Select("storage:!osd*");
  }
  (void)fwgate::probe::ParseAnsibleInventoryJson(text, name);
  (void)fwgate::probe::ParseSshArgs(text.substr(0, 4096));
  return 0;
}
