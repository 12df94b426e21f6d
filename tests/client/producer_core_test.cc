// The producer's pure core (client/producer_core.h) against a model leader that judges batches
// with the partition's real idempotence table (node/partition/producers.h), over a network that
// loses requests, loses answers, delays requests past the client's timeout (ghosts that land
// later), reorders them, and answers not_leader. RapidCheck drives the schedule. Whatever happens:
// - every record gets exactly one delivery;
// - an acknowledged record is in the leader's log exactly at the offset it was told;
// - no record is in the log twice, and each partition's log keeps send order;
// - once the faults stop, everything is acknowledged.
// Plus example tests for batching, linger, buffer limits and delivery timeouts.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <map>
#include <set>
#include <vector>

#include "client/producer_core.h"
#include "node/partition/producers.h"
#include "tests/testing/rapidcheck_floor.h"

namespace sluice::client {
namespace {

using std::chrono::milliseconds;

rt::Instant at_ms(int64_t ms) { return rt::Instant(milliseconds(ms)); }

Bytes bytes_of(std::string_view text) { return to_bytes(text); }

// A request as the leader receives it: a copy, since a ghost may land after the core let go.
struct Request {
  uint64_t batch_id = 0;
  PartitionKey partition;
  std::optional<uint64_t> producer_id;
  uint16_t epoch = 0;
  uint32_t first_sequence = 0;
  std::vector<uint64_t> record_ids;
};

Request request_of(const SendJob& job) {
  Request request{job.batch_id, job.partition, job.producer_id, job.epoch, job.first_sequence, {}};
  for (const OutgoingRecord& record : *job.records) request.record_ids.push_back(record.id);
  return request;
}

// One leader per partition: a log of record ids and the real idempotence table.
class ModelLeader {
 public:
  BatchAnswer apply(const Request& request) {
    Partition& partition = partitions_[request.partition];
    const uint32_t count = static_cast<uint32_t>(request.record_ids.size());
    if (request.producer_id) {
      const partition::ProducerId id{*request.producer_id, request.epoch, request.first_sequence};
      const partition::ProducerVerdict verdict = partition.table.check(id, count);
      switch (verdict.kind) {
        case partition::ProducerVerdict::Kind::duplicate: return BatchAnswer{Status(), verdict.original.base_offset, true};
        case partition::ProducerVerdict::Kind::out_of_order_sequence: return BatchAnswer{Status(Errc::out_of_order_sequence, "")};
        case partition::ProducerVerdict::Kind::producer_fenced: return BatchAnswer{Status(Errc::producer_fenced, "")};
        case partition::ProducerVerdict::Kind::append: break;
      }
      const uint64_t base = partition.log.size();
      partition.table.record(id, partition::ProducerBatch{request.first_sequence, request.first_sequence + count - 1, base, 0});
    }
    const uint64_t base = partition.log.size();
    partition.log.insert(partition.log.end(), request.record_ids.begin(), request.record_ids.end());
    return BatchAnswer{Status(), base, false};
  }
  const std::vector<uint64_t>& log(const PartitionKey& key) { return partitions_[key].log; }
  const std::map<PartitionKey, std::vector<uint64_t>> logs() const {
    std::map<PartitionKey, std::vector<uint64_t>> out;
    for (const auto& [key, partition] : partitions_) out[key] = partition.log;
    return out;
  }

