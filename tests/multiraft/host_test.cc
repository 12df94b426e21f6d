// The multi-Raft host and its transport on the simulated network: elections, proposals, a leader
// crash, a partition, heartbeat coalescing (frames counted), malformed frames (closed and
// counted), and the frame codec on its own (round trips, every truncation and bit flip).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/multiraft/host.h"
#include "node/partition/raft_storage.h"
#include "node/multiraft/codec.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/world_config.h"

namespace sluice::multiraft {
namespace {

using raft::Entry;
using raft::Message;
using raft::MessageType;

constexpr int64_t kMsNs = 1'000'000;
constexpr uint16_t kPort = 7100;
constexpr GroupId kGroup = 1;

raft::NodeId raft_id(sim::NodeIndex node) { return static_cast<raft::NodeId>(node) + 1; }

struct Rig;

class HostApp final : public sim::NodeApp {
 public:
  HostApp(sim::SimRuntime& runtime, Rig& rig);
  RaftHost host;
};

// A cluster of `nodes` nodes hosting `groups` groups (every node a voter of each). Stable storage
// and the applied entries live here, outside the nodes, so they survive crashes.
struct Rig {
  // voters: the first `voters` nodes bootstrap the groups (0: all); the others start with no
  // membership and join when the group adds them.
  // keys: node i's transport cluster key (none when the list is shorter).
  Rig(size_t nodes, size_t groups, uint64_t seed = 1, bool log_storage = false, bool stamp_proposals = false, size_t voters = 0,
      std::vector<std::optional<ClusterKey>> keys = {})
      : groups(groups), log_storage(log_storage), stamp_proposals(stamp_proposals), voters(voters == 0 ? nodes : voters),
        keys(std::move(keys)),
        world(testing::quiet_world(seed, std::chrono::milliseconds(5), std::chrono::milliseconds(15))) {
    for (size_t i = 0; i < nodes; ++i) world.add_node();
    world.set_app_factory([this](sim::SimRuntime& rt) { return std::make_unique<HostApp>(rt, *this); });
    for (size_t i = 0; i < nodes; ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  size_t nodes() const { return world.node_count(); }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kMsNs); }
  RaftHost* host(sim::NodeIndex node) {
    auto* app = dynamic_cast<HostApp*>(world.app(node));
    return app == nullptr ? nullptr : &app->host;
  }
  const raft::Raft* core(sim::NodeIndex node, GroupId group = kGroup) {
    RaftHost* h = host(node);
    const raft::RawNode* hosted = h == nullptr ? nullptr : h->group(group);
    return hosted == nullptr ? nullptr : &hosted->raft();
  }
  // The one up node leading `group` at the highest term, if any.
  std::optional<sim::NodeIndex> leader(GroupId group = kGroup) {
    std::optional<sim::NodeIndex> found;
    raft::Term term = 0;
    for (size_t i = 0; i < nodes(); ++i) {
      const raft::Raft* c = core(static_cast<sim::NodeIndex>(i), group);
      if (c != nullptr && c->role() == raft::Role::leader && c->term() >= term) {
        found = static_cast<sim::NodeIndex>(i);
        term = c->term();
      }
    }
    return found;
  }
  using Reply = std::shared_ptr<std::optional<HostResult<raft::Index>>>;
  // Calls `start(host)` from a fiber on `node` and waits there; the reply lands in the slot.
  template <typename Start>
  Reply await_on(sim::NodeIndex node, Start start) {
    auto slot = std::make_shared<std::optional<HostResult<raft::Index>>>();
    RaftHost* h = host(node);
    world.runtime(node)->spawn("client", [h, slot, start] {
      auto reply = start(*h).receive();
      if (reply.ok()) {
        *slot = std::move(reply).value();
      } else {
        *slot = HostStatus(HostErrc::stopped, reply.status().to_string());
      }
    });
    return slot;
  }
  Reply propose(sim::NodeIndex node, std::string text, GroupId group = kGroup) {
    return await_on(node, [text, group](RaftHost& h) { return h.propose(group, to_bytes(text)); });
  }
  Reply read(sim::NodeIndex node, GroupId group = kGroup) {
    return await_on(node, [group](RaftHost& h) { return h.read_index(group); });
  }
  std::vector<std::string> applied_payloads(sim::NodeIndex node, GroupId group = kGroup) {
    std::vector<std::string> out;
    for (const Entry& entry : applied[{node, group}]) {
      if (entry.type == raft::EntryType::normal) out.emplace_back(as_string_view(entry.data));
    }
    return out;
  }

