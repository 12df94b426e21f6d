// Coverage marks and simulation-only assertions.
//
// A coverage mark names a rare path: `SLUICE_COVER("raft.pre_vote_deferred")` counts each time the
// path runs. A test or a scenario may require a mark to have been hit, and a seed sweep reports
// which marks its seeds reached, so a sweep can tell whether it exercised the paths it was meant
// to (FoundationDB's TEST() macro, TigerBeetle's marks). Marks are process-wide counters that
// never influence behaviour: they are the one piece of global state, read only by harnesses.
// Names are "<module>.<what>", lower case, and a string literal: one mark per site (the name is
// bound to the site the first time it runs, so a computed name would count under its first value).
//
// Expensive assertions (`SLUICE_ASSERT_EXPENSIVE`) check invariants too costly for production
// (a full scan, a recomputation): they run only when a harness switched them on (sluice-sim and
// the tests do), and are otherwise a branch on a flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "node/base/assert.h"

namespace sluice::coverage {

class Mark {
 public:
  explicit Mark(const char* name);  // registers itself; names must be unique
  void hit() { hits_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  void reset() { hits_.store(0, std::memory_order_relaxed); }
  const char* name() const { return name_; }

 private:
  const char* name_;
  std::atomic<uint64_t> hits_{0};
};

// Hits of every mark reached at least once since the process started (a mark registers when
// first reached), by name.
std::map<std::string, uint64_t> snapshot();
// Hits of one mark (0 when never reached).
uint64_t hits(const std::string& name);
// Zeroes every mark (a harness calls it before each run).
void reset_all();

// Expensive assertions: off unless a harness switches them on.
void set_expensive_assertions(bool enabled);
bool expensive_assertions();

}  // namespace sluice::coverage

#define SLUICE_COVER(name)                                    \
  do {                                                        \
    static_assert(sizeof("" name "") > 1, "a string literal"); \
    static ::sluice::coverage::Mark sluice_cover_mark_{name}; \
    sluice_cover_mark_.hit();                                 \
  } while (false)

#define SLUICE_ASSERT_EXPENSIVE(condition)                                     \
  do {                                                                         \
    if (::sluice::coverage::expensive_assertions()) SLUICE_ASSERT(condition); \
  } while (false)
