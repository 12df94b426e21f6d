// One parameterized GoogleTest case per transcript file: every core's transcript test is this
// plus its runner, so it lives here once.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/testing/transcript_format.h"

// Defines <Suite>/TranscriptTest.MatchesExpectedOutput/<file> for every *.txt under `dir`,
// each run by a fresh `Runner` (default-constructible, `std::string run(const Command&)`).
#define SLUICE_TRANSCRIPT_SUITE(Suite, Runner, dir)                                                   \
  class TranscriptTest : public ::testing::TestWithParam<std::string> {};                            \
  TEST_P(TranscriptTest, MatchesExpectedOutput) {                                                    \
    Runner runner;                                                                                   \
    ::sluice::transcript::check_file(std::filesystem::path(dir) / GetParam(),                        \
                                     [&runner](const auto& command) { return runner.run(command); }); \
  }                                                                                                  \
  INSTANTIATE_TEST_SUITE_P(Suite, TranscriptTest, ::testing::ValuesIn(::sluice::transcript::files(dir)), \
                           [](const ::testing::TestParamInfo<std::string>& info) {                   \
                             return ::sluice::transcript::case_name(info.param);                     \
                           })