  size_t groups;
  bool log_storage;  // LogRaftStorage on the node's simulated disk instead of memory kept here
  bool stamp_proposals;  // a PrepareFn appends "@<index>/<term>" to every proposal (and refuses "refuse")
  size_t voters;
  std::vector<std::optional<ClusterKey>> keys;
  std::map<std::pair<sim::NodeIndex, GroupId>, raft::MemoryLogStorage> stores;
  // Applied entries per (node, group), deduplicated by index (a restart re-applies).
  std::map<std::pair<sim::NodeIndex, GroupId>, std::vector<Entry>> applied;
  sim::World world;  // last: destroyed first, before what its apps refer to
};

RaftHostConfig host_config(Rig& rig, sim::NodeIndex node) {
  RaftHostConfig config;
  config.transport.self = raft_id(node);
  config.transport.port = kPort;
  if (static_cast<size_t>(node) < rig.keys.size()) config.transport.cluster_key = rig.keys[static_cast<size_t>(node)];
  for (size_t i = 0; i < rig.nodes(); ++i) {
    const auto peer = static_cast<sim::NodeIndex>(i);
    if (peer != node) config.transport.peers[raft_id(peer)] = runtime::Address{rig.world.host(peer), kPort};
  }
  return config;
}

std::unique_ptr<GroupStorage> open_storage(Rig& rig, sim::SimRuntime& runtime, GroupId group) {
  raft::ConfState conf;
  if (static_cast<size_t>(runtime.node()) < rig.voters) {
    for (size_t i = 0; i < rig.voters; ++i) conf.voters.insert(raft_id(static_cast<sim::NodeIndex>(i)));
  }
  if (rig.log_storage) {
    partition::RaftStorageOptions options;
    options.bootstrap = conf;
    auto log = partition::LogRaftStorage::open(runtime.fs(), "raft-group-" + std::to_string(group), options);
    EXPECT_TRUE(log.ok()) << log.status().to_string();
    if (!log.ok()) return nullptr;
    return std::move(log).value();
  }
  auto it = rig.stores.find({runtime.node(), group});
  if (it == rig.stores.end()) it = rig.stores.emplace(std::make_pair(runtime.node(), group), raft::MemoryLogStorage(conf)).first;
  return std::make_unique<MemoryGroupStorage>(it->second);
}

HostApp::HostApp(sim::SimRuntime& runtime, Rig& rig) : host(runtime, host_config(rig, runtime.node())) {
  EXPECT_TRUE(host.start().ok());
  // On a fiber: opening a log reads the simulated disk, which blocks.
  runtime.spawn("open", [this, &rig, &runtime] {
    const sim::NodeIndex node = runtime.node();
    for (size_t g = 0; g < rig.groups; ++g) {
      const GroupId group = kGroup + g;
      std::unique_ptr<GroupStorage> storage = open_storage(rig, runtime, group);
      if (storage == nullptr) return;
      raft::RaftConfig config;
      config.id = raft_id(node);
      config.election_timeout_ticks = 15;
      auto apply = [this, &rig, node](GroupId g2, const Entry& entry) {
        if (as_string_view(entry.data).starts_with("fail-apply")) return host.fail_group(g2, HostErrc::group_failed, "planted apply failure");
        std::vector<Entry>& log = rig.applied[{node, g2}];
        if (log.size() < entry.index) log.push_back(entry);
      };
      PrepareFn prepare;
      if (rig.stamp_proposals) {
        prepare = [](const raft::RawNode& node, Bytes& data) {
          if (as_string_view(data) == "refuse") return HostStatus(HostErrc::invalid_argument, "refused by prepare");
          std::string stamp = "@" + std::to_string(node.raft().log().last_index() + 1) + "/" + std::to_string(node.raft().term());
          append_bytes(data, as_bytes(stamp));
          return HostStatus();
        };
      }
      EXPECT_TRUE(host.add_group(group, config, std::move(storage), apply, prepare).ok());
    }
  });
}

// Every node that applied index i applied the same entry.
void expect_logs_agree(Rig& rig, GroupId group = kGroup) {
  for (size_t a = 0; a < rig.nodes(); ++a) {
    for (size_t b = a + 1; b < rig.nodes(); ++b) {
      const auto& la = rig.applied[{static_cast<sim::NodeIndex>(a), group}];
      const auto& lb = rig.applied[{static_cast<sim::NodeIndex>(b), group}];
      for (size_t i = 0; i < std::min(la.size(), lb.size()); ++i) ASSERT_EQ(la[i], lb[i]) << "index " << i + 1;
    }
  }
}

TEST(RaftHost, ElectsOneLeaderAndCommitsProposalsOnEveryNode) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const std::optional<sim::NodeIndex> leader = rig.leader();
  ASSERT_TRUE(leader.has_value());
  std::vector<Rig::Reply> replies;
  for (int i = 0; i < 10; ++i) replies.push_back(rig.propose(*leader, "p" + std::to_string(i)));
  rig.run_ms(500);
  for (auto& reply : replies) {
    ASSERT_TRUE(reply->has_value());
    EXPECT_TRUE((*reply)->ok()) << (*reply)->status().to_string();
  }
  for (size_t n = 0; n < rig.nodes(); ++n) {
    const std::vector<std::string> payloads = rig.applied_payloads(static_cast<sim::NodeIndex>(n));
    ASSERT_EQ(payloads.size(), 10u) << "node " << n;
    EXPECT_EQ(payloads.front(), "p0");
    EXPECT_EQ(payloads.back(), "p9");
  }
  expect_logs_agree(rig);
}

// The prepare hook sees the index and term the entry gets, and its rewrite is what commits.
TEST(RaftHost, PrepareStampsEachProposalWithItsPlaceInTheLog) {
  Rig rig(3, 1, 1, false, /*stamp_proposals=*/true);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  std::vector<Rig::Reply> replies;
  for (int i = 0; i < 5; ++i) replies.push_back(rig.propose(leader, "p" + std::to_string(i)));
  Rig::Reply refused = rig.propose(leader, "refuse");
  rig.run_ms(500);
  const raft::Term term = rig.core(leader)->term();
  for (auto& reply : replies) {
    ASSERT_TRUE(reply->has_value() && (*reply)->ok());
    const raft::Index index = (*reply)->value();
    const std::vector<Entry>& applied = rig.applied[{leader, kGroup}];
    ASSERT_GE(applied.size(), index);
    EXPECT_TRUE(as_string_view(applied[index - 1].data).ends_with("@" + std::to_string(index) + "/" + std::to_string(term)))
        << as_string_view(applied[index - 1].data);
  }
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->code(), HostErrc::invalid_argument);
  expect_logs_agree(rig);
}

