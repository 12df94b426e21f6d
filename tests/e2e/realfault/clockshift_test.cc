// The clockshift preload library (clockshift.c), run under it: ctest starts this binary with
// LD_PRELOAD naming the library and SLUICE_CLOCKSHIFT_FILE a file this test writes. The wall clock
// (system_clock, gettimeofday, time) follows the file's offset and drift; the monotonic clocks
// run at the drifted rate, and every wait (timerfds, epoll_wait, sleeps, condition waits) ends
// when the skewed clock has reached its time. The real clocks and timers are read with raw system
// calls, which the library does not intercept.
//
// No assertion depends on how fast this machine runs the test: a skewed reading is bracketed by
// two real ones, a wait's real length is bounded from below only (a slow clock must make it
// longer than asked; the kernel never ends one early), and a wait must never end before the
// skewed clock reached its time. Upper bounds come from the kernel's own timer state (a raw
// timerfd_gettime), except one, 1.2 s wide.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
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

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kWaitMs = 300;
constexpr int64_t kFastPpm = 50'000;   // 5 %: a 300 ms wait is 285.7 real ms
constexpr int64_t kSlowPpm = -50'000;  // a 300 ms wait is 315.8 real ms

int64_t ns_of(const timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec; }
timespec timespec_of(int64_t ns) { return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)}; }

int64_t raw_ns(clockid_t clock) {
  timespec ts{};
  EXPECT_EQ(syscall(SYS_clock_gettime, clock, &ts), 0);
  return ns_of(ts);
}

