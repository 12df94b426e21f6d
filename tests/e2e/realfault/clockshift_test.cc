// The clockshift preload library (clockshift.c), run under it: ctest starts this binary with
// LD_PRELOAD naming the library and SLUICE_CLOCKSHIFT_FILE a file this test writes. The wall clock
// (system_clock, gettimeofday, time) follows the file's offset and drift; the monotonic clock
// does not move. The real clocks are read with the raw system call, which the library does not
// intercept.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

int64_t raw_ns(clockid_t clock) {
  timespec ts{};
  EXPECT_EQ(syscall(SYS_clock_gettime, clock, &ts), 0);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The shifted wall clock minus the real one, in ms.
int64_t shift_ms() {
  const int64_t shifted = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return (shifted - raw_ns(CLOCK_REALTIME)) / 1'000'000;
}

std::string clock_file() {
  const char* path = std::getenv("SLUICE_CLOCKSHIFT_FILE");
  return path == nullptr ? "" : path;
}

void write_clock(const std::string& text) {
  const std::string path = clock_file();
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text << "\n";
  }
  std::filesystem::rename(temp, path);
}

// Writes `text` and waits (polling, up to 5 s) until the shift is within 50 ms of `expected_ms`:
// the library reads the file again every 20 ms. Returns the last shift seen.
int64_t shift_after(const std::string& text, int64_t expected_ms) {
  write_clock(text);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int64_t seen = shift_ms();
  while (std::llabs(seen - expected_ms) > 50 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    seen = shift_ms();
  }
  return seen;
}

std::string since(std::chrono::seconds ago) { return std::to_string(raw_ns(CLOCK_MONOTONIC) - std::chrono::nanoseconds(ago).count()); }

class Clockshift : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(clock_file().empty()) << "run by ctest under the library (SLUICE_CLOCKSHIFT_FILE unset)";
    ASSERT_NE(std::getenv("LD_PRELOAD"), nullptr);
  }
  void TearDown() override { std::filesystem::remove(clock_file()); }
};

TEST_F(Clockshift, TheWallClockFollowsTheOffsetAndTheMonotonicOneStays) {
  EXPECT_NEAR(shift_after("1500", 1500), 1500, 50);
  timeval tv{};
  ASSERT_EQ(gettimeofday(&tv, nullptr), 0);
  const int64_t real_s = raw_ns(CLOCK_REALTIME) / 1'000'000'000;
  EXPECT_NEAR(static_cast<int64_t>(tv.tv_sec), real_s + 1, 1);
  EXPECT_NEAR(static_cast<int64_t>(time(nullptr)), real_s + 1, 1);
  const int64_t steady = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(steady / 1'000'000, raw_ns(CLOCK_MONOTONIC) / 1'000'000, 10);
  EXPECT_NEAR(shift_after("-800", -800), -800, 50);
}

// OFFSET DRIFT_PPM SINCE_NS: 100,000 ppm (10 %) for the 10 s since SINCE_NS is 1 s ahead; a
// slow clock falls behind; the drift adds to the offset.
TEST_F(Clockshift, TheDriftGrowsWithTheTimeSinceItsStart) {
  EXPECT_NEAR(shift_after("0 100000 " + since(std::chrono::seconds(10)), 1000), 1000, 50);
  EXPECT_NEAR(shift_after("0 -50000 " + since(std::chrono::seconds(10)), -500), -500, 50);
  EXPECT_NEAR(shift_after("200 20000 " + since(std::chrono::seconds(20)), 600), 600, 50);
  // The drift keeps running between two reads of the same file.
  const int64_t before = shift_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GE(shift_ms(), before + 2);  // 20,000 ppm of 200 ms is 4 ms
}

// A bad drift part is no drift (the offset stays); a bad offset leaves the clock as it was.
TEST_F(Clockshift, BadFilesChangeNothingTheyCannotSay) {
  EXPECT_NEAR(shift_after("300 junk", 300), 300, 50);
  EXPECT_NEAR(shift_after("0 900000000 " + since(std::chrono::seconds(10)), 0), 0, 50);  // beyond 10 %: ignored
  EXPECT_NEAR(shift_after("700 1000", 700), 700, 50);  // a drift without its start: ignored
  write_clock("not a number");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // several re-reads
  EXPECT_NEAR(shift_ms(), 700, 50);
}

}  // namespace
