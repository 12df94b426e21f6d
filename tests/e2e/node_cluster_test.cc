// Three real sluice-node processes on 127.0.0.1 (ctest label e2e). The test process is the
// client: it runs its own epoll runtime and talks to the nodes over the inter-node RPC
// (docs/formats/rpc.md), as another node would.
//
//   1. three nodes start, each on its own ports and data dir, all voters of the controller (node 1
//      first; 2 and 3 join through it);
//   2. a topic of 3 partitions x 3 replicas is created through node 2, and a block of producer ids
//      allocated, retried while the cluster forms;
//   3. 50 records per partition, one per produce, each produce sent first to the next node in turn;
//   4. every node's replica of every partition is read back: every acknowledged record, at the
//      offset it was acknowledged with, and nothing else;
//   5. node 3 is killed (SIGKILL); 20 more records per partition through nodes 1 and 2; node 3
//      restarts on the same data dir, and local_only reads of its replicas find every record;
//   6. SIGTERM to all three: each says event=leaving and exits 0 within 15 s.
//
// An RPC receiver is the second hop of a call (Node::serve_partition_call marks every call it
// receives as forwarded; controller_submit never forwards either): a node that does not lead the
// partition answers not_leader naming the leader, and the client goes there, as a client of the
// coming HTTP API does. Producers are idempotent (ids from the controller, sequence = record
// index), so a retry after a lost answer cannot append twice: record k of a partition must be at
// offset k.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "node/controller/command.h"
#include "node/log/codec.h"
#include "node/rpc/rpc.h"
#include "node/server/node.h"
#include "node/server/partition_rpc.h"
#include "runtime/epoll/epoll_runtime.h"
#include "tests/e2e/node_process.h"

#ifndef SLUICE_NODE_BIN
#error "SLUICE_NODE_BIN: the sluice-node binary under test (tests/CMakeLists.txt)"
#endif

namespace sluice::e2e {
namespace {

namespace rt = runtime;
using namespace std::chrono_literals;

constexpr NodeId kNodes = 3;
constexpr uint32_t kPartitions = 3;
constexpr uint32_t kReplication = 3;
constexpr size_t kRecordsAllUp = 50;     // per partition, with all three nodes up
constexpr size_t kRecordsNodeDown = 20;  // per partition, while node 3 is down
// A fresh cluster's first topic gets id 1 (controller::Metadata counts topic ids from 1).
constexpr TopicId kFirstTopicId = 1;
constexpr rt::Duration kFormWithin = 30s;     // the controller takes commands
constexpr rt::Duration kProduceWithin = 20s;  // one record acknowledged, elections included
constexpr rt::Duration kReadWithin = 30s;     // a replica holds every acknowledged record
constexpr rt::Duration kCallTimeout = 3s;     // one RPC
constexpr rt::Duration kProduceTimeout = 2s;  // the leader's wait for the commit, inside a call
constexpr rt::Duration kRetryPause = 50ms;
constexpr rt::Duration kRedirectPause = 5ms;  // against two nodes naming each other as leader
constexpr auto kExitWithin = 15s;             // SIGTERM to exit
constexpr size_t kFetchBytesMax = 1 << 20;
constexpr rt::Duration kFetchWait = 200ms;

struct Stored {
  uint64_t offset = 0;
  std::string value;
};

std::string partition_name(PartitionId id) { return "partition " + std::to_string(id.index); }

// ---- the processes -------------------------------------------------------------------------------

// Which of the nodes are meant to run (started, not killed, not found dead by unexpected_exit()).
bool up(const LocalCluster& cluster, NodeId id) { return id >= 1 && id <= kNodes && cluster.node(id).running(); }

std::vector<NodeId> up_nodes(const LocalCluster& cluster) {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id <= kNodes; ++id) {
    if (up(cluster, id)) ids.push_back(id);
  }
  return ids;
}

// The next node meant to run after `after`, cyclically (`after` itself when it is the only one).
NodeId next_up(const LocalCluster& cluster, NodeId after) {
  for (NodeId step = 1; step <= kNodes; ++step) {
    const NodeId id = (after - 1 + step) % kNodes + 1;
    if (up(cluster, id)) return id;
  }
  return after;
}

// ---- the client ----------------------------------------------------------------------------------

bool retry_submit(controller::Errc code) {
  using controller::Errc;
  // The cluster is still forming: no leader yet, the leader busy, or not every node registered.
  return code == Errc::not_leader || code == Errc::timeout || code == Errc::unavailable || code == Errc::not_enough_nodes;
}

// Appends the records of `fetched` from offset records.size() on; a gap or damage is an error.
partition::Status append_records(const partition::FetchReply& fetched, std::vector<Stored>& records) {
  const log::Result<std::vector<ByteSpan>> batches = log::split_batches(fetched.batches);
  if (!batches.ok() || batches->size() != fetched.base_offsets.size()) {
    return partition::Status(partition::Errc::invalid_request, "a fetch returned damaged batches");
  }
  for (size_t b = 0; b < batches->size(); ++b) {
    const log::Result<log::BatchHeader> header = log::verify_batch((*batches)[b]);
    if (!header.ok()) return partition::Status(partition::Errc::invalid_request, "a fetched batch does not verify");
    const log::Result<std::vector<log::RecordView>> views = log::decode_records((*batches)[b], *header);
    if (!views.ok()) return partition::Status(partition::Errc::invalid_request, "a fetched batch does not decode");
    for (size_t i = 0; i < views->size(); ++i) {
      const uint64_t offset = fetched.base_offsets[b] + i;
      if (offset < records.size()) continue;  // the first batch may start before the offset asked for
      if (offset > records.size()) {
        return partition::Status(partition::Errc::invalid_request,
                                 "a fetch from offset " + std::to_string(records.size()) + " skipped to " + std::to_string(offset));
      }
      const ByteSpan value = (*views)[i].value;
      records.push_back(Stored{offset, std::string(reinterpret_cast<const char*>(value.data()), value.size())});
    }
  }
  return partition::Status();
}

struct ReadResult {
  std::vector<Stored> records;
  std::optional<uint64_t> high_watermark;  // the leader's vouched end when the last records arrived (a follower vouches none)
};

class Client {
 public:
  Client(rt::Runtime& runtime, LocalCluster& cluster) : runtime_(runtime), cluster_(cluster), rpc_(runtime, rpc::RpcClientConfig{}) {}

