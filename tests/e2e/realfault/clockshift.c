// clockshift: the LD_PRELOAD library behind the real-fault harness's clock faults
// (docs/realfault.md, "Clock faults"). It gives a process the clocks of a machine whose crystal
// runs DRIFT_PPM millionths fast (negative: slow) and whose wall clock is OFFSET_MS off:
//
// - the wall clock (clock_gettime of CLOCK_REALTIME, CLOCK_REALTIME_COARSE and
//   CLOCK_REALTIME_ALARM, gettimeofday, time, timespec_get) is OFFSET_MS ahead of the real one
//   (negative: behind), plus DRIFT_PPM millionths of the CLOCK_MONOTONIC time since SINCE_NS;
// - the monotonic clocks (CLOCK_MONOTONIC, _RAW, _COARSE, CLOCK_BOOTTIME, _ALARM) run at
//   (1 + DRIFT_PPM / 10^6) times the real rate since SINCE_NS, with no offset: a node compares
//   monotonic readings only with its own, so only their rate can mislead it;
// - so that its waits agree with its clocks, every wait the node (or glibc's sleep_for, or a
//   condition variable's timed wait) makes is converted into real time: relative ones divided
//   by (1 + drift), on a wall clock too (one crystal drives every timer), absolute ones on a
//   monotonic or wall clock through the inverse of that clock's map (timerfd_settime with
//   TFD_TIMER_ABSTIME, clock_nanosleep with TIMER_ABSTIME, pthread_cond_clockwait); what the
//   kernel hands back (the time left in a timerfd or an interrupted sleep) is converted back.
//
// Intercepted: clock_gettime, gettimeofday, time, timespec_get; timerfd_create (to remember each
// timerfd's clock, by fd below kTimerfdsMax), timerfd_settime, timerfd_gettime; epoll_wait's
// timeout; nanosleep (std::this_thread::sleep_for); clock_nanosleep; pthread_cond_clockwait
// (std::condition_variable's timed waits on steady_clock). sluice-node calls clock_gettime,
// timerfd_create, timerfd_settime and epoll_wait (with no timeout or 0) of these. Not converted:
// poll, ppoll, epoll_pwait, select, usleep, POSIX timers (timer_create), pthread_cond_timedwait
// (its clock is hidden in the condition variable; libstdc++ uses it only for system_clock
// waits), a timerfd inherited across exec or with fd >= kTimerfdsMax, and a wait already under
// way when the file changes the drift.
//
// The file the environment variable SLUICE_CLOCKSHIFT_FILE names holds "OFFSET_MS [DRIFT_PPM
// SINCE_NS]" as text ("-1200", "-130 412 81234567890"). SINCE_NS is a CLOCK_MONOTONIC reading of
// the harness, on the same machine. The file is read again at most every kRereadNs of monotonic
// time, so the harness jumps a running node's wall clock by replacing it (temp + rename); the
// drift is computed at every call. No variable, no file or no first number in it: offset 0, no
// drift; a bad drift part is ignored (no drift). A file whose drift or start differs from the one
// in use (a test's; the harness keeps both for the whole run) changes the monotonic clocks' rate
// from that moment on without a step (a monotonic clock never steps), except at the first
// reading of a process, which anchors them at SINCE_NS exactly.
//
// Allocation-free (plain open/read, no stdio), errno-preserving, and thread-safe: the shift in
// use is one snapshot in two slots under a generation count, so a reader never sees half of a
// change and never waits for a writer (not even one its own signal handler interrupted).
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
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { kRereadNs = 20 * 1000 * 1000, kFileBytesMax = 63, kTimerfdsMax = 4096 };
static const long long kNsPerSec = 1000000000LL;
static const long long kNsPerMs = 1000000LL;
static const long long kPpmPerOne = 1000000LL;
static const long long kOffsetMsMax = 24LL * 3600 * 1000;  // a bigger number is a bad file: ignored
static const long long kFileDriftPpmMax = 100000;          // 10 %: beyond, a bad file's drift part
// Times beyond this many seconds (the wall clock's year 2096; 126 years of uptime) are passed on
// untouched: in nanoseconds, times (1 + drift), they would near LLONG_MAX, and a deadline that far
// is "never" either way.
static const long long kConvertSecMax = 4000000000LL;

