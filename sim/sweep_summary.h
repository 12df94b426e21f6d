// The pure parts of `sluice-sim sweep` (sim/sweep.h runs it): seed ranges and shards, the compact
// per-seed result a worker process sends back, the summary the results add up to, its JSON form
// (docs/formats/sweep-json.md) and the merge of several shards' summaries. Nothing here runs a
// simulation, forks or reads a clock, so tests exercise it directly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/errors.h"
#include "sim/simulation.h"

namespace sluice::sim {

// Seeds first..last, inclusive.
struct SeedRange {
  static constexpr uint64_t kSeedsMax = 1'000'000'000'000;  // one sweep; far beyond any budget
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t size() const { return last - first + 1; }
};

// "A..B" (A <= B, at most kSeedsMax seeds) or a single seed "N".
std::optional<SeedRange> parse_seed_range(std::string_view text);

// Shard `index` of `count` (0-based) runs the seeds s of a range with (s - first) % count == index,
// so n machines given i/n for i = 0..n-1 run every seed exactly once.
struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;
  std::string to_string() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "i/n" with n >= 1 and 0 <= i < n; the error says what is wrong.
Result<Shard> parse_shard(std::string_view text);

// How many seeds of `range` shard `shard` runs, and its k-th (0-based, ascending).
uint64_t shard_size(const SeedRange& range, const Shard& shard);
uint64_t shard_seed(const SeedRange& range, const Shard& shard, uint64_t k);

// What a worker sends back for one seed: all the summary needs, not the whole report.
struct SeedResult {
  uint64_t seed = 0;
  bool passed = true;
  uint64_t trace_hash = 0;
  std::string failure;
  std::vector<std::string> coverage;              // marks hit at least once
  std::map<std::string, uint64_t> buggify_fired;  // enabled site -> fires (0: on, never fired)
};

SeedResult seed_result_of(const SimulationReport& report);

// One self-delimiting frame: "<bytes>:" then length-prefixed fields, so failure texts may hold
// any byte (newlines included) and a reader can tell a partial frame from a whole one.
std::string encode_seed_result(const SeedResult& result);
// Takes one whole frame off the front of `buffer`: nullopt while the frame is incomplete, an
// error when the bytes are not a frame.
Result<std::optional<SeedResult>> take_seed_result(std::string& buffer);

struct SweepFailure {
  uint64_t seed = 0;
  std::string checker;  // failure_checker(failure)
  std::string failure;  // the failing checker's first violation, as the run reports it
  std::string replay;   // the exact command that replays it
};

// The checker a failure names: failures read "[t=12.3s ]<checker>: <first violation>" (e.g.
// "raft safety", "partition ledger", "swim liveness", "budget"); "unknown" without a colon.
std::string failure_checker(std::string_view failure);

struct BuggifySiteSummary {
  uint64_t seeds_enabled = 0;  // seeds in which the site was switched on
  uint64_t seeds_fired = 0;    // seeds in which it fired at least once
  uint64_t fires = 0;          // fires over all seeds
};

struct SweepSummary {
  std::string scenario;       // its name
  std::string scenario_path;  // as given, for the replay commands
  SeedRange range;
  std::vector<Shard> shards;  // one; after a merge, every shard merged (by index)
  uint64_t jobs = 1;          // worker processes (summed over merged shards)
  bool swarm = false;
  uint64_t seeds = 0;
  double wall_s = 0;          // a merge keeps the longest: shards run side by side
  std::vector<SweepFailure> failures;         // by seed
  std::map<std::string, uint64_t> coverage;   // mark -> seeds that hit it
  std::vector<std::string> coverage_required;
  std::map<std::string, BuggifySiteSummary> buggify;  // site "file:line" -> counts

  // Counts one seed's result (call in seed order: failures stay sorted).
  void add(const SeedResult& result);
  double seeds_per_s() const { return wall_s > 0 ? static_cast<double>(seeds) / wall_s : 0; }
  std::vector<std::string> coverage_missing() const;
  bool passed() const { return failures.empty() && coverage_missing().empty(); }
};

std::string to_json(const SweepSummary& summary);
Result<SweepSummary> summary_from_json(std::string_view text);

// One summary of several shards of one sweep: same scenario path, seed range and shard count,
// no shard twice. Sums counts, unions failures (sorted by seed), merges coverage and BUGGIFY.
Result<SweepSummary> merge_summaries(const std::vector<SweepSummary>& summaries);

}  // namespace sluice::sim
