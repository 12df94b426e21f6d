// What a simulation runs on its nodes and checks. A scenario's [workload] section names a kind;
// "runtime" (sim/runtime_workload.h) is built in, other kinds (SWIM, Raft, ...) register a parser
// in sim/workloads.cc that reads their keys and returns a WorkloadSpec.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/world.h"

namespace sluice::sim {

struct Scenario;
class TableReader;

using Figures = std::vector<std::pair<std::string, std::string>>;

// One run's workload: the node apps and every check over them.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual AppFactory app_factory() = 0;
  // "" while every check holds; otherwise the first failure.
  virtual std::string failure() const = 0;
  // A bit flip was injected on `node`'s disk (lets durability checks tell injected corruption
  // from lost data).
  virtual void on_bit_flip(NodeIndex node) { (void)node; }
  // Called at the end when the quiet period after faults_stop_s is long enough.
  virtual void check_liveness(int64_t faults_stop_ns) = 0;
  // True when the workload has measured what it came for; the run may end early.
  virtual bool finished() const { return false; }
  // key=value figures for the report, in print order.
  virtual void report(Figures& figures) const = 0;
};

class WorkloadSpec {
 public:
  virtual ~WorkloadSpec() = default;
  virtual std::unique_ptr<Workload> create(World& world, const Scenario& scenario) const = 0;
};

// The usual spec: it keeps the parsed config and builds `W(world, scenario, config)`.
template <typename W, typename Config>
class ConfigWorkloadSpec final : public WorkloadSpec {
 public:
  explicit ConfigWorkloadSpec(Config config) : config_(std::move(config)) {}
  std::unique_ptr<Workload> create(World& world, const Scenario& scenario) const override {
    return std::make_unique<W>(world, scenario, config_);
  }

 private:
  Config config_;
};

// Figure helpers shared by the workloads: a fixed-point rendering, and the median of values
// (0 when there are none).
std::string format_figure(double value, int decimals);
double median_of(std::vector<double> values);

// Reads the kind's keys from [workload] (`kind` is already consumed), then calls reader.finish().
// Returns null after reporting an error through the reader.
using WorkloadParser = std::function<std::shared_ptr<const WorkloadSpec>(TableReader& reader, const Scenario& scenario)>;

// Every workload kind besides "runtime". Defined in sim/workloads.cc: the one place to add one.
const std::map<std::string, WorkloadParser, std::less<>>& workload_parsers();

}  // namespace sluice::sim
