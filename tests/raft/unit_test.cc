// Unit tests of the Raft core's parts: config validation, quorum arithmetic, membership changes
// and their encoding, flow control, storage, the log, and RawNode's contract. Behaviour of the
// protocol (hand-made messages, preset logs, restarts) is in the transcripts (testdata/).
#include <gtest/gtest.h>

#include <limits>

#include "node/raft/config.h"
#include "node/raft/memory_storage.h"
#include "node/raft/membership.h"
#include "node/raft/progress.h"
#include "node/raft/quorum.h"
#include "node/raft/raft_log.h"
#include "node/raft/raw_node.h"

namespace sluice::raft {
namespace {

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

RaftConfig config_for(NodeId id) {
  RaftConfig config;
  config.id = id;
  return config;
}

Entry entry(Index index, Term term, std::string_view data = "") {
  Entry e;
  e.index = index;
  e.term = term;
  e.data = SharedBytes(as_bytes(data));
  return e;
}

std::vector<Entry> entries_with_terms(Index first, std::initializer_list<Term> terms) {
  std::vector<Entry> out;
  for (Term term : terms) out.push_back(entry(first++, term));
  return out;
}

// --- config ---

TEST(RaftConfig, DefaultsWithAnIdAreValid) { EXPECT_TRUE(validate(config_for(1)).ok()); }

TEST(RaftConfig, RejectsEachBadField) {
  const auto rejects = [](auto mutate) {
    RaftConfig config = config_for(1);
    mutate(config);
    return validate(config).code() == Errc::invalid_config;
  };
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.id = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.heartbeat_interval_ticks = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.election_timeout_ticks = c.heartbeat_interval_ticks; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.election_timeout_ticks = kElectionTimeoutTicksLimit + 1; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.inflight_msgs_max = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.inflight_msgs_max = kInflightMsgsLimit + 1; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.inflight_bytes_max = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.append_bytes_max = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.uncommitted_bytes_max = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.apply_bytes_max = 0; }));
  EXPECT_TRUE(rejects([](RaftConfig& c) { c.read_index_pending_max = 0; }));
}

// --- quorum ---

TEST(Quorum, CommittedIndexIsWhatAMajorityHolds) {
  EXPECT_EQ(majority_committed_index({1}, {{1, 7}}), 7u);
  EXPECT_EQ(majority_committed_index({1, 2, 3}, {{1, 5}, {2, 4}, {3, 1}}), 4u);
  EXPECT_EQ(majority_committed_index({1, 2, 3, 4}, {{1, 5}, {2, 4}, {3, 3}, {4, 1}}), 3u);
  EXPECT_EQ(majority_committed_index({1, 2, 3, 4, 5}, {{1, 9}, {2, 9}, {5, 2}}), 2u);  // missing acks count 0
  EXPECT_EQ(majority_committed_index({}, {}), std::numeric_limits<Index>::max());
}

TEST(Quorum, JointCommitNeedsBothHalves) {
  ConfState joint;
  joint.voters = {1, 2, 3};
  joint.voters_outgoing = {1, 4, 5};
  EXPECT_EQ(committed_index(joint, {{1, 9}, {2, 9}, {3, 9}, {4, 2}, {5, 1}}), 2u);
  EXPECT_EQ(committed_index(joint, {{1, 9}, {2, 9}, {3, 9}, {4, 8}, {5, 1}}), 8u);
}