// --- The shift in use ---

typedef struct {
  long long offset_ns;       // the wall clock's offset
  long long drift_ppm;       // both clocks' rate error
  long long since_ns;        // real CLOCK_MONOTONIC where the wall clock's drift starts
  long long base_real_ns;    // the monotonic map: real CLOCK_MONOTONIC base_real_ns reads
  long long base_skewed_ns;  // base_skewed_ns, and runs at (1 + drift) from there
} Shift;

typedef struct {
  atomic_llong offset_ns, drift_ppm, since_ns, base_real_ns, base_skewed_ns;
} ShiftSlot;

// Even: slot (generation / 2) % 2 is in use; odd: a writer fills the other one. Slot 0 starts as
// all zeros: no offset, no drift, the identity map.
static atomic_ullong g_generation;
static ShiftSlot g_slots[2];
static atomic_flag g_reading = ATOMIC_FLAG_INIT;  // one file reader at a time
static atomic_llong g_next_read_ns;               // real CLOCK_MONOTONIC ns when the file is read again
static atomic_bool g_monotonic_handed_out;        // a skewed monotonic reading left the library
static atomic_int g_timerfd_clock[kTimerfdsMax];  // clock id + 1 of each timerfd; 0: not one of ours

static void load_shift(Shift* out) {
  for (;;) {
    const unsigned long long first = atomic_load_explicit(&g_generation, memory_order_acquire);
    ShiftSlot* slot = &g_slots[(first / 2) % 2];
    out->offset_ns = atomic_load_explicit(&slot->offset_ns, memory_order_relaxed);
    out->drift_ppm = atomic_load_explicit(&slot->drift_ppm, memory_order_relaxed);
    out->since_ns = atomic_load_explicit(&slot->since_ns, memory_order_relaxed);
    out->base_real_ns = atomic_load_explicit(&slot->base_real_ns, memory_order_relaxed);
    out->base_skewed_ns = atomic_load_explicit(&slot->base_skewed_ns, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    // Unchanged: no writer touched the slot read (a writer marks the generation before writing).
    if (atomic_load_explicit(&g_generation, memory_order_relaxed) == first) return;
  }
}

// Only with g_reading held.
static void publish_shift(const Shift* shift) {
  const unsigned long long generation = atomic_load_explicit(&g_generation, memory_order_relaxed);
  atomic_store_explicit(&g_generation, generation + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  ShiftSlot* slot = &g_slots[(generation / 2 + 1) % 2];
  atomic_store_explicit(&slot->offset_ns, shift->offset_ns, memory_order_relaxed);
  atomic_store_explicit(&slot->drift_ppm, shift->drift_ppm, memory_order_relaxed);
  atomic_store_explicit(&slot->since_ns, shift->since_ns, memory_order_relaxed);
  atomic_store_explicit(&slot->base_real_ns, shift->base_real_ns, memory_order_relaxed);
  atomic_store_explicit(&slot->base_skewed_ns, shift->base_skewed_ns, memory_order_relaxed);
  atomic_store_explicit(&g_generation, generation + 2, memory_order_release);
}

// --- Arithmetic (integers only, |ppm| at most kFileDriftPpmMax) ---

// ns * ppm / 10^6, split so that the product cannot overflow for any ns; rounds toward zero.
static long long scale_ppm(long long ns, long long ppm) { return ns / kPpmPerOne * ppm + ns % kPpmPerOne * ppm / kPpmPerOne; }

// A real interval as the skewed clocks measure it: ns * (1 + drift).
static long long interval_to_skewed(long long ns, long long ppm) { return ns + scale_ppm(ns, ppm); }

// A skewed interval in real time: ns / (1 + drift), rounded up so that a wait never ends before
// the skewed clock has run its full length.
static long long interval_to_real(long long ns, long long ppm) {
  if (ns <= 0) return ns;
  const long long rate = kPpmPerOne + ppm;  // (1 + drift) in millionths, 900,000 .. 1,100,000
  return ns / rate * kPpmPerOne + (ns % rate * kPpmPerOne + rate - 1) / rate;
}

static long long skewed_monotonic_ns(const Shift* shift, long long real_ns) {
  const long long since_base_ns = real_ns - shift->base_real_ns;
  return shift->base_skewed_ns + interval_to_skewed(since_base_ns, shift->drift_ppm);
}

// What a clock of `kind` reads more than the real one, given the real CLOCK_MONOTONIC.
typedef enum { kUntouched, kWall, kMonotonic } ClockKind;

static ClockKind kind_of(clockid_t clock) {
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM: return kWall;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM: return kMonotonic;
    default: return kUntouched;
  }
}

static long long shift_ns(ClockKind kind, const Shift* shift, long long real_monotonic_ns) {
  if (kind == kMonotonic) return skewed_monotonic_ns(shift, real_monotonic_ns) - real_monotonic_ns;
  if (kind != kWall) return 0;
  const long long elapsed_ns = real_monotonic_ns - shift->since_ns;
  return shift->offset_ns + (elapsed_ns > 0 ? scale_ppm(elapsed_ns, shift->drift_ppm) : 0);
}

// A timespec within [0, kConvertSecMax] seconds as ns; -1 for one to pass on untouched (invalid
// for the kernel to refuse, or too far).
static long long ns_of(const struct timespec* ts) {
  if (ts->tv_sec < 0 || ts->tv_sec > kConvertSecMax || ts->tv_nsec < 0 || ts->tv_nsec >= kNsPerSec) return -1;
  return (long long)ts->tv_sec * kNsPerSec + ts->tv_nsec;
}

static struct timespec timespec_of(long long ns) {
  struct timespec ts = {.tv_sec = (time_t)(ns / kNsPerSec), .tv_nsec = (long)(ns % kNsPerSec)};
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += kNsPerSec;
    ts.tv_sec -= 1;
  }
  return ts;
}

