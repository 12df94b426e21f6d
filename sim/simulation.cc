#include "sim/simulation.h"

#include <algorithm>
#include <memory>

#include "node/base/random.h"
#include "sim/sim_runtime.h"

namespace sluice::sim {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kLivenessQuietNsMin = 2 * kNsPerS;  // shorter quiet periods cannot judge liveness

// Injects faults into a running world: explicit scenario events and the random fault driver.
class FaultInjector {
 public:
  FaultInjector(World& world, Workload& workload, const Scenario& scenario)
      : world_(world), workload_(workload), scenario_(scenario) {}

  void schedule_all();
  uint64_t injected() const { return injected_; }

 private:
  uint64_t next() { return world_.prng().next(); }
  std::vector<NodeIndex> all_nodes() const {
    std::vector<NodeIndex> nodes(world_.node_count());
    for (size_t i = 0; i < nodes.size(); ++i) nodes[i] = static_cast<NodeIndex>(i);
    return nodes;
  }
  NodeIndex random_node() { return static_cast<NodeIndex>(random_below([this] { return next(); }, world_.node_count())); }
  std::vector<NodeIndex> random_group(size_t size);
  void apply(const FaultEvent& event);
  void apply_to_nodes(const FaultEvent& event);
  void at(int64_t at_ns, const char* kind, std::function<void()> action) {
    world_.schedule(at_ns, -1, kind, 0, std::move(action));
  }
  // A Poisson process of `rate_per_min` that runs `inject` until faults stop.
  void every(double rate_per_min, const char* kind, std::function<void()> inject);
  void inject_crash();
  void inject_partition();
  void stop_faults();

  World& world_;
  Workload& workload_;
  const Scenario& scenario_;
  uint64_t injected_ = 0;
};

std::vector<NodeIndex> FaultInjector::random_group(size_t size) {
  std::vector<NodeIndex> nodes = all_nodes();
  // Partial Fisher-Yates with our own PRNG (std::shuffle's algorithm is not specified).
  for (size_t i = 0; i < size && i + 1 < nodes.size(); ++i) {
    const size_t j = i + random_below([this] { return next(); }, nodes.size() - i);
    std::swap(nodes[i], nodes[j]);
  }
  nodes.resize(std::min(size, nodes.size()));
  return nodes;
}

void FaultInjector::apply_to_nodes(const FaultEvent& event) {
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
      case FaultKind::disk_ok: disk = DiskFaults{0, 0, 0, disk.torn_write_probability, false}; break;
      case FaultKind::disk_errors:
        disk.read_error_probability = event.read_error;
        disk.write_error_probability = event.write_error;
        disk.sync_error_probability = event.sync_error;
        break;
      case FaultKind::bit_flip:
        if (!world_.disk(node).flip_random_bit(world_.prng()).empty()) workload_.on_bit_flip(node);
        break;
      default: SLUICE_UNREACHABLE();
    }
  }
}

void FaultInjector::apply(const FaultEvent& event) {
  ++injected_;
  Network& network = world_.network();
  switch (event.kind) {
    case FaultKind::partition: network.partition(event.nodes, event.other, true); break;
    case FaultKind::partition_oneway: network.partition(event.nodes, event.other, false); break;
    case FaultKind::isolate: network.isolate(event.nodes.empty() ? random_group(event.count) : event.nodes); break;
    case FaultKind::heal: network.heal(); break;
    case FaultKind::network:
      if (event.loss >= 0) network.config().link.loss_probability = event.loss;
      if (event.duplicate >= 0) network.config().link.duplicate_probability = event.duplicate;
      if (event.latency_ns_min >= 0) network.config().link.latency_min = runtime::Duration(event.latency_ns_min);
      if (event.latency_ns_max >= 0) network.config().link.latency_max = runtime::Duration(event.latency_ns_max);
      network.config().link.latency_max = std::max(network.config().link.latency_max, network.config().link.latency_min);
      break;
    case FaultKind::stream_resets: network.config().stream_reset_probability = event.probability; break;
    default: apply_to_nodes(event); break;
  }
}

void FaultInjector::every(double rate_per_min, const char* kind, std::function<void()> inject) {
  if (rate_per_min <= 0) return;
  const double mean_ns = 60.0 * kNsPerS / rate_per_min;
  const int64_t fire_at =
      world_.now_ns() + static_cast<int64_t>(random_exponential([this] { return next(); }, mean_ns)) + 1;
  if (fire_at >= scenario_.faults_stop_ns) return;
  at(fire_at, kind, [this, rate_per_min, kind, inject] {
    ++injected_;
    inject();
    every(rate_per_min, kind, inject);
  });
}