  // A metadata command, sent to `first` and then to the others in turn until the controller's
  // leader applies it or refuses it for a reason retrying cannot cure. `uncertain` is set when a
  // try timed out (the command may have been applied all the same).
  controller::Result<controller::Applied> submit(const controller::Command& command, NodeId first, bool& uncertain) {
    using Answer = controller::Result<controller::Applied>;
    const Bytes payload = controller::encode_command(command).value();
    const rt::Instant give_up = runtime_.now() + kFormWithin;
    NodeId to = first;
    std::string last = "none";
    while (runtime_.now() < give_up) {
      if (const std::string& died = cluster_.unexpected_exit(); !died.empty()) return Answer(controller::Errc::unavailable, died);
      rt::Result<rpc::Reply> reply = call(to, server::RpcMethod::controller_submit, payload);
      if (!reply.ok() || reply->status != rpc::RpcStatus::ok) {
        last = "node " + std::to_string(to) + ": " + (reply.ok() ? std::string(rpc::to_string(reply->status)) : reply.status().to_string());
        uncertain = uncertain || !reply.ok() || reply->status == rpc::RpcStatus::timeout;
      } else {
        std::optional<Answer> answer = controller::decode_submit_reply(reply->payload);
        if (!answer) return Answer(controller::Errc::invalid_request, "node " + std::to_string(to) + ": a malformed submit reply");
        if (answer->ok() || !retry_submit(answer->code())) return *answer;
        last = "node " + std::to_string(to) + ": " + answer->status().to_string();
        uncertain = uncertain || answer->code() == controller::Errc::timeout;
      }
      to = next_up(cluster_, to);
      (void)runtime_.sleep_for(kRetryPause);
    }
    return Answer(controller::Errc::timeout, "not applied within " + seconds(kFormWithin) + "; last answer: " + last);
  }

  // One batch, sent to `first` until acknowledged: a not_leader naming a running leader sends it
  // there, any other failure to the next running node after a pause.
  partition::Result<partition::ProduceReply> produce(PartitionId id, const Bytes& batch, NodeId first) {
    const Bytes payload = server::encode_partition_call(server::PartitionCall{id, {}, partition::ProduceRequest{batch, kProduceTimeout}});
    const rt::Instant give_up = runtime_.now() + kProduceWithin;
    NodeId to = up(cluster_, first) ? first : next_up(cluster_, first);
    std::string last = "none";
    while (runtime_.now() < give_up) {
      if (const std::string& died = cluster_.unexpected_exit(); !died.empty()) {
        return partition::Result<partition::ProduceReply>(partition::Errc::storage_error, died);
      }
      std::optional<partition::Reply> reply = partition_call(to, payload, last);
      if (reply && reply->status.ok()) {
        if (const auto* produced = std::get_if<partition::ProduceReply>(&reply->value)) return *produced;
        return partition::Result<partition::ProduceReply>(partition::Errc::invalid_request, "an ok produce reply without offsets");
      }
      if (reply) last = "node " + std::to_string(to) + ": " + reply->status.to_string();
      const NodeId leader = reply ? reply->leader : kNoNode;
      if (leader != to && up(cluster_, leader)) {
        ++redirects_;
        to = leader;
        (void)runtime_.sleep_for(kRedirectPause);
        continue;
      }
      ++retries_;
      to = next_up(cluster_, to);
      (void)runtime_.sleep_for(kRetryPause);
    }
    return partition::Result<partition::ProduceReply>(
        partition::Errc::timeout, partition_name(id) + ": not acknowledged within " + seconds(kProduceWithin) + "; last answer: " + last);
  }

