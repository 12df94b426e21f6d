// Runs every tests/swim/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include <memory>

#include "tests/swim/transcript.h"
#include "tests/testing/transcript_suite.h"

namespace sluice::swim::testing {
namespace {

SLUICE_TRANSCRIPT_SUITE(Swim, TranscriptRunner, SLUICE_SWIM_TESTDATA_DIR);

// The invariant the runner checks on every member's view after every step.
TEST(SwimTranscriptInvariants, OnlyAHigherIncarnationTurnsAMemberBack) {
  using S = MemberState;
  EXPECT_FALSE(illegal_change({S::alive, 0}, {S::suspect, 0}));
  EXPECT_FALSE(illegal_change({S::suspect, 0}, {S::dead, 0}));
  EXPECT_FALSE(illegal_change({S::alive, 2}, {S::left, 2}));
  EXPECT_FALSE(illegal_change({S::dead, 2}, {S::alive, 3}));
  EXPECT_FALSE(illegal_change({S::suspect, 2}, {S::suspect, 5}));
  EXPECT_TRUE(illegal_change({S::alive, 3}, {S::alive, 2}));
  EXPECT_TRUE(illegal_change({S::suspect, 3}, {S::alive, 3}));
  EXPECT_TRUE(illegal_change({S::dead, 3}, {S::suspect, 3}));
  EXPECT_TRUE(illegal_change({S::dead, 3}, {S::left, 3}));
  EXPECT_TRUE(illegal_change({S::left, 3}, {S::dead, 3}));
  EXPECT_NE(illegal_change({S::dead, 3}, {S::alive, 2})->find("incarnation went down"), std::string::npos);
}

// reset ends a case: what was in flight is listed and goes with the old runner.
TEST(SwimTranscriptRunner, ResetDiscardsWhatIsInFlight) {
  const std::string text =
      "add-members 1 2\n----\n1 up inc=0 next-tick=@155\n2 up inc=0 next-tick=@114\n\n"
      "inject from=2 to=1 kind=gossip\n----\nqueued: 2->1 gossip inc=0\n\n"
      "reset\n----\ndiscarded: 2->1 gossip inc=0\n\n"
      "msgs\n----\nno datagrams in flight\n";
  transcript::Result<std::vector<transcript::Item>> items = transcript::parse(text);
  ASSERT_TRUE(items.ok());
  const transcript::Outcome outcome =
      transcript::run_items(*items, [] { return std::make_unique<TranscriptRunner>(); }, /*stop_at_mismatch=*/true);
  EXPECT_FALSE(outcome.mismatch.has_value()) << outcome.mismatch->actual;
  EXPECT_FALSE(outcome.violation.has_value());
}

}  // namespace
}  // namespace sluice::swim::testing
