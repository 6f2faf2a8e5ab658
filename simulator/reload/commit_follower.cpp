#include "simulator/reload/commit_follower.h"

#include <cerrno>
#include <string_view>

#include "sys/nft_netlink.h"

namespace fwgate::reload {

using hazards::CtFamily;
using sys::NftChange;

namespace {

bool LabTable(std::string_view name) { return name.substr(0, 7) == kLabTablePrefix; }

std::string Plural(int n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string Summarize(const sys::NftCommit& c) {
  std::map<std::pair<int, int>, int> n;  // (what, op) -> count
  for (const auto& ch : c.changes) {
    if (LabTable(ch.table)) continue;
    ++n[{static_cast<int>(ch.what), static_cast<int>(ch.op)}];
  }
  std::string out;
  for (const auto& [k, count] : n) {
    auto what = static_cast<NftChange::What>(k.first);
    std::string name(sys::NftChangeWhatName(what));
    std::string many = name == "set element" ? "set elements" : name + "s";
    if (!out.empty()) out += ", ";
    out +=
        (k.second == static_cast<int>(NftChange::Op::kAdd) ? "+" : "-") + Plural(count, name, many);
  }
  return out.empty() ? "no change to the node's own tables" : out;
}

}  // namespace

std::string DescribeCounts(const CtCounts& counts) {
  std::string out;
  for (CtFamily f : hazards::kCtFamilies) {
    auto it = counts.find(f);
    int v = it == counts.end() ? 0 : it->second;
    if (f == CtFamily::kBridge && v == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::string(hazards::CtFamilyName(f)) + " " + std::to_string(v);
  }
  return out;
}

void CtUserLedger::AddRule(nft::Family f, const std::string& table, const std::string& chain,
                           const nft::Rule& r) {
  if (LabTable(table)) return;
  if (auto u = hazards::CtUseOfRule(r)) {
    users_[Key{static_cast<uint8_t>(f), table, chain, "", r.handle}] = {u->what,
                                                                        u->newer_kernels_only};
  }
}

void CtUserLedger::EraseTable(uint8_t family, const std::string& table, const std::string* chain) {
  for (auto it = users_.begin(); it != users_.end();) {
    bool match = it->first.family == family && it->first.table == table &&
                 (chain == nullptr || (it->first.object.empty() && it->first.chain == *chain));
    it = match ? users_.erase(it) : std::next(it);
  }
}

void CtUserLedger::Seed(const nft::Ruleset& rs) {
  users_.clear();
  for (const auto& t : rs.tables) {
    for (const auto& c : t.chains) {
      for (const auto& r : c.rules) AddRule(t.family, t.name, c.name, r);
    }
    if (LabTable(t.name)) continue;
    for (const auto& o : t.objects) {
      if (auto u = hazards::CtUseOfObject(o.type)) {
        users_[Key{static_cast<uint8_t>(t.family), t.name, "", o.name, 0}] = {
            u->what, u->newer_kernels_only};
      }
    }
  }
}

void CtUserLedger::Apply(const sys::NftCommit& commit) {
  for (const auto& ch : commit.changes) {
    const auto fam = static_cast<uint8_t>(ch.family);
    switch (ch.what) {
      case NftChange::What::kRule:
        if (ch.op == NftChange::Op::kAdd) {
          AddRule(ch.family, ch.table, ch.name, ch.rule);
        } else {
          users_.erase(Key{fam, ch.table, ch.name, "", ch.rule.handle});
        }
        break;
      case NftChange::What::kObject:
        if (LabTable(ch.table)) break;
        if (ch.op == NftChange::Op::kAdd) {
          if (auto u = hazards::CtUseOfObject(ch.object_type)) {
            users_[Key{fam, ch.table, "", ch.name, 0}] = {u->what, u->newer_kernels_only};
          }
        } else {
          users_.erase(Key{fam, ch.table, "", ch.name, 0});
        }
        break;
      case NftChange::What::kChain:
        // A chain goes with its rules (the kernel also sends each rule's deletion).
        if (ch.op == NftChange::Op::kDelete) EraseTable(fam, ch.table, &ch.name);
        break;
      case NftChange::What::kTable:
        if (ch.op == NftChange::Op::kDelete) EraseTable(fam, ch.table, nullptr);
        break;
      default:
        break;
    }
  }
}

CtCounts CtUserLedger::Counts(bool older_kernel) const {
  CtCounts out;
  for (CtFamily f : hazards::kCtFamilies) out[f] = 0;
  for (const auto& [k, u] : users_) {
    if (older_kernel && u.newer_only) continue;
    for (CtFamily f : hazards::CtFamiliesOf(static_cast<nft::Family>(k.family))) {
      // 4.14-4.18 have no bridge conntrack: a bridge table's users count for no IP family.
      if (older_kernel && static_cast<nft::Family>(k.family) == nft::Family::kBridge &&
          f != CtFamily::kBridge) {
        continue;
      }
      ++out[f];
    }
  }
  return out;
}

std::vector<std::string> CtUserLedger::Describe(CtFamily family, size_t max) const {
  std::vector<std::string> out;
  for (const auto& [k, u] : users_) {
    bool feeds = false;
    for (CtFamily f : hazards::CtFamiliesOf(static_cast<nft::Family>(k.family))) {
      feeds = feeds || f == family;
    }
    if (!feeds) continue;
    if (out.size() == max) break;
    std::string where = std::string(nft::FamilyName(static_cast<nft::Family>(k.family))) + " " +
                        k.table + (k.object.empty() ? "/" + k.chain : "");
    out.push_back(where + ": " + u.what + (u.newer_only ? " (newer kernels only)" : ""));
  }
  return out;
}

CommitFollower::CommitFollower(const sys::NetnsHandle& ns, sys::NftMonitor monitor,
                               const Options& options)
    : ns_(&ns), monitor_(std::move(monitor)), options_(options) {}

CommitFollower::~CommitFollower() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<CommitFollower>> CommitFollower::Start(const sys::NetnsHandle& ns,
                                                              const Options& options) {
  // Subscribe first, then dump: every commit after the dump's generation is then in the events.
  auto mon = sys::NftMonitor::OpenIn(ns);
  if (!mon) return mon.error();
  std::unique_ptr<CommitFollower> f(new CommitFollower(ns, std::move(*mon), options));
  Result<nft::Ruleset> rs = Error::Internal("not dumped");
  if (auto st = sys::RunInNetns(ns, [&] { rs = sys::DumpRuleset(); }); !st) return st.error();
  if (!rs) return rs.error().Wrap("dumping the node's ruleset before the reload");
  f->ledger_.Seed(*rs);
  f->generation_ = rs->generation;
  f->result_.users_before = f->ledger_.Counts(options.older_kernel);
  for (CtFamily fam : hazards::kCtFamilies) {
    if (f->result_.users_before[fam] == 0 && fam != CtFamily::kBridge) {
      f->open_[fam] = f->result_.no_user.size();
      f->result_.no_user.push_back(
          {fam, std::chrono::milliseconds(0), std::nullopt, rs->generation, 0});
    }
  }
  f->thread_ = std::thread([p = f.get()] { p->Loop(); });
  return f;
}

void CommitFollower::Fail(const std::string& why) {
  if (result_.followed) {
    result_.followed = false;
    result_.failure = why;
  }
}

void CommitFollower::Absorb(std::vector<sys::NftCommit>& commits) {
  for (auto& c : commits) {
    if (c.generation <= generation_ && generation_ - c.generation < (1u << 31)) continue;
    if (c.generation != generation_ + 1) {
      Fail("generation " + std::to_string(c.generation) + " followed " +
           std::to_string(generation_) + ": commits were missed");
    }
    generation_ = c.generation;
    ledger_.Apply(c);
    CommitRecord rec;
    rec.generation = c.generation;
    rec.at = std::chrono::duration_cast<std::chrono::milliseconds>(c.received - options_.origin);
    rec.process = c.process;
    rec.pid = c.pid;
    rec.summary = Summarize(c);
    rec.users = ledger_.Counts(options_.older_kernel);
    if (options_.older_kernel) {
      CtCounts lab = ledger_.Counts(false);
      for (CtFamily fam : hazards::kCtFamilies) {
        if (rec.users[fam] == 0 && lab[fam] > 0 && result_.divergence.empty()) {
          result_.divergence =
              "after generation " + std::to_string(c.generation) + " the only " +
              std::string(hazards::CtFamilyName(fam)) +
              " conntrack users are ones only newer kernels count (" +
              (ledger_.Describe(fam, 2).empty() ? std::string("?") : ledger_.Describe(fam, 2)[0]) +
              "; docs/kernel-conntrack.md §2.1): the lab kernel keeps tracking "
              "where the node's kernel would stop";
        }
      }
    }
    for (CtFamily fam : hazards::kCtFamilies) {
      if (fam == CtFamily::kBridge) continue;
      auto it = open_.find(fam);
      if (rec.users[fam] == 0 && it == open_.end()) {
        open_[fam] = result_.no_user.size();
        result_.no_user.push_back({fam, rec.at, std::nullopt, c.generation, 0});
      } else if (rec.users[fam] > 0 && it != open_.end()) {
        result_.no_user[it->second].to = rec.at;
        result_.no_user[it->second].to_generation = c.generation;
        open_.erase(it);
      }
    }
    if (options_.on_commit) options_.on_commit(rec.users);
    result_.commits.push_back(std::move(rec));
  }
}

void CommitFollower::Loop() {
  while (!stop_) {
    std::vector<sys::NftCommit> got;
    Status st = monitor_.Poll(std::chrono::milliseconds(20), got);
    std::lock_guard<std::mutex> lock(mu_);
    Absorb(got);
    if (!st) {
      Fail(st.error().Errno() == ENOBUFS
               ? "the kernel dropped nftables events (ENOBUFS): " + st.error().ToString()
               : "reading nftables events: " + st.error().ToString());
      return;
    }
  }
}

CtCounts CommitFollower::Users() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ledger_.Counts(options_.older_kernel);
}

bool CommitFollower::WaitForKernel(std::chrono::milliseconds timeout) {
  Result<uint32_t> gen = Error::Internal("not read");
  if (auto st = sys::RunInNetns(*ns_, [&] { gen = sys::ReadGeneration(std::chrono::seconds(2)); });
      !st || !gen) {
    return false;
  }
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation_ == *gen || !result_.followed) return result_.followed;
    }
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

FollowResult CommitFollower::Finish() {
  bool caught_up = WaitForKernel(std::chrono::milliseconds(1000));
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (!caught_up) Fail("the last commits' events did not arrive within 1 s");
  // The ledger must match what the kernel holds now.
  Result<nft::Ruleset> rs = Error::Internal("not dumped");
  if (auto st = sys::RunInNetns(*ns_, [&] { rs = sys::DumpRuleset(); }); !st || !rs) {
    Fail("dumping the node's ruleset after the reload failed: " +
         (rs ? std::string("setns") : rs.error().ToString()));
  } else {
    CtUserLedger fresh;
    fresh.Seed(*rs);
    if (rs->generation != generation_) {
      Fail("the kernel is at generation " + std::to_string(rs->generation) +
           " but the events ended at " + std::to_string(generation_));
    } else if (!(fresh == ledger_)) {
      Fail("the conntrack users followed from the events (" +
           DescribeCounts(ledger_.Counts(options_.older_kernel)) +
           ") differ from the ruleset the kernel holds (" +
           DescribeCounts(fresh.Counts(options_.older_kernel)) + ")");
    }
  }
  result_.users_after = ledger_.Counts(options_.older_kernel);
  return result_;
}

}  // namespace fwgate::reload
