// Runs every tests/swim/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include "tests/swim/transcript.h"

namespace sluice::swim::testing {
namespace {

const std::filesystem::path kTestdata(SLUICE_SWIM_TESTDATA_DIR);

class TranscriptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TranscriptTest, MatchesExpectedOutput) {
  TranscriptRunner runner;
  transcript::check_file(kTestdata / GetParam(), [&runner](const Command& c) { return runner.run(c); });
}

INSTANTIATE_TEST_SUITE_P(Swim, TranscriptTest, ::testing::ValuesIn(transcript::files(kTestdata)),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return transcript::case_name(info.param);
                         });

}  // namespace
}  // namespace sluice::swim::testing
