// Safety under random schedules: random clusters of 3-5 nodes run random interleavings of
// ticks, proposals, deliveries (in and out of order), drops, duplicates, crashes that lose
// everything not yet persisted, restarts, retention, leader transfers and reads. After every
// step the SafetyChecker must find nothing. After the schedule the faults heal and the cluster
// must elect a leader and commit a new entry on every node (liveness).
//
// 1,000 cases by default; SLUICE_RAFT_CASES=N runs N (RC_PARAMS="seed=S" replays a seed).
// A failure shrinks to a minimal schedule, printed with the violation and a trace of the run.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <ostream>
#include <sstream>

#include "tests/raft/cluster.h"
#include "tests/raft/safety_checker.h"

namespace sluice::raft::testing {
namespace {

constexpr int kCasesDefault = 1000;
constexpr int kHealRoundsMax = 200;
// Schedules grow with RapidCheck's size (0..100): up to 1,600 ops.
constexpr double kOpsPerSize = 16.0;

enum class OpKind : uint8_t {
  tick_all,
  tick,
  deliver_first,
  deliver_any,
  drop,
  duplicate,
  process_all,
  process,
  propose,
  crash,
  restart,
  trim,
  transfer,
  read,
  campaign,
  round,      // process every node, deliver everything in order, process again
  isolate,    // partition one node from the rest
  reconnect,  // heal partitions
  conf_change,
};

const char* name(OpKind kind) {
  switch (kind) {
    case OpKind::tick_all: return "tick-all";
    case OpKind::tick: return "tick";
    case OpKind::deliver_first: return "deliver-first";
    case OpKind::deliver_any: return "deliver";
    case OpKind::drop: return "drop";
    case OpKind::duplicate: return "duplicate";
    case OpKind::process_all: return "process-all";
    case OpKind::process: return "process";
    case OpKind::propose: return "propose";
    case OpKind::crash: return "crash";
    case OpKind::restart: return "restart";
    case OpKind::trim: return "trim";
    case OpKind::transfer: return "transfer";
    case OpKind::read: return "read";
    case OpKind::campaign: return "campaign";
    case OpKind::round: return "round";
    case OpKind::isolate: return "isolate";
    case OpKind::reconnect: return "reconnect";
    case OpKind::conf_change: return "conf-change";
  }
  return "?";
}

// `node` and `pick` are reduced modulo what exists when the op runs, so every schedule is
// valid and shrinking (dropping ops, lowering numbers) keeps it meaningful.
struct Op {
  OpKind kind = OpKind::tick_all;
  uint32_t node = 0;
  uint32_t pick = 0;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  return os << name(op.kind) << "(n" << op.node << ",p" << op.pick << ")";
}

struct Scenario {
  uint32_t nodes = 3;   // initial voters
  uint32_t spares = 0;  // nodes that start with no membership and can be added
  bool pre_vote = true;
  bool check_quorum = true;
  uint32_t inflight_msgs_max = 4;
  uint64_t append_bytes_max = 16;
  std::vector<Op> ops;
};

std::ostream& operator<<(std::ostream& os, const Scenario& s) {
  os << "nodes=" << s.nodes << " spares=" << s.spares << " pre_vote=" << s.pre_vote << " check_quorum=" << s.check_quorum
     << " inflight_msgs_max=" << s.inflight_msgs_max << " append_bytes_max=" << s.append_bytes_max << "\nops:";
  for (size_t i = 0; i < s.ops.size(); ++i) os << (i % 8 == 0 ? "\n  " : " ") << s.ops[i];
  return os;
}

rc::Gen<Op> gen_op() {
  return rc::gen::apply(
      [](OpKind kind, uint32_t node, uint32_t pick) { return Op{kind, node, pick}; },
      rc::gen::weightedElement<OpKind>({{10, OpKind::tick_all}, {3, OpKind::tick}, {15, OpKind::deliver_first},
                                        {8, OpKind::deliver_any}, {3, OpKind::drop}, {2, OpKind::duplicate},
                                        {10, OpKind::process_all}, {4, OpKind::process}, {12, OpKind::round},
                                        {10, OpKind::propose}, {1, OpKind::crash}, {3, OpKind::restart},
                                        {2, OpKind::trim}, {1, OpKind::transfer}, {3, OpKind::read},
                                        {1, OpKind::campaign}, {1, OpKind::isolate}, {1, OpKind::reconnect},
                                        {2, OpKind::conf_change}}),
      rc::gen::inRange<uint32_t>(0, 5), rc::gen::inRange<uint32_t>(0, 64));
}

rc::Gen<Scenario> gen_scenario() {
  return rc::gen::apply(
      [](uint32_t nodes, uint32_t spares, bool pre_vote, bool check_quorum, uint32_t inflight, uint64_t append_bytes,
         std::vector<Op> ops) {
        return Scenario{nodes, spares, pre_vote, check_quorum, inflight, append_bytes, std::move(ops)};
      },
      rc::gen::inRange<uint32_t>(3, 6), rc::gen::inRange<uint32_t>(0, 3), rc::gen::arbitrary<bool>(),
      rc::gen::arbitrary<bool>(),
      rc::gen::inRange<uint32_t>(1, 5), rc::gen::inRange<uint64_t>(1, 33),
      rc::gen::scale(kOpsPerSize, rc::gen::container<std::vector<Op>>(gen_op())));
}

// What the schedules exercised, summed over all cases: printed so that a weak generator shows.
struct Coverage {
  uint64_t runs = 0;  // cases plus shrinking attempts
  uint64_t ops = 0;
  uint64_t elections_won = 0;
  uint64_t entries_committed = 0;  // highest commit index reached before healing, summed
  uint64_t crashes = 0;
  uint64_t jumps_applied = 0;
  uint64_t reads_served = 0;
  uint64_t transfers = 0;
  uint64_t rejections = 0;  // append rejections (back-tracking)
  uint64_t conf_changes = 0;  // applied on a leader
};
Coverage coverage;

// Runs a scenario and records what happened, so a failure can show the run that led to it.
class ScheduleRun {
 public:
  // With `traced`, the run records what each op did (only worth it for a run known to fail:
  // runs are deterministic, so a failing schedule is simply run again with tracing).
  ScheduleRun(const Scenario& scenario, bool traced) : scenario_(scenario), cluster_(/*seed=*/7), traced_(traced) {
    ConfState bootstrap;
    for (NodeId id = 1; id <= scenario.nodes; ++id) bootstrap.voters.insert(id);
    for (NodeId id = 1; id <= scenario.nodes + scenario.spares; ++id) {
      RaftConfig config;
      config.id = id;
      config.election_timeout_ticks = 5;
      config.heartbeat_interval_ticks = 1;
      config.pre_vote = scenario.pre_vote;
      config.check_quorum = scenario.check_quorum;
      config.inflight_msgs_max = scenario.inflight_msgs_max;
      config.append_bytes_max = scenario.append_bytes_max;
      const Status added = cluster_.add_node(config, id <= scenario.nodes ? bootstrap : ConfState{});
      SLUICE_ASSERT(added.ok());
    }
  }