TEST(Quorum, VoteResults) {
  EXPECT_EQ(majority_vote_result({1, 2, 3}, {{1, true}}), VoteResult::pending);
  EXPECT_EQ(majority_vote_result({1, 2, 3}, {{1, true}, {2, true}}), VoteResult::won);
  EXPECT_EQ(majority_vote_result({1, 2, 3}, {{1, true}, {2, false}}), VoteResult::pending);
  EXPECT_EQ(majority_vote_result({1, 2, 3}, {{1, true}, {2, false}, {3, false}}), VoteResult::lost);
  EXPECT_EQ(majority_vote_result({1, 2, 3, 4}, {{1, true}, {2, true}}), VoteResult::pending);
  EXPECT_EQ(majority_vote_result({}, {}), VoteResult::won);
  ConfState joint;
  joint.voters = {1, 2, 3};
  joint.voters_outgoing = {4, 5, 6};
  EXPECT_EQ(vote_result(joint, {{1, true}, {2, true}, {4, true}}), VoteResult::pending);
  EXPECT_EQ(vote_result(joint, {{1, true}, {2, true}, {4, true}, {5, true}}), VoteResult::won);
  EXPECT_EQ(vote_result(joint, {{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::lost);
}

// --- membership ---

ConfChange change(ConfChangeTransition transition, std::vector<ConfChangeItem> items) {
  return ConfChange{transition, std::move(items)};
}

ConfChangeEntry sample_entry() {
  ConfChangeEntry entry;
  entry.change = change(ConfChangeTransition::joint_explicit_leave,
                        {{ConfChangeType::add_voter, 4}, {ConfChangeType::remove_node, 1},
                         {ConfChangeType::add_learner, 0x1122334455667788ULL}});
  entry.result.voters = {2, 3, 4};
  entry.result.voters_outgoing = {1, 2, 3};
  entry.result.learners = {0x1122334455667788ULL};
  entry.result.learners_next = {7};
  entry.result.auto_leave = true;
  return entry;
}

TEST(Membership, EntryEncodingRoundTrips) {
  const ConfChangeEntry original = sample_entry();
  Result<ConfChangeEntry> decoded = decode_conf_change_entry(encode_conf_change_entry(original));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, original);
  ConfChangeEntry leave;
  leave.result.voters = {1};
  EXPECT_EQ(*decode_conf_change_entry(encode_conf_change_entry(leave)), leave);
}

TEST(Membership, EntryDecodingRejectsDamage) {
  const Bytes good = encode_conf_change_entry(sample_entry());
  ASSERT_TRUE(decode_conf_change_entry(good).ok());
  for (size_t length = 0; length < good.size(); ++length) {
    EXPECT_EQ(decode_conf_change_entry(ByteSpan(good).first(length)).code(), Errc::malformed) << length;
  }
  Bytes longer = good;
  longer.push_back(std::byte{0});
  EXPECT_EQ(decode_conf_change_entry(longer).code(), Errc::malformed);
  const auto damaged = [&](size_t at, uint8_t value) {
    Bytes copy = good;
    copy[at] = std::byte{value};
    return decode_conf_change_entry(copy).code();
  };
  EXPECT_EQ(damaged(0, 9), Errc::malformed);     // version
  EXPECT_EQ(damaged(1, 3), Errc::malformed);     // transition
  EXPECT_EQ(damaged(2, 0xff), Errc::malformed);  // item count above the limit
  EXPECT_EQ(damaged(4, 3), Errc::malformed);     // item type
  EXPECT_EQ(damaged(31, 2), Errc::malformed);    // flags (after 3 items of 9 bytes)
  ConfChangeEntry no_voters;
  EXPECT_EQ(decode_conf_change_entry(encode_conf_change_entry(no_voters)).code(), Errc::malformed);
}

TEST(Membership, SingleVoterChangeAppliesDirectly) {
  ConfState three;
  three.voters = {1, 2, 3};
  Result<ConfState> added = apply_conf_change(three, change(ConfChangeTransition::automatic, {{ConfChangeType::add_voter, 4}}));
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->voters, (std::set<NodeId>{1, 2, 3, 4}));
  EXPECT_FALSE(added->joint());
  Result<ConfState> learner =
      apply_conf_change(three, change(ConfChangeTransition::automatic, {{ConfChangeType::add_learner, 5}}));
  ASSERT_TRUE(learner.ok());
  EXPECT_EQ(learner->learners, (std::set<NodeId>{5}));
}

TEST(Membership, ReplaceGoesThroughJointAndLeaves) {
  ConfState three;
  three.voters = {1, 2, 3};
  Result<ConfState> joint = apply_conf_change(
      three, change(ConfChangeTransition::automatic, {{ConfChangeType::add_voter, 4}, {ConfChangeType::remove_node, 1}}));
  ASSERT_TRUE(joint.ok());
  EXPECT_EQ(joint->voters, (std::set<NodeId>{2, 3, 4}));
  EXPECT_EQ(joint->voters_outgoing, (std::set<NodeId>{1, 2, 3}));
  EXPECT_TRUE(joint->auto_leave);
  EXPECT_EQ(apply_conf_change(*joint, change(ConfChangeTransition::automatic, {{ConfChangeType::add_voter, 5}})).code(),
            Errc::invalid_conf_change);
  Result<ConfState> left = apply_conf_change(*joint, ConfChange{});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->voters, (std::set<NodeId>{2, 3, 4}));
  EXPECT_FALSE(left->joint());
  EXPECT_FALSE(left->auto_leave);
}

