#include "sim/workloads/swim.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>
#include <optional>

#include "node/swim/driver.h"
#include "sim/checkers/swim_liveness.h"
#include "sim/scenario.h"
#include "sim/sim_node.h"
#include "sim/sim_runtime.h"
#include "sim/toml_reader.h"

namespace sluice::sim {
namespace {

constexpr uint16_t kSwimPort = 7946;
constexpr int64_t kControlIntervalNs = 100'000'000;
constexpr int64_t kDeadEverywhereTimeoutNs = 300 * kNsPerS;
constexpr size_t kEventChannelCapacity = 4096;
constexpr size_t kSeedsPerCluster = 2;
constexpr uint32_t kLoadWindowsSkippedAfterBoot = 5;

// chaos: no measurement of its own; the scenario's faults do the work, and the liveness checker
// (refutation, not left dead) and convergence after faults stop judge.
enum class Measure { detection, false_positives, convergence, chaos };

const swim::Config kSwimDefaults;

struct SwimWorkloadConfig {
  Measure measure = Measure::detection;
  std::string lifeguard = "on";
  // Protocol defaults come from swim::Config; a scenario names what it relies on.
  int64_t probe_interval_ms = kSwimDefaults.probe_interval_ms;
  int64_t probe_timeout_ms = kSwimDefaults.probe_timeout_ms;
  int64_t probe_deadline_ms = kSwimDefaults.probe_deadline_ms;
  int64_t indirect_probes = kSwimDefaults.indirect_probes;
  int64_t suspicion_mult = kSwimDefaults.suspicion_mult;
  int64_t gossip_interval_ms = kSwimDefaults.gossip_interval_ms;
  int64_t gossip_nodes = kSwimDefaults.gossip_nodes;
  int64_t gossip_load_datagrams_max = kSwimDefaults.gossip_load_datagrams_max;
  int64_t push_pull_interval_ms = 30'000;
  int64_t kills = 20;
  // Slow members (false_positives): episodes of slow message processing, each with an inbound
  // delay drawn from [min, max], separated by gaps of normal speed.
  int64_t slow_nodes = 1;
  int64_t slow_delay_ns_min = 1 * kNsPerS;
  int64_t slow_delay_ns_max = 8 * kNsPerS;
  int64_t slow_episode_ns = 20 * kNsPerS;
  int64_t slow_gap_ns = 40 * kNsPerS;
  int64_t measure_ns = 300 * kNsPerS;
  int64_t partition_ns = 60 * kNsPerS;
  // The liveness checker's bounds (sim/checkers/swim_liveness.h).
  int64_t refute_ns_max = 30 * kNsPerS;
  int64_t revive_ns_max = 60 * kNsPerS;
};

struct Cluster {
  NodeIndex first = 0;
  size_t size = 0;
  bool lifeguard = true;
  std::string name;  // figure suffix: "" for one cluster, "_lifeguard" / "_plain" for both
  // detection
  std::optional<NodeIndex> victim;
  int64_t killed_at_ns = 0;
  std::optional<int64_t> first_suspect_ns;
  bool rejoining = false;
  int64_t kills_done = 0;
  std::vector<double> detection_periods;
  std::vector<double> dead_everywhere_s;
  // false positives
  uint64_t false_dead = 0;       // healthy members declared dead
  uint64_t false_dead_slow = 0;  // the slow members declared dead
  uint64_t false_suspect = 0;    // healthy members suspected
  uint64_t false_suspect_slow = 0;
  bool contains(NodeIndex node) const { return node >= first && node < first + static_cast<NodeIndex>(size); }
  std::unique_ptr<checkers::SwimLivenessChecker> liveness;
};

// What the liveness checker reads of one cluster: the world's truth and each member's core.
class ClusterView final : public checkers::SwimWorldView {
 public:
  ClusterView(const World& world, const Cluster& cluster) : world_(world), cluster_(cluster) {}

