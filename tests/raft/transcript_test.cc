// Runs every tests/raft/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/raft/transcript.h"

namespace sluice::raft::testing {
namespace {

std::filesystem::path testdata_dir() { return std::filesystem::path(SLUICE_RAFT_TESTDATA_DIR); }

std::vector<std::string> transcript_files() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(testdata_dir())) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool rewrite_requested() {
  const char* value = std::getenv("SLUICE_REWRITE");
  return value != nullptr && std::string(value) == "1";
}

class TranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TranscriptTest, MatchesExpectedOutput) {
  const std::filesystem::path path = testdata_dir() / GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream content;
  content << in.rdbuf();
  Result<std::vector<TranscriptItem>> items = parse_transcript(content.str());
  ASSERT_TRUE(items.ok()) << path << ": " << items.status().to_string();

  TranscriptRunner runner;
  std::vector<std::string> outputs;
  for (const TranscriptItem& item : *items) {
    const auto* block = std::get_if<TranscriptBlock>(&item);
    if (block == nullptr) continue;
    outputs.push_back(runner.run(block->command));
    if (!rewrite_requested()) {
      ASSERT_EQ(block->expected, outputs.back())
          << path.string() << ":" << block->command.line << ": " << block->command.text
          << "\n(rerun with SLUICE_REWRITE=1 to accept the new output)";
    }
  }
  if (rewrite_requested()) {
    std::ofstream out(path);
    out << render_transcript(*items, outputs);
    ASSERT_TRUE(out) << "cannot write " << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Raft, TranscriptTest, ::testing::ValuesIn(transcript_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(TranscriptFormat, ParsesAndRendersUnchanged) {
  const std::string text = "# comment\n\nstatus 1\n----\nline one\nline two\n\n# tail\n";
  Result<std::vector<TranscriptItem>> items = parse_transcript(text);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 3u);
  const auto& block = std::get<TranscriptBlock>((*items)[1]);
  EXPECT_EQ(block.command.name, "status");
  EXPECT_EQ(block.command.args, std::vector<std::string>{"1"});
  EXPECT_EQ(block.expected, "line one\nline two");
  EXPECT_EQ(render_transcript(*items, {"line one\nline two"}), text);
}

TEST(TranscriptFormat, RejectsCommandWithoutSeparator) {
  EXPECT_FALSE(parse_transcript("status 1\nnot a separator\n").ok());
}

}  // namespace
}  // namespace sluice::raft::testing