// --- The next definitions (glibc's) ---

static void* next_symbol(_Atomic(void*)* cache, const char* name) {
  void* fn = atomic_load_explicit(cache, memory_order_acquire);
  if (fn == NULL) {
    fn = dlsym(RTLD_NEXT, name);
    atomic_store_explicit(cache, fn, memory_order_release);
  }
  return fn;
}

static int real_clock_gettime(clockid_t clock, struct timespec* ts) {
  static _Atomic(void*) cache;
  int (*fn)(clockid_t, struct timespec*) = (int (*)(clockid_t, struct timespec*))next_symbol(&cache, "clock_gettime");
  if (fn != NULL) return fn(clock, ts);
  return (int)syscall(SYS_clock_gettime, clock, ts);
}

// --- The file ---

// Parses "OFFSET_MS [DRIFT_PPM SINCE_NS]"; false for a bad offset. A bad drift part is no drift.
static bool parse_file(const char* text, long long* offset_ms, long long* drift_ppm, long long* since_ns) {
  char* end = NULL;
  *offset_ms = strtoll(text, &end, 10);
  if (end == text || *offset_ms > kOffsetMsMax || *offset_ms < -kOffsetMsMax) return false;
  char* drift_end = NULL;
  *drift_ppm = strtoll(end, &drift_end, 10);
  char* since_end = NULL;
  *since_ns = drift_end == end ? 0 : strtoll(drift_end, &since_end, 10);
  const bool bad_drift = drift_end == end || since_end == drift_end || *drift_ppm > kFileDriftPpmMax || *drift_ppm < -kFileDriftPpmMax || *since_ns < 0;
  if (bad_drift) *drift_ppm = *since_ns = 0;
  return true;
}