  std::vector<NodeId> members() const override {
    std::vector<NodeId> ids;
    for (size_t i = 0; i < cluster_.size; ++i) ids.push_back(node_id_of(cluster_.first + static_cast<NodeIndex>(i)));
    return ids;
  }
  // Up and started, and neither CPU-starved nor slow to handle its datagrams.
  bool healthy(NodeId id) const override {
    const NodeIndex node = node_index_of(id);
    return core(node) != nullptr && world_.cpu_lag(node) == 0 && world_.inbound_delay(node) == 0;
  }
  bool connected(NodeId a, NodeId b) const override {
    const NodeIndex x = node_index_of(a), y = node_index_of(b);
    return !world_.network().blocked(x, y) && !world_.network().blocked(y, x);
  }
  std::optional<uint64_t> own_incarnation(NodeId id) const override {
    const swim::Core* self = core(node_index_of(id));
    return self == nullptr ? std::nullopt : std::optional<uint64_t>(self->incarnation());
  }
  std::optional<View> view(NodeId observer, NodeId subject) const override {
    const swim::Core* core_of_observer = core(node_index_of(observer));
    const swim::Member* member = core_of_observer == nullptr ? nullptr : core_of_observer->member(subject);
    if (member == nullptr) return std::nullopt;
    static_assert(static_cast<int>(checkers::MemberView::suspect) == static_cast<int>(swim::MemberState::suspect) &&
                  static_cast<int>(checkers::MemberView::dead) == static_cast<int>(swim::MemberState::dead) &&
                  static_cast<int>(checkers::MemberView::left) == static_cast<int>(swim::MemberState::left));
    return View{static_cast<checkers::MemberView>(member->state), member->incarnation};
  }

 private:
  const swim::Core* core(NodeIndex node) const {
    const server::Node* started = started_node(world_, node);
    return started == nullptr || started->membership() == nullptr ? nullptr : &started->membership()->core();
  }
  const World& world_;
  const Cluster& cluster_;
};

std::string swim_address(const World& world, NodeIndex node) {
  return world.host(node) + ":" + std::to_string(kSwimPort);
}

// Members are named by node id; node index i runs as id i + 1 (sim/sim_node.h).
std::optional<NodeIndex> node_of(const World& world, NodeId id) {
  if (id == kNoNode || id > world.node_count()) return std::nullopt;
  return node_index_of(id);
}

class SwimWorkload final : public Workload {
 public:
  SwimWorkload(WorkloadContext context, const SwimWorkloadConfig& config)
      : world_(context.world), config_(config), prng_(context.prng) {
    const Scenario& scenario = context.scenario;
    if (config.lifeguard == "both") {
      const size_t half = scenario.nodes / 2;
      clusters_.push_back(Cluster{0, half, true, "_lifeguard"});
      clusters_.push_back(Cluster{static_cast<NodeIndex>(half), scenario.nodes - half, false, "_plain"});
    } else {
      clusters_.push_back(Cluster{0, scenario.nodes, config.lifeguard == "on", ""});
    }
    for (Cluster& cluster : clusters_) {
      cluster.liveness = std::make_unique<checkers::SwimLivenessChecker>(
          checkers::SwimLivenessConfig{config.refute_ns_max, config.revive_ns_max});
    }
    schedule_control();
  }

  void configure_node(NodeIndex node, server::NodeConfig& config) override { config.membership = driver_config(node); }
  std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) override {
    auto events = node.membership()->subscribe(kEventChannelCapacity);
    const NodeIndex self = runtime.node();
    runtime.spawn("swim-events", [this, events, self] {
      while (true) {
        auto event = events->receive();
        if (!event.ok()) return;
        on_event(self, *event);
      }
    });
    return nullptr;
  }
  std::string failure() const override { return failure_; }
  bool converged(int64_t) const override {
    return std::all_of(clusters_.begin(), clusters_.end(), [this](const Cluster& cluster) { return converged(cluster); });
  }
  void check_liveness(int64_t) override {
    for (const Cluster& cluster : clusters_) {
      if (!converged(cluster)) fail("liveness: cluster" + cluster.name + " did not converge after faults stopped");
    }
  }
  bool finished() const override { return finished_; }
  void report(Figures& figures) const override;

