// Runs every tests/swim/testdata/*.txt transcript; SLUICE_REWRITE=1 rewrites the expected
// outputs in place instead of comparing (review the diff before committing it).
#include <gtest/gtest.h>

#include "tests/swim/transcript.h"
#include "tests/testing/transcript_suite.h"

namespace sluice::swim::testing {
namespace {

SLUICE_TRANSCRIPT_SUITE(Swim, TranscriptRunner, SLUICE_SWIM_TESTDATA_DIR);

}  // namespace
}  // namespace sluice::swim::testing
