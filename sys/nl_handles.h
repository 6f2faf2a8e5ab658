// Owners for libnftnl/libmnl C handles, declared once: every nftnl_* object and the mnl socket is
// held by one of these, so no *_free call appears anywhere else. Netlink code only.
#pragma once

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <memory>

namespace fwgate::sys::nl {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using TablePtr = std::unique_ptr<nftnl_table, Deleter<nftnl_table_free>>;
using ChainPtr = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain_free>>;
using RulePtr = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule_free>>;
using ExprPtr = std::unique_ptr<nftnl_expr, Deleter<nftnl_expr_free>>;
using SetPtr = std::unique_ptr<nftnl_set, Deleter<nftnl_set_free>>;
using FlowtablePtr = std::unique_ptr<nftnl_flowtable, Deleter<nftnl_flowtable_free>>;
using ObjPtr = std::unique_ptr<nftnl_obj, Deleter<nftnl_obj_free>>;
using GenPtr = std::unique_ptr<nftnl_gen, Deleter<nftnl_gen_free>>;
using ExprIterPtr = std::unique_ptr<nftnl_expr_iter, Deleter<nftnl_expr_iter_destroy>>;
using ElemIterPtr = std::unique_ptr<nftnl_set_elems_iter, Deleter<nftnl_set_elems_iter_destroy>>;
using MnlSocketPtr = std::unique_ptr<mnl_socket, Deleter<mnl_socket_close>>;

}  // namespace fwgate::sys::nl