// A removed group is gone from the host: its proposals fail and it can be added again.
TEST(RaftHost, RemovedGroupIsNoLongerServed) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  Rig::Reply removed = rig.await_on(leader, [](RaftHost& h) { return h.remove_group(kGroup); });
  rig.run_ms(10);
  ASSERT_TRUE(removed->has_value() && (*removed)->ok());
  EXPECT_EQ(rig.host(leader)->group(kGroup), nullptr);
  Rig::Reply again = rig.await_on(leader, [](RaftHost& h) { return h.remove_group(kGroup); });
  Rig::Reply proposal = rig.propose(leader, "late");
  rig.run_ms(10);
  EXPECT_EQ((*again)->code(), HostErrc::unknown_group);
  EXPECT_EQ((*proposal)->code(), HostErrc::unknown_group);
  // The other two elect a leader of their own and go on.
  rig.run_ms(2000);
  std::optional<sim::NodeIndex> next = rig.leader();
  ASSERT_TRUE(next.has_value());
  EXPECT_NE(*next, leader);
  Rig::Reply after = rig.propose(*next, "after");
  rig.run_ms(500);
  ASSERT_TRUE(after->has_value());
  EXPECT_TRUE((*after)->ok()) << (*after)->status().to_string();
}

// An apply that fails its group (a replica whose storage failed while applying) stops the group on
// that node at once: the proposal of that entry and every later one fail with group_failed.
TEST(RaftHost, FailGroupFromTheApplyStopsTheGroupAndFailsItsProposals) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  Rig::Reply before = rig.propose(leader, "before");
  rig.run_ms(200);
  ASSERT_TRUE(before->has_value() && (*before)->ok());
  Rig::Reply failing = rig.propose(leader, "fail-apply");
  rig.run_ms(500);
  ASSERT_TRUE(failing->has_value());
  EXPECT_EQ((*failing)->code(), HostErrc::group_failed);
  EXPECT_EQ(rig.host(leader)->stats().groups_failed, 1u);
  Rig::Reply later = rig.propose(leader, "later");
  rig.run_ms(10);
  ASSERT_TRUE(later->has_value());
  EXPECT_NE((*later)->code(), HostErrc::ok);
}

TEST(RaftHost, ProposalToAFollowerIsRefusedNamingNotLeader) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex follower = (*rig.leader() + 1) % 3;
  auto reply = rig.propose(follower, "x");
  rig.run_ms(10);
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->code(), HostErrc::not_leader);
}

TEST(RaftHost, SurvivesALeaderCrashAndTheOldLeaderCatchesUp) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex old_leader = *rig.leader();
  const raft::Term old_term = rig.core(old_leader)->term();
  rig.world.crash(old_leader);
  rig.run_ms(1000);
  const std::optional<sim::NodeIndex> leader = rig.leader();
  ASSERT_TRUE(leader.has_value());
  EXPECT_NE(*leader, old_leader);
  EXPECT_GT(rig.core(*leader)->term(), old_term);
  auto reply = rig.propose(*leader, "after-crash");
  rig.run_ms(300);
  ASSERT_TRUE(reply->has_value() && (*reply)->ok());
  rig.world.start(old_leader);
  rig.run_ms(1000);
  EXPECT_EQ(rig.leader(), leader) << "the restarted node must not depose the leader (pre-vote)";
  EXPECT_EQ(rig.applied_payloads(old_leader), std::vector<std::string>{"after-crash"});
  expect_logs_agree(rig);
}

// Followers write to each other only during elections. When a peer restarts, a follower's idle
// outbound stream to it is dead; the transport notices (the stream ends) and reconnects at once,
// so the next vote request is not lost in a dead connection.
TEST(RaftHost, AnIdleOutboundStreamIsReconnectedWhenThePeerRestarts) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  const sim::NodeIndex follower = (leader + 1) % 3;
  const sim::NodeIndex peer = (leader + 2) % 3;
  const uint64_t connects_before = rig.host(follower)->transport().peer_stats(raft_id(peer)).connects;
  const uint64_t write_failures_before = rig.host(follower)->transport().peer_stats(raft_id(peer)).write_failures;
  rig.world.crash(peer);
  rig.run_ms(100);
  rig.world.start(peer);
  rig.run_ms(1500);  // the leader keeps leading: the follower sends its peer nothing meanwhile
  ASSERT_EQ(rig.leader(), leader);
  const PeerStats after = rig.host(follower)->transport().peer_stats(raft_id(peer));
  EXPECT_GT(after.connects, connects_before);
  EXPECT_EQ(after.write_failures, write_failures_before) << "reconnected before any write needed it";
}