// Through the library.
int64_t skewed_ns(clockid_t clock) {
  timespec ts{};
  EXPECT_EQ(clock_gettime(clock, &ts), 0);
  return ns_of(ts);
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

// Waits (polling with short sleeps) until `real_ms` of real CLOCK_MONOTONIC have passed.
void let_real_time_pass(int64_t real_ms) {
  const int64_t until = raw_ns(CLOCK_MONOTONIC) + real_ms * kNsPerMs;
  while (raw_ns(CLOCK_MONOTONIC) < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// Puts the process on a clock `drift_ppm` fast from now, its wall clock `offset_ms` off. The
// library reads the file at its first call 20 ms or more after its last reading, so a call 25 real
// ms after the rename has read it, whatever the shift was before (the offset only confirms it).
void use_clock(int64_t offset_ms, int64_t drift_ppm) {
  const std::string text = std::to_string(offset_ms) + " " + std::to_string(drift_ppm) + " " + since(std::chrono::seconds(0));
  write_clock(text);
  let_real_time_pass(25);
  ASSERT_NEAR(shift_ms(), offset_ms, 20) << text;  // the drift adds about 5 % of the 25 ms
}

// A skewed reading of `clock` between two real ones.
struct Bracket {
  int64_t real_before_ns;
  int64_t skewed_ns;
  int64_t real_after_ns;
};
Bracket bracket(clockid_t clock) {
  Bracket b{};
  b.real_before_ns = raw_ns(clock);
  b.skewed_ns = skewed_ns(clock);
  b.real_after_ns = raw_ns(clock);
  return b;
}

// real_ns * (1 + drift); 128-bit, as a whole CLOCK_MONOTONIC reading times 50,000 overflows 64.
int64_t skewed_interval_ns(int64_t real_ns, int64_t drift_ppm) {
  return real_ns + static_cast<int64_t>(static_cast<__int128>(real_ns) * drift_ppm / 1'000'000);
}

// The skewed clock advanced from `from` to `to` at (1 + drift) times the real rate: bounded by
// the real intervals the brackets allow (a few ns of rounding aside).
void expect_rate(const Bracket& from, const Bracket& to, int64_t drift_ppm, int64_t slack_ns = 10) {
  const int64_t skewed = to.skewed_ns - from.skewed_ns;
  EXPECT_GE(skewed, skewed_interval_ns(to.real_before_ns - from.real_after_ns, drift_ppm) - slack_ns);
  EXPECT_LE(skewed, skewed_interval_ns(to.real_after_ns - from.real_before_ns, drift_ppm) + slack_ns);
}

// The least real time a wait of kWaitMs skewed ms takes at `drift_ppm` (1 ms less for rounding).
int64_t real_wait_min_ns(int64_t drift_ppm) { return kWaitMs * kNsPerMs * 1'000'000 / (1'000'000 + drift_ppm) - kNsPerMs; }

// A wait's real length and where the skewed clock stood at its end, against its deadline.
struct Waited {
  int64_t real_ns;
  int64_t skewed_past_deadline_ns;
};

class Clockshift : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(clock_file().empty()) << "run by ctest under the library (SLUICE_CLOCKSHIFT_FILE unset)";
    ASSERT_NE(std::getenv("LD_PRELOAD"), nullptr);
  }
  void TearDown() override { std::filesystem::remove(clock_file()); }
};

TEST_F(Clockshift, TheWallClockFollowsTheOffsetAndTheMonotonicOneItsRate) {
  EXPECT_NEAR(shift_after("1500", 1500), 1500, 50);
  timeval tv{};
  ASSERT_EQ(gettimeofday(&tv, nullptr), 0);
  const int64_t real_s = raw_ns(CLOCK_REALTIME) / 1'000'000'000;
  EXPECT_NEAR(static_cast<int64_t>(tv.tv_sec), real_s + 1, 1);
  EXPECT_NEAR(static_cast<int64_t>(time(nullptr)), real_s + 1, 1);
  // No drift: the monotonic clock runs at the real rate (an offset never reaches it).
  const Bracket first = bracket(CLOCK_MONOTONIC);
  let_real_time_pass(100);
  expect_rate(first, bracket(CLOCK_MONOTONIC), 0);
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

// Every monotonic clock (steady_clock is CLOCK_MONOTONIC) runs at the drifted rate, fast or slow.
TEST_F(Clockshift, TheMonotonicClocksRunAtTheDriftedRate) {
  for (const int64_t drift_ppm : {kFastPpm, kSlowPpm}) {
    use_clock(drift_ppm > 0 ? 310 : 320, drift_ppm);
    for (const clockid_t clock : {CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME}) {
      const Bracket first = bracket(clock);
      let_real_time_pass(200);
      // Another clock gets CLOCK_MONOTONIC's drift, and CLOCK_MONOTONIC_RAW runs apart from it by
      // NTP's frequency correction (at most 500 ppm: 100 us in 200 ms).
      expect_rate(first, bracket(clock), drift_ppm, clock == CLOCK_MONOTONIC ? 10 : 200'000);
    }
    const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
    const auto steady_before = std::chrono::steady_clock::now();
    let_real_time_pass(200);
    const int64_t steady_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - steady_before).count();
    const int64_t real_ns = raw_ns(CLOCK_MONOTONIC) - real_before;
    EXPECT_LE(steady_ns, skewed_interval_ns(real_ns, drift_ppm) + 10) << drift_ppm;
    EXPECT_GE(steady_ns, skewed_interval_ns(200 * kNsPerMs, drift_ppm) - 10) << drift_ppm;
  }
}

// A new drift changes the rate from where the clock stands: a monotonic clock never steps.
TEST_F(Clockshift, ANewDriftNeverStepsTheMonotonicClock) {
  use_clock(330, kFastPpm);
  let_real_time_pass(300);  // 15 ms gained
  const Bracket before = bracket(CLOCK_MONOTONIC);
  use_clock(340, kSlowPpm);
  const Bracket after = bracket(CLOCK_MONOTONIC);
  EXPECT_GT(after.skewed_ns, before.skewed_ns);
  // At most the fast rate over the time between: no jump of the 15 ms (or more) gained.
  EXPECT_LE(after.skewed_ns - before.skewed_ns, skewed_interval_ns(after.real_after_ns - before.real_before_ns, kFastPpm) + 10);
}

// Arms `fd` (a blocking timerfd) and reads it: the real time it took, and how far past `deadline_ns`
// the skewed `clock` stood when it fired.
Waited fire(int fd, clockid_t clock, int flags, const itimerspec& spec, int64_t deadline_ns) {
  const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
  EXPECT_EQ(timerfd_settime(fd, flags, &spec, nullptr), 0);
  uint64_t expirations = 0;
  EXPECT_EQ(read(fd, &expirations, sizeof expirations), static_cast<ssize_t>(sizeof expirations));
  const int64_t skewed_now = skewed_ns(clock);
  return Waited{raw_ns(CLOCK_MONOTONIC) - real_before, skewed_now - deadline_ns};
}

// The time a timerfd has left: in real time from the kernel, and through the library.
int64_t real_left_ns(int fd) {
  itimerspec left{};
  EXPECT_EQ(syscall(SYS_timerfd_gettime, fd, &left), 0);
  return ns_of(left.it_value);
}
int64_t skewed_left_ns(int fd) {
  itimerspec left{};
  EXPECT_EQ(timerfd_gettime(fd, &left), 0);
  return ns_of(left.it_value);
}

// The epoll reactor's timer: an absolute CLOCK_MONOTONIC timerfd armed at skewed now + 300 ms
// fires when the skewed clock reaches that time: after 300 / (1 + drift) real ms.
TEST_F(Clockshift, AnAbsoluteTimerfdFiresWhenTheSkewedClockReachesItsTime) {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const int64_t drift_ppm : {kFastPpm, kSlowPpm}) {
    use_clock(drift_ppm > 0 ? 350 : 360, drift_ppm);
    const int64_t deadline_ns = skewed_ns(CLOCK_MONOTONIC) + kWaitMs * kNsPerMs;
    const itimerspec spec{{0, 0}, timespec_of(deadline_ns)};
    const Waited waited = fire(fd, CLOCK_MONOTONIC, TFD_TIMER_ABSTIME, spec, deadline_ns);
    EXPECT_GE(waited.skewed_past_deadline_ns, 0) << drift_ppm;
    EXPECT_GE(waited.real_ns, real_wait_min_ns(drift_ppm)) << drift_ppm;
    // Armed once more, the kernel holds the real time: less than 300 ms on a fast clock.
    const itimerspec again{{0, 0}, timespec_of(skewed_ns(CLOCK_MONOTONIC) + kWaitMs * kNsPerMs)};
    ASSERT_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &again, nullptr), 0);
    EXPECT_LE(real_left_ns(fd), real_wait_min_ns(drift_ppm) + 2 * kNsPerMs) << drift_ppm;
    EXPECT_LE(skewed_left_ns(fd), kWaitMs * kNsPerMs) << drift_ppm;
    EXPECT_GT(skewed_left_ns(fd), 0) << drift_ppm;
  }
  close(fd);
}

