#include "sim/faults.h"

#include <algorithm>
#include <memory>

#include "node/base/assert.h"

namespace sluice::sim {

namespace {
constexpr int64_t kNsPerSecond = 1'000'000'000;
}  // namespace

FaultInjector::FaultInjector(World& world, const Scenario& scenario, NetworkConfig baseline,
                             std::function<void(NodeIndex)> on_bit_flip, std::function<std::vector<NodeIndex>()> group_leaders)
    : world_(world),
      scenario_(scenario),
      baseline_(std::move(baseline)),
      on_bit_flip_(std::move(on_bit_flip)),
      group_leaders_(std::move(group_leaders)),
      new_leader_prng_(world.stream("fault.new_leader_isolate")),
      first_commit_prng_(world.stream("fault.leader_first_commit_isolate")) {
  for (size_t i = 0; i < scenario.events.size(); ++i) event_streams_.push_back(world.stream("fault-event", i));
}

std::vector<NodeIndex> FaultInjector::all_nodes() const {
  std::vector<NodeIndex> nodes(scenario_.nodes);
  for (size_t i = 0; i < nodes.size(); ++i) nodes[i] = static_cast<NodeIndex>(i);
  return nodes;
}

NodeIndex FaultInjector::random_node(Prng& prng) const {
  return static_cast<NodeIndex>(random_below([&prng] { return prng.next(); }, scenario_.nodes));
}

std::vector<NodeIndex> FaultInjector::random_group(Prng& prng, size_t size) const {
  std::vector<NodeIndex> nodes = all_nodes();
  // Partial Fisher-Yates with our own PRNG (std::shuffle's algorithm is not specified).
  for (size_t i = 0; i < size && i + 1 < nodes.size(); ++i) {
    const size_t j = i + random_below([&prng] { return prng.next(); }, nodes.size() - i);
    std::swap(nodes[i], nodes[j]);
  }
  nodes.resize(std::min(size, nodes.size()));
  return nodes;
}

std::string FaultInjector::hosts(const std::vector<NodeIndex>& nodes) const {
  std::string out = "[";
  for (NodeIndex node : nodes) out += (out.size() > 1 ? " " : "") + world_.host(node);
  return out + "]";
}

// The event as the timeline labels it: its kind and what it changes.
std::string FaultInjector::describe(const FaultEvent& event) const {
  std::string out(to_string(event.kind));
  auto ms = [](int64_t ns) { return format_figure(static_cast<double>(ns) / 1e6, 3) + "ms"; };
  switch (event.kind) {
    case FaultKind::partition: return out + " " + hosts(event.nodes) + " | " + hosts(event.other);
    case FaultKind::partition_oneway: return out + " " + hosts(event.nodes) + " -> " + hosts(event.other);
    case FaultKind::clock_jump: return out + " " + ms(event.jump_ns);
    case FaultKind::slow_node: return out + " lag " + ms(event.lag_ns);
    case FaultKind::disk_errors:
      return out + " read=" + format_figure(event.read_error, 4) + " write=" + format_figure(event.write_error, 4) +
             " sync=" + format_figure(event.sync_error, 4);
    case FaultKind::network:
      return out + " loss=" + format_figure(event.loss, 4) + " duplicate=" + format_figure(event.duplicate, 4) + " latency=" +
             ms(event.latency_ns_min) + ".." + ms(event.latency_ns_max) + " (-1: unchanged)";
    case FaultKind::stream_resets: return out + " p=" + format_figure(event.probability, 4);
    default: return out;
  }
}

void FaultInjector::flip_bit(NodeIndex node, Prng& prng) {
  const std::string flipped = world_.disk(node).flip_random_bit(prng);
  if (!flipped.empty()) on_bit_flip_(node);
  note(node, [&] { return "bit_flip " + (flipped.empty() ? std::string("(no file to flip)") : flipped); });
}

void FaultInjector::apply_to_nodes(const FaultEvent& event, Prng& prng) {
  for (NodeIndex node : event.nodes) {
    DiskFaults& disk = world_.disk(node).faults();
    switch (event.kind) {
      case FaultKind::crash:
        if (world_.is_up(node)) world_.crash(node);
        break;
      case FaultKind::restart:
        if (!world_.is_up(node)) world_.start(node);
        break;
      case FaultKind::clock_jump: world_.clock(node).jump_wall(event.jump_ns); break;
      case FaultKind::slow_node: world_.set_cpu_lag(node, event.lag_ns); break;
      case FaultKind::disk_full: disk.full = true; break;
      case FaultKind::disk_free: disk.full = false; break;
      case FaultKind::disk_ok: disk = DiskFaults{0, 0, 0, disk.torn_write_probability, false}; break;
      case FaultKind::disk_errors:
        disk.read_error_probability = event.read_error;
        disk.write_error_probability = event.write_error;
        disk.sync_error_probability = event.sync_error;
        break;
      case FaultKind::bit_flip: flip_bit(node, prng); break;
      default: SLUICE_UNREACHABLE();
    }
    // Crashes and restarts are marked by the world, bit flips by flip_bit().
    if (event.kind != FaultKind::crash && event.kind != FaultKind::restart && event.kind != FaultKind::bit_flip) {
      note(node, [&] { return describe(event); });
    }
  }
}

void FaultInjector::record(FaultEvent event, uint32_t unit) {
  event.at_ns = world_.now_ns();
  event.source_line = 0;
  event.count = 0;
  applied_.push_back(AppliedFault{std::move(event), unit});
}

void FaultInjector::record(FaultKind kind, std::vector<NodeIndex> nodes, uint32_t unit) {
  FaultEvent event;
  event.kind = kind;
  event.nodes = std::move(nodes);
  record(std::move(event), unit);
}

void FaultInjector::apply(const FaultEvent& scheduled, Prng& prng) {
  ++injected_;
  // The isolate of `count` random nodes picks them here, so the record names them.
  FaultEvent event = scheduled;
  if (event.kind == FaultKind::isolate && event.nodes.empty()) event.nodes = random_group(prng, event.count);
  record(event, new_unit());
  Network& network = world_.network();
  LinkConfig& link = network.config().link;
  switch (event.kind) {
    case FaultKind::partition: network.partition(event.nodes, event.other, true); break;
    case FaultKind::partition_oneway: network.partition(event.nodes, event.other, false); break;
    case FaultKind::isolate:
      network.isolate(event.nodes);
      note(-1, [&] { return "isolate " + hosts(event.nodes); });
      return;
    case FaultKind::heal: network.heal(); break;
    case FaultKind::network:
      if (event.loss >= 0) link.loss_probability = event.loss;
      if (event.duplicate >= 0) link.duplicate_probability = event.duplicate;
      if (event.latency_ns_min >= 0) link.latency_min = runtime::Duration(event.latency_ns_min);
      if (event.latency_ns_max >= 0) link.latency_max = runtime::Duration(event.latency_ns_max);
      link.latency_max = std::max(link.latency_max, link.latency_min);
      break;
    case FaultKind::stream_resets: network.config().stream_reset_probability = event.probability; break;
    default: apply_to_nodes(event, prng); return;
  }
  note(-1, [&] { return describe(event); });
}

void FaultInjector::every(double rate_per_min, const char* kind, std::function<void(Prng&)> inject) {
  if (rate_per_min <= 0) return;
  processes_.push_back(std::make_unique<Process>(Process{rate_per_min, kind, std::move(inject), world_.stream(kind)}));
  schedule_next(*processes_.back());
}

// Each firing schedules the next, until faults stop.
void FaultInjector::schedule_next(Process& process) {
  const double mean_ns = 60.0 * kNsPerSecond / process.rate_per_min;
  const int64_t fire_at =
      world_.now_ns() + static_cast<int64_t>(random_exponential([&process] { return process.prng.next(); }, mean_ns)) + 1;
  if (fire_at >= scenario_.faults_stop_ns) return;
  at(fire_at, process.kind, [this, &process] {
    ++injected_;
    process.inject(process.prng);
    schedule_next(process);
  });
}

void FaultInjector::inject_crash(Prng& prng) {
  const NodeIndex node = random_node(prng);
  if (world_.is_up(node)) crash_for_a_while(node, prng);
}

// The node loses power (if it is up) and boots again after a random down time; recorded as one
// unit, crash and restart.
void FaultInjector::crash_for_a_while(NodeIndex node, Prng& prng) {
  if (world_.is_up(node)) world_.crash(node);
  const uint32_t unit = new_unit();
  record(FaultKind::crash, {node}, unit);
  const int64_t down = random_range([&prng] { return prng.next(); }, scenario_.random.down_ns_min, scenario_.random.down_ns_max);
  at(world_.now_ns() + down, "fault.restart", [this, node, unit] {
    record(FaultKind::restart, {node}, unit);
    if (!world_.is_up(node)) world_.start(node);
  });
}

void FaultInjector::inject_partition(Prng& prng) {
  const size_t n = scenario_.nodes;
  if (n < 2) return;
  auto next = [&prng] { return prng.next(); };
  const size_t group_size = 1 + random_below(next, n / 2);
  std::vector<NodeIndex> group = random_group(prng, group_size);
  std::vector<NodeIndex> rest;
  for (NodeIndex node : all_nodes()) {
    if (std::find(group.begin(), group.end(), node) == group.end()) rest.push_back(node);
  }
  const uint64_t shape = random_below(next, 3);
  FaultEvent applied;
  applied.nodes = group;
  switch (shape) {
    case 0:
      world_.network().partition(group, rest, true);
      applied.kind = FaultKind::partition;
      applied.other = rest;
      break;
    case 1:
      world_.network().partition(group, rest, false);
      applied.kind = FaultKind::partition_oneway;
      applied.other = rest;
      break;
    default:
      world_.network().isolate(group);
      applied.kind = FaultKind::isolate;
      break;
  }
  note(-1, [&] {
    if (shape == 2) return "isolate " + hosts(group);
    return std::string(shape == 0 ? "partition " : "partition_oneway ") + hosts(group) + (shape == 0 ? " | " : " -> ") + hosts(rest);
  });
  const uint32_t unit = new_unit();
  record(std::move(applied), unit);
  heal_after_a_while(unit, prng);
}

// The network heals after a random partition duration; the heal is part of `unit`.
void FaultInjector::heal_after_a_while(uint32_t unit, Prng& prng) {
  const int64_t duration = random_range([&prng] { return prng.next(); }, scenario_.random.partition_ns_min, scenario_.random.partition_ns_max);
  at(world_.now_ns() + duration, "fault.heal", [this, unit] {
    record(FaultKind::heal, {}, unit);
    world_.network().heal();
    note(-1, [] { return std::string("heal"); });
  });
}

// The leader of a random group (a node leading several groups is picked more often); nullopt
// when no group has a leader the workloads know of, or that node is down.
std::optional<NodeIndex> FaultInjector::random_leader(Prng& prng) const {
  const std::vector<NodeIndex> leaders = group_leaders_ ? group_leaders_() : std::vector<NodeIndex>();
  if (leaders.empty()) return std::nullopt;
  const NodeIndex node = leaders[random_below([&prng] { return prng.next(); }, leaders.size())];
  if (!world_.is_up(node)) return std::nullopt;
  return node;
}

void FaultInjector::inject_leader_crash(Prng& prng) {
  if (const std::optional<NodeIndex> leader = random_leader(prng)) crash_for_a_while(*leader, prng);
}

void FaultInjector::inject_leader_isolate(Prng& prng) {
  if (const std::optional<NodeIndex> leader = random_leader(prng)) isolate_for_a_while(*leader, prng);
}

void FaultInjector::isolate_for_a_while(NodeIndex node, Prng& prng, LeaderMomentTrigger moment) {
  world_.network().isolate({node});
  note(-1, [&] { return "isolate leader " + hosts({node}); });
  FaultEvent applied;
  applied.kind = FaultKind::isolate;
  applied.nodes = {node};
  applied.at_leader_moment = moment;  // so that its record, made explicit, strikes the same way
  const uint32_t unit = new_unit();
  record(std::move(applied), unit);
  heal_after_a_while(unit, prng);
}

// Called from inside the node's step (its Raft host reporting a Ready): the isolation is an event
// of its own at this instant, after the step, so the fault never lands in the middle of one (what
// the step sent is on the wire already; isolated, its streams stall until the heal, as TCP's do,
// and reset only past stream_stall_reset_s).
void FaultInjector::leader_moment(NodeIndex node, checkers::LeaderMoment moment) {
  const bool elected = moment == checkers::LeaderMoment::elected;
  const LeaderMomentTrigger trigger = elected ? LeaderMomentTrigger::elected : LeaderMomentTrigger::first_commit;
  fire_moment_event(node, trigger);
  const double probability =
      elected ? scenario_.random.new_leader_isolate_probability : scenario_.random.leader_first_commit_isolate_probability;
  Prng& prng = elected ? new_leader_prng_ : first_commit_prng_;
  if (probability <= 0 || world_.now_ns() >= scenario_.faults_stop_ns) return;
  if (!random_chance([&prng] { return prng.next(); }, probability)) return;
  at(world_.now_ns(), elected ? "fault.new_leader_isolate" : "fault.leader_first_commit_isolate", [this, node, trigger, &prng] {
    if (world_.now_ns() >= scenario_.faults_stop_ns || !world_.is_up(node)) return;
    ++injected_;
    isolate_for_a_while(node, prng, trigger);
  });
}

// An explicit event armed (from its at_s on) for this node and moment strikes at the first such
// moment, as the random moment fault it was recorded from did: an event of its own right after
// the step. Replayed as recorded, that is the very instant of the record; in a shrunk run that
// went a little differently, the node's next moment of that kind. One that never sees its moment
// before faults stop never strikes.
void FaultInjector::fire_moment_event(NodeIndex node, LeaderMomentTrigger moment) {
  if (world_.now_ns() >= scenario_.faults_stop_ns) return;
  for (auto it = moment_events_.begin(); it != moment_events_.end(); ++it) {
    const FaultEvent& event = scenario_.events[*it];
    if (event.at_ns > world_.now_ns() || event.at_leader_moment != moment || event.nodes.front() != node) continue;
    const size_t index = *it;
    moment_events_.erase(it);
    at(world_.now_ns(), "fault.event", [this, index] { apply(scenario_.events[index], event_streams_[index]); });
    return;
  }
}

// A data-centre outage: every node down at once, so nothing unsynced survives anywhere; each
// boots again after its own down time (the cluster comes back in a random order). Recorded as a
// crash and restart per node, each pair its own unit (a shrink may keep some nodes' outages).
void FaultInjector::inject_power_loss(Prng& prng) {
  note(-1, [] { return std::string("power loss: every node"); });
  for (NodeIndex node : all_nodes()) crash_for_a_while(node, prng);
}

void FaultInjector::inject_slow_node(Prng& prng) {
  const NodeIndex node = random_node(prng);
  const int64_t lag = random_range([&prng] { return prng.next(); }, int64_t{1}, scenario_.random.slow_lag_ns_max);
  FaultEvent applied;
  applied.kind = FaultKind::slow_node;
  applied.nodes = {node};
  applied.lag_ns = lag;
  const uint32_t unit = new_unit();
  record(std::move(applied), unit);
  world_.set_cpu_lag(node, lag);
  note(node, [lag] { return "slow_node lag " + format_figure(static_cast<double>(lag) / 1e6, 3) + "ms"; });
  at(world_.now_ns() + scenario_.random.slow_ns, "fault.slow_node_end", [this, node, unit] {
    record(FaultKind::slow_node, {node}, unit);  // lag 0: normal again
    world_.set_cpu_lag(node, 0);
    note(node, [] { return std::string("slow_node end"); });
  });
}

// With bit_flip_nodes_max, corruption stays on a fixed set of nodes drawn at the first flip, so
// a scenario can keep it to a minority of every partition's replicas.
NodeIndex FaultInjector::bit_flip_target(Prng& prng) {
  const size_t limit = scenario_.random.bit_flip_nodes_max;
  if (limit == 0 || limit >= scenario_.nodes) return random_node(prng);
  if (bit_flip_nodes_.empty()) bit_flip_nodes_ = random_group(prng, limit);
  return bit_flip_nodes_[random_below([&prng] { return prng.next(); }, bit_flip_nodes_.size())];
}

void FaultInjector::stop_faults() {
  note(-1, [] { return std::string("faults stop: heal, restart, disks healthy"); });
  world_.network().heal();
  world_.network().config() = baseline_;
  world_.network().config().stream_reset_probability = 0;
  for (NodeIndex node : all_nodes()) {
    world_.disk(node).faults() = DiskFaults{0, 0, 0, scenario_.disk_faults.torn_write_probability, false};
    world_.set_cpu_lag(node, 0);
    if (!world_.is_up(node)) world_.start(node);
  }
}

void FaultInjector::schedule_all() {
  for (size_t i = 0; i < scenario_.events.size(); ++i) {
    if (scenario_.events[i].at_leader_moment != LeaderMomentTrigger::none) {
      moment_events_.push_back(i);  // struck by leader_moment(), not by the clock
      continue;
    }
    at(scenario_.events[i].at_ns, "fault.event", [this, i] { apply(scenario_.events[i], event_streams_[i]); });
  }
  const RandomFaults& random = scenario_.random;
  every(random.crash_per_node_per_min * static_cast<double>(scenario_.nodes), "fault.crash",
        [this](Prng& prng) { inject_crash(prng); });
  every(random.partition_per_min, "fault.partition", [this](Prng& prng) { inject_partition(prng); });
  every(random.clock_jump_per_min, "fault.clock_jump", [this](Prng& prng) {
    const int64_t max = scenario_.random.clock_jump_ns_max;
    const int64_t jump = random_range([&prng] { return prng.next(); }, -max, max);
    const NodeIndex node = random_node(prng);
    FaultEvent applied;
    applied.kind = FaultKind::clock_jump;
    applied.nodes = {node};
    applied.jump_ns = jump;
    record(std::move(applied), new_unit());
    world_.clock(node).jump_wall(jump);
    note(node, [jump] { return "clock_jump " + format_figure(static_cast<double>(jump) / 1e6, 3) + "ms"; });
  });
  every(random.power_loss_per_min, "fault.power_loss", [this](Prng& prng) { inject_power_loss(prng); });
  every(random.bit_flip_per_min, "fault.bit_flip", [this](Prng& prng) {
    const NodeIndex node = bit_flip_target(prng);
    record(FaultKind::bit_flip, {node}, new_unit());
    flip_bit(node, prng);
  });
  every(random.slow_node_per_min, "fault.slow_node", [this](Prng& prng) { inject_slow_node(prng); });
  every(random.disk_full_per_min, "fault.disk_full", [this](Prng& prng) {
    const NodeIndex node = random_node(prng);
    const uint32_t unit = new_unit();
    record(FaultKind::disk_full, {node}, unit);
    world_.disk(node).faults().full = true;
    note(node, [] { return std::string("disk_full"); });
    at(world_.now_ns() + scenario_.random.disk_full_ns, "fault.disk_ok", [this, node, unit] {
      record(FaultKind::disk_free, {node}, unit);
      world_.disk(node).faults().full = false;
      note(node, [] { return std::string("disk_ok"); });
    });
  });
  every(random.leader_crash_per_min, "fault.leader_crash", [this](Prng& prng) { inject_leader_crash(prng); });
  every(random.leader_isolate_per_min, "fault.leader_isolate", [this](Prng& prng) { inject_leader_isolate(prng); });
  at(scenario_.faults_stop_ns, "fault.stop", [this] { stop_faults(); });
}

}  // namespace sluice::sim
