// Runs every tests/raft/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include "tests/raft/transcript.h"
#include "tests/testing/transcript_suite.h"

namespace sluice::raft::testing {
namespace {

SLUICE_TRANSCRIPT_SUITE(Raft, TranscriptRunner, SLUICE_RAFT_TESTDATA_DIR);

// The shared format (tests/testing/transcript_format.h), tested once here.
TEST(TranscriptFormat, ParsesAndRendersUnchanged) {
  const std::string text = "# comment\n\nstatus 1\n----\nline one\nline two\n\n# tail\n";
  transcript::Result<std::vector<transcript::Item>> items = transcript::parse(text);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  const auto& block = std::get<transcript::Block>((*items)[1]);
  EXPECT_EQ(block.command.name, "status");
  EXPECT_EQ(block.command.args, std::vector<std::string>{"1"});
  EXPECT_EQ(block.expected, "line one\nline two");
  EXPECT_EQ(transcript::render(*items, {"line one\nline two"}), text);
}

TEST(TranscriptFormat, RejectsCommandWithoutSeparator) {
  EXPECT_FALSE(transcript::parse("status 1\nnot a separator\n").ok());
}

}  // namespace
}  // namespace sluice::raft::testing