// A relative timer, and its interval, are scaled by 1 / (1 + drift).
TEST_F(Clockshift, ARelativeTimerfdRunsItsLengthInSkewedTime) {
  const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const int64_t drift_ppm : {kFastPpm, kSlowPpm}) {
    use_clock(drift_ppm > 0 ? 370 : 380, drift_ppm);
    const int64_t start_ns = skewed_ns(CLOCK_MONOTONIC);
    const itimerspec spec{{0, 0}, timespec_of(kWaitMs * kNsPerMs)};
    const Waited waited = fire(fd, CLOCK_MONOTONIC, 0, spec, start_ns + kWaitMs * kNsPerMs);
    EXPECT_GE(waited.skewed_past_deadline_ns, 0) << drift_ppm;
    EXPECT_GE(waited.real_ns, real_wait_min_ns(drift_ppm)) << drift_ppm;
    const itimerspec periodic{timespec_of(kWaitMs * kNsPerMs), timespec_of(kWaitMs * kNsPerMs)};
    ASSERT_EQ(timerfd_settime(fd, 0, &periodic, nullptr), 0);
    EXPECT_LE(real_left_ns(fd), real_wait_min_ns(drift_ppm) + 2 * kNsPerMs) << drift_ppm;
    itimerspec raw{};
    ASSERT_EQ(syscall(SYS_timerfd_gettime, fd, &raw), 0);
    EXPECT_NEAR(ns_of(raw.it_interval), real_wait_min_ns(drift_ppm) + kNsPerMs, 1000) << drift_ppm;
    itimerspec seen{};
    ASSERT_EQ(timerfd_gettime(fd, &seen), 0);
    EXPECT_NEAR(ns_of(seen.it_interval), kWaitMs * kNsPerMs, 1000) << drift_ppm;
  }
  close(fd);
}