  // The first violation, or nullopt.
  std::optional<std::string> execute() {
    ++coverage.runs;
    for (const Op& op : scenario_.ops) {
      ++coverage.ops;
      apply(op);
      checkpoint();
      if (violation_) return violation_;
    }
    coverage.entries_committed += checker_.committed_max();
    return heal_and_expect_progress();
  }

  std::string trace() const { return trace_.str(); }

  // Appends to the trace when tracing; the callback keeps untraced runs from formatting.
  template <typename Write>
  void note(Write&& write) {
    if (traced_) write(trace_);
  }

 private:
  // Checks the invariants now; ops made of several steps call it after each one, so the checker
  // sees every intermediate state (a commit decided under one membership, say, before a ready
  // applies the next).
  void checkpoint() {
    if (!violation_) violation_ = checker_.check(cluster_);
  }

  NodeId pick_node(uint32_t n) const { return 1 + n % (scenario_.nodes + scenario_.spares); }

  void apply(const Op& op) {
    const NodeId id = pick_node(op.node);
    std::deque<Message>& network = cluster_.network();
    note([&](std::ostream& os) { os << op << ":"; });
    switch (op.kind) {
      case OpKind::tick_all:
        for (NodeId each : cluster_.ids()) {
          if (cluster_.up(each)) cluster_.node(each).raft->tick();
        }
        break;
      case OpKind::tick:
        if (cluster_.up(id)) cluster_.node(id).raft->tick();
        break;
      case OpKind::deliver_first:
      case OpKind::deliver_any:
        if (!network.empty()) {
          const size_t at = op.kind == OpKind::deliver_first ? 0 : op.pick % network.size();
          note([&](std::ostream& os) { os << " " << to_string(network[at]); });
          cluster_.deliver(at);
        }
        break;
      case OpKind::drop:
        if (!network.empty()) cluster_.drop(op.pick % network.size());
        break;
      case OpKind::duplicate:
        if (!network.empty()) network.push_back(network[op.pick % network.size()]);
        break;
      case OpKind::process_all:
        for (NodeId each : cluster_.ids()) {
          process(each);
          checkpoint();
        }
        break;
      case OpKind::process:
        process(id);
        break;
      case OpKind::propose:
        propose(id, op.pick);
        break;
      case OpKind::crash:
        if (cluster_.up(id)) {
          cluster_.crash(id);
          ++coverage.crashes;
        }
        break;
      case OpKind::restart:
        if (!cluster_.up(id)) restart(id);
        break;
      case OpKind::trim:
        trim(id, op.pick);
        break;
      case OpKind::transfer:
        if (cluster_.up(id)) (void)cluster_.node(id).raft->transfer_leadership(pick_node(op.pick));
        break;
      case OpKind::read:
        read(id);
        break;
      case OpKind::campaign:
        if (cluster_.up(id)) (void)cluster_.node(id).raft->campaign();
        break;
      case OpKind::round:
        round();
        break;
      case OpKind::isolate: {
        std::set<NodeId> rest;
        for (NodeId each : cluster_.ids()) {
          if (each != id) rest.insert(each);
        }
        cluster_.partition({{id}, rest});
        break;
      }
      case OpKind::reconnect:
        cluster_.heal();
        break;
      case OpKind::conf_change:
        conf_change(op.pick);
        break;
    }
    note([](std::ostream& os) { os << "\n"; });
  }