TEST(Membership, DemotedVoterKeepsVotingUntilTheJointConfigIsLeft) {
  ConfState three;
  three.voters = {1, 2, 3};
  Result<ConfState> joint =
      apply_conf_change(three, change(ConfChangeTransition::joint_explicit_leave, {{ConfChangeType::add_learner, 3}}));
  ASSERT_TRUE(joint.ok());
  EXPECT_TRUE(joint->is_voter(3));
  EXPECT_EQ(joint->learners_next, (std::set<NodeId>{3}));
  EXPECT_FALSE(joint->auto_leave);
  Result<ConfState> left = apply_conf_change(*joint, ConfChange{});
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(left->is_voter(3));
  EXPECT_EQ(left->learners, (std::set<NodeId>{3}));
}

TEST(Membership, RejectsInvalidChanges) {
  ConfState one;
  one.voters = {1};
  EXPECT_EQ(apply_conf_change(one, ConfChange{}).code(), Errc::invalid_conf_change);  // not joint
  EXPECT_EQ(apply_conf_change(one, change(ConfChangeTransition::automatic, {{ConfChangeType::remove_node, 1}})).code(),
            Errc::invalid_conf_change);  // no voter left
  EXPECT_EQ(apply_conf_change(one, change(ConfChangeTransition::automatic, {{ConfChangeType::add_voter, 0}})).code(),
            Errc::invalid_conf_change);
}

// --- flow control ---

TEST(Inflights, FullByCountOrBytes) {
  Inflights by_count(2, 1000);
  by_count.add(1, 10);
  EXPECT_FALSE(by_count.full());
  by_count.add(2, 10);
  EXPECT_TRUE(by_count.full());
  by_count.free_le(1);
  EXPECT_FALSE(by_count.full());
  EXPECT_EQ(by_count.bytes(), 10u);

  Inflights by_bytes(100, 50);
  by_bytes.add(3, 30);
  by_bytes.add(5, 30);
  EXPECT_TRUE(by_bytes.full());
  by_bytes.free_first_one();
  EXPECT_FALSE(by_bytes.full());
  by_bytes.free_le(100);
  EXPECT_EQ(by_bytes.count(), 0u);
}

TEST(Progress, ProbeSendsOneAtATimeAndReplicatePipelines) {
  Progress progress(6, 2, 1000);
  EXPECT_FALSE(progress.paused());
  progress.sent_entries(8, 3);
  EXPECT_TRUE(progress.paused());  // probe: one append in flight
  EXPECT_TRUE(progress.maybe_update(8));
  EXPECT_FALSE(progress.paused());
  progress.become_replicate();
  EXPECT_EQ(progress.next, 9u);
  progress.sent_entries(10, 1);
  EXPECT_EQ(progress.next, 11u);  // optimistic
  progress.sent_entries(12, 1);
  EXPECT_TRUE(progress.paused());  // inflight_msgs_max reached
}

TEST(Progress, RejectionsMoveNextBackUnlessStale) {
  Progress replicate(1, 8, 1000);
  replicate.maybe_update(5);
  replicate.become_replicate();
  replicate.sent_entries(9, 4);
  EXPECT_FALSE(replicate.maybe_decrease_to(4, 0));  // at or below match: stale
  EXPECT_TRUE(replicate.maybe_decrease_to(7, 3));
  EXPECT_EQ(replicate.next, 6u);  // back to match + 1

  Progress probe(10, 8, 1000);
  probe.maybe_update(2);
  probe.next = 10;
  EXPECT_FALSE(probe.maybe_decrease_to(5, 3));  // not the outstanding probe (next - 1 = 9)
  EXPECT_TRUE(probe.maybe_decrease_to(9, 4));
  EXPECT_EQ(probe.next, 5u);  // hint + 1
  EXPECT_TRUE(probe.maybe_decrease_to(4, 0));
  EXPECT_EQ(probe.next, 3u);  // never below match + 1
}

