// The registry of workload kinds a scenario may name in [workload] kind = "...".
// "runtime" is built into scenario parsing; add other kinds here.
#include "sim/raft_workload.h"
#include "sim/swim_workload.h"
#include "sim/toml_reader.h"
#include "sim/workload.h"

namespace sluice::sim {

const std::map<std::string, WorkloadParser, std::less<>>& workload_parsers() {
  static const std::map<std::string, WorkloadParser, std::less<>> parsers = {
      {"swim", parse_swim_workload},
      {"raft", parse_raft_workload},
  };
  return parsers;
}

}  // namespace sluice::sim
