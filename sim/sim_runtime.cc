#include "sim/sim_runtime.h"

#include "node/base/hash.h"
#include "sim/world.h"

namespace sluice::sim {

using runtime::Duration;
using runtime::Instant;

SimRuntime::SimRuntime(World& world, NodeIndex node, uint64_t incarnation)
    : world_(world),
      node_(node),
      incarnation_(incarnation),
      // hash(seed, node, incarnation): independent of everything the world did before this start.
      prng_(world.stream("node", hash_combine(static_cast<uint64_t>(node), incarnation))),
      disk_prng_(world.stream("node-disk", hash_combine(static_cast<uint64_t>(node), incarnation))),
      buggify_prng_(world.stream("node-buggify", hash_combine(static_cast<uint64_t>(node), incarnation))),
      scheduler_(*this) {
  scheduler_.set_resume_hook([this](runtime::FiberId fiber) {
    world_.trace().record(world_.now_ns(), node_, "fiber.resume", fiber);
  });
  filesystem_ = make_sim_filesystem(world.disk(node), *this);
}

SimRuntime::~SimRuntime() {
  // Fibers may hold files and sockets of this runtime: unwind them before anything else goes.
  scheduler_.shutdown();
}

Instant SimRuntime::now() { return runtime::instant_from_ns(world_.clock(node_).local_ns(world_.now_ns())); }

void SimRuntime::wake_at(Instant deadline, runtime::WakeToken token) {
  const int64_t at = std::max(world_.now_ns(), world_.clock(node_).global_ns_for(runtime::to_ns(deadline)));
  auto [slot, added] = timers_.try_emplace(token.fiber);
  if (!added && slot->second.at_ns == at) {
    slot->second.token = token;  // the pending event will wake this park
    return;
  }
  const uint64_t event_id = next_timer_event_id_++;
  slot->second = TimerSlot{at, event_id, token};
  world_.schedule(at, node_, "timer", token.fiber, [this, fiber = token.fiber, event_id] { fire_timer(fiber, event_id); });
}

void SimRuntime::fire_timer(runtime::FiberId fiber, uint64_t event_id) {
  auto slot = timers_.find(fiber);
  if (slot == timers_.end() || slot->second.event_id != event_id) return;  // superseded
  const runtime::WakeToken token = slot->second.token;
  timers_.erase(slot);
  scheduler_.wake(token);
}

runtime::WallTime SimRuntime::wall_now() {
  return runtime::WallTime(Duration(world_.clock(node_).wall_ns(world_.now_ns())));
}

runtime::Result<std::unique_ptr<runtime::DatagramSocket>> SimRuntime::bind_datagram(uint16_t port) {
  return world_.network().bind_datagram(*this, port);
}

runtime::Result<std::unique_ptr<runtime::Listener>> SimRuntime::listen(uint16_t port) {
  return world_.network().listen(*this, port);
}

runtime::Result<std::unique_ptr<runtime::Stream>> SimRuntime::connect(const runtime::Address& to, Duration timeout) {
  return world_.network().connect(*this, to, timeout);
}

std::string_view SimRuntime::host() const { return world_.host(node_); }

bool SimRuntime::buggify(runtime::SiteId site) { return world_.buggify(site, buggify_prng_); }

runtime::Status SimRuntime::disk_delay(Duration latency) { return sleep_for(latency); }

void SimRuntime::disk_trace(std::string_view operation, uint64_t detail) {
  world_.trace().record(world_.now_ns(), node_, "disk", hash_combine(hash_bytes(operation), detail));
}

}  // namespace sluice::sim