  // Checks after every step: the checker must see each commit under the membership it was
  // decided with, before a later Ready applies the next one.
  void round() {
    for (NodeId each : cluster_.ids()) {
      process(each);
      checkpoint();
    }
    while (!cluster_.network().empty()) {
      cluster_.deliver(0);
      checkpoint();
    }
    for (NodeId each : cluster_.ids()) {
      process(each);
      checkpoint();
    }
  }

  RawNode* newest_leader() {
    RawNode* leader = nullptr;
    for (NodeId each : cluster_.ids()) {
      ClusterNode& node = cluster_.node(each);
      if (node.raft && node.raft->raft().role() == Role::leader &&
          (leader == nullptr || node.raft->raft().term() > leader->raft().term())) {
        leader = node.raft.get();
      }
    }
    return leader;
  }

  // A random membership change on the newest leader: add or remove voters and learners, promote,
  // demote, replace; joint configurations left automatically or explicitly. Invalid ones are
  // refused by the leader, which is fine.
  void conf_change(uint32_t pick) {
    RawNode* leader = newest_leader();
    if (leader == nullptr) return;
    const ConfState& conf = leader->raft().conf_state();
    ConfChange change;
    change.transition = pick % 2 == 0 ? ConfChangeTransition::automatic : ConfChangeTransition::joint_explicit_leave;
    const NodeId a = pick_node(pick / 7);
    const NodeId b = pick_node(pick / 3);
    if (!conf.joint()) {
      switch (pick % 5) {
        case 0: change.items = {{ConfChangeType::add_voter, a}}; break;
        case 1: change.items = {{ConfChangeType::add_learner, a}}; break;
        case 2: change.items = {{ConfChangeType::remove_node, a}}; break;
        case 3: change.items = {{ConfChangeType::add_voter, a}, {ConfChangeType::remove_node, b}}; break;
        case 4: change.items = {{ConfChangeType::add_voter, a}, {ConfChangeType::add_learner, b}}; break;
      }
    }
    if (leader->propose_conf_change(change).ok()) {
      note([&](std::ostream& os) { os << " " << leader->raft().id() << " proposed " << to_string(change); });
    }
  }