  // Records [0, count) of the replica on `at` (a node serves a call it receives from its own
  // replica; `local_only` says so explicitly), waiting while that replica lags.
  partition::Result<ReadResult> read(NodeId at, PartitionId id, size_t count, bool local_only) {
    ReadResult read;
    const rt::Instant give_up = runtime_.now() + kReadWithin;
    std::string last = "none";
    while (read.records.size() < count) {
      if (runtime_.now() >= give_up) {
        return partition::Result<ReadResult>(partition::Errc::timeout,
                                             "node " + std::to_string(at) + " holds " + std::to_string(read.records.size()) + " of " +
                                                 std::to_string(count) + " records of " + partition_name(id) + " after " +
                                                 seconds(kReadWithin) + "; last answer: " + last);
      }
      if (const std::string& died = cluster_.unexpected_exit(); !died.empty()) {
        return partition::Result<ReadResult>(partition::Errc::storage_error, died);
      }
      const server::PartitionCall fetch{id, server::CallFlags{.forwarded = false, .local_only = local_only},
                                        partition::FetchRequest{read.records.size(), kFetchBytesMax, kFetchWait}};
      std::optional<partition::Reply> reply = partition_call(at, server::encode_partition_call(fetch), last);
      const auto* fetched = reply && reply->status.ok() ? std::get_if<partition::FetchReply>(&reply->value) : nullptr;
      if (fetched == nullptr) {  // not there yet (replica being created, catching up, ...)
        if (reply) last = reply->status.ok() ? "an ok fetch reply without records" : reply->status.to_string();
        (void)runtime_.sleep_for(kRetryPause);
        continue;
      }
      if (partition::Status appended = append_records(*fetched, read.records); !appended.ok()) return appended;
      read.high_watermark = fetched->high_watermark;
    }
    return read;
  }

  uint64_t redirects() const { return redirects_; }
  uint64_t retries() const { return retries_; }

 private:
  static std::string seconds(rt::Duration duration) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) + " s";
  }

  rt::Result<rpc::Reply> call(NodeId to, server::RpcMethod method, ByteSpan payload) {
    const rt::Address address{"127.0.0.1", cluster_.ports(to).rpc};
    return rpc_.call(address, static_cast<uint16_t>(method), payload, runtime_.now() + kCallTimeout);
  }

  // The partition reply of `to`; nullopt (with `last` saying why) when there is none.
  std::optional<partition::Reply> partition_call(NodeId to, ByteSpan payload, std::string& last) {
    rt::Result<rpc::Reply> reply = call(to, server::RpcMethod::partition_call, payload);
    if (!reply.ok() || reply->status != rpc::RpcStatus::ok) {
      last = "node " + std::to_string(to) + ": " + (reply.ok() ? std::string(rpc::to_string(reply->status)) : reply.status().to_string());
      return std::nullopt;
    }
    std::optional<partition::Reply> decoded = server::decode_partition_reply(reply->payload);
    if (!decoded) last = "node " + std::to_string(to) + ": a malformed partition reply";
    return decoded;
  }

  rt::Runtime& runtime_;
  LocalCluster& cluster_;
  rpc::RpcClient rpc_;
  uint64_t redirects_ = 0;  // not_leader replies followed to the leader they named
  uint64_t retries_ = 0;    // other failed tries (no leader yet, a node down, a timeout)
};

// ---- the test ------------------------------------------------------------------------------------

Bytes idempotent_batch(const std::string& value, uint64_t producer_id, uint32_t sequence) {
  const log::Record record{.timestamp_ms = 0, .key = {}, .value = as_bytes(value), .headers = {}};
  return log::encode_batch(0, 0, std::span(&record, 1), log::kBatchBytesLimit, 0, log::ProducerStamp{producer_id, 0, sequence}).value();
}