TEST(Progress, JumpWaitsThenProbesAfterTheJumpIndex) {
  Progress progress(3, 8, 1000);
  progress.become_jump(20);
  EXPECT_TRUE(progress.paused());
  EXPECT_FALSE(progress.maybe_decrease_to(2, 1));
  progress.become_probe();
  EXPECT_EQ(progress.next, 21u);
}

// --- storage and log ---

TEST(MemoryLogStorage, AppendReplacesSuffixAndRejectsGaps) {
  MemoryLogStorage storage;
  const std::vector<Entry> first = entries_with_terms(1, {1, 1, 2});
  ASSERT_TRUE(storage.append(first).ok());
  const std::vector<Entry> replacement = entries_with_terms(2, {3});
  ASSERT_TRUE(storage.append(replacement).ok());
  EXPECT_EQ(storage.last_index(), 2u);
  EXPECT_EQ(*storage.term(2), 3u);
  const std::vector<Entry> gap = entries_with_terms(5, {3});
  EXPECT_EQ(storage.append(gap).code(), Errc::invalid_argument);
  EXPECT_EQ(storage.term(3).code(), Errc::unavailable);
}

TEST(MemoryLogStorage, TrimKeepsTheBaseTerm) {
  MemoryLogStorage storage;
  const std::vector<Entry> log = entries_with_terms(1, {1, 2, 2, 3});
  ASSERT_TRUE(storage.append(log).ok());
  ASSERT_TRUE(storage.trim_to(3).ok());
  EXPECT_EQ(storage.first_index(), 4u);
  EXPECT_EQ(*storage.term(3), 2u);
  EXPECT_EQ(storage.term(2).code(), Errc::compacted);
  EXPECT_EQ(storage.entries(3, 5, kNoLimit).code(), Errc::compacted);
  storage.reset_to(10, 4, ConfState{});
  EXPECT_EQ(storage.first_index(), 11u);
  EXPECT_EQ(storage.last_index(), 10u);
  EXPECT_EQ(*storage.term(10), 4u);
}

TEST(RaftLog, ConflictHintSkipsAWholeTerm) {
  MemoryLogStorage storage;
  const std::vector<Entry> log = entries_with_terms(1, {1, 1, 2, 2, 2, 4, 4});
  ASSERT_TRUE(storage.append(log).ok());
  RaftLog raft_log(storage);
  EXPECT_EQ(raft_log.find_conflict_by_term(7, 3), (std::pair<Index, Term>{5, 2}));
  EXPECT_EQ(raft_log.find_conflict_by_term(7, 1), (std::pair<Index, Term>{2, 1}));
  EXPECT_EQ(raft_log.find_conflict_by_term(7, 9), (std::pair<Index, Term>{7, 4}));
  EXPECT_EQ(raft_log.find_conflict_by_term(4, 0), (std::pair<Index, Term>{0, 0}));
}

TEST(RaftLog, MaybeAppendTruncatesConflictsAndCommitsOnlyWhatMatches) {
  MemoryLogStorage storage;
  const std::vector<Entry> log = entries_with_terms(1, {1, 1, 1});
  ASSERT_TRUE(storage.append(log).ok());
  RaftLog raft_log(storage);
  EXPECT_FALSE(raft_log.maybe_append(3, 2, 3, {}).has_value());  // prev term mismatch
  const std::vector<Entry> incoming = entries_with_terms(3, {2, 2});
  std::optional<Index> last = raft_log.maybe_append(2, 1, 10, incoming);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(raft_log.committed(), 4u);  // min(leader commit, last new index)
  EXPECT_EQ(*raft_log.term(3), 2u);     // the unstable tail hides the stale stable entry
  EXPECT_EQ(raft_log.unstable().offset(), 3u);
}

