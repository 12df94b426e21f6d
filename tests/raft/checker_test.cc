// The Raft safety checker (sim/checkers) fed by hand: the term-run log mirror, and one test per
// kind of report a driver can cause, so each check is seen to fire on its own (the property test
// shows them firing on real schedules with planted bugs).
#include <gtest/gtest.h>

#include "node/raft/memory_storage.h"
#include "sim/checkers/raft_safety.h"
#include "sim/checkers/term_log.h"

namespace sluice::checkers {
namespace {

using raft::Entry;

std::vector<Entry> entries(raft::Index from, std::initializer_list<raft::Term> terms) {
  std::vector<Entry> out;
  for (raft::Term term : terms) out.push_back(Entry{term, from++, raft::EntryType::normal, {}});
  return out;
}

TEST(TermLog, FollowsAppendsTruncationsJumpsAndRetention) {
  TermLog log;
  EXPECT_FALSE(log.truncate_and_append(entries(1, {1, 1, 2, 2, 2})));
  EXPECT_EQ(log.last(), 5u);
  EXPECT_EQ(log.term_at(0), 0u);
  EXPECT_EQ(log.term_at(2), 1u);
  EXPECT_EQ(log.term_at(5), 2u);
  EXPECT_FALSE(log.truncate_and_append(entries(4, {2, 2, 3})));  // same entries, then one more
  EXPECT_TRUE(log.truncate_and_append(entries(3, {4})));         // replaces 3..6
  EXPECT_EQ(log.last(), 3u);
  EXPECT_EQ(log.term_at(3), 4u);
  log.compact(3);
  EXPECT_EQ(log.first(), 3u);
  EXPECT_EQ(log.term_at(2), 1u);  // the base keeps its term
  EXPECT_TRUE(log.reset(10, 5));
  EXPECT_EQ(log.first(), 11u);
  EXPECT_EQ(log.term_at(10), 5u);
  EXPECT_FALSE(log.reset(10, 5));
}

TEST(TermLog, FirstDifferenceWalksRuns) {
  TermLog a;
  TermLog b;
  a.truncate_and_append(entries(1, {1, 1, 1, 2, 2, 3}));
  b.truncate_and_append(entries(1, {1, 1, 1, 2, 4}));
  EXPECT_EQ(a.first_difference(b, 1), 5u);
  EXPECT_EQ(a.first_difference(a, 1), 7u);
  b.truncate_and_append(entries(5, {2}));
  EXPECT_EQ(a.first_difference(b, 1), 6u);  // b ends there
}

// A three-node group whose nodes start from empty storage.
class RaftSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    raft::ConfState bootstrap;
    bootstrap.voters = {1, 2, 3};
    for (raft::NodeId id = 1; id <= 3; ++id) {
      stores_[id] = raft::MemoryLogStorage(bootstrap);
      checker_.started(kGroup, id, stores_[id]);
    }
  }
  void persist(raft::NodeId id, std::vector<Entry> appended, raft::HardState hard) {
    raft::Ready ready;
    ready.entries = std::move(appended);
    ready.hard_state = hard;
    ASSERT_TRUE(stores_[id].append(ready.entries).ok());
    stores_[id].set_hard_state(hard);
    checker_.persisted(kGroup, id, ready);
  }
  std::string violation() const { return checker_.violation().value_or("none"); }

  static constexpr GroupId kGroup = 7;
  std::map<raft::NodeId, raft::MemoryLogStorage> stores_;
  RaftSafety checker_;
};

TEST_F(RaftSafetyTest, SameIndexAndTermWithAnotherPayloadBreaksLogMatching) {
  std::vector<Entry> a = entries(1, {1});
  std::vector<Entry> b = a;
  b[0].data = to_bytes("other");
  persist(1, a, {1, 1, 0});
  persist(2, b, {1, 1, 0});
  EXPECT_EQ(violation().rfind("log matching: group 7 index 1 term 1: node 2", 0), 0u) << violation();
}

TEST_F(RaftSafetyTest, AVoteSentBeforeItIsDurable) {
  persist(2, {}, {1, 1, 0});
  raft::Message grant{raft::MessageType::vote_response, 2, 3, 1};  // to 3, durable vote is for 1
  checker_.sent(kGroup, 2, std::vector<raft::Message>{grant});
  EXPECT_EQ(violation().rfind("durability: group 7 node 2 sent vote-resp to 3 at term 1 granting", 0), 0u) << violation();
}

TEST_F(RaftSafetyTest, AnAcknowledgementSentBeforeItIsDurable) {
  persist(2, entries(1, {1}), {1, 1, 0});
  raft::Message ack{raft::MessageType::append_response, 2, 1, 1, /*index=*/2};
  checker_.sent(kGroup, 2, std::vector<raft::Message>{ack});
  EXPECT_EQ(violation().rfind("durability: group 7 node 2 sent append-resp to 1 at term 1 acknowledging index 2", 0), 0u)
      << violation();
}

TEST_F(RaftSafetyTest, ARestartThatLostTheDurableTerm) {
  persist(3, {}, {2, 1, 0});
  checker_.crashed(3);
  stores_[3].set_hard_state({1, 1, 0});  // the disk kept less than was reported durable
  checker_.started(kGroup, 3, stores_[3]);
  EXPECT_EQ(violation(), "durability: group 7 node 3 restarted at term 1, below its durable term 2");
}

TEST_F(RaftSafetyTest, AStorageReplacedByHandIsTakenAsItIs) {
  persist(3, {}, {2, 1, 0});
  checker_.crashed(3);
  stores_[3].set_hard_state({1, 1, 0});
  checker_.replaced(kGroup, 3, stores_[3]);
  checker_.started(kGroup, 3, stores_[3]);
  EXPECT_FALSE(checker_.violation()) << violation();
}

TEST_F(RaftSafetyTest, ApplyingTwoEntriesAtOneIndex) {
  std::vector<Entry> a = entries(1, {1});
  std::vector<Entry> b = entries(1, {2});
  checker_.applied(kGroup, 1, a);
  checker_.applied(kGroup, 2, b);
  EXPECT_EQ(violation().rfind("state machine safety: group 7 node 2 applied index 1 term 2", 0), 0u) << violation();
}

TEST_F(RaftSafetyTest, AReadServedBeforeItsIndexIsApplied) {
  checker_.read_requested(kGroup, 1, 42);
  checker_.read_answered(kGroup, 1, raft::ReadState{42, 3, false});
  EXPECT_FALSE(checker_.violation());
  checker_.read_served(kGroup, 1, 3);
  EXPECT_EQ(violation(), "linearizable reads: group 7 node 1 served a read at index 3 having applied only up to 0");
}

TEST_F(RaftSafetyTest, FeedingAReplicaNeverStartedIsReported) {
  checker_.persisted(kGroup, 9, raft::Ready{});
  EXPECT_EQ(violation(), "checker feed: persisted for group 7 node 9 before started()");
}

}  // namespace
}  // namespace sluice::checkers