 private:
  struct Partition {
    std::vector<uint64_t> log;
    partition::ProducerTable table;
  };
  std::map<PartitionKey, Partition> partitions_;
};

enum class Fate { answered, answer_lost, request_lost, ghost, not_leader };

void check_history(const std::map<uint64_t, Delivery>& delivered, const std::map<uint64_t, PartitionKey>& sent,
                   const std::map<PartitionKey, std::vector<uint64_t>>& logs) {
  for (const auto& [id, key] : sent) RC_ASSERT(delivered.contains(id));
  for (const auto& [key, log] : logs) {
    std::set<uint64_t> seen;
    for (size_t i = 0; i < log.size(); ++i) {
      RC_ASSERT(seen.insert(log[i]).second);              // never twice
      if (i > 0) RC_ASSERT(log[i - 1] < log[i]);           // send order
      RC_ASSERT(sent.at(log[i]) == key);                   // the partition it was sent to
    }
  }
  for (const auto& [id, delivery] : delivered) {
    if (!delivery.status.ok()) continue;
    const std::vector<uint64_t>& log = logs.at(delivery.partition);
    RC_ASSERT(delivery.offset < log.size());
    RC_ASSERT(log[delivery.offset] == id);
  }
}

// The property, with `planted` switched on in the producer.
void exactly_once_in_order(PlantedBug planted) {
    ProducerLimits limits;
    limits.planted_bug = planted;
    limits.batch_bytes_max = *rc::gen::element<size_t>(64, 200, 1000);
    limits.buffer_bytes_max = 4000;
    limits.in_flight_per_partition_max = *rc::gen::inRange<size_t>(1, 6);
    limits.linger = milliseconds(*rc::gen::inRange(0, 5));
    limits.delivery_timeout = milliseconds(*rc::gen::element(200, 100'000));
    ProducerCore core(limits, *rc::gen::arbitrary<uint64_t>());
    core.set_producer_id(7);
    ModelLeader leader;
    std::map<uint64_t, Delivery> delivered;
    std::map<uint64_t, PartitionKey> sent;
    std::vector<Request> wire;    // sent, not yet judged, answer awaited
    std::vector<Request> ghosts;  // the client gave up on them; they may still land
    int64_t now_ms = 0;
    auto drain = [&] {
      for (Delivery& delivery : core.take_deliveries()) RC_ASSERT(delivered.emplace(delivery.record_id, delivery).second);
    };
    auto send_all = [&] {
      for (const SendJob& job : core.take_sendable(at_ms(now_ms))) wire.push_back(request_of(job));
    };
    const int steps = *rc::gen::inRange(1, 120);
    for (int step = 0; step < steps; ++step) {
      const int action = *rc::gen::inRange(0, 10);
      if (action < 4) {
        const PartitionKey key{"t", *rc::gen::inRange<uint32_t>(0, 2)};
        const std::string value(*rc::gen::inRange<size_t>(0, 40), 'v');
        Result<uint64_t> id = core.enqueue(key, {}, bytes_of(value), false, at_ms(now_ms));
        if (id.ok()) sent[*id] = key;
      } else if (action < 6) {
        now_ms += *rc::gen::inRange(0, 60);
        core.expire(at_ms(now_ms));
        send_all();
      } else if (action < 9 && !wire.empty()) {
        const size_t pick = *rc::gen::inRange<size_t>(0, wire.size());  // any order: reordering
        const Request request = wire[pick];
        wire.erase(wire.begin() + static_cast<std::ptrdiff_t>(pick));
        const Fate fate = *rc::gen::element(Fate::answered, Fate::answered, Fate::answer_lost, Fate::request_lost, Fate::ghost, Fate::not_leader);
        BatchAnswer answer{Status(Errc::timeout, "lost")};
        if (fate == Fate::answered || fate == Fate::answer_lost) {
          const BatchAnswer judged = leader.apply(request);
          if (fate == Fate::answered) answer = judged;
        } else if (fate == Fate::ghost) {
          ghosts.push_back(request);
        } else if (fate == Fate::not_leader) {
          answer = BatchAnswer{Status(Errc::not_leader, "moved")};
        }
        core.on_answer(request.batch_id, answer, at_ms(now_ms));
      } else if (!ghosts.empty()) {
        const size_t pick = *rc::gen::inRange<size_t>(0, ghosts.size());
        (void)leader.apply(ghosts[pick]);
        ghosts.erase(ghosts.begin() + static_cast<std::ptrdiff_t>(pick));
      }
      drain();
    }
    // Heal: ghosts land or die, every request is answered, time moves on.
    for (const Request& ghost : ghosts) {
      if (*rc::gen::arbitrary<bool>()) (void)leader.apply(ghost);
    }
    core.flush();
    for (int round = 0; round < 10'000 && core.undelivered_records() > 0; ++round) {
      now_ms += 10;
      core.expire(at_ms(now_ms));
      send_all();
      for (const Request& request : std::exchange(wire, {})) core.on_answer(request.batch_id, leader.apply(request), at_ms(now_ms));
      drain();
    }
    RC_ASSERT(core.undelivered_records() == 0u);
    RC_ASSERT(core.buffered_bytes() == 0u);
    check_history(delivered, sent, leader.logs());
    // With a delivery timeout far beyond the run, nothing may fail: everything is acknowledged.
    if (limits.delivery_timeout == milliseconds(100'000)) {
      for (const auto& [id, delivery] : delivered) RC_ASSERT(delivery.status.ok());
    }
}

TEST(ProducerCoreProperty, ExactlyOnceInOrderUnderLossReorderingGhostsAndLeaderChanges) {
  testing::check_at_least(300, [] { exactly_once_in_order(PlantedBug::none); });
}

// The property is only as good as the bugs it catches: renumbering a batch whose first send may
// have landed must show up as a record appended twice.
TEST(ProducerCoreProperty, CatchesThePlantedRenumberOnRetry) {
  const rc::detail::TestResult result = rc::detail::checkTestable([] { exactly_once_in_order(PlantedBug::client_renumber_on_retry); },
                                                                  rc::detail::TestMetadata{}, [] {
                                                                    rc::detail::TestParams params;
                                                                    params.maxSuccess = 2000;
                                                                    params.seed = 1;
                                                                    return params;
                                                                  }());
  EXPECT_TRUE(result.is<rc::detail::FailureResult>());
}

TEST(ProducerCore, CutsABatchWhenFullOrLingeredAndNotBefore) {
  ProducerLimits limits;
  limits.batch_bytes_max = 3 * (10 + kRecordOverheadBytes);
  limits.linger = milliseconds(5);
  ProducerCore core(limits, 1);
  core.set_producer_id(1);
  const PartitionKey key{"t", 0};
  ASSERT_TRUE(core.enqueue(key, {}, Bytes(10), false, at_ms(0)).ok());
  EXPECT_TRUE(core.take_sendable(at_ms(4)).empty());
  EXPECT_EQ(core.next_event_at(at_ms(4)), at_ms(5));
  std::vector<SendJob> jobs = core.take_sendable(at_ms(5));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].records->size(), 1u);
  EXPECT_EQ(jobs[0].first_sequence, 0u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(), 40, false}, at_ms(6));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(core.enqueue(key, {}, Bytes(10), false, at_ms(6)).ok());
  jobs = core.take_sendable(at_ms(6));  // full: no linger
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].records->size(), 3u);
  EXPECT_EQ(jobs[0].first_sequence, 1u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(), 41, false}, at_ms(7));
  std::vector<Delivery> deliveries = core.take_deliveries();
  ASSERT_EQ(deliveries.size(), 4u);
  EXPECT_EQ(deliveries[0].offset, 40u);
  EXPECT_EQ(deliveries[3].offset, 43u);
}

