// Interface names a ruleset binds to (iif, oif, device, devices: through `define`d variables and
// anonymous sets), so the throwaway namespace can hold placeholder links of those names.
// Linear time and memory in the text, whatever it holds. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fwgate::nft {

// Only names that are valid Linux interface names; no duplicates, in order of appearance; at
// most `max_names`.
[[nodiscard]] std::vector<std::string> ScanInterfaceNames(std::string_view text,
                                                          size_t max_names = 4096);

}  // namespace fwgate::nft
