#include "base/finding.h"

namespace fwgate {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kBlocking:
      return "blocking";
  }
  return "info";
}

std::optional<Severity> SeverityFromName(std::string_view name) {
  for (Severity s : {Severity::kInfo, Severity::kWarning, Severity::kBlocking}) {
    if (SeverityName(s) == name) return s;
  }
  return std::nullopt;
}

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  std::string s = file + ":" + std::to_string(line);
  if (column > 0) s += ":" + std::to_string(column);
  return s;
}

}  // namespace fwgate
