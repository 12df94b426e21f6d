// The simulated world: nodes (each with a clock, a disk and, while up, a runtime and an app), one
// network and one event queue ordered by (virtual time, sequence). Everything runs on one thread;
// same seed and config give the same run, bit for bit.
//
// Randomness comes in streams, one per purpose, each derived from the seed alone (stream()): the
// network, each node's CPU lag, each crash of each disk, each node incarnation's runtime
// (hash(seed, node, incarnation)), and whatever the harness derives for faults and workloads. So
// taking one fault or one operation out of a run (as shrinking does) leaves the draws of every
// other purpose as they were, instead of reseeding everything after it.
//
// Causality rule: an event belongs to one node (or to the world). After it runs, only that node's
// ready fibers run; anything that affects another node is a new event for that node (usually
// after a network latency), never a direct wake-up.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/random.h"
#include "runtime/runtime.h"
#include "sim/clock.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/timeline.h"
#include "sim/trace.h"

namespace sluice::sim {

class SimRuntime;

// What runs on a simulated node: built at every start, destroyed at every crash (after the node's
// fibers have been unwound).
class NodeApp {
 public:
  virtual ~NodeApp() = default;
};
using AppFactory = std::function<std::unique_ptr<NodeApp>(SimRuntime& runtime)>;

struct BuggifyConfig {
  bool enabled = false;
  double site_probability = 0.25;  // chance a site is switched on for a seed
  double fire_probability = 0.05;  // chance an enabled site fires each time it is reached
  // When set, exactly these sites ("file:line") are on, whatever the seed draws: a shrunk run
  // names the few it needs (sim/shrink.h).
  std::optional<std::set<std::string>> sites;
};

struct WorldConfig {
  uint64_t seed = 1;
  NetworkConfig network;
  DiskConfig disk;
  BuggifyConfig buggify;
  bool record_trace = false;           // keep every trace record (for --check-determinism)
  uint64_t events_max = 2'000'000'000; // guards against a runaway simulation
  // Livelock: fibers that keep waking each other, or events that keep coming, without simulated
  // time passing. Either bound reached stops the node's fibers for this event and sets livelock().
  size_t resumes_per_event_max = 1'000'000;
  uint64_t events_per_instant_max = 10'000'000;
};

struct NodeConfig {
  int64_t drift_ppm = 0;
  int64_t wall_skew_ns = 0;
};

struct WorldStats {
  uint64_t events = 0;
  uint64_t events_dropped_for_crashed_nodes = 0;
  uint64_t crashes = 0;
  uint64_t starts = 0;
  uint64_t buggify_fired = 0;
  uint64_t start_failures = 0;  // node starts that failed (the node exited and was started again)
};

class World {
 public:
  static constexpr size_t kNodesMax = 1024;

  explicit World(WorldConfig config);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // --- nodes ---
  NodeIndex add_node(NodeConfig config = {});  // host "n<index+1>"
  size_t node_count() const { return nodes_.size(); }
  const std::string& host(NodeIndex node) const;
  std::optional<NodeIndex> node_by_host(std::string_view host) const;
  void set_app_factory(AppFactory factory) { app_factory_ = std::move(factory); }
  void start(NodeIndex node);    // boots a new incarnation from the node's disk
  void crash(NodeIndex node);    // power loss: fibers unwound, memory freed, unsynced data lost
  bool is_up(NodeIndex node) const;
  // A node's start failed (the node exits and is started again) or succeeded. Workloads judging a
  // node that cannot start read the failures since its last successful start and the last reason.
  void note_start_failure(NodeIndex node, std::string why);
  void note_start_succeeded(NodeIndex node);
  uint64_t failed_starts_in_a_row(NodeIndex node) const;
  const std::string& last_start_failure(NodeIndex node) const;
  uint64_t incarnation(NodeIndex node) const;
  SimRuntime* runtime(NodeIndex node);  // null while down
  NodeApp* app(NodeIndex node);         // null while down
  NodeClock& clock(NodeIndex node);
  SimDisk& disk(NodeIndex node);
  // A CPU-starved node: each of its events runs late by a uniform [0, lag_ns_max] (timers fire
  // late, arrivals are handled late). 0 restores normal speed.
  void set_cpu_lag(NodeIndex node, int64_t lag_ns_max);
  int64_t cpu_lag(NodeIndex node) const;
  // Slow message processing (Lifeguard's anomaly, e.g. CPU exhaustion of the packet handler):
  // datagrams reaching `node` are handled `delay_ns` after they arrive, in arrival order, while
  // its timers still fire on time. Lowering the delay does not let new arrivals overtake the
  // backlog. 0 (the default) restores normal speed once the backlog is handled.
  void set_inbound_delay(NodeIndex node, int64_t delay_ns);
  int64_t inbound_delay(NodeIndex node) const;
  // When `node` handles a datagram arriving at `arrival_ns` (the network's delivery time).
  int64_t inbound_handled_ns(NodeIndex node, int64_t arrival_ns);

