// The Raft safety checker (sim/checkers) fed by hand: the term-run log mirror, and one test per
// kind of report a driver can cause, so each check is seen to fire on its own (the property test
// shows them firing on real schedules with planted bugs).
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "node/raft/memory_storage.h"
#include "sim/checkers/raft_safety.h"
#include "sim/checkers/term_log.h"
#include "tests/raft/cluster.h"

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

// A replica's data deleted while the group goes on: a commit that counted its copy. Three cores
// elect node 1 with node 3 cut off; node 2 acknowledges the leader's entry, then deletes its copy
// before the leader hears the acknowledgement and commits.
// A node that deleted its replica (a move away) and hosts the group again under the same id must
// not vote twice in a term: the checker remembers votes across deletions (found as "two leaders
// in term 7" by cluster-membership-churn; this reports the second vote itself).
TEST_F(RaftSafetyTest, AReplicaDeletedAndCreatedAgainVotingTwiceInATerm) {
  persist(2, {}, {3, 1, 0});
  checker_.sent(kGroup, 2, std::vector<raft::Message>{raft::Message{raft::MessageType::vote_response, 2, 1, 3}});
  checker_.sent(kGroup, 2, std::vector<raft::Message>{raft::Message{raft::MessageType::vote_response, 2, 1, 3}});  // again: fine
  EXPECT_FALSE(checker_.violation()) << violation();
  checker_.deleted(kGroup, 2, /*group_ended=*/false);
  raft::ConfState bootstrap;
  bootstrap.voters = {1, 2, 3};
  stores_[2] = raft::MemoryLogStorage(bootstrap);
  stores_[2].set_hard_state({3, 0, 0});  // it kept the term but not the vote
  checker_.started(kGroup, 2, stores_[2]);
  persist(2, {}, {3, 3, 0});
  checker_.sent(kGroup, 2, std::vector<raft::Message>{raft::Message{raft::MessageType::vote_response, 2, 3, 3}});
  EXPECT_EQ(violation().rfind("election safety: group 7 node 2 granted its vote in term 3 to 1 and then to 3", 0), 0u) << violation();
}

// Created again where its replica was deleted, a node starts in the term that replica reached,
// or withholds its vote (LogRaftStorage's tombstone); starting below with its vote free is reported.
TEST_F(RaftSafetyTest, AReplicaCreatedAgainBelowTheTermOfTheDeletedOne) {
  for (bool withheld : {false, true}) {
    RaftSafety checker;
    raft::ConfState bootstrap;
    bootstrap.voters = {1, 2, 3};
    raft::MemoryLogStorage old_store(bootstrap);
    checker.started(kGroup, 2, old_store);
    raft::Ready ready;
    ready.hard_state = raft::HardState{4, 1, 0};
    checker.persisted(kGroup, 2, ready);
    checker.deleted(kGroup, 2, /*group_ended=*/false);
    raft::MemoryLogStorage new_store(bootstrap);
    new_store.set_hard_state(raft::HardState{withheld ? 0u : 3u, 0, 0, withheld});
    checker.started(kGroup, 2, new_store);
    if (withheld) {
      EXPECT_FALSE(checker.violation()) << *checker.violation();
    } else {
      EXPECT_EQ(checker.violation().value_or("none"),
                "durability: group 7 node 2 created again at term 3 with its vote free, below term 4 its deleted replica reached");
    }
  }
}

class DeletedReplicaTest : public ::testing::Test {
 protected:
  class Feed final : public raft::testing::ClusterObserver {
   public:
    explicit Feed(RaftSafety& safety) : safety_(safety) {}
    void started(raft::testing::ClusterNode& node) override { safety_.started(kGroup, node.id, node.storage); }
    void persisted(raft::testing::ClusterNode& node, const raft::Ready& rd) override { safety_.persisted(kGroup, node.id, rd); }
    void sent(raft::testing::ClusterNode& node, const std::vector<raft::Message>& messages) override {
      safety_.sent(kGroup, node.id, messages);
    }
    void handled(raft::testing::ClusterNode& node, const raft::Ready& rd) override {
      safety_.applied(kGroup, node.id, rd.committed_entries);
    }
    void crashed(raft::testing::ClusterNode& node) override { safety_.crashed(node.id); }

