#include "sim/sweep_summary.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>

#include "sim/json.h"

namespace sluice::sim {
namespace {

constexpr int kSummaryVersion = 1;
constexpr size_t kFrameBytesMax = 16 << 20;  // a seed's result; coverage and BUGGIFY lists are short

bool parse_u64(std::string_view text, uint64_t& out) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// --- the worker frame ---------------------------------------------------------------------------

void put(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

// Reads the length-prefixed fields of one frame's payload; any malformation sets `bad`.
struct FieldReader {
  std::string_view rest;
  bool bad = false;

  std::string_view next() {
    const size_t colon = rest.find(':');
    uint64_t size = 0;
    if (bad || colon == std::string_view::npos || !parse_u64(rest.substr(0, colon), size) || size > rest.size() - colon - 1) {
      bad = true;
      return {};
    }
    std::string_view field = rest.substr(colon + 1, size);
    rest.remove_prefix(colon + 1 + size);
    return field;
  }
  uint64_t number() {
    uint64_t value = 0;
    if (!parse_u64(next(), value)) bad = true;
    return value;
  }
};

SeedResult decode_payload(std::string_view payload, bool& bad) {
  FieldReader reader{payload};
  SeedResult result;
  result.seed = reader.number();
  result.passed = reader.number() != 0;
  result.trace_hash = reader.number();
  result.failure = std::string(reader.next());
  const uint64_t marks = reader.number();
  for (uint64_t i = 0; i < marks && !reader.bad; ++i) result.coverage.emplace_back(reader.next());
  const uint64_t sites = reader.number();
  for (uint64_t i = 0; i < sites && !reader.bad; ++i) {
    std::string site(reader.next());
    result.buggify_fired[site] = reader.number();
  }
  bad = reader.bad || !reader.rest.empty();
  return result;
}

// --- JSON ---------------------------------------------------------------------------------------

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

template <typename Items, typename Render>
std::string json_list(const Items& items, const char* open, const char* close, Render render) {
  std::string out = open;
  bool first = true;
  for (const auto& item : items) {
    out += first ? "\n    " : ",\n    ";
    out += render(item);
    first = false;
  }
  return out + (first ? "" : "\n  ") + close;
}

// Reads a summary's members; the first missing or mistyped one sets `error`.
struct SummaryReader {
  const json::Value& root;
  std::string error;

  const json::Value* member(const json::Value& object, std::string_view name, json::Value::Kind kind) {
    const json::Value* value = object.find(name);
    if (value == nullptr || value->kind != kind) {
      if (error.empty()) error = "member '" + std::string(name) + "' missing or of the wrong type";
      return nullptr;
    }
    return value;
  }
  uint64_t u64(const json::Value& object, std::string_view name) {
    const json::Value* value = member(object, name, json::Value::Kind::number);
    std::optional<uint64_t> number = value ? value->as_u64() : std::nullopt;
    if (value != nullptr && !number && error.empty()) error = "member '" + std::string(name) + "' is not an unsigned integer";
    return number.value_or(0);
  }
  std::string text(const json::Value& object, std::string_view name) {
    const json::Value* value = member(object, name, json::Value::Kind::string);
    return value ? value->text : "";
  }
};

void read_failures(SummaryReader& reader, SweepSummary& summary) {
  const json::Value* failures = reader.member(reader.root, "failures", json::Value::Kind::array);
  if (failures == nullptr) return;
  for (const json::Value& item : failures->items) {
    SweepFailure failure;
    failure.seed = reader.u64(item, "seed");
    failure.checker = reader.text(item, "checker");
    failure.failure = reader.text(item, "failure");
    failure.replay = reader.text(item, "replay");
    summary.failures.push_back(std::move(failure));
  }
}

void read_maps(SummaryReader& reader, SweepSummary& summary) {
  if (const json::Value* coverage = reader.member(reader.root, "coverage", json::Value::Kind::object)) {
    for (const auto& [mark, value] : coverage->members) summary.coverage[mark] = reader.u64(*coverage, mark);
  }
  if (const json::Value* required = reader.member(reader.root, "coverage_required", json::Value::Kind::array)) {
    for (const json::Value& item : required->items) summary.coverage_required.push_back(item.text);
  }
  if (const json::Value* buggify = reader.member(reader.root, "buggify", json::Value::Kind::object)) {
    for (const auto& [site, value] : buggify->members) {
      BuggifySiteSummary& counts = summary.buggify[site];
      counts.seeds_enabled = reader.u64(value, "seeds_enabled");
      counts.seeds_fired = reader.u64(value, "seeds_fired");
      counts.fires = reader.u64(value, "fires");
    }
  }
}

Status merge_check(const SweepSummary& merged, const SweepSummary& next, const std::set<uint64_t>& shard_indices) {
  auto mismatch = [](std::string what) { return Status(Errc::invalid_summary, "cannot merge: " + what); };
  if (next.scenario_path != merged.scenario_path) {
    return mismatch("scenario '" + next.scenario_path + "' differs from '" + merged.scenario_path + "'");
  }
  if (next.range.first != merged.range.first || next.range.last != merged.range.last) return mismatch("seed ranges differ");
  for (const Shard& shard : next.shards) {
    if (shard.count != merged.shards.front().count) return mismatch("shard counts differ");
    if (shard_indices.count(shard.index) != 0) return mismatch("shard " + shard.to_string() + " appears twice");
  }
  return Status();
}

void merge_into(SweepSummary& merged, const SweepSummary& next) {
  merged.shards.insert(merged.shards.end(), next.shards.begin(), next.shards.end());
  merged.jobs += next.jobs;
  merged.seeds += next.seeds;
  merged.wall_s = std::max(merged.wall_s, next.wall_s);
  merged.failures.insert(merged.failures.end(), next.failures.begin(), next.failures.end());
  for (const auto& [mark, seeds] : next.coverage) merged.coverage[mark] += seeds;
  for (const auto& [site, counts] : next.buggify) {
    BuggifySiteSummary& into = merged.buggify[site];
    into.seeds_enabled += counts.seeds_enabled;
    into.seeds_fired += counts.seeds_fired;
    into.fires += counts.fires;
  }
}

}  // namespace

std::optional<SeedRange> parse_seed_range(std::string_view text) {
  SeedRange range;
  const size_t dots = text.find("..");
  const bool ok = dots == std::string_view::npos
                      ? parse_u64(text, range.first) && parse_u64(text, range.last)
                      : parse_u64(text.substr(0, dots), range.first) && parse_u64(text.substr(dots + 2), range.last);
  if (!ok || range.first > range.last || range.last - range.first >= SeedRange::kSeedsMax) return std::nullopt;
  return range;
}

Result<Shard> parse_shard(std::string_view text) {
  const size_t slash = text.find('/');
  Shard shard;
  if (slash == std::string_view::npos || !parse_u64(text.substr(0, slash), shard.index) ||
      !parse_u64(text.substr(slash + 1), shard.count)) {
    return Status(Errc::invalid_scenario, "--shard: expected i/n (0-based i), got '" + std::string(text) + "'");
  }
  if (shard.count == 0) return Status(Errc::invalid_scenario, "--shard: n must be at least 1, got '" + std::string(text) + "'");
  if (shard.index >= shard.count) {
    return Status(Errc::invalid_scenario, "--shard: i must be below n (0-based), got '" + std::string(text) + "'");
  }
  return shard;
}

uint64_t shard_size(const SeedRange& range, const Shard& shard) {
  const uint64_t seeds = range.size();
  return seeds / shard.count + (seeds % shard.count > shard.index ? 1 : 0);
}

uint64_t shard_seed(const SeedRange& range, const Shard& shard, uint64_t k) {
  return range.first + shard.index + k * shard.count;
}

SeedResult seed_result_of(const SimulationReport& report) {
  SeedResult result;
  result.seed = report.seed;
  result.passed = report.passed;
  result.trace_hash = report.trace_hash;
  result.failure = report.failure;
  for (const auto& [mark, hits] : report.coverage) result.coverage.push_back(mark);
  result.buggify_fired = report.buggify_fired_by_site;
  return result;
}

std::string encode_seed_result(const SeedResult& result) {
  std::string payload;
  put(payload, std::to_string(result.seed));
  put(payload, result.passed ? "1" : "0");
  put(payload, std::to_string(result.trace_hash));
  put(payload, result.failure);
  put(payload, std::to_string(result.coverage.size()));
  for (const std::string& mark : result.coverage) put(payload, mark);
  put(payload, std::to_string(result.buggify_fired.size()));
  for (const auto& [site, fires] : result.buggify_fired) {
    put(payload, site);
    put(payload, std::to_string(fires));
  }
  std::string frame;
  put(frame, payload);
  return frame;
}

Result<std::optional<SeedResult>> take_seed_result(std::string& buffer) {
  const size_t colon = buffer.find(':');
  if (colon == std::string::npos) {
    if (buffer.size() > 20) return Status(Errc::invalid_summary, "worker frame: no length prefix");
    return std::optional<SeedResult>();
  }
  uint64_t size = 0;
  if (!parse_u64(std::string_view(buffer).substr(0, colon), size) || size > kFrameBytesMax) {
    return Status(Errc::invalid_summary, "worker frame: bad length prefix");
  }
  if (buffer.size() - colon - 1 < size) return std::optional<SeedResult>();
  bool bad = false;
  SeedResult result = decode_payload(std::string_view(buffer).substr(colon + 1, size), bad);
  if (bad) return Status(Errc::invalid_summary, "worker frame: malformed fields");
  buffer.erase(0, colon + 1 + size);
  return std::optional<SeedResult>(std::move(result));
}

std::string failure_checker(std::string_view failure) {
  if (failure.starts_with("t=")) failure.remove_prefix(std::min(failure.size(), failure.find(' ') + 1));
  const size_t colon = failure.find(':');
  return colon == std::string_view::npos || colon == 0 ? "unknown" : std::string(failure.substr(0, colon));
}

void SweepSummary::add(const SeedResult& result) {
  ++seeds;
  if (!result.passed) {
    failures.push_back(SweepFailure{result.seed, failure_checker(result.failure), result.failure, replay_command(scenario_path, result.seed)});
  }
  for (const std::string& mark : result.coverage) coverage[mark] += 1;
  for (const auto& [site, fires] : result.buggify_fired) {
    BuggifySiteSummary& counts = buggify[site];
    counts.seeds_enabled += 1;
    counts.seeds_fired += fires > 0 ? 1 : 0;
    counts.fires += fires;
  }
}

std::vector<std::string> SweepSummary::coverage_missing() const {
  std::vector<std::string> missing;
  for (const std::string& mark : coverage_required) {
    if (coverage.count(mark) == 0) missing.push_back(mark);
  }
  return missing;
}

std::string to_json(const SweepSummary& s) {
  std::string out = "{\n";
  auto member = [&out](std::string_view name, const std::string& value) { out += "  " + json::quote(name) + ": " + value + ",\n"; };
  member("format", json::quote("sluice-sweep-summary"));
  member("version", std::to_string(kSummaryVersion));
  member("scenario", json::quote(s.scenario));
  member("scenario_path", json::quote(s.scenario_path));
  member("seeds_first", std::to_string(s.range.first));
  member("seeds_last", std::to_string(s.range.last));
  member("shards", json_list(s.shards, "[", "]", [](const Shard& shard) {
           return "{\"index\": " + std::to_string(shard.index) + ", \"count\": " + std::to_string(shard.count) + "}";
         }));
  member("jobs", std::to_string(s.jobs));
  member("swarm", s.swarm ? "true" : "false");
  member("seeds", std::to_string(s.seeds));
  member("failures_count", std::to_string(s.failures.size()));
  member("wall_s", number_text(s.wall_s));
  member("seeds_per_s", number_text(s.seeds_per_s()));
  member("passed", s.passed() ? "true" : "false");
  member("failures", json_list(s.failures, "[", "]", [](const SweepFailure& f) {
           return "{\"seed\": " + std::to_string(f.seed) + ", \"checker\": " + json::quote(f.checker) +
                  ", \"failure\": " + json::quote(f.failure) +
                  ", \"replay\": " + json::quote(f.replay) + "}";
         }));
  member("coverage", json_list(s.coverage, "{", "}", [](const auto& mark) {
           return json::quote(mark.first) + ": " + std::to_string(mark.second);
         }));
  auto quoted = [](const std::string& text) { return json::quote(text); };
  member("coverage_required", json_list(s.coverage_required, "[", "]", quoted));
  member("coverage_missing", json_list(s.coverage_missing(), "[", "]", quoted));
  out += "  \"buggify\": " + json_list(s.buggify, "{", "}", [](const auto& site) {
           return json::quote(site.first) + ": {\"seeds_enabled\": " + std::to_string(site.second.seeds_enabled) +
                  ", \"seeds_fired\": " + std::to_string(site.second.seeds_fired) +
                  ", \"fires\": " + std::to_string(site.second.fires) + "}";
         });
  return out + "\n}\n";
}

Result<SweepSummary> summary_from_json(std::string_view text) {
  Result<json::Value> parsed = json::parse(text);
  if (!parsed.ok()) return parsed.status();
  SummaryReader reader{*parsed, ""};
  if (reader.text(*parsed, "format") != "sluice-sweep-summary" || reader.u64(*parsed, "version") != kSummaryVersion) {
    return Status(Errc::invalid_summary, "not a sluice-sim sweep summary of version 1");
  }
  SweepSummary summary;
  summary.scenario = reader.text(*parsed, "scenario");
  summary.scenario_path = reader.text(*parsed, "scenario_path");
  summary.range = SeedRange{reader.u64(*parsed, "seeds_first"), reader.u64(*parsed, "seeds_last")};
  if (const json::Value* shards = reader.member(*parsed, "shards", json::Value::Kind::array)) {
    for (const json::Value& item : shards->items) summary.shards.push_back(Shard{reader.u64(item, "index"), reader.u64(item, "count")});
  }
  summary.jobs = reader.u64(*parsed, "jobs");
  const json::Value* swarm = reader.member(*parsed, "swarm", json::Value::Kind::boolean);
  summary.swarm = swarm != nullptr && swarm->boolean;
  summary.seeds = reader.u64(*parsed, "seeds");
  const json::Value* wall = reader.member(*parsed, "wall_s", json::Value::Kind::number);
  summary.wall_s = wall ? wall->as_double().value_or(0) : 0;
  read_failures(reader, summary);
  read_maps(reader, summary);
  if (!reader.error.empty()) return Status(Errc::invalid_summary, reader.error);
  if (summary.shards.empty() || summary.range.first > summary.range.last) {
    return Status(Errc::invalid_summary, "no shards, or seeds_first after seeds_last");
  }
  return summary;
}

Result<SweepSummary> merge_summaries(const std::vector<SweepSummary>& summaries) {
  if (summaries.empty()) return Status(Errc::invalid_summary, "nothing to merge");
  SweepSummary merged = summaries.front();
  std::set<uint64_t> shard_indices;
  for (const Shard& shard : merged.shards) shard_indices.insert(shard.index);
  for (size_t i = 1; i < summaries.size(); ++i) {
    if (Status checked = merge_check(merged, summaries[i], shard_indices); !checked.ok()) return checked;
    for (const Shard& shard : summaries[i].shards) shard_indices.insert(shard.index);
    merge_into(merged, summaries[i]);
  }
  std::sort(merged.shards.begin(), merged.shards.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
  std::stable_sort(merged.failures.begin(), merged.failures.end(),
                   [](const SweepFailure& a, const SweepFailure& b) { return a.seed < b.seed; });
  return merged;
}

}  // namespace sluice::sim
