// Scenario parsing: every table is read through a TableReader that records which keys it
// consumed, so unknown keys (typos) are reported, not ignored. Debian's toml++ library is built
// with exceptions, so its parse_error is caught here, at the boundary, and becomes a Status.
#include "sim/scenario.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "sim/toml_reader.h"

namespace sluice::sim {
namespace {

constexpr size_t kScenarioBytesMax = 1 << 20;
constexpr size_t kEventsMax = 10'000;
constexpr size_t kBuggifySitesMax = 256;     // [buggify] sites; the code has a few dozen
constexpr size_t kBuggifySiteBytesMax = 200;  // one "FILE:LINE"

void read_network(TableReader& reader, NetworkConfig& network) {
  int64_t latency_min = network.link.latency_min.count(), latency_max = network.link.latency_max.count();
  reader.duration("latency_ms_min", latency_min, kNsPerMs, 0, 60'000);
  reader.duration("latency_ms_max", latency_max, kNsPerMs, 0, 60'000);
  if (latency_max < latency_min) latency_max = latency_min;
  network.link.latency_min = runtime::Duration(latency_min);
  network.link.latency_max = runtime::Duration(latency_max);
  reader.real("loss", network.link.loss_probability, 0, 1);
  reader.real("duplicate", network.link.duplicate_probability, 0, 1);
  reader.real("stream_reset", network.stream_reset_probability, 0, 1);
  int64_t stall = network.stream_stall_reset_after.count();
  reader.duration("stream_stall_reset_s", stall, kNsPerS, 0.001, 3600);
  network.stream_stall_reset_after = runtime::Duration(stall);
  reader.finish();
}

void read_disk(TableReader& reader, DiskConfig& disk, DiskFaults& faults) {
  int64_t capacity_mb = static_cast<int64_t>(disk.capacity_bytes >> 20);
  reader.integer("capacity_mb", capacity_mb, 1, 1 << 20);
  disk.capacity_bytes = static_cast<uint64_t>(capacity_mb) << 20;
  reader.real("read_error", faults.read_error_probability, 0, 1);
  reader.real("write_error", faults.write_error_probability, 0, 1);
  reader.real("sync_error", faults.sync_error_probability, 0, 1);
  reader.real("torn_write", faults.torn_write_probability, 0, 1);
  reader.finish();
}

// The cluster workload: the one that places topics (swarm shapes) and names Raft leaders (leader faults).
bool has_cluster_workload(const Scenario& scenario) {
  return std::any_of(scenario.workloads.begin(), scenario.workloads.end(),
                     [](const ScenarioWorkload& workload) { return workload.kind == "cluster"; });
}

// `leaders_named`: a workload names Raft leaders (the cluster workload), so leader faults have targets.
void read_random_faults(TableReader& reader, RandomFaults& random, bool leaders_named) {
  reader.real("crash_per_node_per_min", random.crash_per_node_per_min, 0, 600);
  reader.duration("down_s_min", random.down_ns_min, kNsPerS, 0, 3600);
  reader.duration("down_s_max", random.down_ns_max, kNsPerS, 0, 3600);
  reader.real("partition_per_min", random.partition_per_min, 0, 600);
  reader.duration("partition_s_min", random.partition_ns_min, kNsPerS, 0, 3600);
  reader.duration("partition_s_max", random.partition_ns_max, kNsPerS, 0, 3600);
  reader.real("clock_jump_per_min", random.clock_jump_per_min, 0, 600);
  reader.duration("clock_jump_ms_max", random.clock_jump_ns_max, kNsPerMs, 0, 3'600'000);
  reader.real("power_loss_per_min", random.power_loss_per_min, 0, 600);
  reader.real("bit_flip_per_min", random.bit_flip_per_min, 0, 600);
  int64_t bit_flip_nodes_max = 0;
  reader.integer("bit_flip_nodes_max", bit_flip_nodes_max, 0, 1 << 16);
  random.bit_flip_nodes_max = static_cast<size_t>(bit_flip_nodes_max);
  reader.real("slow_node_per_min", random.slow_node_per_min, 0, 600);
  reader.duration("slow_lag_ms_max", random.slow_lag_ns_max, kNsPerMs, 0, 3'600'000);
  reader.duration("slow_s", random.slow_ns, kNsPerS, 0, 3600);
  reader.real("disk_full_per_min", random.disk_full_per_min, 0, 600);
  reader.duration("disk_full_s", random.disk_full_ns, kNsPerS, 0, 3600);
  reader.real("leader_crash_per_min", random.leader_crash_per_min, 0, 600);
  reader.real("leader_isolate_per_min", random.leader_isolate_per_min, 0, 600);
  reader.real("new_leader_isolate_probability", random.new_leader_isolate_probability, 0, 1);
  reader.real("leader_first_commit_isolate_probability", random.leader_first_commit_isolate_probability, 0, 1);
  for (const auto& [key, rate] : {std::pair("leader_crash_per_min", random.leader_crash_per_min),
                                  std::pair("leader_isolate_per_min", random.leader_isolate_per_min),
                                  std::pair("new_leader_isolate_probability", random.new_leader_isolate_probability),
                                  std::pair("leader_first_commit_isolate_probability", random.leader_first_commit_isolate_probability)}) {
    if (rate > 0 && !leaders_named) reader.fail(key, "needs a cluster workload (the one that names Raft leaders)");
  }
  random.down_ns_max = std::max(random.down_ns_max, random.down_ns_min);
  random.partition_ns_max = std::max(random.partition_ns_max, random.partition_ns_min);
  reader.finish();
}

void read_swarm(TableReader& reader, SwarmConfig& swarm) {
  reader.boolean("enabled", swarm.enabled);
  reader.real("rate_factor_min", swarm.rate_factor_min, 0, 100);
  reader.real("rate_factor_max", swarm.rate_factor_max, 0, 100);
  if (swarm.rate_factor_max < swarm.rate_factor_min) reader.fail("rate_factor_max", "must not be below rate_factor_min");
  reader.real("timing_factor_min", swarm.timing_factor_min, 0.1, 10);
  reader.real("timing_factor_max", swarm.timing_factor_max, 0.1, 10);
  if (swarm.timing_factor_max < swarm.timing_factor_min) reader.fail("timing_factor_max", "must not be below timing_factor_min");
  reader.integer_range("nodes", swarm.nodes, 1, static_cast<int64_t>(World::kNodesMax));
  reader.integer_range("partitions", swarm.partitions, 1, 1000);
  reader.integer_range("replication", swarm.replication, 1, 7);
  reader.finish();
}

// A [swarm] shape range must give a valid scenario at every draw. Nodes: the scenario is parsed
// again with the fewest nodes (its events, decommission, controller voters and replication must
// all fit in them; more nodes only add storage nodes nothing names). Partitions and replication
// change the cluster workload's topic, so they need one; replication is drawn at most the nodes.
void check_swarm_shape(const toml::table& parsed, const Scenario& scenario, ParseContext& context) {
  const SwarmConfig& swarm = scenario.swarm;
  const toml::table& table = *parsed["swarm"].as_table();
  auto line_of = [&table](std::string_view key) { return static_cast<int>(table.get(key)->source().begin.line); };
  const bool cluster = has_cluster_workload(scenario);
  for (const char* key : {"partitions", "replication"}) {
    if (table.contains(key) && !cluster) context.fail(line_of(key), std::string("swarm.") + key, "needs a cluster workload");
  }
  const int64_t nodes_min = swarm.nodes[0] != 0 ? swarm.nodes[0] : static_cast<int64_t>(scenario.nodes);
  if (swarm.replication[0] > nodes_min) {
    context.fail(line_of("replication"), "swarm.replication", "LOW is above the fewest nodes (" + std::to_string(nodes_min) + ")");
  }
  // Bit flips are survivable only on a minority of a partition's replicas; with fewer replicas
  // drawn, the minority the scenario keeps them to may be a majority, and the checkers would
  // report a loss the scenario caused, not a bug.
  const size_t flipped = scenario.random.bit_flip_nodes_max;
  if (swarm.replication[0] != 0 && scenario.random.bit_flip_per_min > 0 && (flipped == 0 || 2 * flipped >= static_cast<size_t>(swarm.replication[0]))) {
    context.fail(line_of("replication"), "swarm.replication",
                 "LOW " + std::to_string(swarm.replication[0]) + " does not keep bit flips (random_faults.bit_flip_nodes_max " +
                     (flipped == 0 ? std::string("0: any node") : std::to_string(flipped)) + ") to a minority of the replicas");
  }
  if (swarm.nodes[0] == 0 || !context.ok()) return;
  toml::table fewest = parsed;
  fewest.insert_or_assign("nodes", swarm.nodes[0]);
  fewest["swarm"].as_table()->erase("nodes");
  Result<Scenario> again = parse_scenario_table(fewest, context.source);
  if (!again.ok()) {
    context.fail(line_of("nodes"), "swarm.nodes", "with " + std::to_string(swarm.nodes[0]) + " nodes the scenario is invalid: " +
                                                      std::string(again.status().message()));
  }
}

const std::map<std::string, FaultKind, std::less<>>& fault_kinds() {
  static const std::map<std::string, FaultKind, std::less<>> kinds = {
      {"partition", FaultKind::partition}, {"partition_oneway", FaultKind::partition_oneway},
      {"isolate", FaultKind::isolate},     {"heal", FaultKind::heal},
      {"crash", FaultKind::crash},         {"restart", FaultKind::restart},
      {"clock_jump", FaultKind::clock_jump}, {"disk_full", FaultKind::disk_full},
      {"disk_ok", FaultKind::disk_ok},     {"disk_free", FaultKind::disk_free},
      {"disk_errors", FaultKind::disk_errors},
      {"bit_flip", FaultKind::bit_flip},   {"network", FaultKind::network},
      {"stream_resets", FaultKind::stream_resets}, {"slow_node", FaultKind::slow_node}};
  return kinds;
}

// Checks that the fields a kind needs are present.
void check_event(const FaultEvent& event, ParseContext& context, std::string_view field) {
  auto need = [&](bool ok, std::string_view what) {
    if (!ok) context.fail(event.source_line, field, std::string("needs ") + std::string(what));
  };
  switch (event.kind) {
    case FaultKind::partition: need(!event.nodes.empty() && !event.other.empty(), "a = [...] and b = [...]"); break;
    case FaultKind::partition_oneway: need(!event.nodes.empty() && !event.other.empty(), "from = [...] and to = [...]"); break;
    case FaultKind::isolate:
      need(!event.nodes.empty() || event.count > 0, "nodes = [...] or count = k");
      if (event.at_leader_moment != LeaderMomentTrigger::none) need(event.nodes.size() == 1, "one node with at_leader_moment");
      break;
    case FaultKind::crash:
    case FaultKind::restart:
    case FaultKind::clock_jump:
    case FaultKind::disk_full:
    case FaultKind::disk_ok:
    case FaultKind::disk_free:
    case FaultKind::disk_errors:
    case FaultKind::slow_node:
    case FaultKind::bit_flip: need(!event.nodes.empty(), "nodes = [...]"); break;
    case FaultKind::heal:
    case FaultKind::network:
    case FaultKind::stream_resets: break;
  }
}

FaultEvent read_event(TableReader& reader, size_t node_count, ParseContext& context) {
  FaultEvent event;
  event.source_line = reader.line();
  double at_s = -1;
  reader.real("at_s", at_s, 0, 1e7);
  if (at_s < 0) context.fail(event.source_line, reader.field("at_s"), "required");
  event.at_ns = static_cast<int64_t>(std::llround(at_s * kNsPerS));
  std::string kind;
  reader.text("kind", kind);
  auto found = fault_kinds().find(kind);
  if (found == fault_kinds().end()) {
    context.fail(reader.key_line("kind"), reader.field("kind"), "unknown fault kind '" + kind + "'");
    return event;
  }
  event.kind = found->second;
  read_nodes(reader, "nodes", event.nodes, node_count);
  read_nodes(reader, "a", event.nodes, node_count);
  read_nodes(reader, "from", event.nodes, node_count);
  read_nodes(reader, "b", event.other, node_count);
  read_nodes(reader, "to", event.other, node_count);
  int64_t count = 0;
  reader.integer("count", count, 0, static_cast<int64_t>(node_count));
  event.count = static_cast<size_t>(count);
  reader.duration("ms", event.jump_ns, kNsPerMs, -3.6e6, 3.6e6);
  reader.duration("lag_ms", event.lag_ns, kNsPerMs, 0, 3.6e6);
  reader.real("read", event.read_error, 0, 1);
  reader.real("write", event.write_error, 0, 1);
  reader.real("sync", event.sync_error, 0, 1);
  reader.real("loss", event.loss, 0, 1);
  reader.real("duplicate", event.duplicate, 0, 1);
  reader.duration("latency_ms_min", event.latency_ns_min, kNsPerMs, 0, 60'000);
  reader.duration("latency_ms_max", event.latency_ns_max, kNsPerMs, 0, 60'000);
  reader.real("probability", event.probability, 0, 1);
  std::string moment;
  reader.text("at_leader_moment", moment);
  if (moment == "elected") {
    event.at_leader_moment = LeaderMomentTrigger::elected;
  } else if (moment == "first_commit") {
    event.at_leader_moment = LeaderMomentTrigger::first_commit;
  } else if (!moment.empty()) {
    context.fail(reader.key_line("at_leader_moment"), reader.field("at_leader_moment"), "expected \"elected\" or \"first_commit\"");
  }
  if (event.at_leader_moment != LeaderMomentTrigger::none && event.kind != FaultKind::isolate) {
    context.fail(reader.key_line("at_leader_moment"), reader.field("at_leader_moment"), "only an isolate waits for a leader moment");
  }
  reader.finish();
  check_event(event, context, reader.field("kind"));
  return event;
}

toml::array node_numbers(const std::vector<NodeIndex>& nodes) {
  toml::array numbers;
  for (NodeIndex node : nodes) numbers.push_back(static_cast<int64_t>(node) + 1);
  return numbers;
}

// The keys the nodes of `kind` are read from (read_event accepts any; this writes the natural ones).
std::pair<const char*, const char*> node_keys(FaultKind kind) {
  if (kind == FaultKind::partition) return {"a", "b"};
  if (kind == FaultKind::partition_oneway) return {"from", "to"};
  return {"nodes", nullptr};
}

void put_kind_fields(toml::table& table, const FaultEvent& event) {
  constexpr double kMsPerNs = 1.0 / kNsPerMs;
  switch (event.kind) {
    case FaultKind::isolate:
      if (event.nodes.empty()) table.insert("count", static_cast<int64_t>(event.count));
      if (event.at_leader_moment != LeaderMomentTrigger::none) {
        table.insert("at_leader_moment", event.at_leader_moment == LeaderMomentTrigger::elected ? "elected" : "first_commit");
      }
      break;
    case FaultKind::clock_jump: table.insert("ms", static_cast<double>(event.jump_ns) * kMsPerNs); break;
    case FaultKind::slow_node: table.insert("lag_ms", static_cast<double>(event.lag_ns) * kMsPerNs); break;
    case FaultKind::disk_errors:
      table.insert("read", event.read_error);
      table.insert("write", event.write_error);
      table.insert("sync", event.sync_error);
      break;
    case FaultKind::network:
      if (event.loss >= 0) table.insert("loss", event.loss);
      if (event.duplicate >= 0) table.insert("duplicate", event.duplicate);
      if (event.latency_ns_min >= 0) table.insert("latency_ms_min", static_cast<double>(event.latency_ns_min) * kMsPerNs);
      if (event.latency_ns_max >= 0) table.insert("latency_ms_max", static_cast<double>(event.latency_ns_max) * kMsPerNs);
      break;
    case FaultKind::stream_resets: table.insert("probability", event.probability); break;
    default: break;
  }
}

constexpr size_t kWorkloadsMax = 16;

void read_workload(TableReader& reader, Scenario& scenario, ParseContext& context) {
  ScenarioWorkload workload{"runtime", nullptr};  // the kind when `kind` is absent
  reader.text("kind", workload.kind);
  auto parser = workload_parsers().find(workload.kind);
  if (parser == workload_parsers().end()) {
    std::string known;
    for (const auto& [name, unused] : workload_parsers()) known += (known.empty() ? "" : ", ") + name;
    return context.fail(reader.key_line("kind"), reader.field("kind"),
                        "unknown workload kind '" + workload.kind + "' (known: " + known + ")");
  }
  workload.spec = parser->second(reader, scenario);
  scenario.workloads.push_back(std::move(workload));
}

void read_workloads(TableReader& top, Scenario& scenario, ParseContext& context) {
  const std::vector<const toml::table*> tables = top.tables("workload");
  if (tables.size() > kWorkloadsMax) return context.fail(top.key_line("workload"), "workload", "more than 16 workloads");
  for (size_t i = 0; i < tables.size() && context.ok(); ++i) {
    TableReader reader(*tables[i], tables.size() == 1 ? "workload" : "workload[" + std::to_string(i) + "]", context);
    read_workload(reader, scenario, context);
  }
  if (tables.empty() && context.ok()) {  // the default: the runtime workload
    toml::table empty;
    TableReader reader(empty, "workload", context);
    ScenarioWorkload workload{"runtime", workload_parsers().at("runtime")(reader, scenario)};
    scenario.workloads.push_back(std::move(workload));
  }
}

void read_top_level(TableReader& top, Scenario& scenario, ParseContext& context) {
  top.text("name", scenario.name);
  int64_t nodes = static_cast<int64_t>(scenario.nodes);
  top.integer("nodes", nodes, 1, static_cast<int64_t>(World::kNodesMax));
  scenario.nodes = static_cast<size_t>(nodes);
  scenario.faults_stop_ns = -1;
  top.duration("duration_s", scenario.duration_ns, kNsPerS, 0.001, 1e6);
  top.duration("faults_stop_s", scenario.faults_stop_ns, kNsPerS, 0, 1e6);
  if (scenario.faults_stop_ns < 0) scenario.faults_stop_ns = scenario.duration_ns * 2 / 3;
  std::string planted = "none";
  top.text("planted_bug", planted);
  if (std::optional<PlantedBug> bug = parse_planted_bug(planted)) {
    scenario.planted_bug = *bug;
  } else {
    std::string known;
    for (PlantedBug each : kPlantedBugs) known += (known.empty() ? "" : ", ") + std::string(to_string(each));
    context.fail(top.key_line("planted_bug"), "planted_bug", "unknown bug '" + planted + "' (known: " + known + ")");
  }
  if (scenario.faults_stop_ns > scenario.duration_ns) {
    context.fail(top.key_line("faults_stop_s"), "faults_stop_s", "must not be after duration_s");
  }
}

// Judged last: a missing [budget] must not hide an earlier error (an unknown key above all).
void read_budget(const toml::table* table, int top_line, Scenario& scenario, ParseContext& context) {
  if (table != nullptr) {
    TableReader reader(*table, "budget", context);
    int64_t events_max = 0;
    reader.integer("events_max", events_max, 1, 1'000'000'000'000);
    scenario.budget.events_max = static_cast<uint64_t>(events_max);
    reader.duration("converge_s_max", scenario.budget.converge_ns_max, kNsPerS, 0.001, 1e6);
    reader.duration("simulated_s_max", scenario.budget.simulated_ns_max, kNsPerS, 0.001, 1e6);
    if (scenario.budget.events_max == 0) reader.fail("events_max", "is required");
    const bool quiet_period = scenario.faults_stop_ns < scenario.duration_ns;
    if (quiet_period && scenario.budget.converge_ns_max == 0) {
      reader.fail("converge_s_max", "is required when faults stop before duration_s");
    }
    if (!quiet_period && scenario.budget.simulated_ns_max == 0) {
      reader.fail("simulated_s_max", "is required when faults never stop (the run ends when measured)");
    }
    reader.finish();
  } else if (context.ok()) {
    context.fail(top_line, "budget", "every scenario states a [budget] (docs/formats/scenario.md)");
  }
}

// A BUGGIFY site as the runtime names it: the source file's base name, a colon, the line
// (runtime/runtime.h, SLUICE_BUGGIFY). Checked so that a misspelt site is an error, not a site
// that silently never fires.
bool is_buggify_site_name(std::string_view site) {
  const size_t colon = site.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == site.size() || site.size() > kBuggifySiteBytesMax) {
    return false;
  }
  const std::string_view file = site.substr(0, colon), line = site.substr(colon + 1);
  const bool file_ok = std::all_of(file.begin(), file.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
  const bool line_ok = line.front() != '0' && std::all_of(line.begin(), line.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
  return file_ok && line_ok;
}

void read_buggify(TableReader& reader, BuggifyConfig& buggify) {
  reader.boolean("enabled", buggify.enabled);
  reader.real("site_probability", buggify.site_probability, 0, 1);
  reader.real("fire_probability", buggify.fire_probability, 0, 1);
  // Present, even empty: exactly these sites are on, whatever the seed draws (a shrunk run).
  if (reader.take("sites") != nullptr) {
    std::vector<std::string> sites;
    reader.strings("sites", sites, kBuggifySitesMax);
    for (size_t i = 0; i < sites.size(); ++i) {
      if (!is_buggify_site_name(sites[i])) {
        // Named by position: the text may hold anything (a newline, a control byte).
        reader.fail("sites", "entry " + std::to_string(i + 1) + " is no site: expected \"FILE:LINE\" (e.g. \"log_write.cc:134\")");
        break;
      }
    }
    buggify.sites = std::set<std::string>(sites.begin(), sites.end());
  }
  reader.finish();
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view text, std::string_view source_name) {
  Result<toml::table> parsed = parse_toml(text, source_name);
  if (!parsed.ok()) return parsed.status();
  return parse_scenario_table(*parsed, source_name);
}

Result<toml::table> parse_toml(std::string_view text, std::string_view source_name) {
  ParseContext context{std::string(source_name), {}};
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    context.fail(static_cast<int>(error.source().begin.line), "toml", error.description());
    return parse_status(context);
  }
}

Result<Scenario> parse_scenario_table(const toml::table& parsed, std::string_view source_name) {
  ParseContext context{std::string(source_name), {}};
  Scenario scenario;
  scenario.path = std::string(source_name);
  TableReader top(parsed, "", context);
  read_top_level(top, scenario, context);
  if (const toml::table* table = top.subtable("network")) {
    TableReader reader(*table, "network", context);
    read_network(reader, scenario.network);
  }
  if (const toml::table* table = top.subtable("disk")) {
    TableReader reader(*table, "disk", context);
    read_disk(reader, scenario.disk, scenario.disk_faults);
  }
  if (const toml::table* table = top.subtable("clock")) {
    TableReader reader(*table, "clock", context);
    reader.integer("drift_ppm_max", scenario.drift_ppm_max, 0, NodeClock::kDriftPpmMax);
    reader.duration("skew_ms_max", scenario.wall_skew_ns_max, kNsPerMs, 0, 3.6e6);
    reader.finish();
  }
  if (const toml::table* table = top.subtable("buggify")) {
    TableReader reader(*table, "buggify", context);
    read_buggify(reader, scenario.buggify);
  }
  read_workloads(top, scenario, context);
  if (const toml::table* table = top.subtable("coverage")) {
    TableReader reader(*table, "coverage", context);
    reader.strings("required", scenario.coverage_required);
    reader.finish();
  }
  if (const toml::table* table = top.subtable("swarm")) {
    TableReader reader(*table, "swarm", context);
    read_swarm(reader, scenario.swarm);
  }
  if (const toml::table* table = top.subtable("random_faults")) {
    TableReader reader(*table, "random_faults", context);
    read_random_faults(reader, scenario.random, has_cluster_workload(scenario));
  }
  if (const toml::array* events = top.array("events")) {
    if (events->size() > kEventsMax) context.fail(top.line(), "events", "more than 10000 events");
    for (size_t i = 0; i < events->size() && context.ok(); ++i) {
      TableReader reader(*events->get(i)->as_table(), "events[" + std::to_string(i) + "]", context);
      scenario.events.push_back(read_event(reader, scenario.nodes, context));
      if (scenario.events.back().at_ns > scenario.faults_stop_ns) {
        context.fail(reader.key_line("at_s"), reader.field("at_s"), "must not be after faults_stop_s");
      }
    }
  }
  const toml::table* budget = top.subtable("budget");
  top.finish();
  read_budget(budget, top.line(), scenario, context);
  if (context.ok() && parsed.contains("swarm")) check_swarm_shape(parsed, scenario, context);
  if (!context.ok()) return parse_status(context);
  return scenario;
}

toml::table fault_event_table(const FaultEvent& event) {
  toml::table table;
  table.insert("at_s", static_cast<double>(event.at_ns) / kNsPerS);
  for (const auto& [name, kind] : fault_kinds()) {
    if (kind == event.kind) table.insert("kind", name);
  }
  const auto [first, second] = node_keys(event.kind);
  if (!event.nodes.empty()) table.insert(first, node_numbers(event.nodes));
  if (second != nullptr && !event.other.empty()) table.insert(second, node_numbers(event.other));
  put_kind_fields(table, event);
  return table;
}

Result<toml::table> load_scenario_table(const std::string& path) {
  Result<std::string> text = read_input_file(path, kScenarioBytesMax, "scenario file");
  if (!text.ok()) return text.status();
  return parse_toml(*text, path);
}

Result<Scenario> load_scenario(const std::string& path) {
  Result<toml::table> table = load_scenario_table(path);
  if (!table.ok()) return table.status();
  return parse_scenario_table(*table, path);
}

std::string_view to_string(FaultKind kind) {
  for (const auto& [name, each] : fault_kinds()) {
    if (each == kind) return name;
  }
  return "unknown";
}

}  // namespace sluice::sim
