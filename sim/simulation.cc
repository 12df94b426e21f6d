#include "sim/simulation.h"

#include <algorithm>
#include <memory>

#include "node/base/coverage.h"
#include "node/base/random.h"
#include "sim/faults.h"
#include "sim/sim_node.h"
#include "sim/sim_runtime.h"
#include "sim/swarm.h"

namespace sluice::sim {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kLivenessQuietNsMin = 2 * kNsPerS;  // shorter quiet periods cannot judge liveness

WorldConfig world_config(const Scenario& scenario, const SimulationOptions& options) {
  WorldConfig config;
  config.seed = options.seed;
  config.network = scenario.network;
  config.disk = scenario.disk;
  config.buggify = scenario.buggify;
  config.record_trace = options.record_trace;
  return config;
}

// Hosts for the workloads' clients, after the nodes (docs/formats/scenario.md, "Client hosts").
size_t client_hosts_of(const Scenario& scenario) {
  size_t hosts = 0;
  for (const ScenarioWorkload& workload : scenario.workloads) hosts += workload.spec->client_hosts();
  return hosts;
}

void add_nodes(World& world, const Scenario& scenario) {
  Prng clocks = world.stream("clocks");
  auto next = [&clocks] { return clocks.next(); };
  for (size_t i = 0; i < scenario.nodes; ++i) {
    NodeConfig node;
    node.drift_ppm = random_range(next, -scenario.drift_ppm_max, scenario.drift_ppm_max);
    node.wall_skew_ns = random_range(next, -scenario.wall_skew_ns_max, scenario.wall_skew_ns_max);
    const NodeIndex index = world.add_node(node);
    world.disk(index).faults() = scenario.disk_faults;
  }
  for (size_t i = 0; i < client_hosts_of(scenario); ++i) world.add_node(NodeConfig{});
}

// What the nodes run: the Node with the parts every workload switched on. The simulated NIC runs
// the XDP classifier on the membership port when the nodes run membership, as a real node does.
server::NodeConfig node_config(NodeIndex node, const Scenario& scenario, const std::vector<std::unique_ptr<Workload>>& workloads) {
  server::NodeConfig config;
  config.node_id = node_id_of(node);
  config.planted_bug = scenario.planted_bug;
  for (const auto& workload : workloads) workload->configure_node(node, config);
  return config;
}

// The scenario's network, plus the classifier on the nodes' membership port.
NetworkConfig baseline_network(const Scenario& scenario, const std::vector<std::unique_ptr<Workload>>& workloads) {
  NetworkConfig network = scenario.network;
  const server::NodeConfig config = node_config(0, scenario, workloads);
  if (config.membership) network.membership_port = config.membership->port;
  return network;
}

std::vector<std::unique_ptr<Workload>> create_workloads(World& world, const Scenario& scenario) {
  std::vector<std::unique_ptr<Workload>> workloads;
  for (size_t i = 0; i < scenario.workloads.size(); ++i) {
    workloads.push_back(scenario.workloads[i].spec->create(WorkloadContext{world, scenario, world.stream("workload", i)}));
  }
  return workloads;
}

// The timeline's lanes (every host) and message classes (by the ports the nodes' services use).
void prepare_timeline(Timeline& timeline, const World& world, const Scenario& scenario,
                      const std::vector<std::unique_ptr<Workload>>& workloads) {
  std::vector<TimelineLane> lanes;
  for (size_t i = 0; i < world.node_count(); ++i) lanes.push_back(TimelineLane{world.host(static_cast<NodeIndex>(i)), i >= scenario.nodes});
  timeline.set_lanes(std::move(lanes));
  const server::NodeConfig config = node_config(0, scenario, workloads);
  if (config.membership) timeline.set_port_class(config.membership->port, MessageClass::swim);
  if (config.raft) timeline.set_port_class(config.raft->transport.port, MessageClass::raft);
  if (config.rpc) timeline.set_port_class(config.rpc->port, MessageClass::rpc);
  if (config.http) timeline.set_port_class(config.http->port, MessageClass::http);
}

struct Judge {
  const std::vector<std::unique_ptr<Workload>>& workloads;
  std::string failure() const {
    for (const auto& workload : workloads) {
      if (std::string failure = workload->failure(); !failure.empty()) return failure;
    }
    return "";
  }
  bool failed() const { return !failure().empty(); }
  bool finished() const {
    return std::all_of(workloads.begin(), workloads.end(), [](const auto& workload) { return workload->finished(); });
  }
  bool converged(int64_t faults_stop_ns) const {
    return std::all_of(workloads.begin(), workloads.end(),
                       [faults_stop_ns](const auto& workload) { return workload->converged(faults_stop_ns); });
  }
  std::string waiting_for(int64_t faults_stop_ns) const {
    for (const auto& workload : workloads) {
      if (!workload->converged(faults_stop_ns)) return workload->waiting_for();
    }
    return "";
  }
};

// Judges the run against the scenario's budget: events over the whole run, and time from
// faults_stop_s until every workload has converged (polled every kConvergePollNs of simulated
// time, outside the event queue, so watching changes nothing in the run).
class BudgetWatch {
 public:
  static constexpr int64_t kConvergePollNs = 100'000'000;

