// The "swim" workload kind: every node runs the SWIM driver (node/swim/driver.h); a controller
// outside the nodes kills members, starves one of CPU or partitions the cluster, and measures
// failure detection, false positives, load and convergence (issue 5's figures).
//
// [workload] keys (docs/formats/scenario.md):
//   kind = "swim"
//   measure = "detection" | "false_positives" | "convergence"
//   lifeguard = "on" | "off" | "both"   (both: nodes split into two clusters, the first half with
//                                         Lifeguard, the second without, under the same faults)
//   probe_interval_ms, probe_timeout_ms, indirect_probes, suspicion_mult, push_pull_interval_ms
//   kills (detection), slow_nodes + slow_lag_ms + measure_s (false_positives),
//   partition_s (convergence)
#pragma once

#include <memory>

#include "sim/workloads/workload.h"

namespace sluice::sim {

std::shared_ptr<const WorkloadSpec> parse_swim_workload(TableReader& reader, const Scenario& scenario);

}  // namespace sluice::sim
