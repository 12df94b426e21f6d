// What a simulation runs on its nodes and checks. Every node runs the node object sluice-node
// runs (server::Node, sim/sim_node.h); a workload switches on the parts of it that it exercises
// (configure_node), may add a part of its own to each node incarnation (node_started: clients,
// test traffic), drives the cluster from outside and judges it. A scenario names one or several
// workloads ([workload] or [[workload]] tables, each with a `kind`); every kind registers a
// parser in sim/workloads/registry.cc, the one place to add one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node/server/node.h"
#include "sim/checkers/raft_safety.h"
#include "sim/workloads/client_ops.h"
#include "sim/world.h"

namespace sluice::config {
class TableReader;
}  // namespace sluice::config

namespace sluice::sim {

struct Scenario;
using config::TableReader;
class SimRuntime;

using Figures = std::vector<std::pair<std::string, std::string>>;

// A workload's own part of one node incarnation (test traffic, a client): destroyed at a crash,
// before the node object.
class NodeAgent {
 public:
  virtual ~NodeAgent() = default;
};

class Workload {
 public:
  virtual ~Workload() = default;
  // What `node` runs for this workload; called before every start of the node. Workloads that
  // share a scenario switch on parts side by side (the first to configure a part sets it up).
  virtual void configure_node(NodeIndex node, server::NodeConfig& config) {
    (void)node;
    (void)config;
  }
  // A fresh incarnation of the node has started its Node (called on one of its fibers). The
  // returned agent, if any, lives until the node's next crash.
  virtual std::unique_ptr<NodeAgent> node_started(SimRuntime& runtime, server::Node& node) {
    (void)runtime;
    (void)node;
    return nullptr;
  }
  // An incarnation of `node` ended (a crash, a failed start, the end of the run): its fibers are
  // unwound and its unsynced writes about to be lost. Called before its agents and Node go.
  virtual void node_crashed(NodeIndex node) { (void)node; }
  // "" while every check holds; otherwise the first failure.
  virtual std::string failure() const = 0;
  // A bit flip was injected on `node`'s disk (lets durability checks tell injected corruption
  // from lost data).
  virtual void on_bit_flip(NodeIndex node) { (void)node; }
  // True once everything the workload waits for after faults stopped holds (the cluster has
  // healed): the harness polls it after faults_stop_s and fails a run that takes longer than the
  // scenario's budget.converge_s_max. Must not change any state.
  virtual bool converged(int64_t faults_stop_ns) const = 0;
  // While not converged: what it still waits for, for the budget failure ("" when it cannot say).
  virtual std::string waiting_for() const { return ""; }
  // Called at the end when the quiet period after faults_stop_s is long enough; fails the run
  // (naming what) when the cluster did not converge.
  virtual void check_liveness(int64_t faults_stop_ns) = 0;
  // Called once when the run fails its convergence budget, before that failure is reported: a
  // workload may name a safety violation the stall hides (acknowledged records no replica holds
  // any more); its failure() then is the run's.
  virtual void not_converged() {}
  // True when the workload has measured what it came for; the run may end once every workload
  // of the scenario is finished.
  virtual bool finished() const { return false; }
  // key=value figures for the report, in print order.
  virtual void report(Figures& figures) const = 0;
  // The client operations the run issued (not skipped), for the shrink's ddmin over them.
  virtual void client_ops(std::vector<ClientOp>& out) const { (void)out; }
  // Appends, per Raft group it runs, the node leading it as last observed (the leader faults'
  // targets, sim/faults.h); a workload without groups appends nothing.
  virtual void group_leaders(std::vector<NodeIndex>& out) const { (void)out; }
  // Calls `listener(node, moment)` at each leader's moments in each term of one of its groups
  // (checkers::LeaderMoment; empty: stop); a workload without groups never calls it.
  virtual void listen_for_leader_moments(std::function<void(NodeIndex, checkers::LeaderMoment)> listener) { (void)listener; }
};

// Everything a workload is built with: the world, the scenario, and its own random stream (the
// world's "workload" stream for its position in the scenario).
struct WorkloadContext {
  World& world;
  const Scenario& scenario;
  Prng prng;
};

class WorkloadSpec {
 public:
  virtual ~WorkloadSpec() = default;
  virtual std::unique_ptr<Workload> create(WorkloadContext context) const = 0;
  // Hosts the workload needs besides the scenario's nodes, for clients: world nodes
  // scenario.nodes, scenario.nodes + 1, ... They run a Node with nothing switched on (the
  // workload's node_started() gives them their clients) and no fault targets them: crashes, disk
  // faults, clock faults and isolation are for the cluster's nodes; the network's random loss,
  // delay and resets reach them like anyone.
  virtual size_t client_hosts() const { return 0; }
};

// The usual spec: it keeps the parsed config and builds `W(context, config)`.
template <typename W, typename Config>
class ConfigWorkloadSpec final : public WorkloadSpec {
 public:
  explicit ConfigWorkloadSpec(Config config) : config_(std::move(config)) {}
  std::unique_ptr<Workload> create(WorkloadContext context) const override {
    return std::make_unique<W>(std::move(context), config_);
  }
  size_t client_hosts() const override {
    if constexpr (requires { config_.client_hosts; }) {
      return static_cast<size_t>(config_.client_hosts);
    } else {
      return 0;
    }
  }
  const Config& config() const { return config_; }

 private:
  Config config_;
};

// Figure helpers shared by the workloads: a fixed-point rendering, and the median of values
// (0 when there are none).
std::string format_figure(double value, int decimals);
double median_of(std::vector<double> values);

// Reads the kind's keys from its [workload] table (`kind` is already consumed), then calls
// reader.finish(). Returns null after reporting an error through the reader.
using WorkloadParser = std::function<std::shared_ptr<const WorkloadSpec>(TableReader& reader, const Scenario& scenario)>;

// Every workload kind, by name. Defined in sim/workloads/registry.cc.
const std::map<std::string, WorkloadParser, std::less<>>& workload_parsers();

}  // namespace sluice::sim
