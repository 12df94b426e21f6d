// Scheduler and sync primitives over a manual clock (no runtime): ordering, wake tokens,
// cancellation and shutdown unwinding.
#include "runtime/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/sync.h"

namespace sluice::runtime {
namespace {

// A clock that only moves when the test advances it, firing due timers in deadline order.
class ManualTimers final : public TimerSource {
 public:
  Instant now() override { return now_; }
  void wake_at(Instant deadline, WakeToken token) override { timers_.emplace(deadline, token); }
  // Advances to the next timer and wakes it; false when none is armed.
  bool fire_next(Scheduler& scheduler) {
    if (timers_.empty()) return false;
    auto it = timers_.begin();
    now_ = std::max(now_, it->first);
    WakeToken token = it->second;
    timers_.erase(it);
    scheduler.wake(token);
    return true;
  }
  void run(Scheduler& scheduler) {
    do {
      scheduler.run_ready();
    } while (fire_next(scheduler));
  }

 private:
  Instant now_{};
  std::multimap<Instant, WakeToken> timers_;
};

TEST(Scheduler, RunsFibersInSpawnOrderAndYieldRequeues) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  std::vector<std::string> order;
  scheduler.spawn("a", [&] {
    order.push_back("a1");
    scheduler.yield();
    order.push_back("a2");
  });
  scheduler.spawn("b", [&] { order.push_back("b1"); });
  scheduler.run_ready();
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "a2"}));
  EXPECT_EQ(scheduler.fiber_count(), 0u);
}

TEST(Scheduler, RunReadyStopsAtResumesMaxSoYieldingFibersCannotStarveAReactor) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  int spins = 0;
  bool stop = false;
  scheduler.spawn("spinner", [&] {
    while (!stop) {
      ++spins;
      scheduler.yield();
    }
  });
  EXPECT_EQ(scheduler.run_ready(3), 3u);
  EXPECT_EQ(spins, 3);
  EXPECT_TRUE(scheduler.has_ready());
  stop = true;
  scheduler.run_ready();
  EXPECT_EQ(scheduler.fiber_count(), 0u);
}

TEST(Scheduler, TokenLiveUntilWokenOrFinished) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  WakeToken token{};
  auto state = scheduler.spawn("parker", [&] {
    token = scheduler.current_token();
    scheduler.park();
  });
  scheduler.run_ready();
  EXPECT_TRUE(scheduler.token_live(token));
  EXPECT_TRUE(scheduler.wake(token));
  EXPECT_FALSE(scheduler.token_live(token));  // woken: a timer armed for it is garbage now
  scheduler.run_ready();
  EXPECT_TRUE(state->finished);
  EXPECT_FALSE(scheduler.token_live(WakeToken{state->id, token.generation + 1}));
}

TEST(Scheduler, StaleTokenDoesNotWake) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  WakeToken first{};
  int parks_returned = 0;
  scheduler.spawn("parker", [&] {
    first = scheduler.current_token();
    scheduler.park();
    ++parks_returned;
    scheduler.park();
    ++parks_returned;
  });
  scheduler.run_ready();
  EXPECT_TRUE(scheduler.wake(first));
  EXPECT_FALSE(scheduler.wake(first));  // already woken: duplicate wake is a no-op
  scheduler.run_ready();
  EXPECT_EQ(parks_returned, 1);
  EXPECT_FALSE(scheduler.wake(first));  // parked again, under a new generation
  scheduler.run_ready();
  EXPECT_EQ(parks_returned, 1);
  scheduler.shutdown();
}

TEST(Scheduler, SleepOrdersByDeadline) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  std::vector<int> woke;
  for (int ms : {30, 10, 20}) {
    scheduler.spawn("sleeper", [&, ms] {
      ASSERT_TRUE(scheduler.sleep_until(Instant(std::chrono::milliseconds(ms))).ok());
      woke.push_back(ms);
    });
  }
  timers.run(scheduler);
  EXPECT_EQ(woke, (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(timers.now(), Instant(std::chrono::milliseconds(30)));
}

TEST(Scheduler, CancelWakesParkedFiberAndLaterCallsReturnCancelled) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  std::vector<Errc> results;
  auto state = scheduler.spawn("victim", [&] {
    results.push_back(scheduler.sleep_until(kInstantMax).code());
    results.push_back(scheduler.sleep_until(Instant(1s)).code());
  });
  scheduler.run_ready();
  scheduler.cancel(state->id);
  scheduler.run_ready();
  EXPECT_EQ(results, (std::vector<Errc>{Errc::cancelled, Errc::cancelled}));
  EXPECT_TRUE(state->finished);
}

struct DestructorProbe {
  explicit DestructorProbe(int* counter) : destroyed(counter) {}
  int* destroyed;
  ~DestructorProbe() { ++*destroyed; }
};

TEST(Scheduler, ShutdownUnwindsParkedAndUnstartedFibers) {
  ManualTimers timers;
  Scheduler scheduler(timers);
  int destroyed = 0;
  Channel<int> channel(scheduler, 1);
  scheduler.spawn("parked", [&] {
    DestructorProbe probe(&destroyed);
    (void)channel.receive();  // parks: nothing is ever sent
  });
  scheduler.run_ready();
  scheduler.spawn("never-started", [&, probe = std::make_shared<DestructorProbe>(&destroyed)] {});
  scheduler.shutdown();
  EXPECT_EQ(destroyed, 2);
  EXPECT_EQ(scheduler.fiber_count(), 0u);
}

}  // namespace
}  // namespace sluice::runtime