  void process(NodeId id) {
    if (std::optional<Ready> rd = cluster_.process_ready(id)) {
      for (const RaftEvent& event : rd->events) {
        if (event.kind == EventKind::became_leader) ++coverage.elections_won;
        if (event.kind == EventKind::log_start_jump_applied) ++coverage.jumps_applied;
        if (event.kind == EventKind::conf_change_applied && cluster_.node(id).raft->raft().role() == Role::leader) {
          ++coverage.conf_changes;
        }
      }
      for (const Message& m : rd->messages) {
        if (m.type == MessageType::append_response && m.reject) ++coverage.rejections;
        if (m.type == MessageType::timeout_now) ++coverage.transfers;
      }
      for (const ReadState& read : rd->read_states) coverage.reads_served += read.dropped ? 0 : 1;
      if (rd->soft_state) {
        note([&](std::ostream& os) {
          os << " " << id << "=" << to_string(rd->soft_state->role) << "@" << cluster_.node(id).raft->raft().term();
        });
      }
    }
  }

  // Mostly to a leader (the newest, if a stale one is still around), so entries get committed;
  // sometimes to any node, which must refuse unless it leads.
  void propose(NodeId id, uint32_t pick) {
    if (pick % 4 != 0) {
      Term newest = 0;
      for (NodeId each : cluster_.ids()) {
        const ClusterNode& node = cluster_.node(each);
        if (node.raft && node.raft->raft().role() == Role::leader && node.raft->raft().term() > newest) {
          newest = node.raft->raft().term();
          id = each;
        }
      }
    }
    if (!cluster_.up(id)) return;
    const std::string data = "p" + std::to_string(++proposals_);
    if (cluster_.node(id).raft->propose(to_bytes(data)).ok()) {
      note([&](std::ostream& os) { os << " " << id << " proposed " << data; });
    }
  }

  void restart(NodeId id) {
    const Status restarted = cluster_.restart(id);
    // Persisted state written by the contract must always restart.
    SLUICE_ASSERT(restarted.ok());
  }

  // Retention as a driver does it: between Ready cycles, only what the state machine applied.
  void trim(NodeId id, uint32_t pick) {
    if (!cluster_.up(id) || cluster_.node(id).raft->has_ready()) return;
    ClusterNode& node = cluster_.node(id);
    const Index applied = node.raft->status().applied;
    const Index base = node.storage.base_index();
    if (applied <= base) return;
    const Index to = base + 1 + pick % (applied - base);
    const Status trimmed = node.storage.trim_to(to);
    SLUICE_ASSERT(trimmed.ok());
    note([&](std::ostream& os) { os << " " << id << " trimmed to " << to; });
  }

  void read(NodeId id) {
    if (!cluster_.up(id)) return;
    const uint64_t context = ++reads_;
    checker_.read_requested(context);
    if (cluster_.node(id).raft->read_index(context).ok()) {
      note([&](std::ostream& os) { os << " " << id << " read ctx=" << context; });
    }
  }