// On the partition log: each crash loses what was not synced, and still every acknowledged
// proposal is applied on every node and the applied logs agree.
TEST(RaftHost, RepeatedLeaderCrashesOnThePartitionLogLoseNoAcknowledgedEntry) {
  Rig rig(3, 1, 3, true);
  rig.run_ms(1000);
  std::vector<std::string> acknowledged;
  for (int round = 0; round < 8; ++round) {
    const std::optional<sim::NodeIndex> leader = rig.leader();
    ASSERT_TRUE(leader.has_value()) << "round " << round;
    std::vector<std::pair<std::string, Rig::Reply>> replies;
    for (int i = 0; i < 5; ++i) {
      const std::string text = "r" + std::to_string(round) + "-" + std::to_string(i);
      replies.emplace_back(text, rig.propose(*leader, text));
    }
    rig.run_ms(3 + round * 7);  // crash with some proposals in flight
    rig.world.crash(*leader);
    rig.run_ms(1000);
    rig.world.start(*leader);
    rig.run_ms(1000);
    for (auto& [text, reply] : replies) {
      if (reply->has_value() && (*reply)->ok()) acknowledged.push_back(text);
    }
  }
  EXPECT_FALSE(acknowledged.empty());
  for (size_t n = 0; n < rig.nodes(); ++n) {
    const std::vector<std::string> payloads = rig.applied_payloads(static_cast<sim::NodeIndex>(n));
    for (const std::string& text : acknowledged) {
      EXPECT_NE(std::find(payloads.begin(), payloads.end(), text), payloads.end()) << text << " missing on node " << n;
    }
  }
  expect_logs_agree(rig);
}

// Every group's storage is scrubbed once per state_scrub_period (10 s by default): both copies of
// every state file of node 0 damaged while it runs are rewritten from memory, so a restart opens
// them (without the scrub: invalid_state, the replicas never open again).
TEST(RaftHost, ScrubRepairsDamagedStateFilesWhileTheNodeRuns) {
  constexpr size_t kGroups = 4;
  Rig rig(3, kGroups, 5, true);
  rig.run_ms(1000);
  auto state_file = [](GroupId group) { return "raft-group-" + std::to_string(group) + "/raft-state"; };
  sim::SimDisk& disk = rig.world.disk(0);
  const uint64_t scrubs_before = rig.host(0)->stats().scrubs;
  for (size_t g = 0; g < kGroups; ++g) {
    const std::string path = state_file(kGroup + g);
    const size_t copy_bytes = disk.peek_file(path)->size() / 2;
    ASSERT_TRUE(disk.flip_bit(path, 20, 1));
    ASSERT_TRUE(disk.flip_bit(path, copy_bytes + 20, 1));
    ASSERT_FALSE(partition::decode_raft_state_file(*disk.peek_file(path)).ok());
  }
  rig.run_ms(11'000);
  EXPECT_GE(rig.host(0)->stats().scrubs - scrubs_before, kGroups) << scrubs_before << " " << rig.host(0)->stats().scrubs;
  for (size_t g = 0; g < kGroups; ++g) {
    raft::Result<partition::RaftStateFile> file = partition::decode_raft_state_file(*disk.peek_file(state_file(kGroup + g)));
    ASSERT_TRUE(file.ok()) << "group " << kGroup + g << ": " << file.status().to_string();
    EXPECT_FALSE(file->copy_damaged);
  }
  rig.world.crash(0);
  rig.world.start(0);
  rig.run_ms(2000);
  for (size_t g = 0; g < kGroups; ++g) {
    const raft::RawNode* reopened = rig.host(0)->group(kGroup + g);
    ASSERT_NE(reopened, nullptr) << "group " << kGroup + g;
  }
}

TEST(RaftHost, MajoritySideOfAPartitionElectsAndTheOldLeaderStepsDown) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex old_leader = *rig.leader();
  rig.world.network().isolate({old_leader});
  auto lost = rig.propose(old_leader, "lost");  // cannot commit without a quorum
  rig.run_ms(1500);
  EXPECT_NE(rig.core(old_leader)->role(), raft::Role::leader) << "check-quorum";
  const std::optional<sim::NodeIndex> leader = rig.leader();
  ASSERT_TRUE(leader.has_value());
  EXPECT_NE(*leader, old_leader);
  auto reply = rig.propose(*leader, "majority");
  rig.run_ms(300);
  ASSERT_TRUE(reply->has_value() && (*reply)->ok());
  ASSERT_TRUE(lost->has_value());
  EXPECT_EQ((*lost)->code(), HostErrc::leadership_lost);
  rig.world.network().heal();
  rig.run_ms(1500);
  EXPECT_EQ(rig.leader(), leader);
  EXPECT_EQ(rig.applied_payloads(old_leader), std::vector<std::string>{"majority"});
  expect_logs_agree(rig);
}

// A read barrier on the leader returns an index covering every write acknowledged before it,
// already applied on the leader when the reply arrives; on a follower it is refused.
TEST(RaftHost, ReadIndexCoversEveryAcknowledgedWriteAndIsAppliedOnReply) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  std::vector<Rig::Reply> writes;
  for (int i = 0; i < 5; ++i) writes.push_back(rig.propose(leader, "w" + std::to_string(i)));
  rig.run_ms(300);
  raft::Index acknowledged = 0;
  for (auto& write : writes) {
    ASSERT_TRUE(write->has_value() && (*write)->ok());
    acknowledged = std::max(acknowledged, (*write)->value());
  }
  // What the leader has applied at the moment the reply reaches the reading fiber.
  Rig::Reply read = std::make_shared<std::optional<HostResult<raft::Index>>>();
  std::optional<size_t> applied_at_reply;
  rig.world.runtime(leader)->spawn("reader", [&rig, leader, read, &applied_at_reply] {
    auto reply = rig.host(leader)->read_index(kGroup).receive();
    ASSERT_TRUE(reply.ok());
    applied_at_reply = rig.applied[{leader, kGroup}].size();
    *read = std::move(reply).value();
  });
  rig.run_ms(200);
  ASSERT_TRUE(read->has_value());
  ASSERT_TRUE((*read)->ok()) << (*read)->status().to_string();
  EXPECT_GE((*read)->value(), acknowledged);
  ASSERT_TRUE(applied_at_reply.has_value());
  EXPECT_GE(*applied_at_reply, (*read)->value());
  EXPECT_EQ(rig.host(leader)->stats().reads_served, 1u);

  auto refused = rig.read((leader + 1) % 3);
  rig.run_ms(10);
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->code(), HostErrc::not_leader);
}