 private:
  const Cluster& cluster_of(NodeIndex node) const {
    for (const Cluster& cluster : clusters_) {
      if (cluster.contains(node)) return cluster;
    }
    SLUICE_UNREACHABLE();
  }
  Cluster& cluster_of(NodeIndex node) { return const_cast<Cluster&>(std::as_const(*this).cluster_of(node)); }
  swim::DriverConfig driver_config(NodeIndex node) const;
  const swim::Driver* driver(NodeIndex node) const {
    const server::Node* started = started_node(world_, node);
    return started == nullptr ? nullptr : started->membership();
  }
  void fail(std::string message) {
    if (failure_.empty()) failure_ = message;
  }
  bool converged(const Cluster& cluster) const;
  bool dead_everywhere(const Cluster& cluster, NodeIndex victim) const;
  void schedule_control() {
    world_.schedule(world_.now_ns() + kControlIntervalNs, -1, "swim.control", 0, [this] { control(); });
  }
  void control();
  void control_detection(Cluster& cluster);
  void control_false_positives();
  void start_slow_members();
  void toggle_slow_members();
  void control_convergence();
  void on_event(NodeIndex observer, const swim::Event& event);
  void sample_load();

  World& world_;
  SwimWorkloadConfig config_;
  Prng prng_;
  std::vector<Cluster> clusters_;
  std::string failure_;
  bool finished_ = false;
  std::optional<int64_t> warm_at_ns_;
  std::optional<int64_t> measure_end_ns_;
  std::optional<int64_t> healed_at_ns_;
  std::optional<double> converge_s_;
  struct LoadSample {
    uint64_t incarnation = 0;
    uint64_t datagrams_sent = 0;
    uint32_t windows_since_boot = 0;
  };
  std::map<NodeIndex, LoadSample> load_samples_;
  std::set<std::tuple<NodeIndex, uint64_t, int>> declarations_;  // (subject, incarnation, kind)
  struct SlowMember {
    int64_t change_at_ns = 0;  // next episode start or end
    bool slow = false;
  };
  std::map<NodeIndex, SlowMember> slow_members_;
  int64_t last_load_sample_ns_ = 0;
  uint64_t datagrams_per_period_max_ = 0;       // healthy members
  uint64_t slow_datagrams_per_period_max_ = 0;  // slow members (false_positives)
  uint64_t load_datagrams_sum_ = 0;             // healthy members, over all measured windows
  uint64_t load_windows_ = 0;
};

swim::DriverConfig SwimWorkload::driver_config(NodeIndex node) const {
  const Cluster& cluster = cluster_of(node);
  swim::DriverConfig config;
  config.port = kSwimPort;
  config.core.self_address = swim_address(world_, node);
  config.core.cluster_id = static_cast<uint64_t>(cluster.first) + 1;
  config.core.lifeguard = cluster.lifeguard;
  config.core.probe_interval_ms = static_cast<uint64_t>(config_.probe_interval_ms);
  config.core.probe_timeout_ms = static_cast<uint64_t>(config_.probe_timeout_ms);
  config.core.indirect_probes = static_cast<uint32_t>(config_.indirect_probes);
  config.core.probe_deadline_ms = static_cast<uint64_t>(config_.probe_deadline_ms);
  // The nack must reach the requester before its probe deadline: 80% of the indirect window.
  config.core.nack_timeout_ms = static_cast<uint64_t>(config_.probe_deadline_ms - config_.probe_timeout_ms) * 8 / 10;
  config.core.gossip_interval_ms = static_cast<uint64_t>(config_.gossip_interval_ms);
  config.core.gossip_nodes = static_cast<uint32_t>(config_.gossip_nodes);
  config.core.gossip_load_datagrams_max = static_cast<uint32_t>(config_.gossip_load_datagrams_max);
  config.core.suspicion_mult = static_cast<uint32_t>(config_.suspicion_mult);
  config.core.push_pull_interval_ms = static_cast<uint64_t>(config_.push_pull_interval_ms);
  for (size_t i = 0; i < std::min(kSeedsPerCluster, cluster.size); ++i) {
    const NodeIndex seed = cluster.first + static_cast<NodeIndex>(i);
    if (seed != node) config.seeds.push_back(swim_address(world_, seed));
  }
  return config;
}

bool SwimWorkload::converged(const Cluster& cluster) const {
  for (NodeIndex node = cluster.first; node < cluster.first + static_cast<NodeIndex>(cluster.size); ++node) {
    const swim::Driver* member = driver(node);
    if (member == nullptr || member->core().live_members() != cluster.size) return false;
  }
  return true;
}

bool SwimWorkload::dead_everywhere(const Cluster& cluster, NodeIndex victim) const {
  for (NodeIndex node = cluster.first; node < cluster.first + static_cast<NodeIndex>(cluster.size); ++node) {
    if (node == victim || !world_.is_up(node)) continue;
    const swim::Member* member = driver(node)->core().member(node_id_of(victim));
    if (member != nullptr && member->state != swim::MemberState::dead && member->state != swim::MemberState::left) {
      return false;
    }
  }
  return true;
}

void SwimWorkload::on_event(NodeIndex observer, const swim::Event& event) {
  std::optional<NodeIndex> subject = node_of(world_, event.id);
  if (!subject) return;
  Cluster& cluster = cluster_of(observer);
  const bool subject_up = world_.is_up(*subject);
  if (event.kind == swim::EventKind::suspect && cluster.victim == subject && !cluster.first_suspect_ns) {
    cluster.first_suspect_ns = world_.now_ns();
  }
  if (config_.measure == Measure::false_positives && measure_end_ns_ && subject_up) {
    // Counted once per subject and incarnation: every member reports the same declaration.
    const auto key = std::make_tuple(*subject, event.incarnation, static_cast<int>(event.kind));
    if (!declarations_.insert(key).second) return;
    const bool slow = slow_members_.contains(*subject);
    if (event.kind == swim::EventKind::dead) ++(slow ? cluster.false_dead_slow : cluster.false_dead);
    if (event.kind == swim::EventKind::suspect) ++(slow ? cluster.false_suspect_slow : cluster.false_suspect);
  }
}

// Steady-state load: datagrams each member sent in each window of one protocol period after the
// cluster first converged. A member's first windows after a boot are skipped: joining (pings to
// seeds, push-pull) is a different regime from the per-period protocol the bound is about.
void SwimWorkload::sample_load() {
  if (!warm_at_ns_) return;
  const int64_t period_ns = config_.probe_interval_ms * kNsPerMs;
  if (world_.now_ns() < last_load_sample_ns_ + period_ns) return;
  last_load_sample_ns_ = world_.now_ns();
  for (NodeIndex node = 0; node < static_cast<NodeIndex>(world_.node_count()); ++node) {
    const swim::Driver* member = driver(node);
    if (member == nullptr) continue;
    const uint64_t sent = member->core().stats().datagrams_sent;
    LoadSample& last = load_samples_[node];
    if (last.incarnation == world_.incarnation(node) && last.windows_since_boot >= kLoadWindowsSkippedAfterBoot) {
      // A slow member answers its whole backlog at once when an episode ends; that burst is
      // the fault's doing, not the protocol's load, and is reported on its own.
      const bool slow = slow_members_.contains(node);
      uint64_t& max = slow ? slow_datagrams_per_period_max_ : datagrams_per_period_max_;
      max = std::max(max, sent - last.datagrams_sent);
      if (!slow) {
        load_datagrams_sum_ += sent - last.datagrams_sent;
        load_windows_ += 1;
      }
    }
    last.windows_since_boot = last.incarnation == world_.incarnation(node) ? last.windows_since_boot + 1 : 0;
    last.incarnation = world_.incarnation(node);
    last.datagrams_sent = sent;
  }
}

void SwimWorkload::control() {
  sample_load();
  if (!failure_.empty() || finished_) return;
  for (const Cluster& cluster : clusters_) {
    cluster.liveness->poll(world_.now_ns(), ClusterView(world_, cluster));
    if (cluster.liveness->violation()) return fail(*cluster.liveness->violation());
  }
  if (!warm_at_ns_) {
    if (std::all_of(clusters_.begin(), clusters_.end(), [this](const Cluster& c) { return converged(c); })) {
      warm_at_ns_ = world_.now_ns();
    }
  } else {
    switch (config_.measure) {
      case Measure::detection:
        for (Cluster& cluster : clusters_) control_detection(cluster);
        finished_ = std::all_of(clusters_.begin(), clusters_.end(),
                                [this](const Cluster& c) { return c.kills_done >= config_.kills && !c.victim; });
        break;
      case Measure::false_positives: control_false_positives(); break;
      case Measure::convergence: control_convergence(); break;
      case Measure::chaos: break;
    }
  }
  schedule_control();
}

// One kill at a time per cluster: kill, wait until every live member declared it dead, restart,
// wait until the cluster converged again.
void SwimWorkload::control_detection(Cluster& cluster) {
  const int64_t now = world_.now_ns();
  if (cluster.victim) {
    const NodeIndex victim = *cluster.victim;
    if (dead_everywhere(cluster, victim)) {
      const double period_ns = static_cast<double>(config_.probe_interval_ms) * 1e6;
      if (cluster.first_suspect_ns) {
        cluster.detection_periods.push_back(static_cast<double>(*cluster.first_suspect_ns - cluster.killed_at_ns) / period_ns);
      }
      cluster.dead_everywhere_s.push_back(static_cast<double>(now - cluster.killed_at_ns) / kNsPerS);
      world_.start(victim);
      cluster.victim.reset();
      cluster.rejoining = true;
      ++cluster.kills_done;
    } else if (now - cluster.killed_at_ns > kDeadEverywhereTimeoutNs) {
      fail(world_.host(victim) + " was not declared dead by every member of cluster" + cluster.name + " in 300 s");
    }
    return;
  }
  if (cluster.rejoining && !converged(cluster)) return;
  cluster.rejoining = false;
  if (cluster.kills_done >= config_.kills || cluster.size <= kSeedsPerCluster) return;
  const uint64_t pick = random_below([this] { return prng_.next(); }, cluster.size - kSeedsPerCluster);
  const NodeIndex victim = cluster.first + static_cast<NodeIndex>(kSeedsPerCluster + pick);
  world_.crash(victim);
  cluster.victim = victim;
  cluster.killed_at_ns = now;
  cluster.first_suspect_ns.reset();
}

// The same members (by position) of every cluster are slow, with the same episodes: the
// clusters differ only in the protocol.
void SwimWorkload::start_slow_members() {
  auto next = [this] { return prng_.next(); };
  for (int64_t i = 0; i < config_.slow_nodes; ++i) {
    const int64_t first_episode_ns = world_.now_ns() + random_range(next, 0, config_.slow_gap_ns);
    for (const Cluster& cluster : clusters_) {
      if (static_cast<size_t>(i) + kSeedsPerCluster >= cluster.size) continue;
      const NodeIndex node = cluster.first + static_cast<NodeIndex>(kSeedsPerCluster + static_cast<size_t>(i));
      slow_members_[node] = SlowMember{first_episode_ns, false};
    }
  }
}

void SwimWorkload::toggle_slow_members() {
  const int64_t now = world_.now_ns();
  auto next = [this] { return prng_.next(); };
  // One draw per episode start, shared by the members of the same position in each cluster.
  std::map<int64_t, int64_t> delay_by_start_ns;
  for (auto& [node, slow] : slow_members_) {
    if (now < slow.change_at_ns) continue;
    int64_t delay_ns = 0;
    if (!slow.slow) {
      auto [it, fresh] = delay_by_start_ns.emplace(slow.change_at_ns, 0);
      if (fresh) it->second = random_range(next, config_.slow_delay_ns_min, config_.slow_delay_ns_max);
      delay_ns = it->second;
    }
    world_.set_inbound_delay(node, delay_ns);
    slow.change_at_ns += slow.slow ? config_.slow_gap_ns : config_.slow_episode_ns;
    slow.slow = !slow.slow;
  }
}

void SwimWorkload::control_false_positives() {
  if (!measure_end_ns_) {
    start_slow_members();
    measure_end_ns_ = world_.now_ns() + config_.measure_ns;
  } else if (world_.now_ns() >= *measure_end_ns_) {
    for (const auto& [node, slow] : slow_members_) world_.set_inbound_delay(node, 0);
    finished_ = true;
  } else {
    toggle_slow_members();
  }
}

// Splits every cluster in two halves until both sides declared the other dead, heals, and
// measures how long until every member sees every other alive again.
void SwimWorkload::control_convergence() {
  const int64_t now = world_.now_ns();
  if (!healed_at_ns_ && !measure_end_ns_) {
    for (const Cluster& cluster : clusters_) {
      std::vector<NodeIndex> a, b;
      for (size_t i = 0; i < cluster.size; ++i) (i < cluster.size / 2 ? a : b).push_back(cluster.first + static_cast<NodeIndex>(i));
      world_.network().partition(a, b, true);
    }
    measure_end_ns_ = now + config_.partition_ns;
  } else if (!healed_at_ns_ && now >= *measure_end_ns_) {
    world_.network().heal();
    healed_at_ns_ = now;
  } else if (healed_at_ns_ &&
             std::all_of(clusters_.begin(), clusters_.end(), [this](const Cluster& c) { return converged(c); })) {
    converge_s_ = static_cast<double>(now - *healed_at_ns_) / kNsPerS;
    finished_ = true;
  }
}

void SwimWorkload::report(Figures& figures) const {
  auto add = [&figures](std::string key, std::string value) { figures.emplace_back(std::move(key), std::move(value)); };
  add("swim_nodes", std::to_string(world_.node_count()));
  add("swim_warm_s", warm_at_ns_ ? format_figure(static_cast<double>(*warm_at_ns_) / kNsPerS, 3) : "never");
  add("msgs_per_member_per_period_max", std::to_string(datagrams_per_period_max_));
  add("msgs_per_member_per_period_goal", std::to_string(4 * config_.indirect_probes + 2));
  for (const Cluster& cluster : clusters_) {
    const checkers::SwimLivenessStats& liveness = cluster.liveness->stats();
    add("suspicions_refuted" + cluster.name, std::to_string(liveness.suspicions_judged));
    add("suspicions_excused" + cluster.name, std::to_string(liveness.suspicions_excused));
    add("false_deaths_healed" + cluster.name, std::to_string(liveness.false_deaths_healed));
  }
  // The mean is what SWIM's constant-load argument is about; the max is its tail.
  const double load_mean = load_windows_ == 0 ? 0 : static_cast<double>(load_datagrams_sum_) / static_cast<double>(load_windows_);
  add("msgs_per_member_per_period_mean", format_figure(load_mean, 2));
  if (config_.measure == Measure::false_positives) {
    add("msgs_per_slow_member_per_period_max", std::to_string(slow_datagrams_per_period_max_));
  }
  for (const Cluster& cluster : clusters_) {
    if (config_.measure == Measure::detection) {
      double sum = 0;
      for (double periods : cluster.detection_periods) sum += periods;
      const double mean = cluster.detection_periods.empty() ? 0 : sum / static_cast<double>(cluster.detection_periods.size());
      add("kills_measured" + cluster.name, std::to_string(cluster.dead_everywhere_s.size()));
      add("first_detection_periods_mean" + cluster.name, format_figure(mean, 3));
      add("dead_everywhere_s_median" + cluster.name, format_figure(median_of(cluster.dead_everywhere_s), 3));
      const double max = cluster.dead_everywhere_s.empty() ? 0 : *std::max_element(cluster.dead_everywhere_s.begin(), cluster.dead_everywhere_s.end());
      add("dead_everywhere_s_max" + cluster.name, format_figure(max, 3));
    }
    if (config_.measure == Measure::false_positives) {
      const std::string suffix = cluster.name.empty() ? (cluster.lifeguard ? "_lifeguard" : "_plain") : cluster.name;
      // Healthy members (answering all along) declared dead or suspected; a slow member that
      // could not answer for longer than the suspicion timeout is counted apart (*_slow_*).
      add("false_dead" + suffix, std::to_string(cluster.false_dead));
      add("false_dead_slow" + suffix, std::to_string(cluster.false_dead_slow));
      add("false_suspect" + suffix, std::to_string(cluster.false_suspect));
      add("false_suspect_slow" + suffix, std::to_string(cluster.false_suspect_slow));
    }
  }
  if (config_.measure == Measure::convergence) add("converge_s", converge_s_ ? format_figure(*converge_s_, 3) : "never");
}

}  // namespace

