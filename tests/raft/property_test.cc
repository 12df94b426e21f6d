// Safety under random schedules: random clusters of 3-5 nodes run random interleavings of
// ticks, proposals, deliveries (in and out of order), drops, duplicates, crashes that lose
// everything not yet persisted (also in the middle of handling a Ready, right after a vote or an
// append), restarts, retention, leader transfers, reads and membership changes, biased toward the
// hard cases: leader changes while entries are partially replicated. After every step the
// SafetyChecker must find nothing. After the schedule the faults heal and the cluster must elect
// a leader and commit a new entry on every node (liveness).
//
// A case is a seed: the seed seeds RapidCheck's generator and picks the schedule's size
// (seed % 101, up to 1,600 ops), so a seed is the same case on every machine. The default run
// takes the seeds of tests/raft/property_seeds.txt (a fixed set that only grows: a seed that ever
// found a bug is appended). A failing seed is shrunk to a minimal schedule, printed with the
// violation and a trace of the run. Environment:
//   SLUICE_RAFT_SEEDS=17 | 1..500 | random:N   other seeds (random ones are printed)
//   SLUICE_RAFT_PLANT=<planted bug>            run them with a bug planted (node/base/planted_bug.h)
//   SLUICE_RAFT_SHRINK=0                       report failing seeds without shrinking
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <fstream>
#include <ostream>
#include <random>
#include <sstream>

#include "node/base/coverage.h"
#include "tests/raft/cluster.h"
#include "tests/raft/safety_checker.h"