// A leader cut off from its quorum must not serve a read: a new leader may already have
// committed writes it has not seen. The read fails (leadership lost or timeout), never succeeds.
TEST(RaftHost, AnIsolatedLeaderNeverServesAReadItCannotConfirm) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex old_leader = *rig.leader();
  rig.world.network().isolate({old_leader});
  auto stale = rig.read(old_leader);
  rig.run_ms(1500);
  ASSERT_TRUE(stale->has_value());
  EXPECT_FALSE((*stale)->ok());
  EXPECT_TRUE((*stale)->code() == HostErrc::leadership_lost || (*stale)->code() == HostErrc::timeout)
      << (*stale)->status().to_string();
  const sim::NodeIndex leader = *rig.leader();
  ASSERT_NE(leader, old_leader);
  auto write = rig.propose(leader, "new");
  rig.run_ms(300);
  ASSERT_TRUE(write->has_value() && (*write)->ok());
  auto fresh = rig.read(leader);
  rig.run_ms(300);
  ASSERT_TRUE(fresh->has_value() && (*fresh)->ok());
  EXPECT_GE((*fresh)->value(), (*write)->value());
}

// 60 groups on 3 nodes, idle: each node sends each peer exactly one coalesced heartbeat message
// per tick, carrying one heartbeat per group it leads, however many groups there are.
TEST(RaftHost, HeartbeatsOfAllGroupsAreCoalescedIntoOneMessagePerPeerPerTick) {
  constexpr size_t kGroups = 60;
  Rig rig(3, kGroups);
  rig.run_ms(3000);
  std::map<sim::NodeIndex, size_t> led;
  for (GroupId g = kGroup; g < kGroup + kGroups; ++g) {
    ASSERT_TRUE(rig.leader(g).has_value()) << "group " << g;
    ++led[*rig.leader(g)];
  }
  auto snapshot = [&rig](sim::NodeIndex node, sim::NodeIndex peer) { return rig.host(node)->transport().peer_stats(raft_id(peer)); };
  std::map<std::pair<sim::NodeIndex, sim::NodeIndex>, PeerStats> before;
  std::map<sim::NodeIndex, uint64_t> ticks_before;
  for (sim::NodeIndex n = 0; n < 3; ++n) {
    ticks_before[n] = rig.host(n)->stats().ticks;
    for (sim::NodeIndex p = 0; p < 3; ++p) {
      if (p != n) before[{n, p}] = snapshot(n, p);
    }
  }
  rig.run_ms(1000);
  for (sim::NodeIndex n = 0; n < 3; ++n) {
    const uint64_t ticks = rig.host(n)->stats().ticks - ticks_before[n];
    ASSERT_GE(ticks, 99u);
    for (sim::NodeIndex p = 0; p < 3; ++p) {
      if (p == n) continue;
      const PeerStats now = snapshot(n, p);
      const PeerStats& then = before[{n, p}];
      EXPECT_LE(now.heartbeat_msgs_sent - then.heartbeat_msgs_sent, ticks);
      EXPECT_GE(now.heartbeat_msgs_sent - then.heartbeat_msgs_sent + 1, ticks) << n << "->" << p;
      EXPECT_EQ(now.heartbeats_sent - then.heartbeats_sent, (now.heartbeat_msgs_sent - then.heartbeat_msgs_sent) * led[n]);
      EXPECT_EQ(now.messages_sent - then.messages_sent, 0u) << "idle: nothing but heartbeats";
      EXPECT_LE(now.frames_sent - then.frames_sent, 2 * ticks + 2) << "heartbeats + responses";
    }
  }
}

// Writes `bytes` to node 1's raft port from a fiber on node 0 and records how the stream ended.
std::shared_ptr<std::optional<runtime::Status>> send_raw(Rig& rig, Bytes bytes) {
  auto ended = std::make_shared<std::optional<runtime::Status>>();
  sim::SimRuntime* rt = rig.world.runtime(0);
  const runtime::Address to{rig.world.host(1), kPort};
  rt->spawn("raw", [rt, to, bytes, ended] {
    auto stream = rt->connect(to, std::chrono::seconds(1));
    if (!stream.ok()) return void(*ended = stream.status());
    if (auto written = (*stream)->write(bytes); !written.ok()) return void(*ended = written);
    std::byte buffer[16];
    auto read = (*stream)->read(buffer);
    *ended = read.ok() ? runtime::Status(runtime::Errc::ok, "eof") : read.status();
  });
  return ended;
}