TEST(ProducerCore, RefusesRecordsBeyondTheBufferAndLargerThanABatch) {
  ProducerLimits limits;
  limits.batch_bytes_max = 100;
  limits.buffer_bytes_max = 200;
  ProducerCore core(limits, 1);
  const PartitionKey key{"t", 0};
  EXPECT_EQ(core.enqueue(key, {}, Bytes(100), false, at_ms(0)).code(), Errc::record_too_large);
  ASSERT_TRUE(core.enqueue(key, {}, Bytes(70), false, at_ms(0)).ok());
  ASSERT_TRUE(core.enqueue(key, {}, Bytes(70), false, at_ms(0)).ok());
  EXPECT_EQ(core.enqueue(key, {}, Bytes(70), false, at_ms(0)).code(), Errc::buffer_full);
  EXPECT_EQ(core.buffered_bytes(), 2 * (70 + kRecordOverheadBytes));
}

TEST(ProducerCore, AnIdempotentProducerSendsNothingBeforeItHasAnId) {
  ProducerCore core(ProducerLimits{}, 1);
  ASSERT_TRUE(core.enqueue(PartitionKey{"t", 0}, {}, Bytes(1), false, at_ms(0)).ok());
  core.flush();
  EXPECT_TRUE(core.take_sendable(at_ms(100)).empty());
  core.set_producer_id(9);
  std::vector<SendJob> jobs = core.take_sendable(at_ms(100));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].producer_id, std::optional<uint64_t>(9));
}