// A CLOCK_REALTIME timerfd armed at the shifted wall time + 300 ms fires 300 skewed ms later,
// not offset later (1.8 s under +1.5 s) nor at once (under -0.8 s).
TEST_F(Clockshift, AnAbsoluteWallClockTimerfdFollowsTheShiftedWallClock) {
  const int fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const int64_t offset_ms : {1500, -800}) {
    use_clock(offset_ms, kSlowPpm);
    const int64_t deadline_ns = skewed_ns(CLOCK_REALTIME) + kWaitMs * kNsPerMs;
    const Waited waited = fire(fd, CLOCK_REALTIME, TFD_TIMER_ABSTIME, itimerspec{{0, 0}, timespec_of(deadline_ns)}, deadline_ns);
    EXPECT_GE(waited.skewed_past_deadline_ns, 0) << offset_ms;
    EXPECT_GE(waited.real_ns, real_wait_min_ns(kSlowPpm)) << offset_ms;
    EXPECT_LT(waited.real_ns, 1500 * kNsPerMs) << offset_ms;  // 1.2 s wide: no timing race
  }
  close(fd);
}

// The reactor's epoll_wait, and the sleeps and condition waits glibc and libstdc++ make:
// each ends no sooner than the skewed clock has run its length.
Waited epoll_wait_once() {
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  EXPECT_GE(epfd, 0);
  const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
  const int64_t skewed_before = skewed_ns(CLOCK_MONOTONIC);
  epoll_event event{};
  EXPECT_EQ(epoll_wait(epfd, &event, 1, static_cast<int>(kWaitMs)), 0);
  const Waited waited{raw_ns(CLOCK_MONOTONIC) - real_before, skewed_ns(CLOCK_MONOTONIC) - skewed_before - kWaitMs * kNsPerMs};
  close(epfd);
  return waited;
}

Waited sleep_for_once() {
  const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
  const auto skewed_before = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(kWaitMs));  // nanosleep, from libstdc++
  const auto skewed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - skewed_before).count();
  return Waited{raw_ns(CLOCK_MONOTONIC) - real_before, skewed_ns - kWaitMs * kNsPerMs};
}

Waited clock_nanosleep_absolute_once() {
  const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
  const int64_t deadline_ns = skewed_ns(CLOCK_MONOTONIC) + kWaitMs * kNsPerMs;
  const timespec deadline = timespec_of(deadline_ns);
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr), 0);
  return Waited{raw_ns(CLOCK_MONOTONIC) - real_before, skewed_ns(CLOCK_MONOTONIC) - deadline_ns};
}

