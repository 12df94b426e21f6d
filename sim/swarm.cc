#include "sim/swarm.h"

#include <algorithm>
#include <cmath>

#include "node/base/hash.h"
#include "node/base/random.h"
#include "sim/workloads/workload.h"

namespace sluice::sim {
namespace {

// The swarm stream's name: the world derives its streams from the seed under other names.
constexpr std::string_view kSwarmStream = "swarm";

// The rate of kind `kind` (SwarmChoice::kFaultKindNames order); const or not.
template <typename Faults>
auto fault_rate(Faults& random, size_t kind) {
  decltype(&random.crash_per_node_per_min) rates[SwarmChoice::kFaultKinds] = {
      &random.crash_per_node_per_min, &random.partition_per_min, &random.clock_jump_per_min,
      &random.bit_flip_per_min, &random.disk_full_per_min};
  return rates[kind];
}

double probability(double value) { return std::clamp(value, 0.0, 1.0); }

// `unit` in [0, 1) onto [low, high], uniformly.
int64_t in_range(double unit, int64_t low, int64_t high) {
  return std::min(high, low + static_cast<int64_t>(unit * static_cast<double>(high - low + 1)));
}

bool varied(const std::array<int64_t, 2>& range) { return range[0] != 0; }

}  // namespace

SwarmChoice choose_swarm(const SwarmConfig& config, uint64_t seed) {
  Prng prng(hash_combine(seed, hash_bytes(kSwarmStream)));
  auto next = [&prng] { return prng.next(); };
  auto factor = [&] { return config.rate_factor_min + random_unit(next) * (config.rate_factor_max - config.rate_factor_min); };
  SwarmChoice choice;
  for (size_t kind = 0; kind < SwarmChoice::kFaultKinds; ++kind) {
    choice.fault_on[kind] = random_chance(next, 0.5);
    choice.fault_factor[kind] = factor();
  }
  choice.loss_factor = factor();
  choice.duplicate_factor = factor();
  choice.buggify_site_factor = factor();
  choice.buggify_fire_factor = factor();
  // Drawn last, so adding them left every earlier knob of a seed as it was.
  auto log_uniform = [&] {
    const double lo = std::log(config.timing_factor_min);
    return std::exp(lo + random_unit(next) * (std::log(config.timing_factor_max) - lo));
  };
  choice.timing.raft = log_uniform();
  choice.timing.swim = log_uniform();
  // The shape after the timing, one draw each whether varied or not, for the same reason.
  const double nodes_unit = random_unit(next);
  const double partitions_unit = random_unit(next);
  choice.replication_unit = random_unit(next);
  if (varied(config.nodes)) choice.nodes = in_range(nodes_unit, config.nodes[0], config.nodes[1]);
  if (varied(config.partitions)) choice.partitions = in_range(partitions_unit, config.partitions[0], config.partitions[1]);
  return choice;
}

Scenario apply_swarm(const Scenario& scenario, const SwarmChoice& choice) {
  Scenario variant = scenario;
  for (size_t kind = 0; kind < SwarmChoice::kFaultKinds; ++kind) {
    double& rate = *fault_rate(variant.random, kind);
    rate = choice.fault_on[kind] ? rate * choice.fault_factor[kind] : 0;
  }
  variant.network.link.loss_probability = probability(scenario.network.link.loss_probability * choice.loss_factor);
  variant.network.link.duplicate_probability =
      probability(scenario.network.link.duplicate_probability * choice.duplicate_factor);
  variant.buggify.site_probability = probability(scenario.buggify.site_probability * choice.buggify_site_factor);
  variant.buggify.fire_probability = probability(scenario.buggify.fire_probability * choice.buggify_fire_factor);
  variant.timing = choice.timing;
  if (choice.nodes != 0) variant.nodes = static_cast<size_t>(choice.nodes);
  variant.shape.partitions = choice.partitions;
  const std::array<int64_t, 2>& replication = scenario.swarm.replication;
  if (varied(replication)) {
    const int64_t high = std::min(replication[1], static_cast<int64_t>(variant.nodes));
    variant.shape.replication = in_range(choice.replication_unit, std::min(replication[0], high), high);
  }
  return variant;
}

Scenario swarm_variant(const Scenario& scenario, uint64_t seed) {
  if (!scenario.swarm.enabled) return scenario;
  return apply_swarm(scenario, choose_swarm(scenario.swarm, seed));
}

std::string describe_swarm(const Scenario& variant) {
  if (!variant.swarm.enabled) return "";
  std::string text;
  for (size_t kind = 0; kind < SwarmChoice::kFaultKinds; ++kind) {
    const double rate = *fault_rate(variant.random, kind);
    text += std::string(SwarmChoice::kFaultKindNames[kind]) + "=" + (rate > 0 ? format_figure(rate, 3) + "/min" : "off") + " ";
  }
  text += "loss=" + format_figure(variant.network.link.loss_probability, 5);
  text += " duplicate=" + format_figure(variant.network.link.duplicate_probability, 5);
  text += " raft_timing=x" + format_figure(variant.timing.raft, 3) + " swim_timing=x" + format_figure(variant.timing.swim, 3);
  if (!variant.buggify.enabled) {
    text += " buggify=off";
  } else {
    text += " buggify_site=" + format_figure(variant.buggify.site_probability, 3);
    text += " buggify_fire=" + format_figure(variant.buggify.fire_probability, 4);
  }
  if (varied(variant.swarm.nodes)) text += " nodes=" + std::to_string(variant.nodes);
  if (variant.shape.partitions != 0) text += " partitions=" + std::to_string(variant.shape.partitions);
  if (variant.shape.replication != 0) text += " replication=" + std::to_string(variant.shape.replication);
  return text;
}

}  // namespace sluice::sim