   private:
    RaftSafety& safety_;
  };

  void SetUp() override {
    cluster_.observe_with(feed_);
    raft::ConfState bootstrap;
    bootstrap.voters = {1, 2, 3};
    for (raft::NodeId id = 1; id <= 3; ++id) {
      raft::RaftConfig config;
      config.id = id;
      ASSERT_TRUE(cluster_.add_node(config, bootstrap).ok());
    }
    cluster_.partition({{1, 2}, {3}});
  }
  // Every up core is observed before its Ready is taken, as the host does.
  void step_all() {
    for (raft::NodeId id : cluster_.ids()) {
      if (!cluster_.up(id) || deleted_.count(id) > 0) continue;
      checker_.observe(kGroup, id, cluster_.node(id).raft->raft());
      cluster_.process_ready(id);
    }
  }
  // Runs until quiet, holding back node 2's acknowledgements of appends to node 1.
  std::deque<raft::Message> run_holding_acks_from_2() {
    std::deque<raft::Message> held;
    for (int round = 0; round < 100; ++round) {
      step_all();
      std::deque<raft::Message>& network = cluster_.network();
      if (network.empty()) break;
      const raft::Message& m = network.front();
      if (m.from == 2 && m.to == 1 && m.type == raft::MessageType::append_response) {
        held.push_back(m);
        cluster_.drop(0);
      } else {
        cluster_.deliver(0);
      }
    }
    return held;
  }
  // The group's first leader elected (node 1), and the acknowledgements of its entry held.
  std::deque<raft::Message> elect_1_and_hold_acks() {
    EXPECT_TRUE(cluster_.node(1).raft->campaign().ok());
    std::deque<raft::Message> held = run_holding_acks_from_2();
    EXPECT_EQ(cluster_.node(1).raft->raft().role(), raft::Role::leader);
    EXPECT_FALSE(held.empty());
    EXPECT_FALSE(checker_.violation()) << *checker_.violation();
    return held;
  }
  void delete_2(bool group_ended) {
    checker_.deleted(kGroup, 2, group_ended);
    deleted_.insert(2);  // its core is gone with its data
  }
  void deliver_acks(std::deque<raft::Message> held) {
    for (raft::Message& m : held) {
      cluster_.network().push_back(m);
      cluster_.deliver(cluster_.network().size() - 1);
    }
    step_all();
    step_all();
  }
  std::string violation() const { return checker_.violation().value_or("none"); }

  static constexpr GroupId kGroup = 7;
  RaftSafety checker_;
  std::shared_ptr<Feed> feed_ = std::make_shared<Feed>(checker_);
  raft::testing::Cluster cluster_{1};
  std::set<raft::NodeId> deleted_;
};

TEST_F(DeletedReplicaTest, ACommitCountingACopyDeletedByAMoveIsADurabilityViolation) {
  std::deque<raft::Message> held = elect_1_and_hold_acks();
  delete_2(/*group_ended=*/false);
  deliver_acks(std::move(held));
  EXPECT_EQ(violation().rfind("durability: group 7 committed index", 0), 0u) << violation();
}

TEST_F(DeletedReplicaTest, ACommitCountingACopyDeletedWithItsTopicIsNot) {
  std::deque<raft::Message> held = elect_1_and_hold_acks();
  delete_2(/*group_ended=*/true);
  deliver_acks(std::move(held));
  EXPECT_GT(cluster_.node(1).raft->raft().log().committed(), 0u);
  EXPECT_FALSE(checker_.violation()) << violation();
}

}  // namespace
}  // namespace sluice::checkers