TEST(RaftLog, SliceSpansStableAndUnstableWithinTheByteLimit) {
  MemoryLogStorage storage;
  std::vector<Entry> stable = {entry(1, 1, "aa"), entry(2, 1, "bb")};
  ASSERT_TRUE(storage.append(stable).ok());
  RaftLog raft_log(storage);
  std::vector<Entry> tail = {entry(3, 1, "cc"), entry(4, 1, "dd")};
  raft_log.append(tail);
  EXPECT_EQ(raft_log.slice(1, 5, kNoLimit)->size(), 4u);
  EXPECT_EQ(raft_log.slice(1, 5, 5)->size(), 2u);
  EXPECT_EQ(raft_log.slice(2, 5, 4)->size(), 2u);
  EXPECT_EQ(raft_log.slice(3, 5, 0)->size(), 1u);  // always at least one
}

TEST(RaftLog, UpToDateComparesLastTermThenLength) {
  MemoryLogStorage storage;
  const std::vector<Entry> log = entries_with_terms(1, {1, 2, 2});
  ASSERT_TRUE(storage.append(log).ok());
  RaftLog raft_log(storage);
  EXPECT_TRUE(raft_log.is_up_to_date(1, 3));
  EXPECT_TRUE(raft_log.is_up_to_date(3, 2));
  EXPECT_FALSE(raft_log.is_up_to_date(2, 2));
  EXPECT_FALSE(raft_log.is_up_to_date(9, 1));
}

// --- RawNode ---

ConfState voters(std::set<NodeId> ids) {
  ConfState conf;
  conf.voters = std::move(ids);
  return conf;
}

// Persists and advances like a driver, returning the Ready.
Ready cycle(RawNode& node, MemoryLogStorage& storage) {
  Ready rd = node.ready();
  if (rd.log_start_jump) storage.reset_to(rd.log_start_jump->index, rd.log_start_jump->term, rd.log_start_jump->conf_state);
  EXPECT_TRUE(storage.append(rd.entries).ok());
  if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
  if (rd.conf_state) storage.set_conf_state(*rd.conf_state);
  node.advance();
  return rd;
}

TEST(RawNode, CreateRejectsBadConfigAndContradictoryState) {
  MemoryLogStorage storage(voters({1}));
  EXPECT_EQ(RawNode::create(RaftConfig{}, storage, Prng(1)).code(), Errc::invalid_config);
  storage.set_hard_state(HardState{1, 1, 5});  // commit beyond an empty log
  EXPECT_EQ(RawNode::create(config_for(1), storage, Prng(1)).code(), Errc::invalid_state);
}

// A sole voter is its own quorum, but it counts its entries only once they are durable: the
// commit follows the advance() that confirms persistence, in the next Ready.
TEST(RawNode, SingleVoterCommitsWhatIsDurableAndServesReads) {
  MemoryLogStorage storage(voters({1}));
  auto node = std::move(RawNode::create(config_for(1), storage, Prng(1))).value();
  EXPECT_FALSE(node->has_ready());
  EXPECT_EQ(node->propose(to_bytes("early")).code(), Errc::not_leader);
  ASSERT_TRUE(node->campaign().ok());
  Ready rd = cycle(*node, storage);
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->role, Role::leader);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].type, EntryType::empty);
  EXPECT_TRUE(rd.committed_entries.empty());
  EXPECT_TRUE(rd.messages.empty());
  ASSERT_TRUE(node->has_ready());
  rd = cycle(*node, storage);
  EXPECT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(storage.initial_state().hard_state, (HardState{1, 1, 1}));

  ASSERT_TRUE(node->propose(to_bytes("a")).ok());
  ASSERT_TRUE(node->read_index(7).ok());
  rd = cycle(*node, storage);
  EXPECT_EQ(rd.entries.size(), 1u);
  EXPECT_TRUE(rd.committed_entries.empty());
  ASSERT_EQ(rd.read_states.size(), 1u);
  EXPECT_EQ(rd.read_states[0], (ReadState{7, 1, false}));  // "a" was not committed when the read came
  rd = cycle(*node, storage);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(as_string_view(rd.committed_entries[0].data), "a");
  EXPECT_EQ(storage.initial_state().hard_state, (HardState{1, 1, 2}));
  EXPECT_FALSE(node->has_ready());
}