// The shift a file says, given the one in use: a new rate starts where the monotonic clocks are
// now (no step), or at SINCE_NS if they have handed out no reading yet.
static Shift next_shift(const Shift* in_use, long long offset_ms, long long drift_ppm, long long since_ns, long long real_monotonic_ns) {
  Shift next = *in_use;
  next.offset_ns = offset_ms * kNsPerMs;
  if (drift_ppm == in_use->drift_ppm && since_ns == in_use->since_ns) return next;
  next.drift_ppm = drift_ppm;
  next.since_ns = since_ns;
  if (atomic_load_explicit(&g_monotonic_handed_out, memory_order_relaxed)) {
    next.base_real_ns = real_monotonic_ns;
    next.base_skewed_ns = skewed_monotonic_ns(in_use, real_monotonic_ns);
  } else {
    next.base_real_ns = next.base_skewed_ns = since_ns;
  }
  return next;
}

// Reads the file (plain open/read: no allocation; errno restored by the caller).
static void read_file(long long real_monotonic_ns) {
  const char* path = getenv("SLUICE_CLOCKSHIFT_FILE");
  if (path == NULL || *path == '\0') return;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char text[kFileBytesMax + 1];
  const ssize_t got = read(fd, text, kFileBytesMax);
  close(fd);
  if (got <= 0) return;
  text[got] = '\0';
  long long offset_ms = 0, drift_ppm = 0, since_ns = 0;
  if (!parse_file(text, &offset_ms, &drift_ppm, &since_ns)) return;  // a bad offset: as it was
  Shift in_use;
  load_shift(&in_use);
  const Shift next = next_shift(&in_use, offset_ms, drift_ppm, since_ns, real_monotonic_ns);
  publish_shift(&next);
}

// The real CLOCK_MONOTONIC (errno kept); false if it cannot be read (then nothing is converted).
static bool real_monotonic(long long* ns) {
  const int saved_errno = errno;
  struct timespec now;
  const bool ok = real_clock_gettime(CLOCK_MONOTONIC, &now) == 0;
  if (ok) *ns = (long long)now.tv_sec * kNsPerSec + now.tv_nsec;
  errno = saved_errno;
  return ok;
}

// The shift in use at real CLOCK_MONOTONIC `real_monotonic_ns`; the file read again first when
// kRereadNs passed (by one thread at a time). Keeps errno.
static void current_shift(long long real_monotonic_ns, Shift* shift) {
  long long next = atomic_load_explicit(&g_next_read_ns, memory_order_relaxed);
  if (real_monotonic_ns >= next &&
      atomic_compare_exchange_strong_explicit(&g_next_read_ns, &next, real_monotonic_ns + kRereadNs, memory_order_relaxed, memory_order_relaxed) &&
      !atomic_flag_test_and_set_explicit(&g_reading, memory_order_acquire)) {
    const int saved_errno = errno;
    read_file(real_monotonic_ns);
    errno = saved_errno;
    atomic_flag_clear_explicit(&g_reading, memory_order_release);
  }
  load_shift(shift);
}

// The drift in use now (0 if the clock cannot be read).
static long long current_drift_ppm(void) {
  long long real_monotonic_ns = 0;
  if (!real_monotonic(&real_monotonic_ns)) return 0;
  Shift shift;
  current_shift(real_monotonic_ns, &shift);
  return shift.drift_ppm;
}

// --- Conversions of waits ---

// A skewed interval (a wait asked for) in real time.
static struct timespec interval_to_real_ts(const struct timespec* skewed) {
  const long long ns = ns_of(skewed);
  return ns <= 0 ? *skewed : timespec_of(interval_to_real(ns, current_drift_ppm()));  // 0 stays 0: a timerfd's "disarm"
}

// A real interval the kernel handed back (time left), as the skewed clocks measure it.
static void interval_to_skewed_ts(struct timespec* ts) {
  const long long ns = ns_of(ts);
  if (ns > 0) *ts = timespec_of(interval_to_skewed(ns, current_drift_ppm()));
}