namespace sluice::raft::testing {
namespace {

constexpr int kHealRoundsMax = 200;
// Schedules grow with RapidCheck's size (0..100): up to 1,600 ops.
constexpr int kSizeMax = 100;
constexpr double kOpsPerSize = 16.0;
// Runs spent shrinking one failing seed.
constexpr int kShrinkRunsMax = 20000;

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
  crash_in_ready,     // power loss between a Ready's persistence and its messages
  vote_then_crash,    // a vote request is delivered, its recipient crashes within the Ready
  append_then_crash,  // likewise for an append
  replicate_partial,  // the leader proposes and its appends reach only some followers
  churn,              // the leader crashes, a node (restarted if down) campaigns
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
    case OpKind::crash_in_ready: return "crash-in-ready";
    case OpKind::vote_then_crash: return "vote-then-crash";
    case OpKind::append_then_crash: return "append-then-crash";
    case OpKind::replicate_partial: return "replicate-partial";
    case OpKind::churn: return "churn";
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
  bool churn = false;  // a leader-churn schedule (gen_kind)
  std::vector<Op> ops;
};

std::ostream& operator<<(std::ostream& os, const Scenario& s) {
  os << "nodes=" << s.nodes << " spares=" << s.spares << " pre_vote=" << s.pre_vote << " check_quorum=" << s.check_quorum
     << " inflight_msgs_max=" << s.inflight_msgs_max << " append_bytes_max=" << s.append_bytes_max
     << " churn=" << s.churn << "\nops:";
  for (size_t i = 0; i < s.ops.size(); ++i) os << (i % 8 == 0 ? "\n  " : " ") << s.ops[i];
  return os;
}

// Two kinds of schedules. Most mix every op. One in four is a leader-churn schedule: leaders
// come and go while their entries reach only some followers, each exchange a few round trips
// long, so a new leader often holds entries an earlier leader replicated partly (the setting of
// the Raft paper's Figure 8).
rc::Gen<OpKind> gen_kind(bool churn) {
  if (churn) {
    return rc::gen::weightedElement<OpKind>({{8, OpKind::replicate_partial}, {6, OpKind::churn}, {3, OpKind::tick_all},
                                             {2, OpKind::round}, {2, OpKind::deliver_first}, {2, OpKind::process_all},
                                             {2, OpKind::propose}, {2, OpKind::restart}, {2, OpKind::crash_in_ready},
                                             {1, OpKind::vote_then_crash}, {1, OpKind::append_then_crash}});
  }
  return rc::gen::weightedElement<OpKind>({{10, OpKind::tick_all}, {3, OpKind::tick}, {15, OpKind::deliver_first},
                                           {8, OpKind::deliver_any}, {3, OpKind::drop}, {2, OpKind::duplicate},
                                           {10, OpKind::process_all}, {4, OpKind::process}, {12, OpKind::round},
                                           {10, OpKind::propose}, {1, OpKind::crash}, {3, OpKind::restart},
                                           {2, OpKind::trim}, {1, OpKind::transfer}, {3, OpKind::read},
                                           {1, OpKind::campaign}, {1, OpKind::isolate}, {1, OpKind::reconnect},
                                           {2, OpKind::conf_change}, {1, OpKind::crash_in_ready},
                                           {1, OpKind::vote_then_crash}, {1, OpKind::append_then_crash},
                                           {1, OpKind::replicate_partial}});
}

rc::Gen<Op> gen_op(bool churn) {
  return rc::gen::apply([](OpKind kind, uint32_t node, uint32_t pick) { return Op{kind, node, pick}; }, gen_kind(churn),
                        rc::gen::inRange<uint32_t>(0, 5), rc::gen::inRange<uint32_t>(0, 64));
}

rc::Gen<Scenario> gen_scenario() {
  return rc::gen::mapcat(rc::gen::weightedElement<bool>({{2, false}, {1, true}}), [](bool churn) {
    return rc::gen::apply(
        [churn](uint32_t nodes, uint32_t spares, bool pre_vote, bool check_quorum, uint32_t inflight,
                uint64_t append_bytes, std::vector<Op> ops) {
          return Scenario{nodes, spares, pre_vote, check_quorum, inflight, append_bytes, churn, std::move(ops)};
        },
        rc::gen::inRange<uint32_t>(3, 6), rc::gen::inRange<uint32_t>(0, 3), rc::gen::arbitrary<bool>(),
        rc::gen::arbitrary<bool>(), rc::gen::inRange<uint32_t>(1, 5),
        // Half the clusters send one entry per append: followers trail entry by entry, so leader
        // changes find entries replicated to some of them only.
        rc::gen::weightedOneOf<uint64_t>({{1, rc::gen::just<uint64_t>(1)}, {1, rc::gen::inRange<uint64_t>(1, 33)}}),
        rc::gen::scale(kOpsPerSize, rc::gen::container<std::vector<Op>>(gen_op(churn))));
  });
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
  uint64_t crashes_in_ready = 0;
};
Coverage coverage;

// How a schedule runs: a planted bug (in the cores' config, or in the cluster's handling of
// Readys), and whether the checker judges every message against its sender's durable state.
struct RunOptions {
  PlantedBug bug = PlantedBug::none;
  bool check_messages = true;
  // Every node runs with RaftConfig::quiesce, and a stand-in for SWIM wakes every node's quiet
  // core whenever a node crashes or is cut off (it would suspect that node) and at the heal.
  bool quiesce = false;
  // A leader's appends and heartbeats leave before its Ready is durable (as the host sends them).
  bool leader_early = false;
  // Followers learn a new commit index from the next append or heartbeat (RaftConfig::lazy_commit).
  bool lazy_commit = false;
};

// Runs a scenario and records what happened, so a failure can show the run that led to it.
class ScheduleRun {
 public:
  // With `traced`, the run records what each op did (only worth it for a run known to fail:
  // runs are deterministic, so a failing schedule is simply run again with tracing).
  ScheduleRun(const Scenario& scenario, const RunOptions& options, bool traced)
      : scenario_(scenario), cluster_(/*seed=*/7), checker_(SafetyChecker::Options{options.check_messages}), traced_(traced),
        quiesce_(options.quiesce) {
    if (options.bug == PlantedBug::raft_send_before_persist || options.bug == PlantedBug::raft_skip_sync) {
      cluster_.plant(options.bug);
    }
    cluster_.leader_sends_before_sync(options.leader_early);
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
      config.quiesce = options.quiesce;
      config.lazy_commit = options.lazy_commit;
      if (options.bug == PlantedBug::raft_commit_previous_term || options.bug == PlantedBug::raft_ignore_wake ||
          options.bug == PlantedBug::raft_early_send_unsynced_term) {
        config.planted_bug = options.bug;
      }
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
    coverage.entries_committed += checker_.committed_max(cluster_.node(1));
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
  // False once violated: multi-step ops stop there, before a core acts on the broken state (a
  // core asserts what it is told is consistent).
  bool checkpoint() {
    if (!violation_) violation_ = checker_.check(cluster_);
    return !violation_;
  }

  NodeId pick_node(uint32_t n) const { return 1 + n % (scenario_.nodes + scenario_.spares); }

  void apply(const Op& op) {
    const NodeId id = pick_node(op.node);
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
      case OpKind::process_all:
        for (NodeId each : cluster_.ids()) {
          process(each);
          if (!checkpoint()) return;
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
      case OpKind::conf_change:
        conf_change(op.pick);
        break;
      default:
        apply_network_or_hard_case(op, id);
        break;
    }
    if (op.kind == OpKind::crash || op.kind == OpKind::isolate || op.kind == OpKind::crash_in_ready ||
        op.kind == OpKind::vote_then_crash || op.kind == OpKind::append_then_crash || op.kind == OpKind::churn) {
      suspected();
    }
    note([](std::ostream& os) { os << "\n"; });
  }

  // What the node's SWIM does when it suspects a member (RaftHost::wake_groups_with): every
  // quiet core of the group ticks again. Generous (every node hears of every suspicion at once),
  // which is what a failure detector converges to.
  void suspected() {
    if (!quiesce_) return;
    for (NodeId each : cluster_.ids()) {
      if (cluster_.up(each)) cluster_.node(each).raft->wake();
    }
  }

  void apply_network_or_hard_case(const Op& op, NodeId id) {
    std::deque<Message>& network = cluster_.network();
    switch (op.kind) {
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
      case OpKind::crash_in_ready:
        crash_in_ready(id);
        break;
      case OpKind::vote_then_crash:
        deliver_then_crash(MessageType::vote_request, op.pick);
        break;
      case OpKind::append_then_crash:
        deliver_then_crash(MessageType::append, op.pick);
        break;
      case OpKind::replicate_partial:
        replicate_partial(op.node, op.pick);
        break;
      case OpKind::churn:
        churn(id);
        break;
      default:
        SLUICE_ASSERT(false && "op kind not handled");
    }
  }

  // Checks after every step: the checker must see each commit under the membership it was
  // decided with, before a later Ready applies the next one.
  void round() {
    for (NodeId each : cluster_.ids()) {
      process(each);
      if (!checkpoint()) return;
    }
    while (!cluster_.network().empty()) {
      cluster_.deliver(0);
      if (!checkpoint()) return;
    }
    for (NodeId each : cluster_.ids()) {
      process(each);
      if (!checkpoint()) return;
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

  void crash_in_ready(NodeId id) {
    if (!cluster_.crash_during_ready(id)) return;
    ++coverage.crashes;
    ++coverage.crashes_in_ready;
    note([&](std::ostream& os) { os << " " << id << " crashed within its Ready"; });
  }

  // The recipient of an in-flight message of `type` takes it and crashes while handling the Ready
  // that answers it: right after casting a vote or persisting an append.
  void deliver_then_crash(MessageType type, uint32_t pick) {
    std::vector<size_t> found;
    const std::deque<Message>& network = cluster_.network();
    for (size_t i = 0; i < network.size(); ++i) {
      if (network[i].type == type) found.push_back(i);
    }
    if (found.empty()) return;
    const size_t at = found[pick % found.size()];
    const NodeId to = network[at].to;
    note([&](std::ostream& os) { os << " " << to_string(network[at]); });
    if (cluster_.deliver(at)) {
      if (!checkpoint()) return;
      crash_in_ready(to);
    }
  }

  // The newest leader proposes, then talks for 1-4 round trips (`trips`) with the followers
  // `pick` selects (one bit per node id) only.
  void replicate_partial(uint32_t trips, uint32_t pick) {
    RawNode* leader = newest_leader();
    if (leader == nullptr) return;
    const NodeId id = leader->raft().id();
    propose(id, /*pick=*/1);
    std::set<NodeId> peers;
    for (NodeId each : cluster_.ids()) {
      if (each != id && ((pick >> each) & 1) != 0) peers.insert(each);
    }
    note([&](std::ostream& os) {
      os << " " << id << " talks to {";
      for (NodeId each : peers) os << " " << each;
      os << " }";
    });
    exchange(id, peers, 1 + trips % 4, [] { return false; });
  }

  // Leadership moves: the newest leader crashes and `id` (restarted if down) campaigns, talking
  // with everyone until it wins or three round trips passed. Its first entry as leader stays
  // with it until another op lets it out.
  void churn(NodeId id) {
    if (RawNode* leader = newest_leader()) {
      const NodeId old = leader->raft().id();
      cluster_.crash(old);
      ++coverage.crashes;
      note([&](std::ostream& os) { os << " " << old << " crashed"; });
      if (!checkpoint()) return;
    }
    if (!cluster_.up(id)) restart(id);
    if (!checkpoint() || !cluster_.node(id).raft->campaign().ok()) return;
    note([&](std::ostream& os) { os << " " << id << " campaigns"; });
    std::set<NodeId> peers;
    for (NodeId each : cluster_.ids()) {
      if (each != id) peers.insert(each);
    }
    exchange(id, peers, 3, [&] { return cluster_.up(id) && cluster_.node(id).raft->raft().role() == Role::leader; });
  }

  // `id` talks with `peers` alone for up to `trips` round trips, or until `done()`: it handles its
  // Ready, its messages reach the peers (those to anyone else are lost), they handle theirs, and
  // their answers to it arrive.
  template <typename Done>
  void exchange(NodeId id, const std::set<NodeId>& peers, uint32_t trips, Done&& done) {
    for (uint32_t trip = 0; trip < trips && cluster_.up(id) && !done(); ++trip) {
      std::set<NodeId> reached;
      for (const Message& m : handle_and_take(id)) {
        if (peers.count(m.to) == 0) continue;
        cluster_.network().push_back(m);
        if (cluster_.deliver(cluster_.network().size() - 1)) reached.insert(m.to);
        if (!checkpoint()) return;
      }
      for (NodeId peer : reached) {
        for (const Message& m : handle_and_take(peer)) {
          cluster_.network().push_back(m);
          if (m.to == id) cluster_.deliver(cluster_.network().size() - 1);
          if (!checkpoint()) return;
        }
      }
    }
  }

  // Handles one Ready of `id` and takes the messages it sent off the network.
  std::vector<Message> handle_and_take(NodeId id) {
    std::deque<Message>& network = cluster_.network();
    const size_t before = network.size();
    process(id);
    if (!checkpoint()) return {};
    std::vector<Message> sent(network.begin() + static_cast<std::ptrdiff_t>(before), network.end());
    network.erase(network.begin() + static_cast<std::ptrdiff_t>(before), network.end());
    return sent;
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
    checker_.read_requested(cluster_.node(id), context);
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
    suspected();  // the faults were noticed
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
  bool quiesce_;
  std::optional<std::string> violation_;
};

// The seeds of a list such as "17", "1..500" or "random:N" (N random ones), one per line in the
// seeds file, where '#' starts a comment.
std::vector<uint64_t> parse_seeds(const std::string& text) {
  std::vector<uint64_t> seeds;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      if (word.rfind("random:", 0) == 0) {
        std::random_device device;  // the test's own choice, printed with every failure
        const uint64_t count = std::stoull(word.substr(7));
        for (uint64_t i = 0; i < count; ++i) seeds.push_back((uint64_t{device()} << 32) | device());
        continue;
      }
      const size_t dots = word.find("..");
      const uint64_t lo = std::stoull(word.substr(0, dots));
      const uint64_t hi = dots == std::string::npos ? lo : std::stoull(word.substr(dots + 2));
      for (uint64_t seed = lo; seed <= hi; ++seed) seeds.push_back(seed);
    }
  }
  return seeds;
}

std::vector<uint64_t> seeds_to_run() {
  if (const char* value = std::getenv("SLUICE_RAFT_SEEDS")) return parse_seeds(value);
  std::ifstream file(SLUICE_RAFT_PROPERTY_SEEDS);
  std::stringstream text;
  text << file.rdbuf();
  return parse_seeds(text.str());
}

RunOptions options_from_environment() {
  RunOptions options;
  if (const char* value = std::getenv("SLUICE_RAFT_PLANT")) {
    const std::optional<PlantedBug> bug = parse_planted_bug(value);
    SLUICE_ASSERT(bug.has_value() && "SLUICE_RAFT_PLANT names no planted bug");
    options.bug = *bug;
  }
  if (const char* value = std::getenv("SLUICE_RAFT_QUIESCE")) options.quiesce = std::string(value) == "1";
  if (const char* value = std::getenv("SLUICE_RAFT_EARLY")) options.leader_early = std::string(value) == "1";
  if (const char* value = std::getenv("SLUICE_RAFT_LAZY")) options.lazy_commit = std::string(value) == "1";
  return options;
}

std::optional<std::string> run(const Scenario& scenario, const RunOptions& options) {
  return ScheduleRun(scenario, options, /*traced=*/false).execute();
}

rc::Shrinkable<Scenario> scenario_of(uint64_t seed) {
  return gen_scenario()(rc::Random(seed), static_cast<int>(seed % (kSizeMax + 1)));
}

// The seed's violation (shrunk unless told not to, with the minimal schedule and a trace of its
// run), or nullopt.
std::optional<std::string> check_seed(uint64_t seed, const RunOptions& options, bool shrink) {
  rc::Shrinkable<Scenario> failing = scenario_of(seed);
  std::optional<std::string> violation = run(failing.value(), options);
  if (!violation) return std::nullopt;
  const std::string replay = "SLUICE_RAFT_SEEDS=" + std::to_string(seed) +
                             (options.bug == PlantedBug::none ? "" : " SLUICE_RAFT_PLANT=" + std::string(to_string(options.bug))) +
                             (options.quiesce ? " SLUICE_RAFT_QUIESCE=1" : "") +
                             (options.leader_early ? " SLUICE_RAFT_EARLY=1" : "") +
                             (options.lazy_commit ? " SLUICE_RAFT_LAZY=1" : "") +
                             " build/bin/raft_property_test --gtest_filter=RaftProperty.DefaultSeeds";
  if (!shrink) return "seed " + std::to_string(seed) + ": " + *violation + "\nreplay: " + replay;
  // Greedy: take the first smaller schedule that still fails, until none does.
  int runs = 0;
  for (bool smaller = true; smaller && runs < kShrinkRunsMax;) {
    smaller = false;
    rc::Seq<rc::Shrinkable<Scenario>> shrinks = failing.shrinks();
    while (rc::Maybe<rc::Shrinkable<Scenario>> next = shrinks.next()) {
      if (++runs > kShrinkRunsMax) break;
      if (run(next->value(), options)) {
        failing = std::move(*next);
        smaller = true;
        break;
      }
    }
  }
  const Scenario minimal = failing.value();  // value() makes a new one each time: ScheduleRun keeps a reference
  ScheduleRun traced(minimal, options, /*traced=*/true);
  const std::optional<std::string> shrunk = traced.execute();
  std::ostringstream out;
  out << "seed " << seed << ": " << shrunk.value_or("(not reproduced with tracing: nondeterminism)") << "\nreplay: " << replay
      << "\nshrunk in " << runs << " runs to:\n" << minimal << "\ntrace of the run:\n" << traced.trace();
  return out.str();
}

// The violation of each of `seeds` that fails under `options` (shrunk when `shrink`), each
// one's first line printed as it is found.
std::vector<std::string> failures_over(const std::vector<uint64_t>& seeds, const RunOptions& options, bool shrink) {
  std::vector<std::string> failures;
  for (uint64_t seed : seeds) {
    if (std::optional<std::string> failure = check_seed(seed, options, shrink)) {
      failures.push_back(*failure);
      std::cout << failures.back().substr(0, failures.back().find('\n')) << "\n";
    }
  }
  return failures;
}

TEST(RaftProperty, DefaultSeeds) {
  const std::vector<uint64_t> seeds = seeds_to_run();
  const RunOptions options = options_from_environment();
  const char* shrink = std::getenv("SLUICE_RAFT_SHRINK");
  const std::vector<std::string> failures = failures_over(seeds, options, shrink == nullptr || std::string(shrink) != "0");
  std::cout << "seeds=" << seeds.size() << " failed=" << failures.size() << " runs=" << coverage.runs << " ops=" << coverage.ops
            << " elections_won=" << coverage.elections_won << " committed_before_heal=" << coverage.entries_committed
            << " crashes=" << coverage.crashes << " crashes_in_ready=" << coverage.crashes_in_ready
            << " append_rejections=" << coverage.rejections << " log_start_jumps=" << coverage.jumps_applied
            << " transfers=" << coverage.transfers << " reads_served=" << coverage.reads_served
            << " conf_changes=" << coverage.conf_changes << "\n";
  ASSERT_FALSE(seeds.empty()) << "no seeds in " << SLUICE_RAFT_PROPERTY_SEEDS;
  EXPECT_TRUE(failures.empty()) << failures.front();
}

// The same schedules with quiet idle groups (docs/raft.md, "Quiescence"): every safety check, and
// after the heal every member must still commit a new entry, woken only by proposals, messages
// and the failure detector's suspicions.
TEST(RaftProperty, DefaultSeedsWithQuiescence) {
  RunOptions options = options_from_environment();
  options.quiesce = true;
  const uint64_t quiesced_before = coverage::hits("raft.quiesced");
  const uint64_t woken_before = coverage::hits("raft.woken");
  const uint64_t followers_before = coverage::hits("raft.follower_quiesced");
  const std::vector<std::string> failures = failures_over(seeds_to_run(), options, /*shrink=*/true);
  const uint64_t quiesced = coverage::hits("raft.quiesced") - quiesced_before;
  const uint64_t woken = coverage::hits("raft.woken") - woken_before;
  const uint64_t followers = coverage::hits("raft.follower_quiesced") - followers_before;
  std::cout << "quiesce: failed=" << failures.size() << " leaders_quiesced=" << quiesced << " followers_quiesced=" << followers
            << " woken=" << woken << "\n";
  EXPECT_TRUE(failures.empty()) << failures.front();
  // The schedules must reach quiet groups often, or this test proves nothing about them.
  EXPECT_GT(quiesced, 100u);
  EXPECT_GT(followers, 100u);
  EXPECT_GT(woken, 100u);
}

// The same schedules with the leader's appends and heartbeats sent before its Ready is durable,
// as the multi-Raft host sends them (RawNode::take_messages_before_sync), and a crash within a
// leader's Ready losing its writes after they left.
TEST(RaftProperty, DefaultSeedsWithLeaderSendsBeforeSync) {
  RunOptions options = options_from_environment();
  options.leader_early = true;
  const uint64_t crashes_before = coverage.crashes_in_ready;
  const std::vector<std::string> failures = failures_over(seeds_to_run(), options, /*shrink=*/true);
  std::cout << "leader sends before sync: failed=" << failures.size()
            << " crashes_in_ready=" << coverage.crashes_in_ready - crashes_before << "\n";
  EXPECT_TRUE(failures.empty()) << failures.front();
}

// The same schedules with the settings the multi-Raft host gives every group: quiet idle groups,
// the leader's early sends, and lazy commit (followers learn a commit from the next append or
// heartbeat, so they apply later and a quiet group's last heartbeat is what tells them).
TEST(RaftProperty, DefaultSeedsWithTheHostsSettings) {
  RunOptions options = options_from_environment();
  options.quiesce = true;
  options.leader_early = true;
  options.lazy_commit = true;
  const std::vector<std::string> failures = failures_over(seeds_to_run(), options, /*shrink=*/true);
  std::cout << "host settings: failed=" << failures.size() << "\n";
  EXPECT_TRUE(failures.empty()) << failures.front();
}

// The default seeds, with `options`, until one fails: its violation (unshrunk), or nullopt.
std::optional<std::string> first_violation(const RunOptions& options) {
  size_t cases = 0;
  for (uint64_t seed : seeds_to_run()) {
    ++cases;
    if (std::optional<std::string> violation = run(scenario_of(seed).value(), options)) {
      std::cout << to_string(options.bug) << (options.check_messages ? "" : " (messages unchecked)") << ": found by seed "
                << seed << ", case " << cases << ": " << *violation << "\n";
      return violation;
    }
  }
  return std::nullopt;
}

bool names_one_of(const std::optional<std::string>& violation, std::initializer_list<const char*> checks) {
  if (!violation) return false;
  for (const char* check : checks) {
    if (violation->rfind(check, 0) == 0) return true;
  }
  return false;
}

// Figure 8 of the Raft paper: a leader that commits an entry of an earlier term by counting its
// replicas lets a later leader without that entry overwrite it.
TEST(RaftProperty, DefaultSeedsFindTheFigure8Bug) {
  const std::optional<std::string> violation = first_violation({PlantedBug::raft_commit_previous_term, true});
  EXPECT_TRUE(names_one_of(violation, {"leader completeness", "state machine safety"})) << violation.value_or("none found");
}

// A vote, a term or an acknowledgement leaves before it is durable.
TEST(RaftProperty, DefaultSeedsFindMessagesSentBeforePersisting) {
  const std::optional<std::string> violation = first_violation({PlantedBug::raft_send_before_persist, true});
  EXPECT_TRUE(names_one_of(violation, {"durability"})) << violation.value_or("none found");
}

// A leader that won its term alone within one Ready sends its appends before that term is
// durable; a crash takes the term back and the node may lead it a second time.
TEST(RaftProperty, DefaultSeedsFindEarlySendsInAnUnsyncedTerm) {
  RunOptions options{PlantedBug::raft_early_send_unsynced_term, true};
  options.leader_early = true;
  const std::optional<std::string> violation = first_violation(options);
  EXPECT_TRUE(names_one_of(violation, {"durability", "log matching", "election safety"})) << violation.value_or("none found");
}

// Writes reported durable are lost by a crash: the restart finds less than was promised.
TEST(RaftProperty, DefaultSeedsFindSkippedSyncs) {
  const std::optional<std::string> violation = first_violation({PlantedBug::raft_skip_sync, true});
  EXPECT_TRUE(names_one_of(violation, {"durability", "election safety"})) << violation.value_or("none found");
}

// Quiet followers of a dead leader wait for the failure detector: the leader of an idle group
// dies for good, the survivors are woken (SWIM suspected it) and elect one of them. With the
// planted bug (wake() ignored) they stay quiet and leaderless however long they tick.
std::optional<NodeId> leader_after_quiet_leader_dies(PlantedBug bug) {
  Cluster cluster(/*seed=*/3);
  ConfState voters;
  voters.voters = {1, 2, 3};
  for (NodeId id = 1; id <= 3; ++id) {
    RaftConfig config;
    config.id = id;
    config.election_timeout_ticks = 5;
    config.quiesce = true;
    config.planted_bug = bug;
    SLUICE_ASSERT(cluster.add_node(config, voters).ok());
  }
  const auto settle = [&cluster] {
    for (int i = 0; i < 100; ++i) {
      for (NodeId id : cluster.ids()) (void)cluster.process_ready(id);
      while (!cluster.network().empty()) cluster.deliver(0);
    }
  };
  SLUICE_ASSERT(cluster.node(1).raft->campaign().ok());
  settle();
  for (int tick = 0; tick < 3; ++tick) {
    for (NodeId id : cluster.ids()) cluster.node(id).raft->tick();
    settle();
  }
  for (NodeId id : cluster.ids()) SLUICE_ASSERT(cluster.node(id).raft->raft().quiesced());
  cluster.crash(1);
  for (NodeId id : {2, 3}) cluster.node(id).raft->wake();
  for (int tick = 0; tick < 100; ++tick) {
    for (NodeId id : {2, 3}) cluster.node(id).raft->tick();
    settle();
  }
  for (NodeId id : {2, 3}) {
    if (cluster.node(id).raft->raft().role() == Role::leader) return id;
  }
  return std::nullopt;
}

TEST(RaftQuiescence, WokenFollowersOfADeadQuietLeaderElectAnother) {
  EXPECT_TRUE(leader_after_quiet_leader_dies(PlantedBug::none).has_value());
  EXPECT_FALSE(leader_after_quiet_leader_dies(PlantedBug::raft_ignore_wake).has_value()) << "the planted bug went unnoticed";
}

}  // namespace
}  // namespace sluice::raft::testing
