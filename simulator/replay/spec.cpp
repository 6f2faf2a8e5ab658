#include "simulator/replay/spec.h"

#include <charconv>
#include <cmath>
#include <vector>

namespace fwgate::replay {
namespace {

std::vector<std::string_view> SplitComma(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t c = s.find(',', start);
    out.push_back(
        s.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  return out;
}

Status CheckNode(std::string_view flag, std::string_view name, int nodes) {
  std::string_view digits = name.substr(0, 4) == "node" ? name.substr(4) : std::string_view{};
  bool ok = !digits.empty() && digits.size() <= 3 && digits[0] != '0' &&
            digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (ok) {
    int n = std::stoi(std::string(digits));
    ok = n >= 1 && n <= nodes;
  }
  if (!ok) {
    return Error::BadInput(std::string(flag) + ": unknown node '" + std::string(name) +
                           "' (nodes are node1..node" + std::to_string(nodes) + ")");
  }
  return OkStatus();
}

// Shared shape: VALUE, or NAME=VALUE[,NAME=VALUE...].
template <typename T, typename ParseOne>
Result<PerNode<T>> ParsePerNode(std::string_view flag, std::string_view text, int nodes,
                                const std::string& forms, ParseOne parse_one) {
  PerNode<T> out;
  if (text.empty()) return Error::BadInput(std::string(flag) + ": empty value; " + forms);
  if (text.find('=') == std::string_view::npos) {
    auto v = parse_one(text);
    if (!v) return Error::BadInput(std::string(flag) + ": " + v.error().context + "; " + forms);
    out.all = *v;
    return out;
  }
  for (std::string_view item : SplitComma(text)) {
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return Error::BadInput(std::string(flag) + ": '" + std::string(item) +
                             "' is not NODE=VALUE; " + forms);
    }
    std::string_view name = item.substr(0, eq);
    if (auto st = CheckNode(flag, name, nodes); !st) return st.error();
    auto v = parse_one(item.substr(eq + 1));
    if (!v) return Error::BadInput(std::string(flag) + ": " + v.error().context + "; " + forms);
    if (!out.named.emplace(std::string(name), *v).second) {
      return Error::BadInput(std::string(flag) + ": node '" + std::string(name) + "' given twice");
    }
  }
  return out;
}

}  // namespace

Result<PerNode<hazards::KernelVersion>> ParseKernelSpec(std::string_view text, int nodes) {
  const std::string forms =
      "valid forms: --kernel VERSION (every node) or --kernel node1=VERSION,node2=VERSION,... "
      "with VERSION like 4.4, 4.15.18, 4.15.0-112-generic, 5.10.0-21-amd64";
  return ParsePerNode<hazards::KernelVersion>(
      "--kernel", text, nodes, forms, [](std::string_view v) -> Result<hazards::KernelVersion> {
        auto k = hazards::ParseKernelVersion(v);
        if (!k) return Error::BadInput("unknown kernel '" + std::string(v) + "'");
        return k;
      });
}

Result<PerNode<int>> ParseBeLiberalSpec(std::string_view text, int nodes) {
  const std::string forms =
      "valid forms: --be-liberal 0|1 (every node) or --be-liberal node1=1,node2=0,...";
  return ParsePerNode<int>("--be-liberal", text, nodes, forms,
                           [](std::string_view v) -> Result<int> {
                             if (v == "0") return 0;
                             if (v == "1") return 1;
                             return Error::BadInput("'" + std::string(v) + "' is not 0 or 1");
                           });
}

Result<RestartSpec> ParseRestartSpec(std::string_view text, int nodes) {
  auto bad = [&](const std::string& why) {
    return Error::BadInput("--restart " + std::string(text) + ": " + why +
                           " (NODE:DAEMONS[@SECONDS], e.g. node1:8)");
  };
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return bad("no ':'");
  std::string_view node = text.substr(0, colon);
  std::string_view daemons = text.substr(colon + 1);
  std::string_view at;
  if (size_t a = daemons.find('@'); a != std::string_view::npos) {
    at = daemons.substr(a + 1);
    daemons = daemons.substr(0, a);
  }
  if (auto st = CheckNode("--restart", node, nodes); !st) return st.error();
  RestartSpec r;
  r.node = std::stoi(std::string(node.substr(4))) - 1;  // CheckNode: node1..node<nodes>
  auto [end, ec] = std::from_chars(daemons.data(), daemons.data() + daemons.size(), r.daemons);
  if (daemons.empty() || ec != std::errc() || end != daemons.data() + daemons.size() ||
      r.daemons < 1 || r.daemons > 64) {
    return bad("DAEMONS is a whole number from 1 to 64");
  }
  if (!at.empty()) {
    double seconds = -1;
    auto [e, err] = std::from_chars(at.data(), at.data() + at.size(), seconds);
    if (err != std::errc() || e != at.data() + at.size() || !(seconds >= 0 && seconds <= 3600)) {
      return bad("SECONDS is a number from 0 to 3600");
    }
    r.at_ms = static_cast<int>(std::lround(seconds * 1000));
  }
  return r;
}

}  // namespace fwgate::replay