// An absolute time of `clock` in the skewed domain, in the real one: the inverse of the clock's
// map (affine, rate 1 + drift), taken at the real reading now. A time already past stays past;
// 1 ns more, so that the map's truncation cannot make the wait end a nanosecond early.
static struct timespec deadline_to_real_ts(clockid_t clock, const struct timespec* skewed) {
  const ClockKind kind = kind_of(clock);
  const long long deadline_ns = ns_of(skewed);
  long long real_monotonic_ns = 0;
  if (kind == kUntouched || deadline_ns <= 0 || !real_monotonic(&real_monotonic_ns)) return *skewed;  // 0 stays 0: "disarm"
  Shift shift;
  current_shift(real_monotonic_ns, &shift);
  long long real_now_ns = real_monotonic_ns;
  if (clock != CLOCK_MONOTONIC) {
    const int saved_errno = errno;
    struct timespec real_now;
    const bool ok = real_clock_gettime(clock, &real_now) == 0;
    errno = saved_errno;
    if (!ok) return *skewed;
    real_now_ns = (long long)real_now.tv_sec * kNsPerSec + real_now.tv_nsec;
  }
  const long long skewed_left_ns = deadline_ns - (real_now_ns + shift_ns(kind, &shift, real_monotonic_ns));
  if (skewed_left_ns <= 0) return timespec_of(real_now_ns);
  return timespec_of(real_now_ns + interval_to_real(skewed_left_ns, shift.drift_ppm) + 1);
}

static int timerfd_clock(int fd) {
  if (fd < 0 || fd >= kTimerfdsMax) return -1;
  return atomic_load_explicit(&g_timerfd_clock[fd], memory_order_relaxed) - 1;
}

// --- Clocks ---

