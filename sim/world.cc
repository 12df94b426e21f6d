#include "sim/world.h"

#include <algorithm>

#include "node/base/assert.h"
#include "sim/sim_runtime.h"

namespace sluice::sim {

namespace {
// Min-heap on (time, sequence): std::*_heap build max-heaps, so "less" means "later".
bool later(const auto& a, const auto& b) {
  return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.sequence > b.sequence;
}
}  // namespace

struct World::Node {
  std::string host;
  NodeClock clock;
  std::unique_ptr<SimDisk> disk;
  std::unique_ptr<SimRuntime> runtime;
  std::unique_ptr<NodeApp> app;
  uint64_t incarnation = 0;
  bool up = false;
  int64_t cpu_lag_ns_max = 0;
  int64_t inbound_delay_ns = 0;
  int64_t inbound_backlog_end_ns = 0;  // when the last delayed datagram is handled
  std::optional<Prng> lag_stream;       // CPU lag draws (created with the node)
  uint64_t failed_starts_in_a_row = 0;  // since the last successful start
  std::string last_start_failure;
};

Prng World::stream(std::string_view purpose, uint64_t index) const {
  return Prng(hash_combine(hash_combine(config_.seed, hash_bytes(purpose)), index));
}

World::World(WorldConfig config) : config_(config) {
  trace_.set_recording(config.record_trace);
  network_ = std::make_unique<Network>(*this, config.network);
}

World::~World() {
  // Crash every node first: fibers must unwind while the network and disks still exist.
  for (NodeIndex node = 0; node < static_cast<NodeIndex>(nodes_.size()); ++node) {
    if (nodes_[node]->up) crash(node);
  }
}

World::Node& World::node_at(NodeIndex node) {
  SLUICE_ASSERT(node >= 0 && static_cast<size_t>(node) < nodes_.size());
  return *nodes_[static_cast<size_t>(node)];
}

const World::Node& World::node_at(NodeIndex node) const {
  SLUICE_ASSERT(node >= 0 && static_cast<size_t>(node) < nodes_.size());
  return *nodes_[static_cast<size_t>(node)];
}

NodeIndex World::add_node(NodeConfig config) {
  SLUICE_ASSERT_LT(nodes_.size(), kNodesMax);
  auto node = std::make_unique<Node>();
  node->host = "n" + std::to_string(nodes_.size() + 1);
  node->clock = NodeClock(config.drift_ppm, config.wall_skew_ns);
  node->disk = std::make_unique<SimDisk>(config_.disk);
  node->lag_stream = stream("cpu-lag", nodes_.size());
  nodes_.push_back(std::move(node));
  return static_cast<NodeIndex>(nodes_.size() - 1);
}

const std::string& World::host(NodeIndex node) const { return node_at(node).host; }

std::optional<NodeIndex> World::node_by_host(std::string_view host) const {
  // Hosts are "n<index+1>": parse instead of searching.
  if (host.size() < 2 || host[0] != 'n') return std::nullopt;
  size_t index = 0;
  for (char c : host.substr(1)) {
    if (c < '0' || c > '9' || index > kNodesMax) return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  if (index == 0 || index > nodes_.size() || host != nodes_[index - 1]->host) return std::nullopt;
  return static_cast<NodeIndex>(index - 1);
}

bool World::is_up(NodeIndex node) const { return node_at(node).up; }
uint64_t World::incarnation(NodeIndex node) const { return node_at(node).incarnation; }
SimRuntime* World::runtime(NodeIndex node) { return node_at(node).runtime.get(); }
NodeApp* World::app(NodeIndex node) { return node_at(node).app.get(); }
NodeClock& World::clock(NodeIndex node) { return node_at(node).clock; }
SimDisk& World::disk(NodeIndex node) { return *node_at(node).disk; }

int64_t World::cpu_lag(NodeIndex node) const { return node_at(node).cpu_lag_ns_max; }

void World::set_cpu_lag(NodeIndex node, int64_t lag_ns_max) {
  SLUICE_ASSERT_GE(lag_ns_max, 0);
  node_at(node).cpu_lag_ns_max = lag_ns_max;
}

int64_t World::inbound_delay(NodeIndex node) const { return node_at(node).inbound_delay_ns; }

void World::set_inbound_delay(NodeIndex node, int64_t delay_ns) {
  SLUICE_ASSERT_GE(delay_ns, 0);
  node_at(node).inbound_delay_ns = delay_ns;
}

int64_t World::inbound_handled_ns(NodeIndex node_index, int64_t arrival_ns) {
  Node& node = node_at(node_index);
  if (node.inbound_delay_ns == 0 && node.inbound_backlog_end_ns <= arrival_ns) return arrival_ns;
  node.inbound_backlog_end_ns = std::max(arrival_ns + node.inbound_delay_ns, node.inbound_backlog_end_ns);
  return node.inbound_backlog_end_ns;
}

void World::note_start_failure(NodeIndex node_index, std::string why) {
  ++stats_.start_failures;
  Node& node = node_at(node_index);
  ++node.failed_starts_in_a_row;
  node.last_start_failure = std::move(why);
}

void World::note_start_succeeded(NodeIndex node_index) { node_at(node_index).failed_starts_in_a_row = 0; }

uint64_t World::failed_starts_in_a_row(NodeIndex node_index) const { return node_at(node_index).failed_starts_in_a_row; }

const std::string& World::last_start_failure(NodeIndex node_index) const { return node_at(node_index).last_start_failure; }

void World::start(NodeIndex node_index) {
  Node& node = node_at(node_index);
  SLUICE_ASSERT(!node.up);
  ++node.incarnation;
  ++stats_.starts;
  node.inbound_backlog_end_ns = 0;  // the backlog died with the previous incarnation
  node.up = true;
  trace_.record(now_ns_, node_index, "node.start", node.incarnation);
  if (timeline_ != nullptr) timeline_->mark(now_ns_, node_index, MarkKind::start, "start #" + std::to_string(node.incarnation));
  node.runtime = std::make_unique<SimRuntime>(*this, node_index, node.incarnation);
  if (app_factory_) node.app = app_factory_(*node.runtime);
  run_node_fibers(node_index);
}

void World::crash(NodeIndex node_index) {
  Node& node = node_at(node_index);
  SLUICE_ASSERT(node.up);
  ++stats_.crashes;
  trace_.record(now_ns_, node_index, "node.crash", node.incarnation);
  if (timeline_ != nullptr) timeline_->mark(now_ns_, node_index, MarkKind::crash, "crash");
  // Down first: events for this node scheduled from here on are dropped, and peers' connections
  // reset without a FIN (power loss sends nothing).
  node.up = false;
  network_->on_crash(node_index);
  node.runtime->scheduler().shutdown();
  node.app.reset();
  node.runtime.reset();
  // Which unsynced writes survive: a stream of its own per (node, incarnation).
  Prng loss = stream("disk-crash", hash_combine(static_cast<uint64_t>(node_index), node.incarnation));
  node.disk->crash(loss);
}

void World::schedule(int64_t at_ns, NodeIndex node, const char* kind, uint64_t detail, std::function<void()> action) {
  SLUICE_ASSERT_GE(at_ns, now_ns_);
  uint64_t incarnation = 0;
  if (node >= 0) {
    const Node& target = node_at(node);
    if (!target.up) {
      ++stats_.events_dropped_for_crashed_nodes;
      return;
    }
    incarnation = target.incarnation;
    if (target.cpu_lag_ns_max > 0) {
      Prng& lag = *nodes_[static_cast<size_t>(node)]->lag_stream;
      at_ns += random_range([&lag] { return lag.next(); }, 0, target.cpu_lag_ns_max);
    }
  }
  queue_.push_back(Event{at_ns, next_sequence_++, node, incarnation, kind, detail, std::move(action)});
  std::push_heap(queue_.begin(), queue_.end(), [](const Event& a, const Event& b) { return later(a, b); });
}

bool World::step() {
  if (queue_.empty()) return false;
  std::pop_heap(queue_.begin(), queue_.end(), [](const Event& a, const Event& b) { return later(a, b); });
  Event event = std::move(queue_.back());
  queue_.pop_back();
  SLUICE_ASSERT_GE(event.time_ns, now_ns_);
  events_this_instant_ = event.time_ns == now_ns_ ? events_this_instant_ + 1 : 0;
  if (events_this_instant_ == config_.events_per_instant_max && livelock_.empty()) {
    livelock_ = std::to_string(events_this_instant_) + " events at t=" + std::to_string(now_ns_ / 1'000'000) +
                " ms without simulated time passing (last: " + event.kind + ")";
  }
  now_ns_ = event.time_ns;
  ++stats_.events;
  SLUICE_ASSERT_LT(stats_.events, config_.events_max);
  if (event.node >= 0) {
    const Node& target = node_at(event.node);
    if (!target.up || target.incarnation != event.incarnation) {
      ++stats_.events_dropped_for_crashed_nodes;
      return true;
    }
  }
  trace_.record(now_ns_, event.node, event.kind, event.detail);
  event.action();
  if (event.node >= 0) run_node_fibers(event.node);
  return true;
}

void World::run_until(int64_t end_ns) {
  while (!queue_.empty() && queue_.front().time_ns <= end_ns) step();
  now_ns_ = std::max(now_ns_, end_ns);
}

void World::run_node_fibers(NodeIndex node_index) {
  Node& node = node_at(node_index);
  if (!node.up) return;
  runtime::Scheduler& scheduler = node.runtime->scheduler();
  const size_t resumes = scheduler.run_ready(config_.resumes_per_event_max);
  if (resumes == config_.resumes_per_event_max && scheduler.has_ready() && livelock_.empty()) {
    livelock_ = "node " + std::to_string(node_index + 1) + "'s fibers woke each other " + std::to_string(resumes) +
                " times at t=" + std::to_string(now_ns_ / 1'000'000) + " ms without simulated time passing";
  }
}

bool World::buggify(runtime::SiteId site, Prng& node_stream) {
  if (!config_.buggify.enabled) return false;
  // Sites are reached millions of times; building the "file:line" key each time was 3 % of a run.
  // The file name is a literal (__FILE_NAME__), so its address names it within this process.
  // The cache is only looked up, never iterated, so pointer order cannot leak into the run.
  BuggifySite*& cached = buggify_cache_[{site.file.data(), site.line}];
  if (cached == nullptr) cached = &buggify_site(site);
  BuggifySite& decision = *cached;
  if (!decision.enabled) return false;
  auto next = [&node_stream] { return node_stream.next(); };
  const bool fire = random_chance(next, config_.buggify.fire_probability);
  if (fire) {
    ++stats_.buggify_fired;
    ++decision.fired;
  }
  return fire;
}

World::BuggifySite& World::buggify_site(runtime::SiteId site) {
  std::string key = std::string(site.file) + ":" + std::to_string(site.line);
  auto it = buggify_sites_.find(key);
  if (it == buggify_sites_.end()) {
    // Decided from (seed, site) alone, so the order sites are first reached in does not matter.
    const uint64_t draw = hash_combine(config_.seed, hash_bytes(key));
    const bool enabled = config_.buggify.sites
                             ? config_.buggify.sites->count(key) > 0
                             : static_cast<double>(draw >> 11) * 0x1.0p-53 < config_.buggify.site_probability;
    it = buggify_sites_.emplace(std::move(key), BuggifySite{enabled, 0}).first;
    trace_.record(now_ns_, -1, "buggify.site", hash_combine(hash_bytes(it->first), enabled));
  }
  return it->second;
}

size_t World::buggify_sites_enabled() const {
  return static_cast<size_t>(std::count_if(buggify_sites_.begin(), buggify_sites_.end(),
                                           [](const auto& entry) { return entry.second.enabled; }));
}

std::map<std::string, uint64_t> World::buggify_fired_by_site() const {
  std::map<std::string, uint64_t> fired;
  for (const auto& [site, decision] : buggify_sites_) {
    if (decision.enabled) fired.emplace(site, decision.fired);
  }
  return fired;
}

}  // namespace sluice::sim
