#include <gtest/gtest.h>

#include "base/ruleset.h"

TEST(RulesetModel, FindsTablesByFamilyAndName) {
  fwgate::nft::Ruleset rs;
  rs.tables.push_back({.family = fwgate::nft::Family::kInet, .name = "storage"});
  EXPECT_NE(rs.FindTable(fwgate::nft::Family::kInet, "storage"), nullptr);
  EXPECT_EQ(rs.FindTable(fwgate::nft::Family::kIp, "storage"), nullptr);
}
