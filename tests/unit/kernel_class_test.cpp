#include "gate/hazards/kernel_class.h"

#include <gtest/gtest.h>

using fwgate::hazards::ChooseEmulation;
using fwgate::hazards::Classify;
using fwgate::hazards::Emulation;
using fwgate::hazards::KernelClass;
using fwgate::hazards::ParseKernelVersion;

namespace {
KernelClass ClassOf(const char* v) { return Classify(ParseKernelVersion(v).value()).cls; }
}  // namespace

TEST(KernelClass, ParsesDistroReleaseStrings) {
  auto v = ParseKernelVersion("4.15.0-112-generic");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->major, 4);
  EXPECT_EQ(v->minor, 15);
  EXPECT_EQ(v->patch, 0);
  EXPECT_TRUE(ParseKernelVersion("3.10.0-1160.el7.x86_64").ok());
  EXPECT_TRUE(ParseKernelVersion("6.18.44-fc-v595").ok());
  EXPECT_TRUE(ParseKernelVersion("4.4").ok());
}

TEST(KernelClass, RejectsGarbageAndListsValidForms) {
  for (const char* bad : {"", "four", "4", "4.x", "4.15;rm -rf /", "1.2.3.4", "-4.15", "4..15"}) {
    auto v = ParseKernelVersion(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.error().context.find("4.15.0-112-generic"), std::string::npos);
  }
}

TEST(KernelClass, MapsVersionRangesToClasses) {
  EXPECT_EQ(ClassOf("4.4.0"), KernelClass::kContinuous);
  EXPECT_EQ(ClassOf("4.13.16"), KernelClass::kContinuous);
  EXPECT_EQ(ClassOf("4.14"), KernelClass::kStaleGap);
  EXPECT_EQ(ClassOf("4.15.0-112-generic"), KernelClass::kStaleGap);
  EXPECT_EQ(ClassOf("4.18.20"), KernelClass::kStaleGap);
  EXPECT_EQ(ClassOf("4.19"), KernelClass::kRefixup);
  EXPECT_EQ(ClassOf("6.18.2"), KernelClass::kRefixup);
}

TEST(KernelClass, FlagsKeepaliveGapUntilBackport) {
  EXPECT_TRUE(Classify(ParseKernelVersion("4.19.152").value()).keepalive_gap);
  EXPECT_FALSE(Classify(ParseKernelVersion("4.19.153").value()).keepalive_gap);
  EXPECT_TRUE(Classify(ParseKernelVersion("5.9.16").value()).keepalive_gap);
  EXPECT_FALSE(Classify(ParseKernelVersion("5.10.0").value()).keepalive_gap);
  EXPECT_TRUE(Classify(ParseKernelVersion("6.1").value()).ignore_verdict);
}

TEST(KernelClass, ChoosesEmulationRelativeToLabKernel) {
  auto lab = ParseKernelVersion("6.18.44").value();
  EXPECT_EQ(ChooseEmulation(ParseKernelVersion("4.15").value(), lab).emulation,
            Emulation::kStaleGap);
  EXPECT_EQ(ChooseEmulation(ParseKernelVersion("4.4").value(), lab).emulation,
            Emulation::kContinuous);
  EXPECT_EQ(ChooseEmulation(ParseKernelVersion("5.15").value(), lab).emulation, Emulation::kNative);
  auto old_lab = ParseKernelVersion("4.15").value();
  EXPECT_EQ(ChooseEmulation(ParseKernelVersion("4.15.18").value(), old_lab).emulation,
            Emulation::kNative);
}
