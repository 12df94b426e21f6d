// clockshift: the LD_PRELOAD library behind the real-fault harness's clock faults
// (docs/realfault.md, "Clock faults"). It adds an offset to a process's wall clock
// (clock_gettime of CLOCK_REALTIME and CLOCK_REALTIME_COARSE, gettimeofday, time, timespec_get)
// and leaves every other clock alone: CLOCK_MONOTONIC, which the node's timers (a timerfd armed
// with absolute CLOCK_MONOTONIC times) and its failure detectors run on, is never touched, nor is
// any timer or sleep call intercepted.
//
// The file the environment variable SLUICE_CLOCKSHIFT_FILE names holds "OFFSET_MS [DRIFT_PPM
// SINCE_NS]" as text ("-1200", "-130 412 81234567890"): the wall clock is OFFSET_MS ahead of the
// real one (negative: behind), plus DRIFT_PPM millionths of the CLOCK_MONOTONIC time since
// SINCE_NS (a clock running fast or slow since then; SINCE_NS is a CLOCK_MONOTONIC reading of the
// harness, on the same machine). The file is read again at most every kRereadNs of monotonic
// time, so the harness jumps a running node's clock by replacing it (temp + rename); the drift
// is computed at every call. No variable, no file or no first number in it: offset 0, no drift;
// a bad drift part is ignored (no drift).
//
// Why not libfaketime (Debian's 0.9.10): with FAKETIME_DONT_FAKE_MONOTONIC=1 it still shifts the
// absolute time of a timerfd_settime(TFD_TIMER_ABSTIME) on CLOCK_MONOTONIC by the offset (a 300 ms
// timer fired at once under +1.5 s and after 1.1 s under -0.8 s), and fails absolute
// clock_nanosleep on CLOCK_MONOTONIC with EINVAL: it would disturb exactly the timers that must
// not move.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*ClockGettimeFn)(clockid_t, struct timespec*);

enum { kRereadNs = 20 * 1000 * 1000, kFileBytesMax = 63 };
static const long long kOffsetMsMax = 24LL * 3600 * 1000;  // a bigger number is a bad file: ignored
static const long long kFileDriftPpmMax = 100000;              // 10 %: beyond, a bad file's drift part

static _Atomic(ClockGettimeFn) g_real;
static atomic_llong g_offset_ns;
static atomic_llong g_drift_ppm;
static atomic_llong g_drift_since_ns;
static atomic_llong g_next_read_ns;  // CLOCK_MONOTONIC ns when the file is read again

static int real_clock_gettime(clockid_t clock, struct timespec* ts) {
  ClockGettimeFn fn = atomic_load_explicit(&g_real, memory_order_acquire);
  if (fn == NULL) {
    fn = (ClockGettimeFn)dlsym(RTLD_NEXT, "clock_gettime");
    if (fn != NULL) atomic_store_explicit(&g_real, fn, memory_order_release);
  }
  if (fn != NULL) return fn(clock, ts);
  return (int)syscall(SYS_clock_gettime, clock, ts);
}

// Reads the file (plain open/read: no allocation, errno restored by the caller).
static void read_offset(void) {
  const char* path = getenv("SLUICE_CLOCKSHIFT_FILE");
  if (path == NULL || *path == '\0') return;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[kFileBytesMax + 1];
  const ssize_t got = read(fd, text, kFileBytesMax);
  close(fd);
  if (got <= 0) return;
  text[got] = '\0';
  char* end = NULL;
  const long long ms = strtoll(text, &end, 10);
  if (end == text || ms > kOffsetMsMax || ms < -kOffsetMsMax) return;
  char* drift_end = NULL;
  long long ppm = strtoll(end, &drift_end, 10);
  char* since_end = NULL;
  long long since = drift_end == end ? 0 : strtoll(drift_end, &since_end, 10);
  if (drift_end == end || since_end == drift_end || ppm > kFileDriftPpmMax || ppm < -kFileDriftPpmMax || since < 0) ppm = since = 0;
  atomic_store_explicit(&g_offset_ns, ms * 1000 * 1000, memory_order_relaxed);
  atomic_store_explicit(&g_drift_ppm, ppm, memory_order_relaxed);
  atomic_store_explicit(&g_drift_since_ns, since, memory_order_relaxed);
}

// The offset now, drift included; the file read again when kRereadNs passed (by one thread at a
// time). The drift term is at most 10 % of the time since SINCE_NS: no overflow within a century.
static long long offset_ns(void) {
  const int saved_errno = errno;
  struct timespec now;
  long long drift_ns = 0;
  if (real_clock_gettime(CLOCK_MONOTONIC, &now) == 0) {
    const long long now_ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
    long long next = atomic_load_explicit(&g_next_read_ns, memory_order_relaxed);
    if (now_ns >= next &&
        atomic_compare_exchange_strong_explicit(&g_next_read_ns, &next, now_ns + kRereadNs, memory_order_relaxed, memory_order_relaxed)) {
      read_offset();
    }
    const long long elapsed_ns = now_ns - atomic_load_explicit(&g_drift_since_ns, memory_order_relaxed);
    const long long ppm = atomic_load_explicit(&g_drift_ppm, memory_order_relaxed);
    if (elapsed_ns > 0) drift_ns = elapsed_ns / 1000000 * ppm + elapsed_ns % 1000000 * ppm / 1000000;
  }
  errno = saved_errno;
  return atomic_load_explicit(&g_offset_ns, memory_order_relaxed) + drift_ns;
}

static void shift(struct timespec* ts) {
  long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns();
  ts->tv_sec = (time_t)(ns / 1000000000LL);
  ts->tv_nsec = (long)(ns % 1000000000LL);
  if (ts->tv_nsec < 0) {
    ts->tv_nsec += 1000000000L;
    ts->tv_sec -= 1;
  }
}

int clock_gettime(clockid_t clock, struct timespec* ts) {
  const int result = real_clock_gettime(clock, ts);
  if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) shift(ts);
  return result;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  (void)tz;  // obsolete; glibc leaves it alone too
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = (suseconds_t)(ts.tv_nsec / 1000);
  return 0;
}

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}

int timespec_get(struct timespec* ts, int base) {
  if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
  return base;
}