std::shared_ptr<const WorkloadSpec> parse_swim_workload(TableReader& reader, const Scenario& scenario) {
  SwimWorkloadConfig config;
  std::string measure = "detection";
  reader.text("measure", measure);
  reader.text("lifeguard", config.lifeguard);
  reader.integer("probe_interval_ms", config.probe_interval_ms, 10, 60'000);
  reader.integer("probe_timeout_ms", config.probe_timeout_ms, 1, 60'000);
  reader.integer("probe_deadline_ms", config.probe_deadline_ms, 1, 60'000);
  reader.integer("gossip_interval_ms", config.gossip_interval_ms, 0, 60'000);
  reader.integer("gossip_nodes", config.gossip_nodes, 1, 64);
  reader.integer("gossip_load_datagrams_max", config.gossip_load_datagrams_max, 0, 1024);
  reader.integer("indirect_probes", config.indirect_probes, 0, 16);
  reader.integer("suspicion_mult", config.suspicion_mult, 1, 100);
  reader.integer("push_pull_interval_ms", config.push_pull_interval_ms, 0, 3'600'000);
  reader.integer("kills", config.kills, 0, 100'000);
  reader.integer("slow_nodes", config.slow_nodes, 0, 1024);
  reader.duration("slow_delay_ms_min", config.slow_delay_ns_min, kNsPerMs, 0, 600'000);
  reader.duration("slow_delay_ms_max", config.slow_delay_ns_max, kNsPerMs, 0, 600'000);
  reader.duration("slow_episode_s", config.slow_episode_ns, kNsPerS, 1, 1e6);
  reader.duration("slow_gap_s", config.slow_gap_ns, kNsPerS, 1, 1e6);
  reader.duration("measure_s", config.measure_ns, kNsPerS, 1, 1e6);
  reader.duration("partition_s", config.partition_ns, kNsPerS, 1, 1e6);
  reader.duration("refute_s_max", config.refute_ns_max, kNsPerS, 1, 1e6);
  reader.duration("revive_s_max", config.revive_ns_max, kNsPerS, 1, 1e6);
  if (measure == "detection") {
    config.measure = Measure::detection;
  } else if (measure == "false_positives") {
    config.measure = Measure::false_positives;
  } else if (measure == "convergence") {
    config.measure = Measure::convergence;
  } else if (measure == "chaos") {
    config.measure = Measure::chaos;
  } else {
    reader.fail("measure", "expected \"detection\", \"false_positives\", \"convergence\" or \"chaos\"");
  }
  if (config.lifeguard != "on" && config.lifeguard != "off" && config.lifeguard != "both") {
    reader.fail("lifeguard", "expected \"on\", \"off\" or \"both\"");
  }
  if (config.probe_timeout_ms >= config.probe_deadline_ms) reader.fail("probe_timeout_ms", "must be below probe_deadline_ms");
  if (config.probe_deadline_ms > config.probe_interval_ms) reader.fail("probe_deadline_ms", "must not exceed probe_interval_ms");
  if (config.slow_delay_ns_min > config.slow_delay_ns_max) reader.fail("slow_delay_ms_min", "must not exceed slow_delay_ms_max");
  const size_t cluster_nodes = config.lifeguard == "both" ? scenario.nodes / 2 : scenario.nodes;
  if (cluster_nodes < 3) reader.fail("lifeguard", "each cluster needs at least 3 nodes");
  reader.finish();
  if (!reader.ok()) return nullptr;
  return std::make_shared<ConfigWorkloadSpec<SwimWorkload, SwimWorkloadConfig>>(std::move(config));
}

}  // namespace sluice::sim