int clock_gettime(clockid_t clock, struct timespec* ts) {
  const int result = real_clock_gettime(clock, ts);
  const ClockKind kind = kind_of(clock);
  if (result != 0 || kind == kUntouched) return result;
  // CLOCK_MONOTONIC itself is mapped from its own reading; another clock gets the shift the
  // monotonic clock has now.
  const long long real_ns = (long long)ts->tv_sec * kNsPerSec + ts->tv_nsec;
  long long real_monotonic_ns = real_ns;
  if (clock != CLOCK_MONOTONIC && !real_monotonic(&real_monotonic_ns)) return result;
  Shift shift;
  current_shift(real_monotonic_ns, &shift);
  if (kind == kMonotonic && !atomic_load_explicit(&g_monotonic_handed_out, memory_order_relaxed)) {
    atomic_store_explicit(&g_monotonic_handed_out, true, memory_order_relaxed);
  }
  *ts = timespec_of(real_ns + shift_ns(kind, &shift, real_monotonic_ns));
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

// --- Timers and waits ---

int timerfd_create(int clock, int flags) {
  static _Atomic(void*) cache;
  int (*fn)(int, int) = (int (*)(int, int))next_symbol(&cache, "timerfd_create");
  const int fd = fn != NULL ? fn(clock, flags) : (int)syscall(SYS_timerfd_create, clock, flags);
  if (fd >= 0 && fd < kTimerfdsMax) atomic_store_explicit(&g_timerfd_clock[fd], kind_of(clock) == kUntouched ? 0 : clock + 1, memory_order_relaxed);
  return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec* new_value, struct itimerspec* old_value) {
  static _Atomic(void*) cache;
  int (*fn)(int, int, const struct itimerspec*, struct itimerspec*) =
      (int (*)(int, int, const struct itimerspec*, struct itimerspec*))next_symbol(&cache, "timerfd_settime");
  const int clock = timerfd_clock(fd);
  struct itimerspec real_value;
  const struct itimerspec* value = new_value;
  if (clock >= 0 && new_value != NULL) {
    real_value.it_value = (flags & TFD_TIMER_ABSTIME) != 0 ? deadline_to_real_ts(clock, &new_value->it_value) : interval_to_real_ts(&new_value->it_value);
    real_value.it_interval = interval_to_real_ts(&new_value->it_interval);
    value = &real_value;
  }
  const int result = fn != NULL ? fn(fd, flags, value, old_value) : (int)syscall(SYS_timerfd_settime, fd, flags, value, old_value);
  if (result == 0 && clock >= 0 && old_value != NULL) {  // the time left: relative either way
    interval_to_skewed_ts(&old_value->it_value);
    interval_to_skewed_ts(&old_value->it_interval);
  }
  return result;
}

int timerfd_gettime(int fd, struct itimerspec* value) {
  static _Atomic(void*) cache;
  int (*fn)(int, struct itimerspec*) = (int (*)(int, struct itimerspec*))next_symbol(&cache, "timerfd_gettime");
  const int result = fn != NULL ? fn(fd, value) : (int)syscall(SYS_timerfd_gettime, fd, value);
  if (result == 0 && timerfd_clock(fd) >= 0) {
    interval_to_skewed_ts(&value->it_value);
    interval_to_skewed_ts(&value->it_interval);
  }
  return result;
}

int epoll_wait(int epfd, struct epoll_event* events, int maxevents, int timeout_ms) {
  static _Atomic(void*) cache;
  int (*fn)(int, struct epoll_event*, int, int) = (int (*)(int, struct epoll_event*, int, int))next_symbol(&cache, "epoll_wait");
  int real_timeout_ms = timeout_ms;
  if (timeout_ms > 0) {  // -1 (forever) and 0 (no wait) mean the same at any rate
    const long long real_ms = (interval_to_real(timeout_ms * kNsPerMs, current_drift_ppm()) + kNsPerMs - 1) / kNsPerMs;
    real_timeout_ms = real_ms > INT_MAX ? INT_MAX : (int)real_ms;
  }
  if (fn != NULL) return fn(epfd, events, maxevents, real_timeout_ms);
  return (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, real_timeout_ms, NULL, 0);
}

int nanosleep(const struct timespec* request, struct timespec* left) {
  static _Atomic(void*) cache;
  int (*fn)(const struct timespec*, struct timespec*) = (int (*)(const struct timespec*, struct timespec*))next_symbol(&cache, "nanosleep");
  if (request == NULL) return fn != NULL ? fn(request, left) : (int)syscall(SYS_nanosleep, request, left);
  const struct timespec real_request = interval_to_real_ts(request);
  const int result = fn != NULL ? fn(&real_request, left) : (int)syscall(SYS_nanosleep, &real_request, left);
  if (result != 0 && errno == EINTR && left != NULL) {  // interrupted: what is left, in the caller's time
    const int saved_errno = errno;
    interval_to_skewed_ts(left);
    errno = saved_errno;
  }
  return result;
}

// Returns an error number, as the real one does (errno is not its channel).
int clock_nanosleep(clockid_t clock, int flags, const struct timespec* request, struct timespec* left) {
  static _Atomic(void*) cache;
  int (*fn)(clockid_t, int, const struct timespec*, struct timespec*) =
      (int (*)(clockid_t, int, const struct timespec*, struct timespec*))next_symbol(&cache, "clock_nanosleep");
  if (fn == NULL) return ENOSYS;
  if (kind_of(clock) == kUntouched || request == NULL) return fn(clock, flags, request, left);
  const bool absolute = (flags & TIMER_ABSTIME) != 0;
  const struct timespec real_request = absolute ? deadline_to_real_ts(clock, request) : interval_to_real_ts(request);
  const int result = fn(clock, flags, &real_request, left);
  if (result == EINTR && !absolute && left != NULL) interval_to_skewed_ts(left);
  return result;
}

int pthread_cond_clockwait(pthread_cond_t* restrict cond, pthread_mutex_t* restrict mutex, clockid_t clock, const struct timespec* restrict deadline) {
  static _Atomic(void*) cache;
  int (*fn)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*) =
      (int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const struct timespec*))next_symbol(&cache, "pthread_cond_clockwait");
  if (fn == NULL) return ENOSYS;
  const struct timespec real_deadline = deadline_to_real_ts(clock, deadline);
  return fn(cond, mutex, clock, &real_deadline);
}