// What std::condition_variable::wait_until(steady_clock) calls, once (libstdc++ itself would
// wait again after an early return, which would hide one).
Waited cond_clockwait_once() {
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  const int64_t real_before = raw_ns(CLOCK_MONOTONIC);
  const int64_t deadline_ns = skewed_ns(CLOCK_MONOTONIC) + kWaitMs * kNsPerMs;
  const timespec deadline = timespec_of(deadline_ns);
  pthread_mutex_lock(&mutex);
  int result = 0;
  do {
    result = pthread_cond_clockwait(&cond, &mutex, CLOCK_MONOTONIC, &deadline);
  } while (result == 0);  // a spurious wake-up: nobody signals
  pthread_mutex_unlock(&mutex);
  EXPECT_EQ(result, ETIMEDOUT);
  return Waited{raw_ns(CLOCK_MONOTONIC) - real_before, skewed_ns(CLOCK_MONOTONIC) - deadline_ns};
}

TEST_F(Clockshift, EpollWaitsSleepsAndConditionWaitsRunTheirLengthInSkewedTime) {
  for (const int64_t drift_ppm : {kFastPpm, kSlowPpm}) {
    use_clock(drift_ppm > 0 ? 390 : 400, drift_ppm);
    for (Waited (*wait)() : {epoll_wait_once, sleep_for_once, clock_nanosleep_absolute_once, cond_clockwait_once}) {
      const Waited waited = wait();
      EXPECT_GE(waited.skewed_past_deadline_ns, 0) << drift_ppm;
      EXPECT_GE(waited.real_ns, real_wait_min_ns(drift_ppm)) << drift_ppm;
    }
  }
}

// A bad drift part is no drift (the offset stays, the monotonic clock runs at the real rate); a
// bad offset leaves the clock as it was.
TEST_F(Clockshift, BadFilesChangeNothingTheyCannotSay) {
  use_clock(410, kFastPpm);
  EXPECT_NEAR(shift_after("300 junk", 300), 300, 50);
  const Bracket first = bracket(CLOCK_MONOTONIC);
  let_real_time_pass(100);
  expect_rate(first, bracket(CLOCK_MONOTONIC), 0);
  EXPECT_NEAR(shift_after("0 900000000 " + since(std::chrono::seconds(10)), 0), 0, 50);  // beyond 10 %: ignored
  EXPECT_NEAR(shift_after("700 1000", 700), 700, 50);  // a drift without its start: ignored
  write_clock("not a number");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // several re-reads
  EXPECT_NEAR(shift_ms(), 700, 50);
}

// The library's own work (reading a missing file, converting a wait) never shows in errno.
TEST_F(Clockshift, ErrnoIsKept) {
  use_clock(420, kFastPpm);
  std::filesystem::remove(clock_file());
  let_real_time_pass(30);  // the next call reads the file again: open fails with ENOENT
  errno = EDOM;
  skewed_ns(CLOCK_MONOTONIC);
  EXPECT_EQ(errno, EDOM);
  epoll_event event{};
  EXPECT_EQ(epoll_wait(-1, &event, 1, 10), -1);
  EXPECT_EQ(errno, EBADF);
  itimerspec left{};
  EXPECT_EQ(timerfd_gettime(-1, &left), -1);
  EXPECT_EQ(errno, EBADF);
}

// Run alone by ctest (realfault_clockshift_first_reading) with the file "0 50000 0" written
// before the process starts: its first reading anchors the monotonic clock at SINCE_NS exactly,
// skewed = SINCE_NS + (real - SINCE_NS) * (1 + drift), here real * 1.05.
TEST(ClockshiftFirstReading, AnchorsTheMonotonicClockAtSince) {
  if (std::getenv("SLUICE_CLOCKSHIFT_FIRST_READING") == nullptr) GTEST_SKIP() << "run by ctest realfault_clockshift_first_reading";
  const Bracket reading = bracket(CLOCK_MONOTONIC);
  EXPECT_GE(reading.skewed_ns, skewed_interval_ns(reading.real_before_ns, kFastPpm) - 2);
  EXPECT_LE(reading.skewed_ns, skewed_interval_ns(reading.real_after_ns, kFastPpm) + 2);
}

}  // namespace
