// The Raft state machine of one group member: roles, terms, votes, the log and (on the leader)
// the progress of every follower. Pure: it reacts to tick(), step() and local requests by
// changing state and queueing messages; RawNode (raw_node.h) packages that into Ready batches.
// The implementation is split by concern: raft.cc (roles, term rules, dispatch),
// raft_election.cc, raft_replication.cc, raft_membership.cc, raft_read.cc.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/base/random.h"
#include "node/raft/config.h"
#include "node/raft/membership.h"
#include "node/raft/message.h"
#include "node/raft/progress.h"
#include "node/raft/raft_log.h"
#include "node/raft/read_index.h"
#include "node/raft/ready.h"
#include "node/raft/storage.h"
#include "node/raft/types.h"

namespace sluice::raft {

class Raft {
 public:
  // Restores term, vote, commit and membership from storage.initial_state(); applied starts
  // after the last conf change the membership reflects (or at the log base), so committed
  // entries after it are handed out again.
  static Result<std::unique_ptr<Raft>> create(const RaftConfig& config, RaftLogStorage& storage, Prng prng);

  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  void tick();
  void step(const Message& message);
  // Quiescence (RaftConfig::quiesce): a quiet member does nothing on a tick. wake() makes it tick
  // again with fresh timers, as if it had just heard from its leader (a no-op when not quiet).
  bool quiesced() const { return quiesced_; }
  void wake();
  Status propose(EntryType type, Bytes data);
  Status propose_conf_change(const ConfChange& change);
  Status campaign();
  Status transfer_leadership(NodeId target);
  Status read_index(uint64_t context);

  // RawNode hands committed entries out in order and reports each here first: conf changes
  // take effect at that moment.
  void apply_committed_entry(const Entry& entry);
  // Entries left the uncommitted tail (they were handed out as committed).
  void release_uncommitted(const std::vector<Entry>& entries);
  // After advance(): a deferred transfer campaign starts; the leader acknowledges its own
  // entries now durable and leaves an auto-leave joint configuration once it is applied.
  void after_advance();

  std::vector<Message> take_messages() { return std::exchange(messages_, {}); }
  std::vector<ReadState> take_read_states() { return std::exchange(read_states_, {}); }
  std::vector<RaftEvent> take_events() { return std::exchange(events_, {}); }
  // Why vote requests were not granted since the last call (ready.h); not part of has_output().
  std::vector<VoteNote> take_vote_notes();
  bool has_output() const { return !messages_.empty() || !read_states_.empty() || !events_.empty(); }

  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  Term term() const { return term_; }
  NodeId vote() const { return vote_; }
  NodeId leader() const { return lead_; }
  HardState hard_state() const { return HardState{term_, vote_, log_.committed(), vote_withheld_}; }
  bool vote_withheld() const { return vote_withheld_; }
  SoftState soft_state() const { return SoftState{lead_, role_}; }
  const ConfState& conf_state() const { return conf_; }
  // True while a membership change this leader proposed is not applied (no other may be proposed).
  bool conf_change_pending() const { return pending_conf_index_ > log_.applied(); }
  const std::map<NodeId, Progress>& progress() const { return progress_; }
  NodeId lead_transferee() const { return lead_transferee_; }
  uint64_t uncommitted_bytes() const { return uncommitted_bytes_; }
  size_t reads_pending() const { return reads_.size(); }
  uint64_t events_dropped() const { return events_dropped_; }
  const RaftConfig& config() const { return config_; }

  // Pre-vote stickiness: the would-be candidate this node granted a pre-vote to (itself while it
  // pre-campaigns), with its last log position, for pre_vote_window_ticks(). Within the window a
  // competing pre-vote is refused unless its log is strictly more up to date, so at most one of
  // several concurrent pre-candidates collects a quorum and the real vote does not split.
  struct PreVoteBacking {
    NodeId candidate = kNoNode;
    Index last_index = 0;
    Term last_term = 0;
    uint32_t ticks_left = 0;
  };

  // What the node holds back and its timers, for tests and debugging (docs/raft.md, "Notes and
  // held state"); reading them changes nothing.
  const std::optional<PreVoteBacking>& pre_vote_backing() const { return pre_vote_backing_; }
  std::vector<NodeId> deferred_pre_votes() const;
  // "pre-vote", "election" or "transfer" while a campaign waits for a committed conf change to
  // be applied.
  std::optional<std::string_view> campaign_waiting_for_apply() const;
  bool campaign_contested() const { return campaign_contested_; }
  uint32_t election_elapsed_ticks() const { return election_elapsed_ticks_; }
  uint32_t election_timeout_randomized_ticks() const { return election_timeout_randomized_ticks_; }
  uint32_t heartbeat_elapsed_ticks() const { return heartbeat_elapsed_ticks_; }
  // Tests: pin the otherwise random election timeout (until the next reset draws a new one).
  void set_randomized_election_timeout(uint32_t ticks);
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }

 private:
  enum class CampaignKind : uint8_t { pre_vote, election, transfer };

  Raft(const RaftConfig& config, RaftLogStorage& storage, Prng prng);

  // raft.cc: roles, term rules, dispatch.
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void randomize_election_timeout();
  void reset_progress();
  bool handle_message_term(const Message& m);
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);
  void heard_from_leader(NodeId leader);
  Message reply(MessageType type, const Message& to) const;
  void stamp_commit(Message& m) const;
  void learn_commit(const Message& m);
  void send(Message m);
  void emit(EventKind kind, std::string detail);
  void note_vote(const Message& m, VoteOutcome outcome, VoteRefusal reason, NodeId other = kNoNode);
  void note_vote_refusal(const Message& m, bool free_to_vote, bool can_vote);
  bool promotable() const;
  void withhold_vote_after_loss();
  void maybe_restore_vote();

  // raft_election.cc
  void tick_election();
  void tick_heartbeat();
  void hup(CampaignKind kind);
  void start_campaign(CampaignKind kind);
  void send_vote_request(NodeId to, MessageType type, Term term, bool transfer);
  void answer_deferred_pre_votes();
  bool in_lease() const;
  void handle_vote_request(const Message& m);
  void handle_vote_response(const Message& m);
  bool has_unapplied_conf_change() const;
  bool pre_vote_allowed_by_backing(const Message& m) const;
  uint64_t pre_vote_rank(NodeId id) const;
  void back_pre_vote(NodeId candidate, Index last_index, Term last_term);
  bool backs_other_candidate() const;
  void note_competing_request(const Message& m);
  void back_off_split_campaign();
  uint32_t pre_vote_window_ticks() const;
  bool quorum_active() const;
  bool ready_to_quiesce() const;
  void quiesce();
  bool keeps_quiet(const Message& m) const;
  void poke_voters();
  void wake_by(const Message& m);
  void poke(NodeId to);
  void abort_leader_transfer(const std::string& why);
  void send_timeout_now(NodeId to);

  // raft_replication.cc
  Status append_entries(std::vector<Entry> entries);
  bool maybe_send_append(NodeId to, bool send_if_empty);
  bool send_log_start_jump(NodeId to, Progress& progress);
  void broadcast_append();
  void send_heartbeat(NodeId to, uint64_t context, bool quiesce = false);
  void broadcast_heartbeat(uint64_t context);
  bool maybe_commit();
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_log_start_jump(const Message& m);
  void handle_append_response(const Message& m, Progress& progress);
  void handle_heartbeat_response(const Message& m, Progress& progress);

  // raft_membership.cc
  void switch_to_conf(const ConfState& conf);
  void maybe_hand_over_leadership();
  void commit_superseded_conf_changes();

  // raft_read.cc
  void on_first_commit_of_term();
  void handle_read_ack(const Message& m);
  bool committed_in_current_term() const;

  RaftConfig config_;
  Prng prng_;
  RaftLog log_;
  Term term_ = 0;
  NodeId vote_ = kNoNode;
  NodeId lead_ = kNoNode;
  Role role_ = Role::follower;
  bool vote_withheld_ = false;  // HardState::vote_withheld
  ConfState conf_;
  std::map<NodeId, Progress> progress_;  // every node of conf_ (ordered: deterministic sends)
  std::map<NodeId, bool> votes_;

  uint32_t election_elapsed_ticks_ = 0;
  uint32_t heartbeat_elapsed_ticks_ = 0;
  uint32_t election_timeout_randomized_ticks_ = 0;
  bool quiesced_ = false;  // RaftConfig::quiesce: ticks do nothing until something wakes it

  std::optional<PreVoteBacking> pre_vote_backing_;
  // This campaign turned away a competing candidate's request. If it has not won within the
  // pre-vote window the vote is split: it retries after a short random backoff instead of a
  // whole election timeout.
  bool campaign_contested_ = false;
  // Pre-vote requests that arrived during the leader lease, the latest per sender (at most one
  // per member): answered when the lease ends without word from the leader.
  std::map<NodeId, Message> pre_votes_deferred_;

  NodeId lead_transferee_ = kNoNode;
  // A campaign (a TimeoutNow's, or one that had to be abandoned) waited for a committed conf
  // change to be applied: it starts right after applying (after_advance).
  std::optional<CampaignKind> campaign_after_apply_;
  // The leader proposes no conf change while one at or below this index is not applied.
  Index pending_conf_index_ = 0;
  uint64_t uncommitted_bytes_ = 0;
  ReadIndexQueue reads_;

  std::vector<Message> messages_;
  std::vector<ReadState> read_states_;
  std::vector<RaftEvent> events_;
  uint64_t events_dropped_ = 0;
  std::deque<VoteNote> vote_notes_;  // at most kVoteNotesMax, oldest dropped
};

}  // namespace sluice::raft