void FaultInjector::inject_crash() {
  const NodeIndex node = random_node();
  if (!world_.is_up(node)) return;
  world_.crash(node);
  const int64_t down = random_range([this] { return next(); }, scenario_.random.down_ns_min, scenario_.random.down_ns_max);
  at(world_.now_ns() + down, "fault.restart", [this, node] {
    if (!world_.is_up(node)) world_.start(node);
  });
}

void FaultInjector::inject_partition() {
  const size_t n = world_.node_count();
  if (n < 2) return;
  const size_t group_size = 1 + random_below([this] { return next(); }, n / 2);
  std::vector<NodeIndex> group = random_group(group_size);
  std::vector<NodeIndex> rest;
  for (NodeIndex node : all_nodes()) {
    if (std::find(group.begin(), group.end(), node) == group.end()) rest.push_back(node);
  }
  switch (random_below([this] { return next(); }, 3)) {
    case 0: world_.network().partition(group, rest, true); break;
    case 1: world_.network().partition(group, rest, false); break;
    default: world_.network().isolate(group); break;
  }
  const int64_t duration =
      random_range([this] { return next(); }, scenario_.random.partition_ns_min, scenario_.random.partition_ns_max);
  at(world_.now_ns() + duration, "fault.heal", [this] { world_.network().heal(); });
}

// Everything heals so liveness can be judged: no partitions, every node up, disks healthy,
// network back to the scenario's baseline.
void FaultInjector::stop_faults() {
  world_.network().heal();
  const uint16_t membership_port = world_.network().config().membership_port;  // set by the workload
  world_.network().config() = scenario_.network;
  world_.network().config().membership_port = membership_port;
  world_.network().config().stream_reset_probability = 0;
  for (NodeIndex node : all_nodes()) {
    world_.disk(node).faults() = DiskFaults{0, 0, 0, scenario_.disk_faults.torn_write_probability, false};
    world_.set_cpu_lag(node, 0);
    if (!world_.is_up(node)) world_.start(node);
  }
}

void FaultInjector::schedule_all() {
  for (const FaultEvent& event : scenario_.events) at(event.at_ns, "fault.event", [this, &event] { apply(event); });
  const RandomFaults& random = scenario_.random;
  every(random.crash_per_node_per_min * static_cast<double>(world_.node_count()), "fault.crash", [this] { inject_crash(); });
  every(random.partition_per_min, "fault.partition", [this] { inject_partition(); });
  every(random.clock_jump_per_min, "fault.clock_jump", [this] {
    const int64_t jump = random_range([this] { return next(); }, -scenario_.random.clock_jump_ns_max, scenario_.random.clock_jump_ns_max);
    world_.clock(random_node()).jump_wall(jump);
  });
  every(random.bit_flip_per_min, "fault.bit_flip", [this] {
    const NodeIndex node = random_node();
    if (!world_.disk(node).flip_random_bit(world_.prng()).empty()) workload_.on_bit_flip(node);
  });
  every(random.disk_full_per_min, "fault.disk_full", [this] {
    const NodeIndex node = random_node();
    world_.disk(node).faults().full = true;
    at(world_.now_ns() + scenario_.random.disk_full_ns, "fault.disk_ok", [this, node] { world_.disk(node).faults().full = false; });
  });
  at(scenario_.faults_stop_ns, "fault.stop", [this] { stop_faults(); });
}

WorldConfig world_config(const Scenario& scenario, const SimulationOptions& options) {
  WorldConfig config;
  config.seed = options.seed;
  config.network = scenario.network;
  config.disk = scenario.disk;
  config.buggify = scenario.buggify;
  config.record_trace = options.record_trace;
  return config;
}

void add_nodes(World& world, const Scenario& scenario) {
  Prng clocks(hash_combine(world.config().seed, 0xc10c));
  auto next = [&clocks] { return clocks.next(); };
  for (size_t i = 0; i < scenario.nodes; ++i) {
    NodeConfig node;
    node.drift_ppm = random_range(next, -scenario.drift_ppm_max, scenario.drift_ppm_max);
    node.wall_skew_ns = random_range(next, -scenario.wall_skew_ns_max, scenario.wall_skew_ns_max);
    const NodeIndex index = world.add_node(node);
    world.disk(index).faults() = scenario.disk_faults;
  }
}

}  // namespace