  BudgetWatch(const Scenario& scenario, const Judge& judge) : scenario_(scenario), judge_(judge) {}

  void observe(const World& world) {
    if (!failure_.empty()) return;
    const int64_t now = world.now_ns();
    if (!world.livelock().empty()) {
      failure_ = "livelock: " + world.livelock();
      return;
    }
    if (world.stats().events > scenario_.budget.events_max) {
      failure_ = "budget: more than events_max=" + std::to_string(scenario_.budget.events_max) + " events";
      return;
    }
    if (scenario_.budget.simulated_ns_max > 0 && now > scenario_.budget.simulated_ns_max && !judge_.finished()) {
      failure_ = "budget: not finished within simulated_s_max=" +
                 format_figure(static_cast<double>(scenario_.budget.simulated_ns_max) / kNsPerS, 3) + " s";
      return;
    }
    if (converged_at_ns_ >= 0 || now < scenario_.faults_stop_ns || now - last_poll_ns_ < kConvergePollNs) return;
    last_poll_ns_ = now;
    if (judge_.converged(scenario_.faults_stop_ns)) {
      converged_at_ns_ = now;
    } else if (scenario_.budget.converge_ns_max > 0 && now - scenario_.faults_stop_ns > scenario_.budget.converge_ns_max) {
      not_converged_ = true;
      failure_ = "budget: not converged " + format_figure(static_cast<double>(scenario_.budget.converge_ns_max) / kNsPerS, 3) +
                 " s (converge_s_max) after faults stopped";
      if (std::string waiting = judge_.waiting_for(scenario_.faults_stop_ns); !waiting.empty()) failure_ += ": " + waiting;
    }
  }
  bool exceeded() const { return !failure_.empty(); }
  bool not_converged() const { return not_converged_; }
  const std::string& failure() const { return failure_; }
  int64_t converge_ns() const { return converged_at_ns_ < 0 ? -1 : converged_at_ns_ - scenario_.faults_stop_ns; }

 private:
  const Scenario& scenario_;
  const Judge& judge_;
  int64_t last_poll_ns_ = INT64_MIN / 2;
  int64_t converged_at_ns_ = -1;
  bool not_converged_ = false;
  std::string failure_;
};

}  // namespace

