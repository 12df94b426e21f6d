// Costs of the fiber scheduler and its channels, measured without a runtime: nothing here waits on
// a deadline, so a TimerSource that never fires drives the Scheduler. A "switch" is one hand-off
// from a running fiber to another one through the scheduler (one resume: two Boost.Context jumps,
// fiber -> scheduler -> fiber). Every benchmark uses real time, so items_per_s and ns_per_op
// (which sluice-bench prints from real time) describe the same measurement.
#include <benchmark/benchmark.h>

#include "node/base/assert.h"
#include "runtime/scheduler.h"
#include "runtime/sync.h"

namespace sluice::runtime {
namespace {

// Time stands still and no timer is ever armed (every wait below has no deadline).
class NoTimers final : public TimerSource {
 public:
  Instant now() override { return Instant(); }
  void wake_at(Instant, WakeToken) override { SLUICE_ASSERT(false && "runtime benchmarks arm no timers"); }
};

// Two fibers taking turns through yield(). One iteration = two switches (measured -> partner ->
// measured); items = switches, so 1e9 / items_per_s is the cost of one switch in ns.
void BM_fiber_switch_yield(benchmark::State& state) {
  NoTimers timers;
  Scheduler scheduler(timers);
  bool done = false;
  scheduler.spawn("partner", [&] {
    while (!done) scheduler.yield();
  });
  scheduler.spawn("measured", [&] {
    for (auto _ : state) scheduler.yield();
    done = true;
  });
  scheduler.run_ready();
  SLUICE_ASSERT_EQ(scheduler.fiber_count(), 0u);
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_fiber_switch_yield)->UseRealTime();

// The same ping-pong through park() and wake(): what every blocking primitive (channel, event,
// mutex) pays per hand-off, token bookkeeping included. Two switches per iteration, as above.
void BM_fiber_switch_park_wake(benchmark::State& state) {
  NoTimers timers;
  Scheduler scheduler(timers);
  WakeToken partner_token{};
  WakeToken measured_token{};
  bool done = false;
  scheduler.spawn("partner", [&] {
    for (;;) {
      partner_token = scheduler.current_token();
      scheduler.park();
      if (done) return;
      scheduler.wake(measured_token);
    }
  });
  scheduler.spawn("measured", [&] {
    for (auto _ : state) {
      measured_token = scheduler.current_token();
      scheduler.wake(partner_token);
      scheduler.park();
    }
    done = true;
    scheduler.wake(partner_token);
  });
  scheduler.run_ready();
  SLUICE_ASSERT_EQ(scheduler.fiber_count(), 0u);
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_fiber_switch_park_wake)->UseRealTime();

// A request/reply over two Channel<int> of capacity 1 between two fibers: the shape of a request
// handed to a partition fiber and answered on a reply channel. One iteration = one round trip.
void BM_channel_round_trip(benchmark::State& state) {
  NoTimers timers;
  Scheduler scheduler(timers);
  Channel<int> requests(scheduler, 1);
  Channel<int> replies(scheduler, 1);
  scheduler.spawn("echo", [&] {
    for (;;) {
      Result<int> request = requests.receive();
      if (!request.ok()) return;  // closed: the benchmark is over
      Status sent = replies.send(*request + 1);
      SLUICE_ASSERT(sent.ok());
    }
  });
  scheduler.spawn("measured", [&] {
    int value = 0;
    for (auto _ : state) {
      Status sent = requests.send(value);
      SLUICE_ASSERT(sent.ok());
      Result<int> reply = replies.receive();
      SLUICE_ASSERT(reply.ok());
      value = *reply;
    }
    SLUICE_ASSERT_EQ(static_cast<int64_t>(value), static_cast<int64_t>(state.iterations()));
    requests.close();
  });
  scheduler.run_ready();
  SLUICE_ASSERT_EQ(scheduler.fiber_count(), 0u);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_channel_round_trip)->UseRealTime();

}  // namespace
}  // namespace sluice::runtime
