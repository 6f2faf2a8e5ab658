#include "simulator/lab/topology.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "sys/nft_runner.h"
#include "sys/rtnl.h"

namespace fwgate::lab {
namespace {

constexpr int kMaxNodes = 64;

struct V4Net {
  uint32_t base = 0;  // host byte order, masked
  int prefix = 0;
};

Result<V4Net> ParseV4Net(const std::string& flag, const std::string& text) {
  auto c = sys::ParseCidr(text);
  if (!c) return Error::BadInput(flag + ": " + c.error().context);
  if (c->family != AF_INET)
    return Error::BadInput(flag + ": only IPv4 networks are supported: " + text);
  if (c->prefix < 8 || c->prefix > 29) {
    return Error::BadInput(flag + ": prefix length must be between 8 and 29: " + text);
  }
  uint32_t a = 0;
  std::memcpy(&a, c->addr, 4);
  a = ntohl(a);
  uint32_t mask = c->prefix == 0 ? 0 : ~uint32_t{0} << (32 - c->prefix);
  return V4Net{a & mask, c->prefix};
}

std::string V4String(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace

Result<TopologyPlan> PlanTopology(const TopologyOptions& o) {
  if (o.nodes < 1 || o.nodes > kMaxNodes) {
    return Error::BadInput("--nodes: must be between 1 and " + std::to_string(kMaxNodes));
  }
  auto pub = ParseV4Net("--public-net", o.public_net);
  if (!pub) return pub.error();
  auto clu = ParseV4Net("--cluster-net", o.cluster_net);
  if (!clu) return clu.error();
  auto overlaps = [](const V4Net& a, const V4Net& b) {
    int p = std::min(a.prefix, b.prefix);
    uint32_t mask = ~uint32_t{0} << (32 - p);
    return (a.base & mask) == (b.base & mask);
  };
  if (overlaps(*pub, *clu)) {
    return Error::BadInput("--public-net and --cluster-net overlap: " + o.public_net + ", " +
                           o.cluster_net);
  }
  auto hosts = [](const V4Net& n) { return (uint32_t{1} << (32 - n.prefix)) - 1; };  // broadcast
  if (o.first_host < 1 || o.client_host <= o.first_host + o.nodes - 1) {
    return Error::BadInput("the client address (." + std::to_string(o.client_host) +
                           ") must come after the node addresses");
  }
  if (static_cast<uint32_t>(o.client_host) >= hosts(*pub)) {
    return Error::BadInput("--public-net " + o.public_net +
                           " is too small for the client address ." +
                           std::to_string(o.client_host));
  }
  if (static_cast<uint32_t>(o.first_host + o.nodes - 1) >= hosts(*clu)) {
    return Error::BadInput("--cluster-net " + o.cluster_net + " is too small for " +
                           std::to_string(o.nodes) + " nodes");
  }
  TopologyPlan plan;
  for (int i = 0; i < o.nodes; ++i) {
    EndpointPlan e;
    e.name = "node" + std::to_string(i + 1);
    e.public_addr = V4String(pub->base + static_cast<uint32_t>(o.first_host + i));
    e.cluster_addr = V4String(clu->base + static_cast<uint32_t>(o.first_host + i));
    e.public_prefix = pub->prefix;
    e.cluster_prefix = clu->prefix;
    e.switch_public_leg = "n" + std::to_string(i + 1) + "p";
    e.switch_cluster_leg = "n" + std::to_string(i + 1) + "c";
    plan.nodes.push_back(e);
  }
  plan.client.name = "client";
  plan.client.public_addr = V4String(pub->base + static_cast<uint32_t>(o.client_host));
  plan.client.public_prefix = pub->prefix;
  plan.client.switch_public_leg = "clp";
  return plan;
}

std::string LossTableText(const TopologyPlan& plan, double loss_percent) {
  if (loss_percent <= 0) return "";
  // Per 10000 frames; numgen gives an independent draw per frame.
  auto per10k = std::lround(loss_percent * 100.0);
  if (per10k > 10000) per10k = 10000;
  std::string legs;
  auto add = [&](const std::string& leg) {
    if (leg.empty()) return;
    if (!legs.empty()) legs += ", ";
    legs += "\"" + leg + "\"";
  };
  for (const auto& n : plan.nodes) {
    add(n.switch_public_leg);
    add(n.switch_cluster_leg);
  }
  add(plan.client.switch_public_leg);
  std::string n = std::to_string(per10k);
  return "table bridge fwgate_lab_loss {\n"
         "  chain forward {\n"
         "    type filter hook forward priority 0; policy accept;\n"
         "    iifname { " +
         legs + " } numgen random mod 10000 < " + n +
         " counter drop\n"
         "  }\n"
         "}\n";
}

Result<std::unique_ptr<Topology>> Topology::Build(const TopologyOptions& options) {
  auto plan = PlanTopology(options);
  if (!plan) return plan.error();
  std::unique_ptr<Topology> t(new Topology());
  t->plan_ = *plan;

  auto sw_ns = sys::CreateAnonymous();
  if (!sw_ns) return sw_ns.error();
  t->switch_ns_ = std::move(*sw_ns);
  auto sw = sys::RtnlSocket::OpenIn(t->switch_ns_);
  if (!sw) return sw.error();
  for (const char* br : {kPublicBridge, kClusterBridge}) {
    if (auto st = sw->CreateBridge(br); !st) return st.error();
    if (auto st = sw->SetUp(br); !st) return st.error();
  }

  auto attach = [&](LabEndpoint& ep) -> Status {
    auto ns = sys::CreateAnonymous();
    if (!ns) return ns.error();
    ep.ns = std::move(*ns);
    auto in = sys::RtnlSocket::OpenIn(ep.ns);
    if (!in) return in.error();
    struct Leg {
      std::string sw_leg, inner, bridge, addr;
      int prefix;
    };
    std::vector<Leg> legs{{ep.plan.switch_public_leg, kPublicIf, kPublicBridge, ep.plan.public_addr,
                           ep.plan.public_prefix}};
    if (!ep.plan.cluster_addr.empty()) {
      legs.push_back({ep.plan.switch_cluster_leg, kClusterIf, kClusterBridge, ep.plan.cluster_addr,
                      ep.plan.cluster_prefix});
    }
    if (auto st = in->SetUp("lo"); !st) return st.error();
    for (const auto& l : legs) {
      if (auto st = sw->CreateVethPair(l.sw_leg, l.inner, ep.ns.fd()); !st) return st.error();
      if (auto st = sw->SetMaster(l.sw_leg, l.bridge); !st) return st.error();
      if (auto st = sw->SetUp(l.sw_leg); !st) return st.error();
      if (auto st = in->AddAddress(l.inner, l.addr + "/" + std::to_string(l.prefix)); !st) {
        return st.error();
      }
      if (auto st = in->SetUp(l.inner); !st) return st.error();
      if (options.delay.count() > 0) {
        if (auto st = in->AddNetemDelay(l.inner, static_cast<uint32_t>(options.delay.count()));
            !st) {
          return st.error();
        }
      }
    }
    return OkStatus();
  };

  for (const auto& p : t->plan_.nodes) {
    LabEndpoint ep;
    ep.plan = p;
    if (auto st = attach(ep); !st) return st.error();
    t->nodes_.push_back(std::move(ep));
  }
  t->client_.plan = t->plan_.client;
  if (auto st = attach(t->client_); !st) return st.error();

  if (std::string loss = LossTableText(t->plan_, options.loss_percent); !loss.empty()) {
    if (auto st = sys::ApplyNft(t->switch_ns_, loss, "loading the lab loss table"); !st) {
      return st.error();
    }
  }
  return t;
}

}  // namespace fwgate::lab