SimulationReport run_simulation(const Scenario& input, const SimulationOptions& options) {
  // With [swarm], the seed picks the variant it runs; every caller (run, sweep) replays it alike.
  const Scenario scenario = swarm_variant(input, options.seed);
  // An assertion that fails inside the run (a node's, a checker's) aborts the process: it still
  // names the seed and the replay command.
  detail::set_assertion_note("simulation FAILED (seed " + std::to_string(options.seed) +
                             "): an assertion failed\nreplay: " + replay_command(scenario.path, options.seed));
  SimulationReport report;
  report.seed = options.seed;
  report.scenario_name = scenario.name;
  report.scenario_path = scenario.path;
  report.swarm = describe_swarm(scenario);
  coverage::reset_all();
  coverage::set_expensive_assertions(true);  // simulation-only checks are on in every run
  {
    auto world_owner = std::make_unique<World>(world_config(scenario, options));
    World& world = *world_owner;
    world.set_timeline(options.timeline);  // before the workloads: their observers look for it
    std::vector<std::unique_ptr<Workload>> workloads = create_workloads(world, scenario);
    const Judge judge{workloads};
    add_nodes(world, scenario);
    if (options.timeline != nullptr) prepare_timeline(*options.timeline, world, scenario, workloads);
    const NetworkConfig baseline = baseline_network(scenario, workloads);
    world.network().config() = baseline;
    std::vector<Workload*> raw;
    for (const auto& workload : workloads) raw.push_back(workload.get());
    world.set_app_factory([&workloads, &scenario, raw](SimRuntime& runtime) -> std::unique_ptr<NodeApp> {
      return std::make_unique<SimNode>(runtime, node_config(runtime.node(), scenario, workloads), raw);
    });
    for (size_t i = 0; i < world.node_count(); ++i) world.start(static_cast<NodeIndex>(i));
    FaultInjector faults(
        world, scenario, baseline,
        [&workloads](NodeIndex node) {
          for (const auto& workload : workloads) workload->on_bit_flip(node);
        },
        [&workloads] {
          std::vector<NodeIndex> leaders;
          for (const auto& workload : workloads) workload->group_leaders(leaders);
          return leaders;
        });
    faults.schedule_all();
    for (const auto& workload : workloads) {
      workload->listen_for_leader_moments([&faults](NodeIndex node, checkers::LeaderMoment moment) { faults.leader_moment(node, moment); });
    }
    BudgetWatch budget(scenario, judge);
    // Peek before stepping: no event after duration_s may run.
    while (!judge.failed() && !budget.exceeded() && !judge.finished() && world.next_event_ns() <= scenario.duration_ns) {
      world.step();
      budget.observe(world);
    }
    if (!judge.failed() && !budget.exceeded() && !judge.finished()) {
      world.run_until(scenario.duration_ns);
      budget.observe(world);
    }
    if (!judge.failed() && budget.not_converged()) {
      for (const auto& workload : workloads) workload->not_converged();
    }
    report.liveness_checked = !judge.finished() && scenario.duration_ns - scenario.faults_stop_ns >= kLivenessQuietNsMin;
    if (!judge.failed() && !budget.exceeded() && report.liveness_checked) {
      for (const auto& workload : workloads) workload->check_liveness(scenario.faults_stop_ns);
    }
    for (const auto& workload : workloads) workload->listen_for_leader_moments(nullptr);  // `faults` goes first
    report.converge_ns = budget.converge_ns();
    report.simulated_ns = world.now_ns();
    report.trace_hash = world.trace().hash();
    report.trace_events = world.trace().count();
    report.world = world.stats();
    report.network = world.network().stats();
    for (const auto& workload : workloads) workload->report(report.figures);
    for (const auto& workload : workloads) workload->client_ops(report.client_ops);
    report.buggify_sites_enabled = world.buggify_sites_enabled();
    report.buggify_fired_by_site = world.buggify_fired_by_site();
    report.faults_injected = faults.injected();
    report.applied_faults = faults.applied();
    report.failure = judge.failure();
    if (report.failure.empty()) report.failure = budget.failure();
    report.coverage = coverage::snapshot();
    std::erase_if(report.coverage, [](const auto& mark) { return mark.second == 0; });
    report.passed = report.failure.empty();
    if (options.timeline != nullptr && !report.passed) {
      options.timeline->mark(world.now_ns(), -1, MarkKind::violation, report.failure);
    }
    if (options.record_trace) report.trace = world.trace().records();
    // The world (and its nodes' apps) goes before the workloads their apps refer to; the timeline
    // first, so the teardown's crashes are not taken for the run's.
    world.set_timeline(nullptr);
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
  if (!r.swarm.empty()) line("swarm", r.swarm);
  char simulated[32];
  std::snprintf(simulated, sizeof simulated, "%.3f", static_cast<double>(r.simulated_ns) / kNsPerS);
  line("simulated_s", simulated);
  if (r.wall_ns > 0) {
    line("wall_s", static_cast<double>(r.wall_ns) / 1e9);
    line("sim_speed_x", static_cast<double>(r.simulated_ns) / static_cast<double>(r.wall_ns));
  }
  line("events", r.world.events);
  line("trace_events", r.trace_events);
  line("trace_hash", hex16(r.trace_hash));
  line("faults_injected", r.faults_injected);
  line("crashes", r.world.crashes);
  line("starts", r.world.starts);
  line("buggify_sites_enabled", r.buggify_sites_enabled);
  line("buggify_fired", r.world.buggify_fired);
  line("node_start_failures", r.world.start_failures);
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
  line("converge_after_faults_s", r.converge_ns < 0 ? std::string("-") : format_figure(static_cast<double>(r.converge_ns) / kNsPerS, 3));
  line("coverage_marks_hit", r.coverage.size());
  for (const auto& [name, hits] : r.coverage) out << "coverage." << name << '=' << hits << '\n';
  line("result", r.passed ? "passed" : "FAILED");
  if (!r.passed) {
    line("failure", r.failure);
    line("replay", r.replay.empty() ? replay_command(r.scenario_path, r.seed) : r.replay);
  }
}

}  // namespace sluice::sim