TEST(RaftHost, MalformedFramesCloseTheConnectionAndAreCounted) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  Message hb;
  hb.type = MessageType::heartbeat;
  hb.from = raft_id(0);
  hb.to = raft_id(2);  // addressed to another node
  std::vector<Bytes> wrong_to = encode_frames(raft_id(0), raft_id(2), {GroupMessage{kGroup, hb}}, 1 << 20, nullptr);
  Bytes garbage_payload = wrong_to[0];
  garbage_payload[kFrameHeaderBytes + 4] ^= std::byte{0xff};  // breaks the root offset / identifier
  const std::vector<Bytes> cases = {to_bytes("GET / HTTP/1.1\r\n\r\n"), wrong_to[0], garbage_payload};
  for (size_t i = 0; i < cases.size(); ++i) {
    auto ended = send_raw(rig, cases[i]);
    rig.run_ms(200);
    ASSERT_TRUE(ended->has_value()) << "case " << i;
    EXPECT_EQ(rig.host(1)->transport().stats().frames_malformed, i + 1) << "case " << i;
  }
  rig.run_ms(500);
  EXPECT_EQ(rig.leader(), leader) << "the group keeps working";
}

// The cluster secret (docs/formats/raft-rpc.md): nodes 1 and 2 hold the key; node 0, with no key
// or another one, can neither vote nor campaign nor inject: the two elect one of themselves and
// commit without it, and its frames are refused and counted.
TEST(RaftHost, APeerWithoutTheClusterKeyCannotVoteCampaignOrInject) {
  const ClusterKey key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  for (const std::optional<ClusterKey>& outsider : {std::optional<ClusterKey>(), std::optional<ClusterKey>(ClusterKey::derive(as_bytes("someone else's secret bytes")))}) {
    SCOPED_TRACE(outsider ? "outsider with another key" : "outsider with no key");
    Rig rig(3, 1, 1, false, false, 0, {outsider, key, key});
    rig.run_ms(2000);
    const std::optional<sim::NodeIndex> leader = rig.leader();
    ASSERT_TRUE(leader.has_value());
    EXPECT_NE(*leader, 0);
    std::vector<Rig::Reply> replies;
    for (int i = 0; i < 5; ++i) replies.push_back(rig.propose(*leader, "p" + std::to_string(i)));
    rig.run_ms(500);
    for (auto& reply : replies) {
      ASSERT_TRUE(reply->has_value());
      EXPECT_TRUE((*reply)->ok()) << (*reply)->status().to_string();
    }
    EXPECT_EQ(rig.applied_payloads(1).size(), 5u);
    EXPECT_EQ(rig.applied_payloads(2).size(), 5u);
    // The MAC authenticates, it does not hide: a keyless node may read the first frame of each
    // connection before the trailer breaks its framing. One with another key reads nothing.
    if (outsider) {
      EXPECT_TRUE(rig.applied_payloads(0).empty()) << "the outsider accepted a frame";
    }
    expect_logs_agree(rig);
    EXPECT_NE(rig.core(0)->role(), raft::Role::leader);
    EXPECT_GT(rig.host(1)->transport().stats().frames_unauthenticated + rig.host(2)->transport().stats().frames_unauthenticated, 0u);
  }
}

// Only one node holds the cluster's key and the others each hold another (or none): nobody can
// gather a quorum, so no leader is ever elected.
TEST(RaftHost, NoQuorumOfKeyHoldersNoLeader) {
  const ClusterKey key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  Rig rig(3, 1, 1, false, false, 0, {key, ClusterKey::derive(as_bytes("someone else's secret bytes")), std::nullopt});
  rig.run_ms(3000);
  EXPECT_FALSE(rig.leader().has_value());
  EXPECT_GT(rig.host(0)->transport().stats().frames_unauthenticated, 0u);
  EXPECT_GT(rig.host(1)->transport().stats().frames_unauthenticated, 0u);
}

