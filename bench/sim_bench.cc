// Simulator throughput: events per second of host time while running the smoke scenario's cluster
// (5 nodes, runtime workload, every fault kind). One iteration simulates `kSimulatedSeconds`.
#include <benchmark/benchmark.h>

#include "node/base/assert.h"
#include "sim/scenario.h"
#include "sim/simulation.h"

namespace sluice::sim {
namespace {

constexpr const char* kScenario = R"(
name = "bench"
nodes = 5
duration_s = 20
faults_stop_s = 15
[network]
latency_ms_min = 1
latency_ms_max = 15
loss = 0.02
duplicate = 0.02
[disk]
sync_error = 0.01
[workload]
datagram_interval_ms = 40
stream_interval_ms = 20
file_append_interval_ms = 25
[random_faults]
crash_per_node_per_min = 0.4
partition_per_min = 4
bit_flip_per_min = 1
[budget]
events_max = 10000000
converge_s_max = 5
)";

void BM_sim_events(benchmark::State& state) {
  Result<Scenario> scenario = parse_scenario(kScenario, "bench");
  SLUICE_ASSERT(scenario.ok());
  uint64_t events = 0;
  uint64_t seed = 1;
  for (auto _ : state) {
    SimulationReport report = run_simulation(*scenario, SimulationOptions{seed++, false});
    SLUICE_ASSERT(report.passed);
    events += report.world.events;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
}
BENCHMARK(BM_sim_events)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::sim