// A leader's appends may leave before its own sync, but only in a term already durable. A sole
// voter wins within campaign(), so the Ready that makes its term durable (here with a proposal made
// right after) keeps its appends to the learner; the next Ready's may leave early.
TEST(RawNode, MessagesBeforeSyncOnlyOnceTheLeadersTermIsDurable) {
  ConfState conf = voters({1});
  conf.learners = {2};
  MemoryLogStorage storage(conf);
  auto node = std::move(RawNode::create(config_for(1), storage, Prng(1))).value();
  ASSERT_TRUE(node->campaign().ok());
  ASSERT_TRUE(node->propose(to_bytes("a")).ok());
  Ready rd = node->ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_EQ(node->raft().role(), Role::leader);
  const size_t messages = rd.messages.size();
  ASSERT_GT(messages, 0u);  // the append to the learner
  EXPECT_TRUE(node->take_messages_before_sync(rd).empty()) << "term 1 is not durable yet";
  EXPECT_EQ(rd.messages.size(), messages);
  EXPECT_TRUE(storage.append(rd.entries).ok());
  storage.set_hard_state(*rd.hard_state);
  node->advance();
  while (node->has_ready()) cycle(*node, storage);
  Message ack;  // the learner holds both entries: the leader replicates to it without pausing
  ack.type = MessageType::append_response;
  ack.from = 2;
  ack.to = 1;
  ack.term = 1;
  ack.index = 2;
  ASSERT_TRUE(node->step(ack).ok());
  while (node->has_ready()) cycle(*node, storage);

  ASSERT_TRUE(node->propose(to_bytes("b")).ok());
  rd = node->ready();
  const std::vector<Message> early = node->take_messages_before_sync(rd);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0].type, MessageType::append);
  EXPECT_EQ(early[0].to, 2u);
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_TRUE(storage.append(rd.entries).ok());
  node->advance();
}

TEST(RawNode, ReadIndexValidatesItsContext) {
  MemoryLogStorage storage(voters({1, 2, 3}));
  auto node = std::move(RawNode::create(config_for(1), storage, Prng(1))).value();
  EXPECT_EQ(node->read_index(1).code(), Errc::not_leader);
}

TEST(RawNode, RejectsMessagesForOtherNodes) {
  MemoryLogStorage storage(voters({1, 2, 3}));
  auto node = std::move(RawNode::create(config_for(1), storage, Prng(1))).value();
  Message m;
  m.from = 2;
  m.to = 3;
  EXPECT_EQ(node->step(m).code(), Errc::invalid_argument);
  m.to = 1;
  m.from = 0;
  EXPECT_EQ(node->step(m).code(), Errc::invalid_argument);
}

TEST(RawNode, ElectionTimeoutIsRandomInOneToTwoTimeouts) {
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    MemoryLogStorage storage(voters({1, 2, 3}));
    RaftConfig config = config_for(1);
    config.election_timeout_ticks = 10;
    auto node = std::move(RawNode::create(config, storage, Prng(seed))).value();
    int ticks = 0;
    while (!node->has_ready() && ticks < 100) {
      node->tick();
      ++ticks;
    }
    ASSERT_GE(ticks, 10);
    ASSERT_LT(ticks, 20);
    seen.insert(ticks);
  }
  EXPECT_EQ(seen.size(), 10u);  // every value in [10, 20) occurs
}

TEST(RawNodeDeathTest, CallsBetweenReadyAndAdvanceAreProgrammerErrors) {
  MemoryLogStorage storage(voters({1}));
  auto node = std::move(RawNode::create(config_for(1), storage, Prng(1))).value();
  ASSERT_TRUE(node->campaign().ok());
  Ready rd = node->ready();
  EXPECT_DEATH(node->tick(), "advance");
}

}  // namespace
}  // namespace sluice::raft