TEST(RaftHost, SameSeedGivesTheSameTrace) {
  auto run = [](uint64_t seed) {
    Rig rig(3, 4, seed);
    rig.run_ms(1500);
    rig.world.crash(*rig.leader(kGroup));
    rig.run_ms(1500);
    return rig.world.trace().hash();
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

// --- the frame codec alone ---

std::vector<GroupMessage> sample_messages() {
  std::vector<GroupMessage> out;
  Message hb;
  hb.type = MessageType::heartbeat;
  hb.from = 1;
  hb.to = 2;
  hb.term = 5;
  hb.commit = 9;
  hb.context = 3;
  out.push_back({10, hb});
  Message resp = hb;
  resp.type = MessageType::heartbeat_response;
  resp.commit = 0;
  out.push_back({11, resp});
  Message append;
  append.type = MessageType::append;
  append.from = 1;
  append.to = 2;
  append.term = 5;
  append.index = 7;
  append.log_term = 4;
  append.commit = 6;
  append.entries = {Entry{5, 8, raft::EntryType::normal, to_bytes("hello")}, Entry{5, 9, raft::EntryType::empty, {}}};
  out.push_back({12, append});
  Message jump;
  jump.type = MessageType::log_start_jump;
  jump.from = 1;
  jump.to = 2;
  jump.term = 5;
  jump.index = 100;
  jump.conf_state.voters = {1, 2, 3};
  jump.app_state = to_bytes("the application's state");
  jump.conf_state.learners = {4};
  jump.conf_state.index = 50;
  out.push_back({13, jump});
  Message vote;
  vote.type = MessageType::vote_request;
  vote.from = 1;
  vote.to = 2;
  vote.term = 6;
  vote.index = 9;
  vote.log_term = 5;
  vote.commit = 8;
  vote.transfer = true;
  vote.commit_term = 4;
  out.push_back({15, vote});
  Message odd_hb = hb;  // a heartbeat using a field the coalesced form lacks travels in full
  odd_hb.index = 1;
  out.push_back({14, odd_hb});
  return out;
}

TEST(RaftHostCodec, RoundTripsAndCoalescesOnlyWhatSurvivesExactly) {
  const std::vector<GroupMessage> messages = sample_messages();
  std::vector<FrameCounts> counts;
  const std::vector<Bytes> frames = encode_frames(1, 2, messages, 1 << 20, &counts);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(counts[0].heartbeats, 1u);
  EXPECT_EQ(counts[0].heartbeat_responses, 1u);
  EXPECT_EQ(counts[0].messages, 4u);
  auto header = decode_frame_header(ByteSpan(frames[0]).first(kFrameHeaderBytes), 1 << 20);
  ASSERT_TRUE(header.ok());
  auto decoded = decode_frame(ByteSpan(frames[0]).subspan(kFrameHeaderBytes), 2);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  std::map<GroupId, Message> by_group;
  for (const GroupMessage& gm : decoded->messages) by_group[gm.group] = gm.message;
  ASSERT_EQ(by_group.size(), messages.size());
  for (const GroupMessage& gm : messages) EXPECT_EQ(by_group[gm.group], gm.message) << "group " << gm.group;
}

TEST(RaftHostCodec, LargeBatchesSplitButKeepOneCoalescedHeartbeat) {
  std::vector<GroupMessage> messages = sample_messages();
  for (int i = 0; i < 40; ++i) messages.push_back(messages[2]);
  messages.push_back(messages[0]);
  std::vector<FrameCounts> counts;
  const std::vector<Bytes> frames = encode_frames(1, 2, messages, 200, &counts);
  EXPECT_GT(frames.size(), 1u);
  size_t with_heartbeats = 0;
  for (const FrameCounts& c : counts) with_heartbeats += c.heartbeats > 0 ? 1 : 0;
  EXPECT_EQ(with_heartbeats, 1u);
}

TEST(RaftHostCodec, TruncationsAreRejectedAndBitFlipsNeverCrash) {
  const Bytes frame = encode_frames(1, 2, sample_messages(), 1 << 20, nullptr)[0];
  const ByteSpan payload = ByteSpan(frame).subspan(kFrameHeaderBytes);
  const auto whole = decode_frame(payload, 2);
  ASSERT_TRUE(whole.ok());
  for (size_t n = 0; n < payload.size(); ++n) {
    // Cutting only the builder's trailing alignment padding leaves the same frame.
    const auto cut = decode_frame(payload.first(n), 2);
    if (cut.ok()) {
      EXPECT_EQ(cut->messages, whole->messages) << n;
    }
    EXPECT_TRUE(!cut.ok() || n + 8 > payload.size()) << n;
  }
  for (size_t bit = 0; bit < payload.size() * 8; ++bit) {
    Bytes flipped(payload.begin(), payload.end());
    flipped[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
    (void)decode_frame(flipped, 2);  // either verdict is fine; no crash, no hang
  }
  EXPECT_FALSE(decode_frame(payload, 3).ok()) << "addressed to node 2";
  Bytes bad_header(frame.begin(), frame.begin() + kFrameHeaderBytes);
  bad_header[0] = std::byte{'X'};
  EXPECT_FALSE(decode_frame_header(bad_header, 1 << 20).ok());
  EXPECT_FALSE(decode_frame_header(ByteSpan(frame).first(kFrameHeaderBytes), 8).ok()) << "above frame_bytes_max";
}

// Found by fuzz_raft_frame_decode: a frame from node 1 to node 2 whose heartbeat-response vector
// starts 4 bytes off its 8-byte elements' alignment. The verifier passes it; reading the structs
// in place would be a misaligned access, so the decoder refuses it.
TEST(RaftHostCodec, HeartbeatsPlacedOffTheirAlignmentAreRefused) {
  Bytes payload(147, std::byte{0});
  const uint8_t head[] = {0x10, 0x00, 0x00, 0x00, 0x53, 0x4c, 0x52, 0x46, 0x28, 0x00, 0x00, 0x00, 0x08, 0x00, 0x10, 0x00,
                          0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0x19, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c,
                          0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
  for (size_t i = 0; i < sizeof head; ++i) payload[i] = std::byte{head[i]};
  const auto decoded = decode_frame(payload, 2);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(), "heartbeats misaligned");
}

}  // namespace
}  // namespace sluice::multiraft

namespace sluice::multiraft {
namespace {

// A node hosting the group with no membership joins when the leader adds it: first as a learner
// (it receives the log but does not vote), then as a voter.
TEST(RaftHost, ConfChangesAddALearnerThenPromoteIt) {
  Rig rig(4, 1, 1, false, false, /*voters=*/3);
  for (int i = 0; i < 300 && !rig.leader(); ++i) rig.run_ms(10);
  ASSERT_TRUE(rig.leader().has_value());
  const sim::NodeIndex leader = *rig.leader();
  ASSERT_NE(leader, 3);
  auto before = rig.propose(leader, "before");
  rig.run_ms(300);
  ASSERT_TRUE(before->has_value() && (*before)->ok());
  raft::ConfChange add_learner;
  add_learner.items.push_back({raft::ConfChangeType::add_learner, 4});
  auto added = rig.await_on(leader, [add_learner](RaftHost& h) { return h.propose_conf_change(kGroup, add_learner); });
  rig.run_ms(500);
  ASSERT_TRUE(added->has_value() && (*added)->ok()) << (added->has_value() ? (*added)->status().to_string() : "no reply");
  EXPECT_TRUE(rig.core(leader)->conf_state().learners.count(4));
  EXPECT_EQ(rig.applied_payloads(3), std::vector<std::string>{"before"});  // the learner caught up
  // Then promoted to voter by a second change.
  raft::ConfChange promote;
  promote.items.push_back({raft::ConfChangeType::add_voter, 4});
  auto promoted = rig.await_on(leader, [promote](RaftHost& h) { return h.propose_conf_change(kGroup, promote); });
  rig.run_ms(500);
  ASSERT_TRUE(promoted->has_value() && (*promoted)->ok()) << (promoted->has_value() ? (*promoted)->status().to_string() : "no reply");
  EXPECT_TRUE(rig.core(leader)->conf_state().voters.count(4));
  EXPECT_TRUE(rig.core(3)->conf_state().voters.count(4));
  auto after = rig.propose(leader, "after");
  rig.run_ms(300);
  EXPECT_EQ(rig.applied_payloads(3), (std::vector<std::string>{"before", "after"}));
  // Off the leader: not_leader.
  auto refused = rig.await_on((leader + 1) % 3, [promote](RaftHost& h) { return h.propose_conf_change(kGroup, promote); });
  rig.run_ms(50);
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->code(), HostErrc::not_leader);
}

}  // namespace
}  // namespace sluice::multiraft