TEST(ProducerCore, ARetryKeepsItsSequenceAndBacksOffWithJitter) {
  ProducerLimits limits;
  limits.retry_backoff_initial = milliseconds(100);
  ProducerCore core(limits, 1);
  core.set_producer_id(1);
  ASSERT_TRUE(core.enqueue(PartitionKey{"t", 0}, {}, Bytes(1), false, at_ms(0)).ok());
  core.flush();
  std::vector<SendJob> jobs = core.take_sendable(at_ms(0));
  ASSERT_EQ(jobs.size(), 1u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(Errc::not_leader, "")}, at_ms(0));
  const rt::Instant retry_at = core.next_event_at(at_ms(0));
  // take_sendable clears the recovery first, then the backoff decides.
  EXPECT_TRUE(core.take_sendable(at_ms(0)).empty());
  const rt::Instant backoff_end = core.next_event_at(at_ms(0));
  EXPECT_EQ(retry_at, at_ms(0));
  EXPECT_GE(backoff_end, at_ms(50));
  EXPECT_LT(backoff_end, at_ms(100));
  jobs = core.take_sendable(backoff_end);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].first_sequence, 0u);
  EXPECT_EQ(jobs[0].epoch, 0u);
  EXPECT_EQ(jobs[0].attempt, 1u);
}

TEST(ProducerCore, DeliveryTimeoutFailsTheSentBatchAndRenumbersTheUnsentUnderTheNextEpoch) {
  ProducerLimits limits;
  limits.delivery_timeout = milliseconds(100);
  limits.in_flight_per_partition_max = 2;
  limits.batch_records_max = 1;
  ProducerCore core(limits, 1);
  core.set_producer_id(1);
  const PartitionKey key{"t", 0};
  ASSERT_TRUE(core.enqueue(key, {}, Bytes(1), false, at_ms(0)).ok());
  core.flush();
  std::vector<SendJob> first = core.take_sendable(at_ms(0));
  ASSERT_EQ(first.size(), 1u);
  core.on_answer(first[0].batch_id, BatchAnswer{Status(Errc::timeout, "")}, at_ms(1));
  ASSERT_TRUE(core.enqueue(key, {}, Bytes(1), false, at_ms(50)).ok());
  core.expire(at_ms(100));
  std::vector<Delivery> deliveries = core.take_deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].status.code(), Errc::delivery_timeout);
  core.flush();
  std::vector<SendJob> next = core.take_sendable(at_ms(100));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].epoch, 1u);
  EXPECT_EQ(next[0].first_sequence, 0u);
}

}  // namespace
}  // namespace sluice::client

namespace sluice::client {
namespace {

TEST(ProducerCore, ABatchTheLeaderFindsTooLargeIsSplitKeepingItsSequences) {
  ProducerCore core(ProducerLimits{}, 1);
  core.set_producer_id(1);
  const PartitionKey key{"t", 0};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(core.enqueue(key, {}, Bytes(100), false, rt::Instant{}).ok());
  core.flush();
  std::vector<SendJob> jobs = core.take_sendable(rt::Instant{});
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_EQ(jobs[0].records->size(), 4u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(Errc::record_too_large, "above the log's batch limit")}, rt::Instant{});
  EXPECT_TRUE(core.take_deliveries().empty());  // nothing failed: it is sent again in halves
  jobs = core.take_sendable(rt::Instant{});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].records->size(), 2u);
  EXPECT_EQ(jobs[0].first_sequence, 0u);
  EXPECT_EQ(jobs[0].epoch, 0u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(), 0, false}, rt::Instant{});
  jobs = core.take_sendable(rt::Instant{});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].records->size(), 2u);
  EXPECT_EQ(jobs[0].first_sequence, 2u);
  core.on_answer(jobs[0].batch_id, BatchAnswer{Status(), 2, false}, rt::Instant{});
  EXPECT_EQ(core.take_deliveries().size(), 4u);
  EXPECT_EQ(core.stats().splits, 1u);
  // Later batches are cut at the size the leader took.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(core.enqueue(key, {}, Bytes(100), false, rt::Instant{}).ok());
  core.flush();
  jobs = core.take_sendable(rt::Instant{});
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].records->size(), 2u);
  // One record too large alone fails.
  ProducerCore single(ProducerLimits{}, 1);
  single.set_producer_id(1);
  ASSERT_TRUE(single.enqueue(key, {}, Bytes(100), false, rt::Instant{}).ok());
  single.flush();
  jobs = single.take_sendable(rt::Instant{});
  single.on_answer(jobs[0].batch_id, BatchAnswer{Status(Errc::record_too_large, "")}, rt::Instant{});
  std::vector<Delivery> failed = single.take_deliveries();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].status.code(), Errc::record_too_large);
}

}  // namespace
}  // namespace sluice::client