// The first difference between what a replica holds and what was acknowledged, or "".
std::string first_difference(const ReadResult& read, const std::vector<Stored>& acked) {
  for (size_t i = 0; i < std::min(read.records.size(), acked.size()); ++i) {
    const Stored& got = read.records[i];
    if (got.offset != acked[i].offset || got.value != acked[i].value) {
      return "record " + std::to_string(i) + ": holds '" + got.value + "' at offset " + std::to_string(got.offset) + ", acknowledged '" +
             acked[i].value + "' at offset " + std::to_string(acked[i].offset);
    }
  }
  if (read.records.size() != acked.size() || (read.high_watermark && *read.high_watermark != acked.size())) {
    const std::string high = read.high_watermark ? std::to_string(*read.high_watermark) : "not vouched";
    return "holds " + std::to_string(read.records.size()) + " records (high watermark " + high + "), " +
           std::to_string(acked.size()) + " were acknowledged";
  }
  return "";
}

class NodeClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(SLUICE_NODE_BIN)) << "no sluice-node at " << SLUICE_NODE_BIN;
    if (!loopback_usable()) GTEST_SKIP() << "this machine does not let a process bind 127.0.0.1";
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
    std::string error;
    // Its own cluster id: a concurrent run that picked overlapping ports cannot merge with this one.
    cluster_ = LocalCluster::create(
        {.binary = SLUICE_NODE_BIN, .dir = dir_.path(), .cluster_id = 1000 + static_cast<uint64_t>(::getpid()), .nodes = kNodes}, error);
    ASSERT_NE(cluster_, nullptr) << error;
  }

  void TearDown() override {
    if (cluster_ != nullptr) cluster_->finish(HasFailure());
  }

  void start(NodeId id) {
    std::string error;
    ASSERT_TRUE(cluster_->start(id, error)) << error;
  }

  // Runs `body` on an epoll runtime of the test process with a Client of the cluster. The client
  // outlives the runtime's fibers (its connections' readers): it is destroyed after run() returns.
  void with_client(const std::function<void(rt::Runtime&, Client&)>& body) {
    const std::string dir = dir_.path() + "/client";
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    auto runtime = rt::epoll::EpollRuntime::create(rt::epoll::EpollOptions{.data_dir = dir, .host = "127.0.0.1"});
    ASSERT_TRUE(runtime.ok()) << runtime.status().to_string();
    std::unique_ptr<Client> client;
    const rt::Status ran = (*runtime)->run([&] {
      client = std::make_unique<Client>(**runtime, *cluster_);
      body(**runtime, *client);
    });
    EXPECT_TRUE(ran.ok()) << ran.to_string();
    if (client == nullptr) return;
    std::cout << "client: " << client->redirects() << " not_leader replies followed, " << client->retries() << " retries\n";
  }

  // `count` records per partition, one fiber per partition; each produce goes first to the next
  // running node in turn. Checks and records the offsets each was acknowledged with.
  void produce(rt::Runtime& runtime, Client& client, TopicId topic, uint64_t first_producer_id, size_t count) {
    std::vector<rt::Task> producers;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      producers.push_back(runtime.spawn("produce-" + std::to_string(p), [this, &client, topic, first_producer_id, count, p] {
        std::vector<Stored>& acked = acked_[p];
        for (size_t i = 0; i < count; ++i) {
          const size_t k = acked.size();
          const std::string value = "e2e partition " + std::to_string(p) + " record " + std::to_string(k);
          const std::vector<NodeId> up = up_nodes(*cluster_);
          ASSERT_FALSE(up.empty());
          const Bytes batch = idempotent_batch(value, first_producer_id + p, static_cast<uint32_t>(k));
          partition::Result<partition::ProduceReply> produced = client.produce(PartitionId{topic, p}, batch, up[(k + p) % up.size()]);
          ASSERT_TRUE(produced.ok()) << produced.status().to_string();
          // Idempotent, one record a batch, nobody else writing: record k lands at offset k.
          ASSERT_EQ(produced->base_offset, k) << partition_name(PartitionId{topic, p});
          ASSERT_EQ(produced->last_offset, k) << partition_name(PartitionId{topic, p});
          acked.push_back(Stored{produced->base_offset, value});
        }
      }));
    }
    for (rt::Task& producer : producers) (void)producer.join();
  }

  // Every partition's replica on `at` holds exactly what was acknowledged.
  void expect_replicas_hold_acked(Client& client, NodeId at, TopicId topic, bool local_only) {
    for (uint32_t p = 0; p < kPartitions; ++p) {
      const PartitionId id{topic, p};
      partition::Result<ReadResult> read = client.read(at, id, acked_[p].size(), local_only);
      ASSERT_TRUE(read.ok()) << read.status().to_string();
      const std::string difference = first_difference(*read, acked_[p]);
      EXPECT_EQ(difference, "") << "node " << at << ", " << partition_name(id);
    }
  }

  // One line per step on stdout: where the time goes.
  void step_done(const std::string& step) {
    const auto now = std::chrono::steady_clock::now();
    std::cout << "step " << step << ": " << std::chrono::duration_cast<std::chrono::milliseconds>(now - step_started_).count() << " ms\n";
    step_started_ = now;
  }

  void expect_log_has(NodeId id, const std::string& line) {
    EXPECT_TRUE(cluster_->log_has(id, line)) << "node " << id << " logged no '" << line << "'";
  }

  TempDir dir_;
  std::unique_ptr<LocalCluster> cluster_;  // after dir_: its processes are gone before the directory
  std::array<std::vector<Stored>, kPartitions> acked_;
  std::chrono::steady_clock::time_point step_started_ = std::chrono::steady_clock::now();
};

