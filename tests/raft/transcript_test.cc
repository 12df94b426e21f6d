// Runs every tests/raft/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

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

// A runner that counts its commands and reports a violation after `fail_at` of them.
class CountingRunner : public transcript::Runner {
 public:
  explicit CountingRunner(int fail_at) : fail_at_(fail_at) {}
  std::string run(const transcript::Command& c) override { return c.name + " #" + std::to_string(++count_); }
  std::optional<std::string> check() override {
    if (count_ == fail_at_) return "broken after " + std::to_string(count_);
    return std::nullopt;
  }
  std::string discard() override { return "discarded " + std::to_string(count_); }

 private:
  int fail_at_;
  int count_ = 0;
};

TEST(TranscriptFormat, ResetStartsEachCaseOnAFreshRunner) {
  const std::string text = "a\n----\na #1\n\nb\n----\nb #2\n\nreset\n----\ndiscarded 2\n\nc\n----\nc #1\n";
  transcript::Result<std::vector<transcript::Item>> items = transcript::parse(text);
  ASSERT_TRUE(items.ok());
  int made = 0;
  const transcript::Outcome outcome = transcript::run_items(
      *items, [&made] { return ++made, std::make_unique<CountingRunner>(-1); }, /*stop_at_mismatch=*/true);
  EXPECT_EQ(made, 2);
  EXPECT_FALSE(outcome.mismatch.has_value()) << outcome.mismatch->actual;
  EXPECT_FALSE(outcome.violation.has_value());
  EXPECT_EQ(outcome.outputs, (std::vector<std::string>{"a #1", "b #2", "discarded 2", "c #1"}));
}

// An expectation rewritten to whatever the code does cannot hide a violation: it fails the file
// even when rewriting, names the command's line, and the run stops there.
TEST(TranscriptFormat, ViolationFailsTheFileEvenWhenRewriting) {
  const std::string text = "# two steps\na\n----\na #1\n\nb\n----\nb #2\n\nc\n----\nc #3\n";
  transcript::Result<std::vector<transcript::Item>> items = transcript::parse(text);
  ASSERT_TRUE(items.ok());
  const transcript::Outcome outcome =
      transcript::run_items(*items, [] { return std::make_unique<CountingRunner>(2); }, /*stop_at_mismatch=*/false);
  ASSERT_TRUE(outcome.violation.has_value());
  EXPECT_EQ(outcome.violation->line, 6);
  EXPECT_EQ(outcome.outputs.size(), 2u);
  std::optional<std::string> failure = transcript::verdict("x.txt", outcome, /*rewriting=*/true);
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->find("x.txt:6: b"), std::string::npos) << *failure;
  EXPECT_NE(failure->find("broken after 2"), std::string::npos) << *failure;
}

// The runner's safety check has teeth. With the Raft paper's Figure 8 bug planted (a leader
// commits an entry of an earlier term by counting its replicas), figure8.txt is first
// "rewritten" to exactly what the buggy core prints, as SLUICE_REWRITE=1 would do if nothing
// checked safety; the rewritten file then matches every output, and still fails: the checker
// reports the lost committed entry at the step where it happens.
TEST(TranscriptSafety, PlantedFigure8BugFailsARewrittenTranscript) {
  std::ifstream in(std::filesystem::path(SLUICE_RAFT_TESTDATA_DIR) / "figure8.txt");
  std::stringstream content;
  content << in.rdbuf();
  transcript::Result<std::vector<transcript::Item>> items = transcript::parse(content.str());
  ASSERT_TRUE(items.ok());

  // Without the bug the file passes.
  const transcript::Outcome correct =
      transcript::run_items(*items, [] { return std::make_unique<TranscriptRunner>(); }, /*stop_at_mismatch=*/true);
  ASSERT_FALSE(correct.violation.has_value()) << correct.violation->actual;
  ASSERT_FALSE(correct.mismatch.has_value()) << correct.mismatch->actual;

  // What a rewrite would accept from the buggy core if the checker were not asked.
  class Unchecked : public TranscriptRunner {
   public:
    Unchecked() : TranscriptRunner(PlantedBug::raft_commit_previous_term) {}
    std::optional<std::string> check() override { return std::nullopt; }
  };
  const transcript::Outcome buggy =
      transcript::run_items(*items, [] { return std::make_unique<Unchecked>(); }, /*stop_at_mismatch=*/false);
  ASSERT_TRUE(buggy.mismatch.has_value()) << "the planted bug changed no output";
  transcript::Result<std::vector<transcript::Item>> rewritten = transcript::parse(transcript::render(*items, buggy.outputs));
  ASSERT_TRUE(rewritten.ok());

  const transcript::Outcome outcome = transcript::run_items(
      *rewritten, [] { return std::make_unique<TranscriptRunner>(PlantedBug::raft_commit_previous_term); },
      /*stop_at_mismatch=*/false);
  EXPECT_FALSE(outcome.mismatch.has_value()) << outcome.mismatch->actual;
  ASSERT_TRUE(outcome.violation.has_value());
  std::optional<std::string> failure = transcript::verdict("figure8.txt", outcome, /*rewriting=*/true);
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->find("figure8.txt:" + std::to_string(outcome.violation->line)), std::string::npos);
  EXPECT_NE(outcome.violation->actual.find("committed"), std::string::npos) << outcome.violation->actual;
  std::cout << "reported: " << *failure << "\n";
}

}  // namespace
}  // namespace sluice::raft::testing