  // --- events ---
  int64_t now_ns() const { return now_ns_; }
  // Runs `action` at global time `at_ns` (>= now). A node event is dropped if that node crashed
  // since it was scheduled; after it runs, the node's ready fibers run.
  void schedule(int64_t at_ns, NodeIndex node, const char* kind, uint64_t detail, std::function<void()> action);
  // Runs the next event; false when there is none.
  bool step();
  // Runs every event up to `end_ns`, then sets the clock to `end_ns`.
  void run_until(int64_t end_ns);
  size_t pending_events() const { return queue_.size(); }
  // Time of the next event; INT64_MAX when there is none.
  int64_t next_event_ns() const { return queue_.empty() ? INT64_MAX : queue_.front().time_ns; }

  Trace& trace() { return trace_; }
  // The recorder of `--timeline` (sim/timeline.h), owned by the caller; null (the default): none.
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }
  Timeline* timeline() const { return timeline_; }
  // The stream of `purpose` (a fixed name such as "network") and `index` (a node, an event
  // number, ...): the same seed, purpose and index always give the same stream.
  Prng stream(std::string_view purpose, uint64_t index = 0) const;
  Network& network() { return *network_; }
  const Network& network() const { return *network_; }
  const WorldConfig& config() const { return config_; }
  const WorldStats& stats() const { return stats_; }
  // Set once fibers or events went round without simulated time passing (WorldConfig bounds):
  // what kept going, where, and when. A simulation reports it as a failure.
  const std::string& livelock() const { return livelock_; }

  // BUGGIFY: each site is on or off for the whole run (decided from the seed and the site), then
  // fires with fire_probability each time it is reached, drawn from `node_stream` (the runtime's
  // own, so one node's BUGGIFY draws never shift another's).
  bool buggify(runtime::SiteId site, Prng& node_stream);
  size_t buggify_sites_enabled() const;
  // How often each enabled site ("file:line") fired; a site that is on but never fired counts 0.
  std::map<std::string, uint64_t> buggify_fired_by_site() const;
  void set_buggify(BuggifyConfig config) { config_.buggify = config; }

 private:
  struct Event {
    int64_t time_ns = 0;
    uint64_t sequence = 0;
    NodeIndex node = -1;
    uint64_t incarnation = 0;
    const char* kind = "";
    uint64_t detail = 0;
    std::function<void()> action;
  };
  struct Node;
  void run_node_fibers(NodeIndex node);
  Node& node_at(NodeIndex node);
  const Node& node_at(NodeIndex node) const;

  WorldConfig config_;
  Trace trace_;
  Timeline* timeline_ = nullptr;
  std::unique_ptr<Network> network_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Event> queue_;  // binary heap ordered by (time, sequence)
  uint64_t next_sequence_ = 0;
  int64_t now_ns_ = 0;
  AppFactory app_factory_;
  WorldStats stats_;
  std::string livelock_;
  uint64_t events_this_instant_ = 0;
  struct BuggifySite {
    bool enabled = false;
    uint64_t fired = 0;
  };
  BuggifySite& buggify_site(runtime::SiteId site);
  std::map<std::string, BuggifySite> buggify_sites_;  // "file:line" -> decision, fires
  std::map<std::pair<const char*, int>, BuggifySite*> buggify_cache_;  // (file literal, line) -> site
};

}  // namespace sluice::sim
