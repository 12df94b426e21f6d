#include "sim/shrink.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/swarm.h"

namespace sluice::sim {
namespace {

constexpr int64_t kNsPerMsShrink = 1'000'000;
constexpr double kNsPerSecond = 1e9;

// Splits `units` into `n` chunks of nearly equal size, in order.
std::vector<std::vector<size_t>> chunks_of(const std::vector<size_t>& units, size_t n) {
  std::vector<std::vector<size_t>> chunks;
  size_t start = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t end = start + (units.size() - start) / (n - i);
    chunks.emplace_back(units.begin() + static_cast<std::ptrdiff_t>(start), units.begin() + static_cast<std::ptrdiff_t>(end));
    start = end;
  }
  return chunks;
}

std::vector<size_t> without(const std::vector<size_t>& units, const std::vector<size_t>& chunk) {
  std::vector<size_t> rest;
  std::set_difference(units.begin(), units.end(), chunk.begin(), chunk.end(), std::back_inserter(rest));
  return rest;
}

// The predicate with a cache and the cap: ddmin asks for some subsets more than once.
class CappedTest {
 public:
  CappedTest(const SubsetFails& fails, size_t tests_max) : fails_(fails), tests_max_(tests_max) {}
  // nullopt once the cap is reached.
  std::optional<bool> operator()(const std::vector<size_t>& kept) {
    if (auto found = cache_.find(kept); found != cache_.end()) return found->second;
    if (tests_ >= tests_max_) return std::nullopt;
    ++tests_;
    return cache_[kept] = fails_(kept);
  }
  size_t tests() const { return tests_; }

 private:
  const SubsetFails& fails_;
  size_t tests_max_;
  size_t tests_ = 0;
  std::map<std::vector<size_t>, bool> cache_;
};

}  // namespace

