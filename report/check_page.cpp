// The gate's pages for people: Markdown (a pull-request comment or a change ticket) and one
// self-contained HTML page (inline CSS and SVG, no script, no network). Pure functions.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "base/text.h"
#include "report/check_common.h"
#include "report/check_report.h"

namespace fwgate::report {

using check::CheckReport;
using check::ReplayRun;
using namespace check_render;

namespace {

// ---------------------------------------------------------------------------------------------
// Shared

// Bytes per second in the unit that reads best ("512 MB/s", "3.8 kB/s"), decimal units.
std::string Rate(double bytes_per_s) {
  if (bytes_per_s <= 0) return "0";
  static constexpr const char* kUnits[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
  int u = 0;
  while (bytes_per_s >= 1000 && u < 4) {
    bytes_per_s /= 1000;
    ++u;
  }
  int decimals = bytes_per_s >= 100 ? 0 : bytes_per_s >= 10 ? 1 : 2;
  return fmt::format("{:.{}f} {}", bytes_per_s, decimals, kUnits[u]);
}

std::string StallText(int64_t ms) {
  if (ms <= 0) return "0 s";
  return fmt::format("{:.1f} s", static_cast<double>(ms) / 1000.0);
}

double Secs(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

std::string RunLine(const ReplayRun& run) {
  const auto& rep = run.report;
  int total = static_cast<int>(rep.connections.size());
  int broken = 0;
  for (const auto& c : rep.connections) broken += c.broken;
  std::string s = std::string(replay::VerdictName(rep.verdict));
  if (total > 0) s += fmt::format(": {} of {} connections broke", broken, total);
  if (rep.max_stall_ms > 0) s += ", longest stall " + StallText(rep.max_stall_ms);
  return s;
}

std::string PlanChangeWhere(const diff::Change& c) {
  std::string s = std::string(nft::FamilyName(c.family)) + " " + c.table;
  if (!c.chain.empty()) s += " " + c.chain;
  if (!c.set.empty()) s += " @" + c.set;
  if (c.object != diff::ObjectKind::kTable && c.object != diff::ObjectKind::kRule &&
      c.object != diff::ObjectKind::kElement && !c.name.empty() && c.name != c.chain &&
      c.name != c.set)
    s += " " + c.name;
  return s;
}

std::string PlanChangeText(const diff::Change& c) {
  if (c.op == diff::Op::kChange && !c.before.empty()) return c.before + "  ->  " + c.after;
  return c.text;
}

std::string PlanSummary(const diff::Plan& p) {
  return fmt::format("{} added, {} removed, {} changed, {} moved", p.summary.add, p.summary.remove,
                     p.summary.change, p.summary.move);
}

// `s` cut at backticks: the odd pieces were between a pair of them (fixes and messages quote
// commands and rules that way); an unpaired last backtick stays in the text.
std::vector<std::string> BacktickPieces(std::string_view s) {
  std::vector<std::string> parts(1);
  for (char c : s) {
    if (c == '`') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  if (parts.size() % 2 == 0) {  // odd number of backticks: the last one is text
    std::string tail = parts.back();
    parts.pop_back();
    parts.back() += "`" + tail;
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Markdown

// Controls as escape text, line breaks and tabs as spaces.
std::string MdClean(std::string_view in) {
  std::string s = ControlsAsText(in, "\n\r\t");
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

bool Alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// True when the '@' at s[i] would mention a GitHub user or team: at a word start, a handle of
// letters, digits and hyphens (optionally "/team"), not followed by a word character or a dot
// inside a word ("@mgmt_nets", nft's set syntax, mentions no one).
bool IsMention(std::string_view s, size_t i) {
  if (i > 0 && (Alnum(s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '`')) return false;
  auto handle = [&](size_t k) {
    if (k >= s.size() || !Alnum(s[k])) return k;
    while (k < s.size() && (Alnum(s[k]) || s[k] == '-')) ++k;
    return k;
  };
  size_t k = handle(i + 1);
  if (k == i + 1) return false;
  if (k < s.size() && s[k] == '/') {
    size_t t = handle(k + 1);
    if (t > k + 1) k = t;
  }
  if (k == s.size()) return true;
  if (s[k] == '_') return false;
  if (s[k] == '.') {
    while (k < s.size() && s[k] == '.') ++k;
    return k == s.size() || s[k] == ' ' || s[k] == '\t' || !(Alnum(s[k]) || s[k] == '_');
  }
  return true;
}

// Text from outside as inline Markdown: every character that can start inline formatting, a
// link, HTML, math or a table cell boundary backslash-escaped ('_' only where it could start or
// end emphasis, so nft names stay readable); an '@' that would mention someone followed by a
// zero-width space (a ruleset comment must not ping a team from a PR comment).
std::string Md(std::string_view in) {
  static constexpr std::string_view kSpecial = "\\`*[]<>|~&$";
  std::string s = MdClean(in);
  std::string o;
  o.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool intraword = i > 0 && i + 1 < s.size() && Alnum(s[i - 1]) && Alnum(s[i + 1]);
    if (kSpecial.find(c) != std::string_view::npos || (c == '_' && !intraword)) {
      o += '\\';
      o += c;
    } else if (c == '@' && IsMention(s, i)) {
      o += "@\xE2\x80\x8B";
    } else {
      o += c;
    }
  }
  return o;
}

// A code span holding `in` literally: a backtick fence longer than any run inside; in a table
// cell, '|' escaped (GFM splits cells before it parses spans).
std::string MdCode(std::string_view in, bool in_table = false) {
  std::string s = MdClean(in);
  size_t run = 0, longest = 0;
  for (char c : s) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  if (in_table) {
    std::string t;
    for (char c : s) {
      if (c == '|') t += '\\';
      t += c;
    }
    s = t;
  }
  std::string fence(longest + 1, '`');
  bool pad = !s.empty() && (s.front() == '`' || s.back() == '`');
  return fence + (pad ? " " : "") + s + (pad ? " " : "") + fence;
}

// Prose with `quoted` pieces as code spans, the rest escaped.
std::string MdRich(std::string_view in) {
  auto parts = BacktickPieces(in);
  std::string o;
  for (size_t i = 0; i < parts.size(); ++i) o += i % 2 ? MdCode(parts[i]) : Md(parts[i]);
  return o;
}

// A fenced code block for commands or file lines.
std::string MdBlock(const std::vector<std::string>& lines, std::string_view lang) {
  size_t longest = 0;
  std::vector<std::string> clean;
  for (const auto& l : lines) {
    clean.push_back(MdClean(l));
    size_t run = 0;
    for (char c : clean.back()) {
      run = c == '`' ? run + 1 : 0;
      longest = std::max(longest, run);
    }
  }
  std::string fence(std::max<size_t>(3, longest + 1), '`');
  std::string o = fence + std::string(lang) + "\n";
  for (const auto& l : clean) o += l + "\n";
  return o + fence + "\n";
}

std::string_view MdEmoji(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "\xE2\x9C\x85";
    case Outcome::kFail:
      return "\xE2\x9D\x8C";
    case Outcome::kUndecided:
      return "\xE2\x9A\xA0\xEF\xB8\x8F";
    case Outcome::kBadInput:
      return "\xF0\x9F\x9A\xAB";
  }
  return "";
}

std::string_view MdBadge(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "\xE2\x9C\x85 pass";  // white heavy check mark
    case Outcome::kFail:
      return "\xE2\x9D\x8C fail";  // cross mark
    case Outcome::kUndecided:
      return "\xE2\x9A\xA0\xEF\xB8\x8F undecided";  // warning sign
    case Outcome::kBadInput:
      return "\xF0\x9F\x9A\xAB bad input";  // no entry sign
  }
  return "undecided";
}

std::string MdFinding(const Finding& f, size_t n) {
  std::string o = fmt::format("{}. **{}** {}", n, MdCode(f.id),
                              f.stage.empty() ? "" : "\xC2\xB7 " + Md(f.stage));
  if (!f.node.empty()) o += " \xC2\xB7 node " + Md(f.node);
  if (f.location && f.location->known()) o += " \xC2\xB7 " + MdCode(f.location->ToString());
  o += "  \n   " + MdRich(f.message) + "\n";
  for (const auto& rel : f.related) {
    o += "   - see " + MdCode(rel.where.ToString());
    if (!rel.message.empty()) o += ": " + Md(rel.message);
    o += "\n";
  }
  if (!f.fix.empty()) o += "   - **Fix:** " + MdRich(f.fix) + "\n";
  auto block = [&](const std::vector<std::string>& lines, std::string_view lang) {
    std::string b = MdBlock(lines, lang);
    std::string indented;
    size_t i = 0;
    while (i < b.size()) {
      size_t nl = b.find('\n', i);
      indented += "     " + b.substr(i, nl - i) + "\n";
      i = nl + 1;
    }
    return indented;
  };
  if (!f.fix_commands.empty()) o += "\n" + block(f.fix_commands, "sh");
  if (!f.fix_config.empty()) o += "\n   - persistent:\n\n" + block(f.fix_config, "");
  if (!f.source.empty()) o += "   - rests on " + Md(f.source) + "\n";
  return o + "\n";
}

std::string MdCell(std::string_view s) { return s.empty() ? "" : Md(s); }

// ---------------------------------------------------------------------------------------------
// HTML

std::string H(std::string_view s) { return XmlSafe(s); }

// Prose with `quoted` pieces as <code>, everything escaped.
std::string HRich(std::string_view in) {
  auto parts = BacktickPieces(in);
  std::string o;
  for (size_t i = 0; i < parts.size(); ++i) {
    o += i % 2 ? "<code>" + H(parts[i]) + "</code>" : H(parts[i]);
  }
  return o;
}

std::string Pill(Outcome o) {
  return fmt::format("<span class=\"pill {}\">{}</span>", OutcomeName(o), OutcomeName(o));
}

// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
std::string_view ClassColour(std::string_view cls) {
  if (cls == "replication") return "#0072B2";
  if (cls == "heartbeat") return "#D55E00";
  if (cls == "client") return "#009E73";
  if (cls == "mon") return "#CC79A7";
  return "#666666";
}

// Lines of classes that carry about the same rate coincide (replication and client streams,
// heartbeats and mon sessions): the earlier-drawn line is wider, so it shows as a border around
// the later one, and mon is dashed.
std::string_view ClassDash(std::string_view cls) {
  if (cls == "replication") return " stroke-width=\"4\"";
  if (cls == "heartbeat") return " stroke-width=\"3.2\"";
  return cls == "mon" ? " stroke-dasharray=\"7 4\"" : "";
}

constexpr std::string_view kClassOrder[] = {"replication", "heartbeat", "client", "mon"};

// One replay's throughput per class, as the chart draws it.
struct Series {
  std::string cls;
  std::vector<double> mbps;  // MB/s per bucket, after the centred mean
  int half = 0;              // the mean's window: 2 * half + 1 buckets
};
struct Panel {
  const ReplayRun* run = nullptr;
  std::vector<Series> series;
  double bucket_s = 0.1;
  int64_t mark = -1;
  size_t step = 1;  // buckets per drawn point (long replays are averaged down to kMaxPoints)
  // Seconds from the reload at the middle of drawn point i.
  [[nodiscard]] double X(size_t i) const {
    return ((static_cast<double>(i) + 0.5) * static_cast<double>(step) -
            static_cast<double>(std::max<int64_t>(mark, 0))) *
           bucket_s;
  }
};

// At most this many points per line: a page stays small whatever the replay's length.
constexpr size_t kMaxPoints = 1200;

// Periodic classes send every 200-500 ms, so their 100 ms buckets hold zero, one or a few
// messages and a raw line combs between them. Each class is drawn as a centred mean over the
// shortest window (odd, in buckets, at most ~1 s) over which its traffic before the reload is
// steady (no empty window, spread under a quarter of the mean), the same window in both runs;
// bulk classes keep their buckets (a window of 1).
constexpr double kSteadySpread = 0.25;

int HalfWindow(const std::vector<const std::vector<uint64_t>*>& runs,
               const std::vector<int64_t>& marks, double bucket_s) {
  int max_half = std::max(0, static_cast<int>(std::lround(0.5 / bucket_s)));
  for (int half = 0; half <= max_half; ++half) {
    bool ok = true;
    for (size_t r = 0; r < runs.size() && ok; ++r) {
      const auto& b = *runs[r];
      int64_t end = marks[r] >= 0 ? std::min<int64_t>(marks[r], static_cast<int64_t>(b.size()))
                                  : static_cast<int64_t>(b.size());
      std::vector<double> means;
      for (int64_t i = half; i + half < end; ++i) {
        double sum = 0;
        for (int64_t j = i - half; j <= i + half; ++j) {
          sum += static_cast<double>(b[static_cast<size_t>(j)]);
        }
        means.push_back(sum / (2 * half + 1));
      }
      if (means.size() < 2) continue;
      double mean = 0, var = 0;
      for (double m : means) mean += m;
      mean /= static_cast<double>(means.size());
      if (mean <= 0) continue;  // nothing before the reload: no period to cover
      for (double m : means) var += (m - mean) * (m - mean);
      var /= static_cast<double>(means.size());
      bool empty = std::any_of(means.begin(), means.end(), [](double m) { return m <= 0; });
      ok = !empty && std::sqrt(var) <= kSteadySpread * mean;
    }
    if (ok) return half;
  }
  return max_half;
}

std::vector<Panel> MakePanels(const std::vector<const ReplayRun*>& runs) {
  std::vector<Panel> panels;
  for (const ReplayRun* run : runs) {
    Panel p;
    p.run = run;
    const auto& tl = run->report.timeline;
    p.bucket_s = tl.bucket.count() > 0 ? Secs(tl.bucket) : 0.1;
    p.mark = tl.mark_bucket;
    size_t longest = 0;
    for (const auto& [cls, buckets] : tl.series) longest = std::max(longest, buckets.size());
    p.step = std::max<size_t>(1, (longest + kMaxPoints - 1) / kMaxPoints);
    panels.push_back(p);
  }
  for (std::string_view want : kClassOrder) {
    std::vector<const std::vector<uint64_t>*> series(runs.size(), nullptr);
    std::vector<const std::vector<uint64_t>*> present;
    std::vector<int64_t> marks;
    for (size_t r = 0; r < runs.size(); ++r) {
      for (const auto& [cls, buckets] : runs[r]->report.timeline.series) {
        if (workload::ConnClassName(cls) == want) series[r] = &buckets;
      }
      if (series[r]) {
        present.push_back(series[r]);
        marks.push_back(panels[r].mark);
      }
    }
    if (present.empty()) continue;
    int half = HalfWindow(present, marks, panels.front().bucket_s);
    for (size_t r = 0; r < runs.size(); ++r) {
      if (!series[r]) continue;
      const auto& buckets = *series[r];
      Series s{std::string(want), {}, half};
      // The engine's last bucket ends where the run stopped, part of the way through: it is
      // left out rather than drawn as a drop.
      int n = static_cast<int>(buckets.size()) - (buckets.size() > 1 ? 1 : 0);
      int width = std::min(n, 2 * half + 1);
      for (int i = 0; i < n; ++i) {
        // At the ends the window keeps its width and moves inward.
        int from = std::clamp(i - half, 0, n - width);
        double sum = 0;
        for (int j = from; j < from + width; ++j) {
          sum += static_cast<double>(buckets[static_cast<size_t>(j)]);
        }
        s.mbps.push_back(sum / width / panels[r].bucket_s / 1e6);
      }
      size_t step = panels[r].step;
      if (step > 1) {
        std::vector<double> fewer;
        for (size_t i = 0; i < s.mbps.size(); i += step) {
          size_t to = std::min(s.mbps.size(), i + step);
          double sum = 0;
          for (size_t j = i; j < to; ++j) sum += s.mbps[j];
          fewer.push_back(sum / static_cast<double>(to - i));
        }
        s.mbps = std::move(fewer);
      }
      panels[r].series.push_back(std::move(s));
    }
  }
  return panels;
}

struct Scale {
  double x0 = 0, x1 = 1;    // seconds
  int d_lo = -3, d_hi = 3;  // decades of MB/s
  bool has_mark = true;
};

Scale MakeScale(const std::vector<Panel>& panels) {
  Scale sc;
  double lo = 1e300, hi = -1e300, maxv = 0, minpos = 1e300;
  sc.has_mark = false;
  for (const auto& p : panels) {
    sc.has_mark = sc.has_mark || p.mark >= 0;
    for (const auto& s : p.series) {
      if (s.mbps.empty()) continue;
      double half_point = p.bucket_s * static_cast<double>(p.step) / 2;
      lo = std::min(lo, p.X(0) - half_point);
      hi = std::max(hi, p.X(s.mbps.size() - 1) + half_point);
      for (double v : s.mbps) {
        maxv = std::max(maxv, v);
        if (v > 0) minpos = std::min(minpos, v);
      }
    }
  }
  if (lo < hi) {
    sc.x0 = lo;
    sc.x1 = hi;
  }
  if (maxv > 0) {
    sc.d_hi = static_cast<int>(std::ceil(std::log10(maxv) - 1e-9));
    sc.d_lo = static_cast<int>(std::floor(std::log10(minpos) + 1e-9));
  }
  sc.d_lo = std::max(sc.d_lo, sc.d_hi - 8);
  sc.d_lo = std::min(sc.d_lo, sc.d_hi - 2);
  return sc;
}

std::string DecadeLabel(int d) {
  if (d >= 0) return fmt::format("{:.0f}", std::pow(10.0, d));
  return fmt::format("{:.{}f}", std::pow(10.0, d), -d);
}

double NiceStep(double span) {
  for (double s : {0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0}) {
    if (span / s <= 12) return s;
  }
  return 600;
}

// One chart: throughput per class over time, log scale, the reload at x = 0.
std::string ChartSvg(const Panel& p, const Scale& sc, std::string_view label) {
  constexpr double kW = 600, kH = 330, kL = 64, kR = 16, kT = 44, kB = 50;
  constexpr double kFloorGap = 16;  // the "0" line sits this far below the lowest decade
  const double pw = kW - kL - kR, y_top = kT, y_low = kH - kB - kFloorGap, y_zero = kH - kB;
  auto X = [&](double t) { return kL + (t - sc.x0) / (sc.x1 - sc.x0) * pw; };
  auto Y = [&](double v) {
    if (v <= 0) return y_zero;
    double lv =
        std::clamp(std::log10(v), static_cast<double>(sc.d_lo), static_cast<double>(sc.d_hi));
    return y_top + (sc.d_hi - lv) / (sc.d_hi - sc.d_lo) * (y_low - y_top);
  };
  std::string o = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\" "
      "aria-label=\"{2}\" xmlns=\"http://www.w3.org/2000/svg\" data-run=\"{3}\">\n",
      kW, kH, H(std::string(label) + ": throughput per connection class across the reload"),
      H(p.run->label));
  // Legend.
  double lx = kL;
  for (const auto& s : p.series) {
    o += fmt::format(
        "<g class=\"legend\"><line x1=\"{:.1f}\" y1=\"16\" x2=\"{:.1f}\" y2=\"16\" stroke=\"{}\" "
        "stroke-width=\"3\"{}/><text x=\"{:.1f}\" y=\"20\">{}</text></g>\n",
        lx, lx + 22, ClassColour(s.cls), s.cls == "mon" ? " stroke-dasharray=\"7 4\"" : "", lx + 27,
        H(s.cls));
    lx += 27 + 7.2 * static_cast<double>(s.cls.size()) + 20;
  }
  // Grid and y axis: one line per decade, and the zero line.
  o += "<g class=\"grid\">\n";
  for (int d = sc.d_lo; d <= sc.d_hi; ++d) {
    double y = Y(std::pow(10.0, d));
    o += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/><text class=\"ytick\" "
        "x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        kL, y, kL + pw, y, kL - 6, y + 4, DecadeLabel(d));
  }
  o += fmt::format(
      "<line class=\"zero\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/><text "
      "class=\"ytick\" x=\"{:.1f}\" y=\"{:.1f}\">0</text>\n",
      kL, y_zero, kL + pw, y_zero, kL - 6, y_zero + 4);
  // x ticks.
  double step = NiceStep(sc.x1 - sc.x0);
  for (double t = std::ceil(sc.x0 / step) * step; t <= sc.x1 + 1e-9; t += step) {
    double x = X(t);
    o += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/><text class=\"xtick\" "
        "x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        x, y_top, x, y_zero + 4, x, y_zero + 18, fmt::format("{:g}", std::abs(t) < 1e-9 ? 0 : t));
  }
  o += "</g>\n";
  o += fmt::format(
      "<text class=\"axis\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n"
      "<text class=\"axis\" transform=\"translate(16 {:.1f}) rotate(-90)\">MB/s (log scale)"
      "</text>\n",
      kL + pw / 2, kH - 10,
      sc.has_mark ? "seconds from the reload" : "seconds (reload moment not recorded)",
      (y_top + y_zero) / 2);
  // The reload.
  if (p.mark >= 0) {
    double x = X(0);
    o += fmt::format(
        "<g class=\"reload\"><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>"
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\">reload</text></g>\n",
        x, y_top, X(p.bucket_s) - x, y_zero - y_top, x, y_top, x, y_zero, x + 5, y_top + 13);
  }
  // One line per class.
  for (const auto& s : p.series) {
    std::string pts;
    double peak = 0;
    for (size_t i = 0; i < s.mbps.size(); ++i) {
      pts += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", X(p.X(i)), Y(s.mbps[i]));
      peak = std::max(peak, s.mbps[i]);
    }
    o += fmt::format(
        "<polyline class=\"series\" data-class=\"{}\" data-points=\"{}\" stroke=\"{}\"{} "
        "points=\"{}\"><title>{}: up to {:.3g} MB/s</title></polyline>\n",
        H(s.cls), s.mbps.size(), ClassColour(s.cls), ClassDash(s.cls), pts, H(s.cls), peak);
  }
  o += fmt::format(
      "<rect class=\"frame\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
      "height=\"{:.1f}\"/>\n",
      kL, y_top, pw, y_zero - y_top);
  o += "</svg>\n";
  return o;
}

std::string FindingHtml(const Finding& f) {
  std::string sev = f.undecided ? "undecided" : std::string(SeverityName(f.severity));
  std::string o = fmt::format("<article class=\"finding {}\">\n<div class=\"fhead\">", sev);
  o += fmt::format("<span class=\"sev {}\">{}</span><code class=\"fid\">{}</code>", sev, H(sev),
                   H(f.id));
  if (!f.stage.empty()) o += "<span class=\"tag\">" + H(f.stage) + "</span>";
  if (!f.node.empty()) o += "<span class=\"tag node\">node " + H(f.node) + "</span>";
  if (f.location && f.location->known()) {
    o += "<code class=\"loc\">" + H(f.location->ToString()) + "</code>";
  }
  o += "</div>\n<p class=\"msg\">" + HRich(f.message) + "</p>\n";
  if (!f.related.empty()) {
    o += "<ul class=\"related\">";
    for (const auto& rel : f.related) {
      o += "<li><code>" + H(rel.where.ToString()) + "</code>";
      if (!rel.message.empty()) o += " " + H(rel.message);
      o += "</li>";
    }
    o += "</ul>\n";
  }
  if (!f.fix.empty() || !f.fix_commands.empty() || !f.fix_config.empty()) {
    o += "<div class=\"fix\"><div class=\"fixlabel\">Fix</div>";
    if (!f.fix.empty()) o += "<p>" + HRich(f.fix) + "</p>";
    if (!f.fix_commands.empty()) {
      o += "<pre class=\"cmd\">";
      for (const auto& c : f.fix_commands) o += H(c) + "\n";
      o += "</pre>";
    }
    if (!f.fix_config.empty()) {
      o += "<div class=\"persist\">Persistent:</div><pre>";
      for (const auto& c : f.fix_config) o += H(c) + "\n";
      o += "</pre>";
    }
    o += "</div>\n";
  }
  if (!f.source.empty()) o += "<p class=\"why\">Rests on " + H(f.source) + "</p>\n";
  return o + "</article>\n";
}

constexpr std::string_view kCss = R"css(
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--soft:#f6f8fa;
--pass:#1a7f37;--pass-bg:#dafbe1;--fail:#cf222e;--fail-bg:#ffebe9;--und:#9a6700;--und-bg:#fff8c5;
--bad:#8250df;--bad-bg:#fbefff;--info:#0969da;--info-bg:#ddf4ff}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
main,header .inner,footer{max-width:1280px;margin:0 auto;padding:0 28px}
header{border-bottom:1px solid var(--line);padding:22px 0 18px}
header.pass{background:var(--pass-bg);border-top:6px solid var(--pass)}
header.fail{background:var(--fail-bg);border-top:6px solid var(--fail)}
header.undecided{background:var(--und-bg);border-top:6px solid var(--und)}
header.bad-input{background:var(--bad-bg);border-top:6px solid var(--bad)}
.verdictrow{display:flex;align-items:center;gap:18px;flex-wrap:wrap}
.verdict{font-size:30px;font-weight:800;letter-spacing:.06em;color:#fff;padding:4px 18px;border-radius:8px}
header.pass .verdict{background:var(--pass)}header.fail .verdict{background:var(--fail)}
header.undecided .verdict{background:var(--und)}header.bad-input .verdict{background:var(--bad)}
h1{font-size:22px;margin:0}
.pipeline{display:flex;flex-wrap:wrap;gap:6px;list-style:none;padding:0;margin:14px 0 0}
.pipeline li{font-size:13px;padding:2px 11px;border-radius:12px;background:#fff;border:1px solid var(--line);color:var(--muted)}
.pipeline li.pass{color:var(--pass);border-color:#8fd19e}
.pipeline li.fail{color:#fff;background:var(--fail);border-color:var(--fail);font-weight:600}
.pipeline li.undecided{color:#fff;background:var(--und);border-color:var(--und);font-weight:600}
.pipeline li.bad-input{color:#fff;background:var(--bad);border-color:var(--bad);font-weight:600}
.cause{margin:12px 0 0;font-size:16px;font-weight:600;max-width:1000px}
.reasons{margin:10px 0 0;padding-left:22px}
.inputs{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:14px 0 0;font-size:14px}
.inputs dt{color:var(--muted)}.inputs dd{margin:0;overflow-wrap:anywhere}
h2{font-size:19px;margin:30px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h2 .count{color:var(--muted);font-weight:400;font-size:15px}
.finding{border:1px solid var(--line);border-left:6px solid var(--muted);border-radius:6px;padding:10px 14px;margin:0 0 12px;background:var(--bg)}
.finding.blocking{border-left-color:var(--fail)}.finding.undecided{border-left-color:var(--und)}
.finding.warning{border-left-color:#bf8700}.finding.info{border-left-color:var(--info)}
.fhead{display:flex;flex-wrap:wrap;align-items:center;gap:8px}
.sev{font-size:12px;font-weight:700;text-transform:uppercase;padding:1px 8px;border-radius:10px;color:#fff;background:var(--muted)}
.sev.blocking{background:var(--fail)}.sev.undecided{background:var(--und)}.sev.warning{background:#bf8700}.sev.info{background:var(--info)}
.fid{font-weight:700;font-size:14px}
.tag{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:10px;padding:0 8px}
.loc{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:0 6px}
.msg{margin:8px 0 4px}
.related{margin:4px 0;padding-left:20px;color:var(--muted)}
.fix{background:var(--soft);border-radius:6px;padding:8px 12px;margin:8px 0 4px}
.fixlabel{font-weight:700;color:var(--pass);font-size:13px;text-transform:uppercase}
.fix p{margin:2px 0}
pre{background:#0d1117;color:#e6edf3;padding:8px 12px;border-radius:6px;overflow-x:auto;margin:6px 0;white-space:pre-wrap;overflow-wrap:anywhere}
.persist{font-size:13px;color:var(--muted);margin-top:6px}
.why{font-size:13px;color:var(--muted);margin:4px 0 0}
table{border-collapse:collapse;width:100%;font-size:14px;margin:6px 0 10px}
th,td{border-bottom:1px solid var(--line);padding:6px 10px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td code{overflow-wrap:anywhere}
.pill{display:inline-block;font-size:12px;font-weight:700;padding:1px 9px;border-radius:10px;white-space:nowrap}
.pill.pass{background:var(--pass-bg);color:var(--pass)}.pill.fail{background:var(--fail-bg);color:var(--fail)}
.pill.undecided{background:var(--und-bg);color:var(--und)}.pill.bad-input{background:var(--bad-bg);color:var(--bad)}
.pill.skipped{background:var(--soft);color:var(--muted)}
.muted{color:var(--muted)}.bad{color:var(--fail)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:18px}
figure{margin:0;border:1px solid var(--line);border-radius:8px;padding:12px 12px 6px;display:flex;flex-direction:column}
figure svg.chart{margin-top:auto}
figcaption{font-weight:600}figcaption .sub{display:block;font-weight:400;color:var(--muted);font-size:13px}
figcaption .v-survived{color:var(--pass)}figcaption .v-broken{color:var(--fail)}figcaption .v-unknown{color:var(--und)}
svg.chart{width:100%;height:auto;display:block;margin-top:6px}
svg.chart text{font:12px system-ui,"DejaVu Sans",sans-serif;fill:#424a53}
svg.chart .ytick{text-anchor:end}svg.chart .xtick{text-anchor:middle}
svg.chart .axis{text-anchor:middle;font-size:13px;fill:#1f2328}
svg.chart .grid line{stroke:#e4e8ec;stroke-width:1}
svg.chart .grid line.zero{stroke:#afb8c1}
svg.chart .frame{fill:none;stroke:#afb8c1}
svg.chart .reload rect{fill:#cf222e;opacity:.10}
svg.chart .reload line{stroke:#cf222e;stroke-width:1.5;stroke-dasharray:5 3}
svg.chart .reload text{fill:#cf222e;font-weight:700}
svg.chart .series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.note{font-size:13px;color:var(--muted)}
details summary{cursor:pointer;color:var(--info);margin:4px 0 10px}
.fix code,.msg code{background:#eaeef2;border-radius:4px;padding:0 4px}
footer{color:var(--muted);font-size:12px;padding-top:24px;padding-bottom:28px}
@media print{header{border-top-width:3px}pre{white-space:pre-wrap}}
)css";

std::string ClassTableHtml(const CheckReport& r) {
  std::vector<const ReplayRun*> runs;
  if (r.baseline) runs.push_back(&*r.baseline);
  if (r.proposed_run) runs.push_back(&*r.proposed_run);
  if (runs.empty()) return "";
  std::string o = "<table class=\"classes\"><thead><tr><th rowspan=\"2\">class</th>";
  for (const ReplayRun* run : runs) {
    o += "<th colspan=\"3\">" + H(run->label) + "</th>";
  }
  o += "</tr><tr>";
  for (size_t i = 0; i < runs.size(); ++i) {
    o += "<th class=\"num\">broken</th><th class=\"num\">longest stall</th>"
         "<th class=\"num\">throughput before &#8594; after</th>";
  }
  o += "</tr></thead><tbody>\n";
  std::vector<std::string> names;
  for (std::string_view c : kClassOrder) names.emplace_back(c);
  for (const ReplayRun* run : runs) {
    for (const auto& [name, cs] : run->report.classes) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  for (const auto& name : names) {
    bool any = false;
    for (const ReplayRun* run : runs) any = any || run->report.classes.count(name);
    if (!any) continue;
    o += fmt::format("<tr><td><span style=\"color:{}\">&#9632;</span> {}</td>", ClassColour(name),
                     H(name));
    for (const ReplayRun* run : runs) {
      auto it = run->report.classes.find(name);
      if (it == run->report.classes.end()) {
        o += "<td></td><td></td><td></td>";
        continue;
      }
      const auto& c = it->second;
      double before = Secs(run->report.warmup) > 0
                          ? static_cast<double>(c.bytes_before) / Secs(run->report.warmup)
                          : 0;
      double after = Secs(run->report.after_mark) > 0
                         ? static_cast<double>(c.bytes_after) / Secs(run->report.after_mark)
                         : 0;
      o += fmt::format(
          "<td class=\"num\">{}{} of {}{}</td><td class=\"num\">{}</td><td class=\"num\">{} "
          "&#8594; {}</td>",
          c.broken ? "<strong class=\"bad\">" : "", c.broken, c.total, c.broken ? "</strong>" : "",
          StallText(c.max_stall_ms), Rate(before), Rate(after));
    }
    o += "</tr>\n";
  }
  return o + "</tbody></table>\n";
}

std::string LabNodesHtml(const CheckReport& r) {
  std::vector<const ReplayRun*> runs;
  if (r.baseline) runs.push_back(&*r.baseline);
  if (r.proposed_run) runs.push_back(&*r.proposed_run);
  if (runs.empty()) return "";
  std::string o =
      "<table class=\"labnodes\"><thead><tr><th>lab node</th><th>stands for</th>"
      "<th>kernel class</th><th>emulation</th><th class=\"num\">be_liberal</th>";
  for (const ReplayRun* run : runs) o += "<th class=\"num\">" + H(run->label) + " broken</th>";
  o += "</tr></thead><tbody>\n";
  for (const auto& n : runs.front()->report.nodes) {
    std::string stands;
    for (const ReplayRun* run : runs) {
      for (const auto& [lab, fleet] : run->stands_for) {
        if (lab != n.name || !stands.empty()) continue;
        for (size_t i = 0; i < fleet.size(); ++i) stands += (i ? ", " : "") + fleet[i];
      }
    }
    o += fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td title=\"{}\">{}</td>"
        "<td class=\"num\">{}</td>",
        H(n.name), H(stands), H(n.kernel_class), H(n.emulation_reason), H(n.emulation),
        n.be_liberal);
    for (const ReplayRun* run : runs) {
      std::string cell;
      for (const auto& m : run->report.nodes) {
        if (m.name == n.name) cell = fmt::format("{} of {}", m.conns_broken, m.conns_total);
      }
      o += "<td class=\"num\">" + cell + "</td>";
    }
    o += "</tr>\n";
  }
  return o + "</tbody></table>\n";
}

std::string ReplayHtml(const CheckReport& r) {
  std::string o = "<section id=\"replay\"><h2>Open connections across the reload</h2>\n";
  std::vector<const ReplayRun*> runs;
  if (r.baseline) runs.push_back(&*r.baseline);
  if (r.proposed_run) runs.push_back(&*r.proposed_run);
  std::vector<Panel> panels = MakePanels(runs);
  if (panels.empty()) {
    const auto* st = r.Stage(check::StageId::kReplay);
    o += "<p class=\"muted\">No lab replay ran";
    if (st && !st->ran && !st->skipped_reason.empty()) o += ": " + H(st->skipped_reason);
    return o + ".</p></section>\n";
  }
  Scale sc = MakeScale(panels);
  std::string smoothing;
  for (const auto& s : panels.front().series) {
    if (s.half == 0) continue;
    smoothing += fmt::format("{}{} over {:g} s", smoothing.empty() ? "" : ", ", s.cls,
                             (2 * s.half + 1) * panels.front().bucket_s);
  }
  o += "<p class=\"note\">Bytes received per connection class in " +
       fmt::format("{:g}", panels.front().bucket_s * 1000) +
       " ms buckets, on a log scale so that heartbeats and bulk streams show on one chart; a "
       "line on the 0 row means the class carried nothing. Both charts share their axes; the "
       "shaded band is the bucket in which the reload began.";
  if (!smoothing.empty()) {
    o += " Classes whose messages are sparser than a bucket are drawn as a centred mean (" +
         H(smoothing) + ").";
  }
  o += "</p>\n";
  o += "<div class=\"charts\">\n";
  for (const auto& p : panels) {
    const auto& rep = p.run->report;
    std::string title = p.run->label == "baseline"   ? "Baseline"
                        : p.run->label == "proposed" ? "Proposed"
                                                     : p.run->label;
    o += fmt::format(
        "<figure data-run=\"{}\"><figcaption>{}: <span class=\"v-{}\">{}</span><span "
        "class=\"sub\">{}</span></figcaption>\n",
        H(p.run->label), H(title), replay::VerdictName(rep.verdict), H(RunLine(*p.run)),
        H(p.run->what.empty() ? rep.reload : p.run->what));
    if (p.series.empty()) {
      o += "<p class=\"muted\">This replay recorded no timeline.</p>";
    } else {
      o += ChartSvg(p, sc, title);
    }
    o += "</figure>\n";
  }
  o += "</div>\n";
  o += ClassTableHtml(r);
  o += LabNodesHtml(r);
  return o + "</section>\n";
}

std::string StagesHtml(const CheckReport& r) {
  std::string o =
      "<section id=\"stages\"><h2>Stages</h2><table><thead><tr><th class=\"num\">#</th>"
      "<th>stage</th><th>question</th><th>result</th><th>summary</th><th class=\"num\">"
      "time</th></tr></thead><tbody>\n";
  int i = 0;
  for (const auto& s : r.stages) {
    ++i;
    std::string result =
        s.ran ? Pill(StageShown(s)) : "<span class=\"pill skipped\">skipped</span>";
    std::string summary = s.ran ? H(s.summary) : H(s.skipped_reason);
    o += fmt::format(
        "<tr><td class=\"num\">{}</td><td><strong>{}</strong></td><td class=\"muted\">{}</td>"
        "<td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
        i, H(check::StageName(s.id)), H(check::StageQuestion(s.id)), result, summary,
        s.ran ? Seconds(s.took) + " s" : "");
  }
  return o + "</tbody></table></section>\n";
}

std::string NodesHtml(const CheckReport& r) {
  std::string o = "<section id=\"nodes\"><h2>Nodes <span class=\"count\">" +
                  fmt::format("{}", r.nodes.size()) + " &#183; " + H(r.fleet_source) +
                  "</span></h2>\n";
  if (r.nodes.empty()) return o + "<p class=\"muted\">No fleet nodes.</p></section>\n";
  o += "<table><thead><tr><th>node</th><th>kernel</th><th>class</th><th class=\"num\">"
       "be_liberal</th><th>lab node</th><th>result</th><th>note</th></tr></thead><tbody>\n";
  for (const auto& n : r.nodes) {
    o += fmt::format(
        "<tr><td><strong>{}</strong></td><td><code>{}</code></td><td>{}</td><td "
        "class=\"num\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>\n",
        H(n.name), H(n.kernel.empty() ? "unknown" : n.kernel), H(n.kernel_class),
        n.be_liberal < 0 ? "?" : std::to_string(n.be_liberal), H(n.lab_node), Pill(NodeShown(r, n)),
        H(n.reachable ? n.note : "unreachable: " + n.note));
  }
  return o + "</tbody></table></section>\n";
}

std::string PlanHtml(const CheckReport& r) {
  std::string o = "<section id=\"plan\"><h2>The plan <span class=\"count\">" +
                  H(PlanSummary(r.plan)) + "</span></h2>\n";
  if (r.plan.empty()) return o + "<p class=\"muted\">No change to the ruleset.</p></section>\n";
  constexpr size_t kShown = 60;
  auto rows = [&](size_t from, size_t to) {
    std::string t =
        "<table><thead><tr><th>op</th><th>object</th><th>where</th><th>"
        "nft</th></tr></thead><tbody>\n";
    for (size_t i = from; i < to; ++i) {
      const auto& c = r.plan.changes[i];
      t += fmt::format(
          "<tr class=\"op-{0}\"><td><strong>{0}</strong></td><td>{1}</td><td>{2}</td>"
          "<td><code>{3}</code></td></tr>\n",
          diff::OpName(c.op), diff::ObjectKindName(c.object), H(PlanChangeWhere(c)),
          H(PlanChangeText(c)));
    }
    return t + "</tbody></table>\n";
  };
  size_t n = r.plan.changes.size();
  o += rows(0, std::min(n, kShown));
  if (n > kShown) {
    o += fmt::format("<details><summary>{} more changes</summary>\n", n - kShown) +
         rows(kShown, n) + "</details>\n";
  }
  return o + "</section>\n";
}

}  // namespace

std::string CheckToMarkdown(const CheckReport& r) {
  std::string o = fmt::format("## {} fwgate check: **{}** \xE2\x80\x94 {}\n\n", MdEmoji(r.verdict),
                              OutcomeName(r.verdict), VerdictHeadline(r.verdict));
  if (auto cs = CauseSentence(r.cause); !cs.empty()) o += "> **" + std::string(cs) + "**\n\n";
  if (!r.reasons.empty()) {
    for (size_t i = 0; i < r.reasons.size(); ++i) {
      o += fmt::format("{}. {}\n", i + 1, Md(r.reasons[i]));
    }
    o += "\n";
  }
  o += "| | |\n|---|---|\n";
  o += "| Proposed | " + (r.proposed.empty() ? "" : MdCode(r.proposed, true)) + " |\n";
  o += "| Current | " + (r.current.empty() ? "" : MdCode(r.current, true)) + " |\n";
  o += "| Reload | " + MdCell(r.reload) + " |\n";
  o += "| Fleet | " + MdCell(r.fleet_source) + " |\n";
  o += "| Took | " + Seconds(r.took) + " s |\n\n";

  std::vector<const Finding*> blocking, undecided, other;
  for (const Finding* f : FindingsInOrder(r)) {
    if (f->undecided) {
      undecided.push_back(f);
    } else if (f->severity == Severity::kBlocking) {
      blocking.push_back(f);
    } else {
      other.push_back(f);
    }
  }
  if (!blocking.empty()) {
    o += fmt::format("### Blocking findings ({})\n\n", blocking.size());
    for (size_t i = 0; i < blocking.size(); ++i) o += MdFinding(*blocking[i], i + 1);
  }
  if (!undecided.empty()) {
    o += fmt::format("### Could not decide ({})\n\n", undecided.size());
    for (size_t i = 0; i < undecided.size(); ++i) o += MdFinding(*undecided[i], i + 1);
  }
  if (!other.empty()) {
    o += fmt::format("<details><summary>Warnings and notes ({})</summary>\n\n", other.size());
    for (size_t i = 0; i < other.size(); ++i) o += MdFinding(*other[i], i + 1);
    o += "</details>\n\n";
  }

  o += "### Stages\n\n| # | Stage | Result | Summary | Time |\n|---:|---|---|---|---:|\n";
  int i = 0;
  for (const auto& s : r.stages) {
    ++i;
    o += fmt::format("| {} | {} | {} | {} | {} |\n", i, check::StageName(s.id),
                     s.ran ? MdBadge(StageShown(s)) : "\xE2\x8F\xAD\xEF\xB8\x8F skipped",
                     MdCell(s.ran ? s.summary : s.skipped_reason),
                     s.ran ? Seconds(s.took) + " s" : "");
  }
  o += "\n### Plan\n\n" + PlanSummary(r.plan) + ".\n";
  if (!r.plan.empty()) {
    constexpr size_t kShown = 40;
    o += fmt::format("\n<details><summary>{} change{}</summary>\n\n", r.plan.changes.size(),
                     r.plan.changes.size() == 1 ? "" : "s");
    o += "| Op | Object | Where | nft |\n|---|---|---|---|\n";
    for (size_t k = 0; k < r.plan.changes.size() && k < kShown; ++k) {
      const auto& c = r.plan.changes[k];
      o +=
          fmt::format("| {} | {} | {} | {} |\n", diff::OpName(c.op), diff::ObjectKindName(c.object),
                      MdCell(PlanChangeWhere(c)), MdCode(PlanChangeText(c), true));
    }
    if (r.plan.changes.size() > kShown) {
      o += fmt::format("\n... and {} more (see the HTML or JSON report).\n",
                       r.plan.changes.size() - kShown);
    }
    o += "\n</details>\n";
  }
  if (!r.nodes.empty()) {
    o += "\n### Nodes\n\n| Node | Kernel | Class | be_liberal | Lab node | Result | Note |\n"
         "|---|---|---|---:|---|---|---|\n";
    for (const auto& n : r.nodes) {
      o += fmt::format(
          "| {} | {} | {} | {} | {} | {} | {} |\n", MdCell(n.name),
          n.kernel.empty() ? "unknown" : MdCode(n.kernel, true), MdCell(n.kernel_class),
          n.be_liberal < 0 ? "?" : std::to_string(n.be_liberal), MdCell(n.lab_node),
          MdBadge(NodeShown(r, n)), MdCell(n.reachable ? n.note : "unreachable: " + n.note));
    }
  }
  std::vector<const ReplayRun*> runs;
  if (r.baseline) runs.push_back(&*r.baseline);
  if (r.proposed_run) runs.push_back(&*r.proposed_run);
  if (!runs.empty()) {
    o += "\n### Replay\n\n";
    for (const ReplayRun* run : runs) {
      o += "- **" + Md(run->label) + "** (" +
           Md(run->what.empty() ? run->report.reload : run->what) + "): " + Md(RunLine(*run)) +
           "\n";
    }
    o += "\n| Class |";
    std::string rule = "|---|";
    for (const ReplayRun* run : runs) {
      o += " " + Md(run->label) + " broken | " + Md(run->label) + " longest stall |";
      rule += "---:|---:|";
    }
    o += "\n" + rule + "\n";
    std::vector<std::string> names;
    for (std::string_view c : kClassOrder) names.emplace_back(c);
    for (const ReplayRun* run : runs) {
      for (const auto& [name, cs] : run->report.classes) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      }
    }
    for (const auto& name : names) {
      bool any = false;
      for (const ReplayRun* run : runs) any = any || run->report.classes.count(name);
      if (!any) continue;
      o += "| " + Md(name) + " |";
      for (const ReplayRun* run : runs) {
        auto it = run->report.classes.find(name);
        if (it == run->report.classes.end()) {
          o += " | |";
          continue;
        }
        const auto& c = it->second;
        o += fmt::format(" {}{} of {}{} | {} |", c.broken ? "**" : "", c.broken, c.total,
                         c.broken ? "**" : "", StallText(c.max_stall_ms));
      }
      o += "\n";
    }
  }
  o += "\n<sub>fwgate " FWGATE_VERSION " \xC2\xB7 `fwgate check`</sub>\n";
  return o;
}

std::string CheckToHtml(const CheckReport& r) {
  std::string cls(OutcomeName(r.verdict));
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      // Nothing in the page may load anything: a report opened from an artifact store stays
      // offline, and text from users' files cannot pull in a script or an image.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; img-src data:\">\n";
  o += "<title>fwgate check: " + H(OutcomeName(r.verdict)) +
       (r.proposed.empty() ? "" : " \xE2\x80\x94 " + H(r.proposed)) + "</title>\n";
  o += "<style>" + std::string(kCss) + "</style>\n</head>\n<body>\n";
  o += "<header class=\"" + cls + "\"><div class=\"inner\">\n<div class=\"verdictrow\">";
  o += "<div class=\"verdict\">" + H(OutcomeName(r.verdict)) + "</div>";
  o += "<h1>fwgate check: " + H(VerdictHeadline(r.verdict)) + "</h1></div>\n";
  if (!r.stages.empty()) {
    // The stages at a glance: what ran and what each said.
    o += "<ol class=\"pipeline\">";
    for (const auto& st : r.stages) {
      Outcome shown = st.ran ? StageShown(st) : Outcome::kPass;
      std::string_view mark = !st.ran                        ? "&#8211;"
                              : shown == Outcome::kPass      ? "&#10003;"
                              : shown == Outcome::kUndecided ? "?"
                                                             : "&#10007;";
      o += fmt::format("<li class=\"{}\" title=\"{}\">{} {}</li>",
                       st.ran ? OutcomeName(shown) : "skipped",
                       H(st.ran ? st.summary : "skipped: " + st.skipped_reason), mark,
                       H(check::StageName(st.id)));
    }
    o += "</ol>\n";
  }
  if (auto cs = CauseSentence(r.cause); !cs.empty()) {
    o += "<p class=\"cause\">" + H(cs) + "</p>\n";
  }
  if (!r.reasons.empty()) {
    o += "<ol class=\"reasons\">";
    for (const auto& x : r.reasons) o += "<li>" + H(x) + "</li>";
    o += "</ol>\n";
  }
  o += "<dl class=\"inputs\">";
  auto input = [&](std::string_view k, const std::string& v, bool code) {
    if (v.empty()) return;
    o += "<dt>" + H(k) + "</dt><dd>" + (code ? "<code>" + H(v) + "</code>" : H(v)) + "</dd>";
  };
  input("proposed", r.proposed, true);
  input("current", r.current, true);
  input("reload", r.reload, false);
  input("fleet", r.fleet_source, false);
  input("took", Seconds(r.took) + " s", false);
  o += "</dl>\n</div></header>\n<main>\n";

  std::vector<const Finding*> fs = FindingsInOrder(r);
  size_t decisive = 0;
  for (const Finding* f : fs) decisive += f->undecided || f->severity == Severity::kBlocking;
  o += fmt::format(
      "<section id=\"findings\"><h2>Findings <span class=\"count\">{} blocking or undecided, "
      "{} in all</span></h2>\n",
      decisive, fs.size());
  if (fs.empty()) o += "<p class=\"muted\">No findings.</p>\n";
  for (size_t i = 0; i < decisive; ++i) o += FindingHtml(*fs[i]);
  if (fs.size() > decisive) {
    // Warnings and notes fold away when something decides the verdict, so that the evidence (the
    // replay) follows the blocking findings.
    o += fmt::format("<details{}><summary>Warnings and notes ({})</summary>\n",
                     decisive ? "" : " open", fs.size() - decisive);
    for (size_t i = decisive; i < fs.size(); ++i) o += FindingHtml(*fs[i]);
    o += "</details>\n";
  }
  o += "</section>\n";
  o += ReplayHtml(r);
  o += NodesHtml(r);
  o += PlanHtml(r);
  o += StagesHtml(r);
  o += "</main>\n<footer>fwgate " FWGATE_VERSION
       " &#183; one self-contained page: no script, no network resources.</footer>\n"
       "</body>\n</html>\n";
  return o;
}

}  // namespace fwgate::report
