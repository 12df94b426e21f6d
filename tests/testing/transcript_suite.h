// One parameterized GoogleTest case per transcript file: every core's transcript test is this
// plus its runner, so it lives here once.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/testing/transcript_format.h"

// Defines <Suite>/TranscriptTest.MatchesExpectedOutput/<file> for every *.txt under `dir`, each
// case of it run by a fresh `Runner` (a transcript::Runner, default-constructible).
#define SLUICE_TRANSCRIPT_SUITE(Suite, Runner, dir)                                                   \
  class TranscriptTest : public ::testing::TestWithParam<std::string> {};                            \
  TEST_P(TranscriptTest, MatchesExpectedOutput) {                                                    \
    ::sluice::transcript::check_file(std::filesystem::path(dir) / GetParam(),                        \
                                     [] { return std::make_unique<Runner>(); });                     \
  }                                                                                                  \
  INSTANTIATE_TEST_SUITE_P(Suite, TranscriptTest, ::testing::ValuesIn(::sluice::transcript::files(dir)), \
                           [](const ::testing::TestParamInfo<std::string>& info) {                   \
                             return ::sluice::transcript::case_name(info.param);                     \
                           })