SimulationReport run_simulation(const Scenario& scenario, const SimulationOptions& options) {
  SimulationReport report;
  report.seed = options.seed;
  report.scenario_name = scenario.name;
  report.scenario_path = scenario.path;
  {
    auto world_owner = std::make_unique<World>(world_config(scenario, options));
    World& world = *world_owner;
    std::unique_ptr<Workload> workload =
        scenario.workload_spec ? scenario.workload_spec->create(world, scenario)
                               : std::make_unique<RuntimeWorkload>(world, scenario.workload, scenario.nodes);
    add_nodes(world, scenario);
    world.set_app_factory(workload->app_factory());
    for (size_t i = 0; i < scenario.nodes; ++i) world.start(static_cast<NodeIndex>(i));
    FaultInjector faults(world, *workload, scenario);
    faults.schedule_all();
    auto failed = [&workload] { return !workload->failure().empty(); };
    // Peek before stepping: no event after duration_s may run.
    while (!failed() && !workload->finished() && world.next_event_ns() <= scenario.duration_ns) world.step();
    if (!failed() && !workload->finished()) world.run_until(scenario.duration_ns);
    report.liveness_checked = !workload->finished() && scenario.duration_ns - scenario.faults_stop_ns >= kLivenessQuietNsMin;
    if (!failed() && report.liveness_checked) workload->check_liveness(scenario.faults_stop_ns);
    report.simulated_ns = world.now_ns();
    report.trace_hash = world.trace().hash();
    report.trace_events = world.trace().count();
    report.world = world.stats();
    report.network = world.network().stats();
    if (auto* runtime_workload = dynamic_cast<RuntimeWorkload*>(workload.get())) report.workload = runtime_workload->stats();
    workload->report(report.figures);
    report.buggify_sites_enabled = world.buggify_sites_enabled();
    report.faults_injected = faults.injected();
    report.failure = workload->failure();
    report.passed = report.failure.empty();
    if (options.record_trace) report.trace = world.trace().records();
    // The world (and its nodes' apps) goes before the workload their apps refer to.
    world_owner.reset();
  }
  return report;
}

std::string replay_command(const std::string& scenario_path, uint64_t seed) {
  return "build/bin/sluice-sim run --scenario " + scenario_path + " --seed " + std::to_string(seed);
}

void print_report(const SimulationReport& r, std::ostream& out) {
  auto line = [&out](const char* key, auto value) { out << key << '=' << value << '\n'; };
  line("scenario", r.scenario_name);
  line("seed", r.seed);
  char simulated[32];
  std::snprintf(simulated, sizeof simulated, "%.3f", static_cast<double>(r.simulated_ns) / kNsPerS);
  line("simulated_s", simulated);
  line("events", r.world.events);
  line("trace_events", r.trace_events);
  line("trace_hash", hex16(r.trace_hash));
  line("faults_injected", r.faults_injected);
  line("crashes", r.world.crashes);
  line("starts", r.world.starts);
  line("buggify_sites_enabled", r.buggify_sites_enabled);
  line("buggify_fired", r.world.buggify_fired);
  line("net_datagrams_sent", r.network.datagrams_sent);
  line("net_datagrams_delivered", r.network.datagrams_delivered);
  line("net_datagrams_lost", r.network.datagrams_lost);
  line("net_datagrams_duplicated", r.network.datagrams_duplicated);
  line("net_datagrams_blocked", r.network.datagrams_blocked);
  line("net_datagrams_dropped_classifier", r.network.datagrams_dropped_classifier);
  line("net_streams_connected", r.network.streams_connected);
  line("net_streams_refused", r.network.streams_refused);
  line("net_streams_reset", r.network.streams_reset);
  line("net_stream_stalls", r.network.stream_stalls);
  line("net_stream_bytes", r.network.stream_bytes_delivered);
  for (const auto& [key, value] : r.figures) line(key.c_str(), value);
  line("liveness", r.liveness_checked ? "checked" : "skipped");
  line("result", r.passed ? "passed" : "FAILED");
  if (!r.passed) {
    line("failure", r.failure);
    line("replay", replay_command(r.scenario_path, r.seed));
  }
}

}  // namespace sluice::sim
