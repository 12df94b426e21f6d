// The public face of the Raft core: what a driver calls. Pure and single-threaded: no clock
// (time is tick()), no I/O (storage is read through RaftLogStorage, written by the driver from
// Ready), randomness from the injected Prng.
//
//   auto node = RawNode::create(config, storage, Prng(seed));
//   loop: node->tick() every tick; node->step(msg) for every message; node->propose(bytes);
//         if (node->has_ready()) { Ready rd = node->ready(); persist; send; apply; node->advance(); }
//
// The contract for each Ready is in ready.h and docs/raft.md.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "node/base/random.h"
#include "node/raft/config.h"
#include "node/raft/membership.h"
#include "node/raft/message.h"
#include "node/raft/progress.h"
#include "node/raft/raft.h"
#include "node/raft/ready.h"
#include "node/raft/storage.h"
#include "node/raft/types.h"

namespace sluice::raft {

struct NodeStatus {
  NodeId id = kNoNode;
  Role role = Role::follower;
  Term term = 0;
  NodeId vote = kNoNode;
  NodeId leader = kNoNode;
  Index first_index = 0;
  Index last_index = 0;
  Index commit = 0;
  Index applied = 0;
  ConfState conf_state;
  std::map<NodeId, Progress> progress;  // the leader's view of every member; empty elsewhere
  NodeId lead_transferee = kNoNode;
  uint64_t uncommitted_bytes = 0;
  size_t reads_pending = 0;
};

class RawNode {
 public:
  static Result<std::unique_ptr<RawNode>> create(const RaftConfig& config, RaftLogStorage& storage, Prng prng);

  // One logical clock tick: drives election timeouts, heartbeats and check-quorum.
  void tick();
  // A message from another member. invalid_argument when it is not addressed to this node.
  Status step(const Message& message);
  // Leader only: appends `data` as a normal entry.
  Status propose(Bytes data);
  // Leader only; one change at a time (docs/raft.md, "Membership").
  Status propose_conf_change(const ConfChange& change);
  // Start an election now (pre-vote first when enabled).
  Status campaign();
  // Leader only: hand leadership to `target` (a voter); proposals wait until it finishes or
  // aborts after an election timeout.
  Status transfer_leadership(NodeId target);
  // Leader only: a linearizable read; the answer arrives as a ReadState with this context.
  Status read_index(uint64_t context);
  // Quiescence (RaftConfig::quiesce): the driver's failure detector suspects a member of this
  // group, so a quiet member must time things again (Raft::wake).
  void wake();

  bool has_ready() const;
  Ready ready();
  // Raft thesis §10.2.1: a leader may send its appends and heartbeats before its own Ready is
  // durable, so that its disk write overlaps its followers'. Takes those messages out of `ready`
  // (call between ready() and advance(); the rest still wait for the sync). Safe because the
  // leader counts its own copy of an entry only once advance() says it is durable. None while the
  // leader's term is not durable yet (a single voter wins an election within one Ready): a crash
  // would take the term back, and the node, elected in it again, would be a second leader of that
  // term whose entries differ from the first one's at the same indexes (docs/raft.md).
  std::vector<Message> take_messages_before_sync(Ready& ready) const;
  void advance();

  NodeStatus status() const;
  // Why vote requests were not granted since the last call (ready.h: VoteNote). Never part of a
  // Ready; a driver may read them for its log or ignore them (the oldest are dropped).
  std::vector<VoteNote> take_vote_notes() { return raft_->take_vote_notes(); }
  // Tests: pin the randomized election timeout (Raft::set_randomized_election_timeout).
  void set_randomized_election_timeout(uint32_t ticks) { raft_->set_randomized_election_timeout(ticks); }
  const Raft& raft() const { return *raft_; }

 private:
  struct InFlight {
    std::optional<LogStartJump> jump;
    std::optional<Entry> last_entry;  // without payload; index and term are what matter
    std::optional<Index> applied;
    std::optional<Term> term;  // of the Ready's hard state
  };

  RawNode(std::unique_ptr<Raft> raft, HardState hard, ConfState conf)
      : raft_(std::move(raft)),
        prev_hard_(hard),
        prev_conf_(std::move(conf)),
        prev_soft_(raft_->soft_state()),
        durable_term_(hard.term) {}
  void assert_no_ready_in_flight() const { SLUICE_ASSERT(!in_flight_ && "call advance() first"); }

  std::unique_ptr<Raft> raft_;
  HardState prev_hard_;
  ConfState prev_conf_;
  SoftState prev_soft_;
  Term durable_term_;  // the term of the last hard state the driver made durable
  std::optional<InFlight> in_flight_;
};

}  // namespace sluice::raft
