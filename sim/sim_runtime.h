// One node's view of the simulated world, implementing the runtime seam. Created at each start of
// the node and destroyed at its crash; the node's disk and clock live on in the World.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "node/base/random.h"
#include "runtime/runtime.h"
#include "sim/disk.h"
#include "sim/network.h"

namespace sluice::sim {

class World;

class SimRuntime final : public runtime::Runtime, public DiskEnvironment {
 public:
  SimRuntime(World& world, NodeIndex node, uint64_t incarnation);
  ~SimRuntime() override;

  runtime::Instant now() override;
  void wake_at(runtime::Instant deadline, runtime::WakeToken token) override;
  runtime::WallTime wall_now() override;
  uint64_t random() override { return prng_.next(); }
  runtime::Result<std::unique_ptr<runtime::DatagramSocket>> bind_datagram(uint16_t port) override;
  runtime::Result<std::unique_ptr<runtime::Listener>> listen(uint16_t port) override;
  runtime::Result<std::unique_ptr<runtime::Stream>> connect(const runtime::Address& to,
                                                            runtime::Duration timeout) override;
  std::string_view host() const override;
  runtime::Filesystem& fs() override { return *filesystem_; }
  bool buggify(runtime::SiteId site) override;
  runtime::Scheduler& scheduler() override { return scheduler_; }

  // DiskEnvironment
  Prng& disk_prng() override { return disk_prng_; }
  runtime::Status disk_delay(runtime::Duration latency) override;
  void disk_trace(std::string_view operation, uint64_t detail) override;

  World& world() { return world_; }
  NodeIndex node() const { return node_; }
  uint64_t incarnation() const { return incarnation_; }

 private:
  World& world_;
  NodeIndex node_;
  uint64_t incarnation_;
  Prng prng_;
  Prng disk_prng_;
  Prng buggify_prng_;
  // A fiber's pending timer event. A fiber that re-arms the deadline it already has (the Raft
  // host's select wakes for every message, then parks until the same next tick) reuses the
  // pending event with its new token instead of queueing one more: half of all timer events were
  // such stale duplicates. An event whose slot was replaced by another deadline does nothing.
  struct TimerSlot {
    int64_t at_ns = 0;        // the deadline asked for, in global time
    uint64_t event_id = 0;    // the event that serves it
    runtime::WakeToken token;
  };
  void fire_timer(runtime::FiberId fiber, uint64_t event_id);
  std::map<runtime::FiberId, TimerSlot> timers_;
  uint64_t next_timer_event_id_ = 1;
  runtime::Scheduler scheduler_;
  std::unique_ptr<runtime::Filesystem> filesystem_;
};

}  // namespace sluice::sim
