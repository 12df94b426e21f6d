// The registry of workload kinds a scenario may name in [workload] kind = "...": add kinds here.
#include "sim/workloads/cluster.h"
#include "sim/workloads/partitions.h"
#include "sim/workloads/raft.h"
#include <algorithm>
#include <cstdio>

#include "sim/workloads/runtime.h"
#include "sim/workloads/swim.h"
#include "sim/toml_reader.h"
#include "sim/workloads/workload.h"

namespace sluice::sim {

std::string format_figure(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

const std::map<std::string, WorkloadParser, std::less<>>& workload_parsers() {
  static const std::map<std::string, WorkloadParser, std::less<>> parsers = {
      {"runtime", parse_runtime_workload},
      {"swim", parse_swim_workload},
      {"raft", parse_raft_workload},
      {"partitions", parse_partitions_workload},
      {"cluster", parse_cluster_workload},
  };
  return parsers;
}

}  // namespace sluice::sim