namespace sluice::multiraft {
namespace {

// Before a graceful stop a node hands every group it leads to another voter.
// Proposals that arrive while the leader hands over wait for the transfer to end instead of being
// refused (the core refuses with leader_transfer_pending, which producers heard as 429).
// To a crashed node the transfer aborts after an election timeout: then they commit here.
TEST(RaftHost, ProposalsDuringAnAbortedTransferWaitAndCommit) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  const sim::NodeIndex target = (leader + 1) % 3;
  rig.world.crash(target);
  rig.world.runtime(leader)->spawn("transfer", [&rig, leader, target] {
    EXPECT_TRUE(rig.host(leader)->transfer_leadership(kGroup, raft_id(target)).ok());
  });
  std::vector<Rig::Reply> replies;
  for (int i = 0; i < 5; ++i) replies.push_back(rig.propose(leader, "held" + std::to_string(i)));
  rig.run_ms(1000);
  EXPECT_GE(rig.host(leader)->stats().proposals_held, 5u);
  for (auto& reply : replies) {
    ASSERT_TRUE(reply->has_value());
    EXPECT_TRUE((*reply)->ok()) << (*reply)->status().to_string();
  }
  EXPECT_EQ(rig.applied_payloads(leader).size(), 5u);
}

// To a live node the transfer completes: what waited is answered not_leader, so the producer
// goes to the new leader at once.
TEST(RaftHost, ProposalsDuringACompletedTransferAreAnsweredNotLeader) {
  Rig rig(3, 1);
  rig.run_ms(1000);
  const sim::NodeIndex leader = *rig.leader();
  const sim::NodeIndex target = (leader + 1) % 3;
  rig.world.runtime(leader)->spawn("transfer", [&rig, leader, target] {
    EXPECT_TRUE(rig.host(leader)->transfer_leadership(kGroup, raft_id(target)).ok());
  });
  std::vector<Rig::Reply> replies;
  for (int i = 0; i < 3; ++i) replies.push_back(rig.propose(leader, "moved" + std::to_string(i)));
  rig.run_ms(1000);
  ASSERT_EQ(rig.leader(), std::optional<sim::NodeIndex>(target));
  EXPECT_GE(rig.host(leader)->stats().proposals_held, 3u);
  for (auto& reply : replies) {
    ASSERT_TRUE(reply->has_value());
    EXPECT_EQ((*reply)->code(), HostErrc::not_leader) << (*reply)->status().to_string();
  }
}

TEST(RaftHost, TransferAllLeadershipsEmptiesTheNodeOfLeaders) {
  Rig rig(3, 3);
  for (int i = 0; i < 300 && !(rig.leader(1) && rig.leader(2) && rig.leader(3)); ++i) rig.run_ms(10);
  // Node 0 (raft id 1) takes every group first, by transfers from their leaders.
  for (GroupId group = 1; group <= 3; ++group) {
    const sim::NodeIndex leader = *rig.leader(group);
    if (leader != 0) rig.world.runtime(leader)->spawn("to-0", [&rig, leader, group] { EXPECT_TRUE(rig.host(leader)->transfer_leadership(group, 1).ok()); });
  }
  for (int i = 0; i < 200 && rig.host(0)->leaders_here() < 3; ++i) rig.run_ms(10);
  ASSERT_EQ(rig.host(0)->leaders_here(), 3u);
  rig.world.runtime(0)->spawn("stop", [&rig] { EXPECT_TRUE(rig.host(0)->transfer_all_leaderships().ok()); });
  auto handed_over = [&rig] {
    for (GroupId group = 1; group <= 3; ++group) {
      if (!rig.leader(group) || *rig.leader(group) == 0) return false;
    }
    return true;
  };
  for (int i = 0; i < 200 && !handed_over(); ++i) rig.run_ms(10);
  EXPECT_EQ(rig.host(0)->leaders_here(), 0u);
  for (GroupId group = 1; group <= 3; ++group) {
    ASSERT_TRUE(rig.leader(group).has_value()) << "group " << group;
    EXPECT_NE(*rig.leader(group), 0) << "group " << group;
  }
}

}  // namespace
}  // namespace sluice::multiraft