DdminResult ddmin(size_t count, const SubsetFails& fails, size_t tests_max) {
  CappedTest test(fails, tests_max);
  DdminResult result;
  for (size_t i = 0; i < count; ++i) result.kept.push_back(i);
  auto finish = [&](bool capped) {
    result.tests = test.tests();
    result.capped = capped;
    return result;
  };
  if (count == 0) return finish(false);
  std::optional<bool> empty_fails = test({});
  if (!empty_fails) return finish(true);
  if (*empty_fails) {
    result.kept.clear();
    return finish(false);
  }
  size_t n = 2;
  while (result.kept.size() >= 2) {
    const std::vector<std::vector<size_t>> chunks = chunks_of(result.kept, std::min(n, result.kept.size()));
    bool reduced = false;
    // A chunk alone fails: keep only it. Else a complement fails: drop that chunk.
    for (size_t pass = 0; pass < 2 && !reduced; ++pass) {
      for (const std::vector<size_t>& chunk : chunks) {
        if (pass == 1 && chunks.size() == 2) break;  // complements of two halves are the halves
        const std::vector<size_t> candidate = pass == 0 ? chunk : without(result.kept, chunk);
        std::optional<bool> failed = test(candidate);
        if (!failed) return finish(true);
        if (!*failed) continue;
        result.kept = candidate;
        n = pass == 0 ? 2 : std::max<size_t>(chunks.size() - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunks.size() >= result.kept.size()) break;  // every unit alone was tried: 1-minimal
    n = std::min(chunks.size() * 2, result.kept.size());
  }
  return finish(false);
}

std::string failure_class(std::string_view failure) {
  // Workloads that say when ("t=56.6s swim refutation: ...") are judged without the time: a
  // shrunk run fails the same way at another moment.
  if (failure.starts_with("t=")) failure.remove_prefix(std::min(failure.size(), failure.find(' ') + 1));
  const size_t first = failure.find(": ");
  if (first == std::string_view::npos) return std::string(failure);
  const std::string_view checker = failure.substr(0, first);
  const std::string_view rest = failure.substr(first + 2);
  const size_t second = rest.find(": ");
  if (second == std::string_view::npos) return std::string(checker);
  // A plain phrase (letters, spaces, '_', '-') names the violation; digits mean details.
  const std::string_view kind = rest.substr(0, second);
  const bool phrase = !kind.empty() && std::all_of(kind.begin(), kind.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == ' ' || c == '_' || c == '-';
  });
  return phrase ? std::string(checker) + ": " + std::string(kind) : std::string(checker);
}

namespace {

// A candidate run: the scenario table without [[events]], and its explicit events in units.
struct Candidate {
  toml::table base;
  std::vector<FaultEvent> events;
  std::vector<size_t> unit_of;  // per event: its unit, dense from 0
  size_t units = 0;
  uint64_t seed = 0;  // the run's seed: the shrunk one's, or one search_smaller_run found

  toml::table table() const {
    toml::table table = base;
    if (events.empty()) return table;  // an empty array is no array of tables
    toml::array array;
    for (const FaultEvent& event : events) array.push_back(fault_event_table(event));
    table.insert("events", std::move(array));
    return table;
  }
  // Only the events of the units in `kept` (ascending), units renumbered.
  Candidate keep_units(const std::vector<size_t>& kept) const {
    Candidate out{base, {}, {}, kept.size(), seed};
    for (size_t i = 0; i < events.size(); ++i) {
      const auto found = std::lower_bound(kept.begin(), kept.end(), unit_of[i]);
      if (found == kept.end() || *found != unit_of[i]) continue;
      out.events.push_back(events[i]);
      out.unit_of.push_back(static_cast<size_t>(found - kept.begin()));
    }
    return out;
  }
};

// Units dense from 0 in order of first appearance.
Candidate candidate_of(toml::table base, const std::vector<AppliedFault>& faults, uint64_t seed) {
  Candidate candidate{std::move(base), {}, {}, 0, seed};
  std::map<uint32_t, size_t> dense;
  for (const AppliedFault& fault : faults) {
    const auto [it, added] = dense.emplace(fault.unit, dense.size());
    candidate.events.push_back(fault.event);
    candidate.unit_of.push_back(it->second);
  }
  candidate.units = dense.size();
  return candidate;
}

class Shrinker {
 public:
  Shrinker(std::string_view source, const ShrinkOptions& options) : source_(source), options_(options) {}

  Result<ShrinkResult> run(const toml::table& scenario);

 private:
  std::optional<SimulationReport> try_run(const Candidate& candidate);
  std::optional<SimulationReport> same_failure(const Candidate& candidate);
  void adopt(Candidate candidate, SimulationReport report, const std::string& step);
  bool accept(const Candidate& candidate, const std::string& step);
  bool materialize(const toml::table& scenario, const Scenario& parsed);
  // True when the run budget (`runs_budget`, at most what is left) cut it short.
  bool ddmin_step(size_t count, const std::function<Candidate(const std::vector<size_t>&)>& make, const std::string& label,
                  bool empty_known_to_pass, bool no_bigger = false, size_t runs_budget = SIZE_MAX);
  void shrink_client_ops_by(const std::function<std::optional<std::string>(const ClientOp&)>& group_of, const std::string& label,
                            bool no_bigger);
  void shrink_client_ops();
  bool shrink_faults(size_t runs_budget = SIZE_MAX);
  void search_smaller_run(const toml::table& scenario);
  void disable_buggify();
  void shrink_buggify_sites();
  void shorten();
  bool try_faults_stop(int64_t faults_stop_ns);
  void lower_knobs();
  void lower_nodes();
  void quiet_world();
  void lower_knob(size_t index, std::string_view key);
  void switch_off_knob(size_t index, std::string_view key);
  void switch_off_flag(size_t index, std::string_view key);
  bool try_knob(size_t index, std::string_view key, int64_t value);
  bool runs_left() const { return result_.runs < options_.runs_max; }
  void progress(const std::string& line) const {
    if (options_.progress) options_.progress(line);
  }

  std::string source_;
  const ShrinkOptions& options_;
  ShrinkResult result_;
  Candidate best_;
  SimulationReport best_report_;
  size_t adopted_ = 0;  // candidates adopted so far: tells whether best_ changed since a step
  std::optional<size_t> adopted_when_buggify_off_passed_;  // adopted_ when "BUGGIFY off" was rejected
};

// Runs `candidate` when it is a valid scenario and runs are left; nullopt otherwise.
std::optional<SimulationReport> Shrinker::try_run(const Candidate& candidate) {
  if (!runs_left()) {
    result_.capped = true;
    return std::nullopt;
  }
  Result<Scenario> scenario = parse_scenario_table(candidate.table(), source_);
  if (!scenario.ok()) return std::nullopt;
  ++result_.runs;
  return run_simulation(*scenario, SimulationOptions{candidate.seed, false});
}

// The run's report when `candidate` still fails with the same checker.
std::optional<SimulationReport> Shrinker::same_failure(const Candidate& candidate) {
  std::optional<SimulationReport> report = try_run(candidate);
  if (!report || report->passed || failure_class(report->failure) != result_.checker) return std::nullopt;
  return report;
}

// How big a failing run is, compared in this order: faults applied, BUGGIFY firings, events. A
// step that keeps the faults but makes the run longer (fewer producers that take longer to
// trip the bug) is no simplification; one that removes faults is, even when the failure then
// takes longer to show.
std::tuple<size_t, uint64_t, uint64_t> run_size(const SimulationReport& report) {
  return {report.applied_faults.size(), report.world.buggify_fired, report.trace_events};
}

// Keeps `candidate` as the best so far when it still fails the same checker and is no bigger.
bool Shrinker::accept(const Candidate& candidate, const std::string& step) {
  std::optional<SimulationReport> report = same_failure(candidate);
  if (!report || run_size(*report) > run_size(best_report_)) return false;
  adopt(candidate, std::move(*report), step);
  return true;
}

void Shrinker::adopt(Candidate candidate, SimulationReport report, const std::string& step) {
  best_ = std::move(candidate);
  best_report_ = std::move(report);
  ++adopted_;
  progress("shrink: run " + std::to_string(result_.runs) + "/" + std::to_string(options_.runs_max) + ": " + step +
           ": faults=" + std::to_string(best_.events.size()) + " events=" + std::to_string(best_report_.trace_events));
}

// Random faults off, their record as explicit events (the heals and restarts that came after
// faults_stop_s are left out: by then the stop has healed everything).
Candidate materialized_run(const toml::table& scenario, const Scenario& parsed, const SimulationReport& report, uint64_t seed) {
  std::vector<AppliedFault> faults;
  for (const AppliedFault& fault : report.applied_faults) {
    if (fault.event.at_ns <= parsed.faults_stop_ns) faults.push_back(fault);
  }
  toml::table base = scenario;
  base.erase("random_faults");
  base.erase("events");
  return candidate_of(base, faults, seed);
}

bool Shrinker::materialize(const toml::table& scenario, const Scenario& parsed) {
  // Not judged by size: the same faults, so a few events more or less are no step back.
  Candidate materialized = materialized_run(scenario, parsed, best_report_, options_.seed);
  if (std::optional<SimulationReport> report = same_failure(materialized)) {
    adopt(std::move(materialized), std::move(*report), "materialized");
    return true;
  }
  // Fall back to shrinking the scenario's own events, random faults left on.
  std::vector<AppliedFault> explicit_events;
  for (size_t i = 0; i < parsed.events.size(); ++i) explicit_events.push_back(AppliedFault{parsed.events[i], static_cast<uint32_t>(i)});
  toml::table with_random = scenario;
  with_random.erase("events");
  best_ = candidate_of(with_random, explicit_events, options_.seed);
  return false;
}

// ddmin over `count` units, each subset made a candidate by `make`; the minimal failing subset
// becomes the best run, even when it takes more events to fail (fewer units is the simpler
// explanation). `empty_known_to_pass`: the empty subset's run was already rejected (no rerun).
// `no_bigger`: a subset counts as failing only when its run is also no bigger than the best.
bool Shrinker::ddmin_step(size_t count, const std::function<Candidate(const std::vector<size_t>&)>& make,
                          const std::string& label, bool empty_known_to_pass, bool no_bigger, size_t runs_budget) {
  if (count == 0 || !runs_left()) return false;
  std::map<std::vector<size_t>, SimulationReport> failing;  // the reports of the subsets that failed
  const auto size_max = run_size(best_report_);
  const DdminResult found = ddmin(
      count,
      [&](const std::vector<size_t>& kept) {
        if (kept.empty() && empty_known_to_pass) return false;
        std::optional<SimulationReport> report = same_failure(make(kept));
        if (report && no_bigger && run_size(*report) > size_max) report.reset();
        if (report) failing.emplace(kept, std::move(*report));
        return report.has_value();
      },
      std::min(runs_budget, options_.runs_max - result_.runs));
  if (found.capped && (runs_budget == SIZE_MAX || !runs_left())) result_.capped = true;
  if (auto report = failing.find(found.kept); report != failing.end()) {
    adopt(make(found.kept), std::move(report->second), "ddmin over " + std::to_string(count) + " " + label);
  }
  return found.capped;
}

bool Shrinker::shrink_faults(size_t runs_budget) {
  const Candidate start = best_;
  return ddmin_step(start.units, [&start](const std::vector<size_t>& kept) { return start.keep_units(kept); }, "fault units", false,
                    false, runs_budget);
}

bool buggify_enabled(const toml::table& base) {
  const toml::table* buggify = base["buggify"].as_table();
  return buggify != nullptr && (*buggify)["enabled"].value_or(false);
}

void Shrinker::disable_buggify() {
  if (!buggify_enabled(best_.base)) return;
  Candidate candidate = best_;
  candidate.base["buggify"].as_table()->insert_or_assign("enabled", false);
  if (!accept(candidate, "buggify off")) adopted_when_buggify_off_passed_ = adopted_;
}

// When the failure needs BUGGIFY, the few sites it needs: ddmin over the sites that were on
// (reached and switched on by the seed), the kept ones named in `[buggify] sites` so that every
// other site is off. No kept site at all is written as `enabled = false`. Switching a site off
// also shifts the node's BUGGIFY stream (an enabled site draws each time it is reached), so the
// kept sites may fire at other moments than before: each subset is a run of its own.
void Shrinker::shrink_buggify_sites() {
  if (!buggify_enabled(best_.base)) return;
  const Candidate start = best_;
  std::vector<std::string> sites;
  for (const auto& [site, fired] : best_report_.buggify_fired_by_site) sites.push_back(site);
  // "BUGGIFY off" already failed to reproduce on this very candidate: no need to run it again.
  const bool off_known_to_pass = adopted_ == adopted_when_buggify_off_passed_;
  auto make = [&start, &sites](const std::vector<size_t>& kept) {
    Candidate candidate = start;
    toml::table* buggify = candidate.base["buggify"].as_table();
    if (kept.empty()) {
      buggify->insert_or_assign("enabled", false);
      buggify->erase("sites");
      return candidate;
    }
    toml::array names;
    for (size_t index : kept) names.push_back(sites[index]);
    buggify->insert_or_assign("sites", std::move(names));
    return candidate;
  };
  ddmin_step(sites.size(), make, "BUGGIFY sites", off_known_to_pass);
}

// The run with faults stopping at `faults_stop_ns` and the quiet period after it kept as long as
// it was (workloads judge liveness in it, and some refuse a shorter one); events after the stop go.
bool Shrinker::try_faults_stop(int64_t faults_stop_ns) {
  Result<Scenario> current = parse_scenario_table(best_.table(), source_);
  if (!current.ok() || faults_stop_ns >= current->faults_stop_ns) return false;
  const int64_t duration_ns = faults_stop_ns + (current->duration_ns - current->faults_stop_ns);
  Candidate cut = best_;
  cut.base.insert_or_assign("duration_s", static_cast<double>(duration_ns) / kNsPerSecond);
  cut.base.insert_or_assign("faults_stop_s", static_cast<double>(faults_stop_ns) / kNsPerSecond);
  if (faults_stop_ns == duration_ns) {  // no quiet period: the budget bounds the run instead
    toml::table* budget = cut.base["budget"].as_table();
    if (budget != nullptr) budget->insert_or_assign("simulated_s_max", static_cast<double>(duration_ns) / kNsPerSecond);
  }
  cut.events.clear();
  cut.unit_of.clear();
  for (size_t i = 0; i < best_.events.size(); ++i) {
    if (best_.events[i].at_ns > faults_stop_ns) continue;
    cut.events.push_back(best_.events[i]);
    cut.unit_of.push_back(best_.unit_of[i]);
  }
  return accept(cut, "faults_stop_s=" + format_figure(static_cast<double>(faults_stop_ns) / kNsPerSecond, 3) +
                         " duration_s=" + format_figure(static_cast<double>(duration_ns) / kNsPerSecond, 3));
}

// A failure while faults run stops the run where it happened: try stopping faults (and so the
// workload's writes) just after that, else search between there and the current stop (to 1/32
// of it). A failure after faults stopped (liveness) keeps the run as long as it is.
void Shrinker::shorten() {
  Result<Scenario> current = parse_scenario_table(best_.table(), source_);
  if (!current.ok()) return;
  const int64_t failed_at = best_report_.simulated_ns;
  int64_t high = current->faults_stop_ns;  // fails
  const int64_t just_after = (failed_at / kNsPerMsShrink + 1) * kNsPerMsShrink;
  if (just_after >= high || try_faults_stop(just_after)) return;
  int64_t low = just_after;  // did not fail (or was no valid scenario)
  const int64_t step_min = std::max<int64_t>(high / 32, kNsPerMsShrink);
  while (high - low > step_min && runs_left()) {
    const int64_t middle = (low + (high - low) / 2) / kNsPerMsShrink * kNsPerMsShrink;
    if (try_faults_stop(middle)) {
      high = middle;
    } else {
      low = middle;
    }
  }
}

// Workload knobs that say how much the workload does; lowered towards 0 where the workload allows
// none (a cluster run without consumers), else towards 1.
constexpr std::string_view kSizeKnobs[] = {"clients", "client_hosts", "producers", "consumers", "partitions", "groups",
                                           "payload_bytes_max"};
// Workload knobs that switch a part of the workload on, each tried off once (0: halving them would
// make it do more, not less): the admin client's topic churn, its decommission of a node.
constexpr std::string_view kPartKnobs[] = {"admin_churn_ms", "decommission_node"};
// Features of the cluster workload tried off: idempotent producers (a plain producer is the simpler
// client; a failure that needs idempotence, a duplicate, keeps it).
constexpr std::string_view kFeatureFlags[] = {"idempotent"};

// The index-th workload table of a scenario table (`[workload]` or `[[workload]]`); null if none.
toml::table* workload_table(toml::table& base, size_t index) {
  toml::node* node = base["workload"].node();
  if (node == nullptr) return nullptr;
  if (const toml::array* array = node->as_array(); array != nullptr) {
    return index < array->size() ? node->as_array()->get(index)->as_table() : nullptr;
  }
  return index == 0 ? node->as_table() : nullptr;
}

bool Shrinker::try_knob(size_t index, std::string_view key, int64_t value) {
  Candidate candidate = best_;
  workload_table(candidate.base, index)->insert_or_assign(key, value);
  return accept(candidate, "workload " + std::string(key) + "=" + std::to_string(value));
}

// A knob that switches a part of the workload on (above 0) tried at 0.
void Shrinker::switch_off_knob(size_t index, std::string_view key) {
  const toml::table* workload = workload_table(best_.base, index);
  const std::optional<int64_t> value = workload == nullptr ? std::nullopt : (*workload)[key].value<int64_t>();
  if (value && *value > 0) try_knob(index, key, 0);
}

// A feature of the cluster workload that is on (true, or absent: on by default) tried off.
void Shrinker::switch_off_flag(size_t index, std::string_view key) {
  const toml::table* workload = workload_table(best_.base, index);
  if (workload == nullptr || (*workload)["kind"].value_or(std::string()) != "cluster" || !(*workload)[key].value_or(true)) return;
  Candidate candidate = best_;
  workload_table(candidate.base, index)->insert_or_assign(key, false);
  accept(candidate, "workload " + std::string(key) + "=false");
}

// 0 first (a workload that refuses 0 costs no run), then 1 (the smallest workload); else halving
// while the failure stays.
void Shrinker::lower_knob(size_t index, std::string_view key) {
  const toml::table* workload = workload_table(best_.base, index);
  const std::optional<int64_t> value = workload == nullptr ? std::nullopt : (*workload)[key].value<int64_t>();
  if (!value || *value <= 0 || try_knob(index, key, 0)) return;
  if (*value == 1 || try_knob(index, key, 1)) return;
  for (int64_t lowered = *value / 2; lowered > 1 && runs_left() && try_knob(index, key, lowered); lowered /= 2) {
  }
}

// Fewer nodes, the fewest first: a scenario whose events, replication, controller voters or
// decommissioned node need more is refused by the parser and costs no run; each other count is a
// run of its own (the cluster changes: placement, SWIM's probes, who leads).
void Shrinker::lower_nodes() {
  const std::optional<int64_t> nodes = best_.base["nodes"].value<int64_t>();
  for (int64_t fewer = 1; nodes && fewer < *nodes && runs_left(); ++fewer) {
    Candidate candidate = best_;
    candidate.base.insert_or_assign("nodes", fewer);
    if (accept(candidate, "nodes=" + std::to_string(fewer))) return;
  }
}

void Shrinker::lower_knobs() {
  lower_nodes();
  for (size_t index = 0; workload_table(best_.base, index) != nullptr; ++index) {
    for (std::string_view key : kSizeKnobs) {
      if (runs_left()) lower_knob(index, key);
    }
    for (std::string_view key : kPartKnobs) {
      if (runs_left()) switch_off_knob(index, key);
    }
    for (std::string_view key : kFeatureFlags) {
      if (runs_left()) switch_off_flag(index, key);
    }
  }
}

// The world's own random decisions, each a rate or range the scenario sets: which datagrams are
// lost or duplicated, which streams reset, which disk calls fail or tear, how far clocks drift and
// skew, how much latency varies (reordering). Each goes to zero (latency: no spread) when the
// failure does not need it, so the minimal run keeps only the randomness it needs.
struct Noise {
  std::string_view table;
  std::string_view key;
};
constexpr Noise kWorldNoise[] = {{"network", "loss"},       {"network", "duplicate"},  {"network", "stream_reset"},
                                 {"disk", "read_error"},    {"disk", "write_error"},   {"disk", "sync_error"},
                                 {"disk", "torn_write"},    {"clock", "drift_ppm_max"}, {"clock", "skew_ms_max"}};

// `table.key` set to zero, of the type it has; false when it is absent or zero already.
bool zeroed(toml::table& base, const Noise& noise) {
  toml::table* table = base[noise.table].as_table();
  toml::node* value = table == nullptr ? nullptr : table->get(noise.key);
  if (value == nullptr) return false;
  if (value->is_floating_point() && value->value<double>().value_or(0) != 0) {
    table->insert_or_assign(noise.key, 0.0);
    return true;
  }
  if (value->is_integer() && value->value<int64_t>().value_or(0) != 0) {
    table->insert_or_assign(noise.key, int64_t{0});
    return true;
  }
  return false;
}

// The latency range narrowed to its minimum: no jitter, so no reordering by the network.
bool narrowed_latency(toml::table& base) {
  toml::table* network = base["network"].as_table();
  if (network == nullptr) return false;
  const std::optional<double> low = (*network)["latency_ms_min"].value<double>();
  const std::optional<double> high = (*network)["latency_ms_max"].value<double>();
  if (!low || !high || *high <= *low) return false;
  network->insert_or_assign("latency_ms_max", *(*network)["latency_ms_min"].node());
  return true;
}

// Each quieting as a name (noise_off=) and an edit of a scenario table (false: nothing to quiet).
std::vector<std::pair<std::string, std::function<bool(toml::table&)>>> quietings() {
  std::vector<std::pair<std::string, std::function<bool(toml::table&)>>> out;
  for (const Noise& noise : kWorldNoise) {
    out.emplace_back(std::string(noise.table) + "." + std::string(noise.key), [noise](toml::table& base) { return zeroed(base, noise); });
  }
  out.emplace_back("network.latency_spread", narrowed_latency);
  return out;
}

// All of the noise at once first (one run when the failure needs none of it), else one at a time.
void Shrinker::quiet_world() {
  const auto steps = quietings();
  Candidate all = best_;
  std::vector<std::string> names;
  for (const auto& [name, quiet] : steps) {
    if (quiet(all.base)) names.push_back(name);
  }
  if (names.empty()) return;
  if (accept(all, "world noise off")) {
    result_.noise_off = names;
    return;
  }
  for (const auto& [name, quiet] : steps) {
    Candidate one = best_;
    if (runs_left() && quiet(one.base) && accept(one, name + " off")) result_.noise_off.push_back(name);
  }
}

// The workload table that takes `skip_ops` (the cluster workload's); null if none.
toml::table* client_ops_table(toml::table& base) {
  for (size_t index = 0; toml::table* workload = workload_table(base, index); ++index) {
    if ((*workload)["kind"].value_or(std::string()) == "cluster") return workload;
  }
  return nullptr;
}

// The client operations issued in the best run so far, in groups (`group_of` names an op's
// group, or nullopt: the op is kept at this level; groups in first-seen order): ddmin drops
// groups, each subset written as the workload's `skip_ops` on top of the ones already skipped. A
// dropped record still takes its random draws, so the others keep their payload, partition and
// timing. Kept when the run fails the same way: `no_bigger` also asks it to be no bigger (dropping
// a whole producer is simpler even when the bug then takes a little longer to show; single
// operations are not worth a bigger run).
void Shrinker::shrink_client_ops_by(const std::function<std::optional<std::string>(const ClientOp&)>& group_of,
                                    const std::string& label, bool no_bigger) {
  const Candidate start = best_;
  const std::vector<ClientOp> ops = best_report_.client_ops;
  toml::table* workload = client_ops_table(best_.base);
  if (workload == nullptr || ops.empty()) return;
  SkippedOps skipped_before;
  if (const toml::array* entries = (*workload)["skip_ops"].as_array()) {
    for (const toml::node& entry : *entries) (void)parse_skip_range(entry.value_or(std::string()), skipped_before);
  }
  std::map<std::string, size_t> group_index;
  std::vector<std::optional<size_t>> group_of_op;
  size_t grouped_ops = 0;
  for (const ClientOp& op : ops) {
    const std::optional<std::string> group = group_of(op);
    group_of_op.push_back(group ? std::optional(group_index.emplace(*group, group_index.size()).first->second) : std::nullopt);
    grouped_ops += group ? 1 : 0;
  }
  if (group_index.size() == 1 && grouped_ops > 1) return;  // one group of several: the next level does it
  auto make = [&](const std::vector<size_t>& kept_groups) {
    const std::set<size_t> kept(kept_groups.begin(), kept_groups.end());
    SkippedOps skipped = skipped_before;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (group_of_op[i] && !kept.contains(*group_of_op[i])) skipped[ops[i].stream].insert(ops[i].seq);
    }
    Candidate candidate = start;
    toml::array entries;
    for (std::string& entry : format_skip_ops(skipped)) entries.push_back(std::move(entry));
    client_ops_table(candidate.base)->insert_or_assign("skip_ops", std::move(entries));
    return candidate;
  };
  ddmin_step(group_index.size(), make, label, false, no_bigger);
}

// Hierarchical delta debugging (Misherghi and Su, ICSE 2006): whole partitions' records first
// (each other stream — the admin churn's rounds, a consumer's polls — as one more group), then
// whole streams', then operations one by one, so a failure on one partition does not cost ddmin's
// halving over every record of the others. One by one goes a kind at a time, records first: the
// polls left are then those that read what is left.
void Shrinker::shrink_client_ops() {
  auto partition_of = [](const ClientOp& op) -> std::optional<std::string> {
    return op.kind == ClientOpKind::produce ? "p" + std::to_string(op.partition) : op.stream;
  };
  shrink_client_ops_by(partition_of, "client operations by partition", false);
  shrink_client_ops_by([](const ClientOp& op) -> std::optional<std::string> { return op.stream; }, "client operations by stream", false);
  for (const auto& [kind, label] : {std::pair(ClientOpKind::produce, "records"), std::pair(ClientOpKind::poll, "polls"),
                                    std::pair(ClientOpKind::topic_cycle, "topic churn rounds")}) {
    // A copy: clang refuses to capture a structured binding.
    auto one_of_kind = [wanted = kind](const ClientOp& op) -> std::optional<std::string> {
      if (op.kind != wanted) return std::nullopt;
      return op.stream + ":" + std::to_string(op.seq);
    };
    shrink_client_ops_by(one_of_kind, label, true);
  }
}

// The scenario of search_smaller_run: `scenario` (random faults on) with the cluster workload at one
// partition, client host, producer and consumer, and faults stopping at half of `failed_at_ns`
// (the quiet period after kept as long as it was). Nullopt when there is nothing to draw anew (no
// random faults, or explicit events of its own). With [swarm], each seed also draws its own fault
// mix and timing (the shape stays pinned): the run found replays from its seed like any other.
std::optional<toml::table> smaller_scenario(const toml::table& scenario, const Scenario& parsed, int64_t failed_at_ns) {
  if (!scenario.contains("random_faults") || scenario.contains("events")) return std::nullopt;
  toml::table small = scenario;
  toml::table* workload = client_ops_table(small);
  if (workload == nullptr) return std::nullopt;
  for (const char* key : {"partitions", "client_hosts", "producers", "consumers"}) {
    if ((*workload)[key].value_or(int64_t{1}) > 1) workload->insert_or_assign(key, int64_t{1});
  }
  const int64_t faults_stop_ns = std::min(parsed.faults_stop_ns, std::max<int64_t>(failed_at_ns / 2, 1'000'000'000));
  const int64_t duration_ns = faults_stop_ns + (parsed.duration_ns - parsed.faults_stop_ns);
  small.insert_or_assign("faults_stop_s", static_cast<double>(faults_stop_ns) / kNsPerSecond);
  small.insert_or_assign("duration_s", static_cast<double>(duration_ns) / kNsPerSecond);
  return small;
}

// A failure that hangs on a long chain of faults (Figure 8 under the leader nemesis: dozens of
// timed isolations, each sending every later event another way) survives the removal of few of
// them, and ddmin keeps nearly all. Other seeds of a smaller run often fail the same way with a
// fraction of the faults: the same random fault processes and rates on one partition, one client
// host, half the time (smaller_scenario). The seeds after the shrunk one are tried in turn, at most
// search_runs_max (short runs, outside runs_max); the first whose run fails the same way and is
// smaller, materialized, becomes the best run, and the later steps shrink it further. The replay
// file then names that seed.
void Shrinker::search_smaller_run(const toml::table& scenario) {
  Result<Scenario> parsed = parse_scenario_table(scenario, source_);
  if (!parsed.ok()) return;
  const std::optional<toml::table> small = smaller_scenario(scenario, *parsed, best_report_.simulated_ns);
  if (!small) return;
  Result<Scenario> small_parsed = parse_scenario_table(*small, source_);
  if (!small_parsed.ok()) return;  // the workload refuses one partition (replication above the nodes, ...)
  for (uint64_t offset = 1; offset <= options_.search_runs_max && runs_left(); ++offset) {
    const uint64_t seed = options_.seed + offset;
    ++result_.search_runs;
    const SimulationReport report = run_simulation(*small_parsed, SimulationOptions{seed, false});
    if (report.passed || failure_class(report.failure) != result_.checker || run_size(report) >= run_size(best_report_)) continue;
    if (accept(materialized_run(*small, *small_parsed, report, seed), "smaller run, seed " + std::to_string(seed))) return;
  }
}

Result<ShrinkResult> Shrinker::run(const toml::table& input) {
  Result<Scenario> input_parsed = parse_scenario_table(input, source_);
  if (!input_parsed.ok()) return input_parsed.status();
  const toml::table scenario = pin_swarm_shape(input, *input_parsed, options_.seed);
  Result<Scenario> parsed = parse_scenario_table(scenario, source_);
  if (!parsed.ok()) return parsed.status();
  ++result_.runs;
  best_report_ = run_simulation(*parsed, SimulationOptions{options_.seed, false});
  if (best_report_.passed) {
    return Status(Errc::check_failed, "seed " + std::to_string(options_.seed) + " passes: nothing to shrink");
  }
  result_.checker = failure_class(best_report_.failure);
  result_.failure_before = best_report_.failure;
  result_.events_before = best_report_.trace_events;
  result_.faults_before = best_report_.applied_faults.size();
  result_.buggify_sites_before = best_report_.buggify_fired_by_site.size();
  result_.buggify_fired_before = best_report_.world.buggify_fired;
  result_.client_ops_before = best_report_.client_ops.size();
  progress("shrink: run 1: checker '" + result_.checker + "', faults=" + std::to_string(result_.faults_before) +
           " events=" + std::to_string(result_.events_before));
  result_.materialized = materialize(scenario, *parsed);
  if (!result_.materialized) progress("shrink: the materialized run does not fail the same way; shrinking explicit events only");
  disable_buggify();
  if (result_.materialized && best_.units > options_.search_units_min) search_smaller_run(scenario);
  // A failure that hangs on a chain of timed faults (Figure 8 under the leader nemesis) fails
  // again under few of ddmin's subsets, which could then take every run there is: the first pass
  // over the faults gets half of what is left, so that every later step has its turn, and a
  // second pass whatever they leave.
  const bool faults_cut_short = shrink_faults((options_.runs_max - result_.runs) / 2);
  shrink_buggify_sites();
  shorten();
  lower_knobs();
  quiet_world();
  shrink_client_ops();
  if (faults_cut_short) shrink_faults();
  result_.seed_after = best_.seed;
  result_.failure_after = best_report_.failure;
  result_.events_after = best_report_.trace_events;
  result_.faults_after = best_report_.applied_faults.size();
  result_.buggify_sites_after = buggify_enabled(best_.base) ? best_report_.buggify_fired_by_site.size() : 0;
  result_.buggify_fired_after = best_report_.world.buggify_fired;
  result_.client_ops_after = best_report_.client_ops.size();
  result_.minimal = best_.table();
  return std::move(result_);
}

}  // namespace

toml::table pin_swarm_shape(const toml::table& scenario, const Scenario& parsed, uint64_t seed) {
  toml::table pinned = scenario;
  toml::table* swarm = pinned["swarm"].as_table();
  if (swarm == nullptr || !parsed.swarm.enabled) return pinned;
  const Scenario variant = swarm_variant(parsed, seed);
  if (swarm->contains("nodes")) pinned.insert_or_assign("nodes", static_cast<int64_t>(variant.nodes));
  if (toml::table* workload = client_ops_table(pinned)) {
    if (variant.shape.partitions != 0) workload->insert_or_assign("partitions", variant.shape.partitions);
    if (variant.shape.replication != 0) workload->insert_or_assign("replication", variant.shape.replication);
  }
  for (const char* key : {"nodes", "partitions", "replication"}) swarm->erase(key);
  return pinned;
}

Result<ShrinkResult> shrink(const toml::table& scenario, std::string_view source_name, const ShrinkOptions& options) {
  Shrinker shrinker(source_name, options);
  return shrinker.run(scenario);
}

}  // namespace sluice::sim