TEST_F(NodeClusterTest, FormsReplicatesSurvivesAKillAndStopsCleanlyOnSigterm) {
  for (NodeId id = 1; id <= kNodes; ++id) ASSERT_NO_FATAL_FAILURE(start(id));
  with_client([&](rt::Runtime& runtime, Client& client) {
    // Through node 2: it may not lead the metadata group; then another node is tried.
    bool uncertain = false;
    const controller::Result<controller::Applied> created =
        client.submit(controller::CreateTopic{"e2e", kPartitions, kReplication, {}}, 2, uncertain);
    // A try that timed out may have created it: on a fresh cluster it is then the first topic.
    const bool created_before = !created.ok() && created.code() == controller::Errc::topic_exists && uncertain;
    ASSERT_TRUE(created.ok() || created_before) << "creating the topic: " << created.status().to_string();
    const TopicId topic = created.ok() ? created->topic : kFirstTopicId;
    bool ignored = false;  // a block allocated twice only wastes ids
    const controller::Result<controller::Applied> producers = client.submit(controller::AllocateProducerIds{kPartitions}, 1, ignored);
    ASSERT_TRUE(producers.ok()) << "allocating producer ids: " << producers.status().to_string();
    for (NodeId id = 1; id <= kNodes; ++id) {
      expect_log_has(id, "event=start node=127.0.0.1:" + std::to_string(cluster_->ports(id).membership) + " node_id=" + std::to_string(id));
    }
    step_done("formed, topic created");

    ASSERT_NO_FATAL_FAILURE(produce(runtime, client, topic, producers->first_producer_id, kRecordsAllUp));
    step_done("produced " + std::to_string(kRecordsAllUp) + " per partition");
    for (NodeId id = 1; id <= kNodes; ++id) ASSERT_NO_FATAL_FAILURE(expect_replicas_hold_acked(client, id, topic, false));
    step_done("read back from every node");

    cluster_->node(3).kill_and_reap();  // SIGKILL: no leaving, no flush
    ASSERT_NO_FATAL_FAILURE(produce(runtime, client, topic, producers->first_producer_id, kRecordsNodeDown));
    step_done("node 3 killed, produced " + std::to_string(kRecordsNodeDown) + " per partition");
    ASSERT_NO_FATAL_FAILURE(start(3));
    ASSERT_NO_FATAL_FAILURE(expect_replicas_hold_acked(client, 3, topic, true));
    step_done("node 3 restarted and caught up");
    ASSERT_NO_FATAL_FAILURE(expect_replicas_hold_acked(client, 1, topic, true));
  });
  if (HasFailure()) return;

  cluster_->signal_all(SIGTERM);
  const auto signalled = std::chrono::steady_clock::now();
  for (NodeId id = 1; id <= kNodes; ++id) {
    const std::optional<int> status = cluster_->node(id).wait_exit(kExitWithin);
    ASSERT_TRUE(status.has_value()) << "node " << id << " still runs " << kExitWithin.count() << " s after SIGTERM";
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - signalled);
    std::cout << "node " << id << ": " << describe_wait_status(*status) << " " << took.count() << " ms after SIGTERM\n";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "node " << id << ": " << describe_wait_status(*status);
    expect_log_has(id, "event=leaving signal=SIGTERM");
    expect_log_has(id, "event=stop ");
  }
}

}  // namespace
}  // namespace sluice::e2e