  // Faults stop: every node restarts, nothing is lost any more, time moves for everyone. A node
  // removed from the group is shut down, as its driver would do, but only once every member of
  // the new membership applied it: a member still in the joint configuration may need the
  // removed node's vote (it may not know yet that the change committed).
  std::optional<std::string> heal_and_expect_progress() {
    note([](std::ostream& os) { os << "heal\n"; });
    cluster_.heal();
    for (NodeId id : cluster_.ids()) {
      if (!cluster_.up(id)) restart(id);
    }
    // A leader change can discard the proposal; then the new leader gets one.
    std::optional<Index> target;
    Term target_term = 0;
    for (int round = 0; round < kHealRoundsMax; ++round) {
      const ConfState newest = newest_membership();
      const std::set<NodeId> members = newest.all_nodes();
      bool all_members_know = true;
      for (NodeId id : members) {
        if (!cluster_.up(id)) restart(id);  // added back by a later change
        all_members_know = all_members_know && cluster_.node(id).raft->raft().conf_state().index >= newest.index;
      }
      for (NodeId id : cluster_.ids()) {
        if (all_members_know && cluster_.up(id) && members.count(id) == 0) cluster_.crash(id);
      }
      for (NodeId id : cluster_.ids()) {
        if (cluster_.up(id)) cluster_.node(id).raft->tick();
      }
      this->round();
      if (violation_) return violation_;
      if (target && all_applied(*target, members)) return std::nullopt;
      RawNode* leader = newest_leader();
      if (leader != nullptr && leader->raft().term() != target_term && leader->propose(to_bytes("final")).ok()) {
        target = leader->raft().log().last_index();
        target_term = leader->raft().term();
      }
    }
    std::string nodes;
    for (NodeId id : cluster_.ids()) nodes += describe_node(cluster_.node(id));
    return "liveness: no entry committed on every member within " + std::to_string(kHealRoundsMax) +
           " fault-free rounds" + (target ? " (target index " + std::to_string(*target) + ")" : " (no leader)") +
           "\n" + nodes;
  }

  // The membership of the most recent conf change any node applied.
  ConfState newest_membership() {
    ConfState newest;
    for (NodeId id : cluster_.ids()) {
      const ClusterNode& node = cluster_.node(id);
      if (!node.raft) continue;
      const ConfState& conf = node.raft->raft().conf_state();
      if (!conf.voters.empty() && (newest.voters.empty() || conf.index > newest.index)) newest = conf;
    }
    return newest;
  }

  bool all_applied(Index index, const std::set<NodeId>& members) {
    for (NodeId id : members) {
      if (!cluster_.up(id) || cluster_.node(id).raft->status().applied < index) return false;
    }
    return true;
  }

  const Scenario& scenario_;
  Cluster cluster_;
  SafetyChecker checker_;
  uint64_t proposals_ = 0;
  uint64_t reads_ = 0;
  std::ostringstream trace_;
  bool traced_;
  std::optional<std::string> violation_;
};

int cases_from_environment() {
  const char* value = std::getenv("SLUICE_RAFT_CASES");
  if (value == nullptr) return kCasesDefault;
  const int cases = std::atoi(value);
  return cases > 0 ? cases : kCasesDefault;
}

TEST(RaftProperty, SafetyUnderRandomSchedulesAndLivenessAfterHealing) {
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = cases_from_environment();
  rc::detail::TestMetadata metadata;
  metadata.id = "RaftProperty/SafetyUnderRandomSchedulesAndLivenessAfterHealing";
  metadata.description = metadata.id;
  const auto property = [](void) {
    const Scenario scenario = *gen_scenario();
    if (ScheduleRun(scenario, /*traced=*/false).execute()) {
      ScheduleRun traced(scenario, /*traced=*/true);
      const std::optional<std::string> violation = traced.execute();
      const std::string failure = violation.value_or("(not reproduced with tracing: nondeterminism)") +
                                  "\ntrace of the run:\n" + traced.trace();
      RC_FAIL(failure);
    }
  };
  const rc::detail::TestResult result = rc::detail::checkTestable(property, metadata, params);
  std::ostringstream report;
  rc::detail::printResultMessage(result, report);
  std::cout << "runs=" << coverage.runs << " ops=" << coverage.ops << " elections_won=" << coverage.elections_won
            << " committed_before_heal=" << coverage.entries_committed << " crashes=" << coverage.crashes
            << " append_rejections=" << coverage.rejections << " log_start_jumps=" << coverage.jumps_applied
            << " transfers=" << coverage.transfers << " reads_served=" << coverage.reads_served
            << " conf_changes=" << coverage.conf_changes << "\n";
  EXPECT_TRUE(result.template is<rc::detail::SuccessResult>()) << report.str();
}

}  // namespace
}  // namespace sluice::raft::testing
