// The partition state machine (node/partition/state_machine.h): offsets over holes, timestamps
// under clock jumps, the idempotent producers' window (retry, gap, fenced epoch, expiry), retention
// decisions and snapshots.
#include "node/partition/state_machine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "node/base/byte_io.h"
#include "node/log/crc32c.h"

namespace sluice::partition {
namespace {

using Kind = ApplyOutcome::Kind;

// Feeds entries at consecutive indexes and log offsets, as a replica would.
class Feeder {
 public:
  explicit Feeder(PartitionState& state) : state_(state) {}
  ApplyOutcome data(uint32_t records, int64_t timestamp_ms, ProducerId producer = {}) {
    CommittedEntry entry = next(records, CommittedEntry::Kind::data);
    entry.first_timestamp_ms = timestamp_ms;
    entry.max_timestamp_ms = timestamp_ms;
    entry.producer = producer;
    return state_.apply(entry);
  }
  ApplyOutcome noop() { return state_.apply(next(1, CommittedEntry::Kind::other)); }
  ApplyOutcome cut(uint64_t log_offset) {
    CommittedEntry entry = next(1, CommittedEntry::Kind::command);
    entry.command = Command{Command::Kind::retention_cut, log_offset};
    return state_.apply(entry);
  }
  uint64_t log_end() const { return state_.offsets().log_end(); }

 private:
  CommittedEntry next(uint32_t records, CommittedEntry::Kind kind) {
    CommittedEntry entry;
    entry.index = state_.applied_index() + 1;
    entry.log_offset = state_.offsets().log_end();
    entry.log_records = records;
    entry.kind = kind;
    return entry;
  }
  PartitionState& state_;
};

TEST(OffsetMap, RecordsAreDenseAcrossHoles) {
  OffsetMap map;
  map.add_hole(1);     // log 0: a leader's no-op
  map.add_records(3);  // log 1..3 → 0..2
  map.add_hole(2);     // log 4..5
  map.add_hole(1);     // log 6 (merges with the hole before)
  map.add_records(2);  // log 7..8 → 3..4
  EXPECT_EQ(map.holes().size(), 2u);
  EXPECT_EQ(map.end_offset(), 5u);
  EXPECT_EQ(map.offset_of(0), std::nullopt);
  EXPECT_EQ(map.offset_of(1), 0u);
  EXPECT_EQ(map.offset_of(3), 2u);
  EXPECT_EQ(map.offset_of(5), std::nullopt);
  EXPECT_EQ(map.offset_of(7), 3u);
  EXPECT_EQ(map.offset_of(9), std::nullopt);
  for (uint64_t offset = 0; offset < 5; ++offset) EXPECT_EQ(map.offset_of(map.log_offset_of(offset)), offset);
  EXPECT_EQ(map.log_offset_of(5), 9u);
  EXPECT_EQ(map.offset_at_or_after(4), 3u);
  EXPECT_EQ(map.offset_at_or_after(0), 0u);
  EXPECT_EQ(map.start_offset(), 0u);
}

TEST(OffsetMap, CutKeepsOffsetsOfWhatRemains) {
  OffsetMap map;
  map.add_records(4);  // log 0..3 → 0..3
  map.add_hole(3);     // log 4..6
  map.add_records(2);  // log 7..8 → 4..5
  map.cut_prefix(5);   // inside the hole
  EXPECT_EQ(map.start_offset(), 4u);
  EXPECT_EQ(map.offset_of(7), 4u);
  EXPECT_EQ(map.log_offset_of(4), 7u);
  EXPECT_EQ(map.holes().front().log_offset, 5u);
  map.cut_prefix(7);
  EXPECT_TRUE(map.holes().empty());
  EXPECT_EQ(map.start_offset(), 4u);
  EXPECT_EQ(map.offset_of(8), 5u);
  EXPECT_EQ(map.log_offset_of(6), 9u);
  OffsetMap copy;
  ASSERT_TRUE(copy.restore(map.state()));
  EXPECT_EQ(copy, map);
}

TEST(OffsetMap, RestoreRefusesContradictions) {
  OffsetMap map;
  map.add_records(2);
  map.add_hole(1);
  OffsetMap::State state = map.state();
  state.skipped_total = 5;
  EXPECT_FALSE(OffsetMap().restore(state));
  state = map.state();
  state.holes.front().log_offset = 9;  // beyond the end
  EXPECT_FALSE(OffsetMap().restore(state));
}

TEST(PartitionState, OffsetsAreDenseAndMonotonic) {
  PartitionState state;
  Feeder feed(state);
  EXPECT_EQ(feed.noop().kind, Kind::hole);
  ApplyOutcome first = feed.data(3, 100);
  EXPECT_EQ(first.kind, Kind::appended);
  EXPECT_EQ(first.base_offset, 0u);
  EXPECT_EQ(first.last_offset, 2u);
  feed.noop();
  ApplyOutcome second = feed.data(2, 101);
  EXPECT_EQ(second.base_offset, 3u);
  EXPECT_EQ(second.last_offset, 4u);
  EXPECT_EQ(state.end_offset(), 5u);
  EXPECT_EQ(state.max_timestamp_ms(), 101);
}

TEST(PartitionState, ReappliedEntriesAreStale) {
  PartitionState state;
  Feeder feed(state);
  feed.data(1, 5);
  CommittedEntry again;
  again.index = 1;
  again.kind = CommittedEntry::Kind::data;
  EXPECT_EQ(state.apply(again).kind, Kind::stale);
  EXPECT_EQ(state.end_offset(), 1u);
}

TEST(PartitionState, StampsNeverGoBackWhenTheClockDoes) {
  PartitionState state;
  auto stamp = [&](int64_t now_ms, int64_t spread_ms = 0) {
    return state.decide_produce({}, 1, spread_ms, now_ms).value().timestamp_ms;
  };
  EXPECT_EQ(stamp(1000, 5), 1000);
  EXPECT_EQ(stamp(900), 1005);  // the clock jumped back: held at the previous batch's newest
  EXPECT_EQ(stamp(2000), 2000);
  // A new leader finds newer batches in its log than it applied: it stamps above them too.
  PartitionState other;
  other.note_log_timestamp(5000);
  EXPECT_EQ(other.decide_produce({}, 1, 0, 10).value().timestamp_ms, 5000);
  // Applied batches raise the floor as well.
  PartitionState follower;
  Feeder(follower).data(1, 7000);
  EXPECT_EQ(follower.decide_produce({}, 1, 0, 10).value().timestamp_ms, 7000);
}

TEST(PartitionState, ProduceRejectsMalformedBatches) {
  PartitionState state;
  EXPECT_EQ(state.decide_produce({}, 0, 0, 1).code(), Errc::invalid_request);
  EXPECT_EQ(state.decide_produce({}, 1, -1, 1).code(), Errc::invalid_request);
  EXPECT_EQ(state.decide_produce({7, 0, UINT32_MAX}, 2, 0, 1).code(), Errc::invalid_request);
  EXPECT_EQ(state.decide_produce({}, 1, INT64_MAX, 10).code(), Errc::invalid_request);
}

TEST(PartitionState, RetryOfACommittedBatchGetsItsOffsetsBack) {
  PartitionState state;
  Feeder feed(state);
  ProducerId producer{42, 0, 0};
  ApplyOutcome original = feed.data(3, 10, producer);
  ASSERT_EQ(original.kind, Kind::appended);
  // At the leader: answered without proposing.
  ProduceDecision decision = state.decide_produce(producer, 3, 0, 11).value();
  EXPECT_TRUE(decision.duplicate);
  EXPECT_EQ(decision.base_offset, original.base_offset);
  EXPECT_EQ(decision.last_offset, original.last_offset);
  EXPECT_EQ(decision.timestamp_ms, 10);
  // A retry that raced its original into the log: a hole, answered with the original's offsets.
  ApplyOutcome raced = feed.data(3, 12, producer);
  EXPECT_EQ(raced.kind, Kind::duplicate);
  EXPECT_EQ(raced.base_offset, 0u);
  EXPECT_EQ(raced.last_offset, 2u);
  EXPECT_EQ(state.end_offset(), 3u);
  EXPECT_EQ(feed.data(1, 13, {42, 0, 3}).base_offset, 3u);
}

TEST(PartitionState, WindowHoldsTheLastFiveBatches) {
  PartitionState state;
  Feeder feed(state);
  for (uint32_t batch = 0; batch < 6; ++batch) feed.data(2, 10 + batch, {9, 0, 2 * batch});
  EXPECT_EQ(state.producers().find(9)->recent.size(), kRecentBatches);
  EXPECT_TRUE(state.decide_produce({9, 0, 2}, 2, 0, 20).value().duplicate);  // the 2nd batch: still known
  // The 1st fell out of the window: refused rather than appended twice.
  EXPECT_EQ(state.decide_produce({9, 0, 0}, 2, 0, 20).code(), Errc::out_of_order_sequence);
  EXPECT_EQ(feed.data(2, 21, {9, 0, 0}).error, Errc::out_of_order_sequence);
}

TEST(PartitionState, SequenceGapIsRefusedAndLeavesAHole) {
  PartitionState state;
  Feeder feed(state);
  feed.data(1, 1, {5, 0, 0});
  EXPECT_EQ(state.decide_produce({5, 0, 2}, 1, 0, 2).code(), Errc::out_of_order_sequence);
  ApplyOutcome gap = feed.data(1, 2, {5, 0, 2});
  EXPECT_EQ(gap.kind, Kind::refused);
  EXPECT_EQ(gap.error, Errc::out_of_order_sequence);
  EXPECT_EQ(state.end_offset(), 1u);
  EXPECT_EQ(feed.data(1, 3, {5, 0, 1}).base_offset, 1u);
  // A new producer must start at 0.
  EXPECT_EQ(state.decide_produce({6, 0, 4}, 1, 0, 2).code(), Errc::out_of_order_sequence);
}

TEST(PartitionState, OlderEpochIsFencedNewerStartsOver) {
  PartitionState state;
  Feeder feed(state);
  feed.data(1, 1, {5, 1, 0});
  feed.data(1, 2, {5, 1, 1});
  EXPECT_EQ(state.decide_produce({5, 0, 2}, 1, 0, 3).code(), Errc::producer_fenced);
  EXPECT_EQ(feed.data(1, 3, {5, 0, 2}).error, Errc::producer_fenced);
  EXPECT_EQ(state.decide_produce({5, 2, 7}, 1, 0, 3).code(), Errc::out_of_order_sequence);
  EXPECT_EQ(feed.data(1, 4, {5, 2, 0}).kind, Kind::appended);
  EXPECT_EQ(state.producers().find(5)->epoch, 2);
  EXPECT_EQ(state.producers().find(5)->recent.size(), 1u);
}

TEST(PartitionState, IdleProducersExpireOnBatchTimestamps) {
  PartitionConfig config;
  config.producers.idle_ms_max = 1000;
  PartitionState state(config);
  Feeder feed(state);
  feed.data(1, 0, {1, 0, 0});
  feed.data(1, 500, {2, 0, 0});
  feed.data(1, 1000, {3, 0, 0});  // producer 1 is exactly at the limit: kept
  EXPECT_NE(state.producers().find(1), nullptr);
  feed.data(1, 1001, {3, 0, 1});
  EXPECT_EQ(state.producers().find(1), nullptr);
  EXPECT_NE(state.producers().find(2), nullptr);
  // An expired producer is unknown: it may start over at 0, and a continuation is refused.
  EXPECT_EQ(feed.data(1, 1002, {1, 0, 1}).error, Errc::out_of_order_sequence);
  EXPECT_EQ(feed.data(1, 1003, {1, 0, 0}).kind, Kind::appended);
}

TEST(PartitionState, ProducerLimitEvictsTheLongestIdle) {
  PartitionConfig config;
  config.producers.producers_max = 2;
  PartitionState state(config);
  Feeder feed(state);
  feed.data(1, 1, {1, 0, 0});
  feed.data(1, 2, {2, 0, 0});
  feed.data(1, 3, {1, 0, 1});
  feed.data(1, 4, {3, 0, 0});
  EXPECT_EQ(state.producers().size(), 2u);
  EXPECT_EQ(state.producers().find(2), nullptr);
}

std::vector<log::SegmentInfo> segments(std::initializer_list<std::tuple<uint64_t, uint64_t, uint64_t, int64_t>> list) {
  std::vector<log::SegmentInfo> result;
  for (auto [base, end, bytes, max_ms] : list) {
    log::SegmentInfo segment;
    segment.base_offset = base;
    segment.end_offset = end;
    segment.size_bytes = bytes;
    segment.max_timestamp_ms = max_ms;
    result.push_back(segment);
  }
  result.back().active = true;
  return result;
}

TEST(PartitionState, RetentionCutsWholeCommittedSegmentsOnly) {
  PartitionConfig config;
  config.retention_ms = 100;
  PartitionState state(config);
  Feeder feed(state);
  for (int i = 0; i < 30; ++i) feed.data(1, i);
  // Segments [0,10) [10,20) [20,30) [30,40 active): the first two are old.
  auto layout = segments({{0, 10, 1, 50}, {10, 20, 1, 60}, {20, 30, 1, 500}, {30, 40, 1, 600}});
  EXPECT_EQ(state.decide_retention(layout, 200), 20u);
  EXPECT_EQ(state.decide_retention(layout, 100), std::nullopt);  // nothing older than 100 ms yet
  // Everything is old, but only 15 log offsets are applied: the cut stops at the segment below.
  PartitionState behind(config);
  Feeder behind_feed(behind);
  for (int i = 0; i < 15; ++i) behind_feed.data(1, i);
  EXPECT_EQ(behind.decide_retention(layout, 10'000), 10u);
  // By size: keep at most 2 bytes of 4 (the active segment counts and stays).
  PartitionConfig by_size;
  by_size.retention_bytes = 2;
  PartitionState sized(by_size);
  Feeder sized_feed(sized);
  for (int i = 0; i < 30; ++i) sized_feed.data(1, i);
  EXPECT_EQ(sized.decide_retention(layout, 0), 20u);
}

TEST(PartitionState, RetentionCommandMovesTheStart) {
  PartitionState state;
  Feeder feed(state);
  feed.noop();         // log 0
  feed.data(4, 1);     // log 1..4 → 0..3
  feed.data(4, 2);     // log 5..8 → 4..7
  ApplyOutcome cut = feed.cut(5);  // log 9
  EXPECT_EQ(cut.kind, Kind::retention_cut);
  EXPECT_EQ(cut.cut_log_offset, 5u);
  EXPECT_EQ(state.start_offset(), 4u);
  EXPECT_EQ(state.end_offset(), 8u);
  EXPECT_EQ(feed.cut(3).kind, Kind::hole);   // overtaken: below the start
  EXPECT_EQ(feed.cut(99).kind, Kind::hole);  // beyond the command itself
  EXPECT_EQ(state.start_offset(), 4u);
  EXPECT_EQ(feed.data(1, 3).base_offset, 8u);
}

TEST(PartitionState, UndecodableCommandIsAHole) {
  PartitionState state;
  CommittedEntry entry;
  entry.index = 1;
  entry.kind = CommittedEntry::Kind::command;
  EXPECT_EQ(state.apply(entry).kind, Kind::hole);
  EXPECT_EQ(state.offsets().log_end(), 1u);
}

TEST(PartitionState, SnapshotRoundTripsAndRestoresTheSameState) {
  PartitionState state;
  Feeder feed(state);
  feed.noop();
  for (uint32_t i = 0; i < 8; ++i) feed.data(2, 100 + i, {1 + i % 3, 0, 2 * (i / 3)});
  feed.cut(3);
  Bytes bytes = encode_snapshot(state.snapshot());
  Result<PartitionState::Snapshot> decoded = decode_snapshot(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  PartitionState restored;
  ASSERT_TRUE(restored.restore(std::move(decoded).value()));
  EXPECT_EQ(restored, state);
  // Both go on identically.
  Feeder restored_feed(restored);
  EXPECT_EQ(restored_feed.data(2, 200, {1, 0, 6}).base_offset, feed.data(2, 200, {1, 0, 6}).base_offset);
  EXPECT_EQ(restored, state);
}

TEST(PartitionState, DamagedSnapshotIsRefused) {
  PartitionState state;
  Feeder(state).data(1, 1, {3, 0, 0});
  Bytes bytes = encode_snapshot(state.snapshot());
  for (size_t at = 0; at < bytes.size(); ++at) {
    Bytes damaged = bytes;
    damaged[at] ^= std::byte{0x10};
    EXPECT_EQ(decode_snapshot(damaged).code(), Errc::storage_error) << "byte " << at;
  }
  EXPECT_EQ(decode_snapshot(ByteSpan(bytes).first(bytes.size() - 1)).code(), Errc::storage_error);
}

// The format lists producers by ascending id (encode_snapshot writes map order). The same entries
// in another order, CRC made right, are not the canonical bytes and must be refused, not decoded to
// a state that encodes differently (found by fuzz_partition_snapshot_decode).
TEST(PartitionState, SnapshotWithProducersOutOfOrderIsRefused) {
  PartitionState state;
  Feeder feed(state);
  feed.data(1, 1, {3, 0, 0});
  feed.data(1, 2, {5, 0, 0});
  Bytes bytes = encode_snapshot(state.snapshot());
  ASSERT_TRUE(decode_snapshot(bytes).ok());
  // Each producer here is one entry of 20 fixed bytes and one 24-byte batch, the last before the CRC.
  constexpr size_t kEntryBytes = 20 + 24;
  const size_t crc_at = bytes.size() - 4;
  std::byte* second = bytes.data() + crc_at - kEntryBytes;
  std::swap_ranges(second - kEntryBytes, second, second);
  put_le<uint32_t>(bytes.data() + crc_at, log::crc32c(ByteSpan(bytes).first(crc_at)));
  EXPECT_EQ(decode_snapshot(bytes).code(), Errc::storage_error);
}

TEST(Command, RoundTripsAndRefusesAnythingElse) {
  Command command{Command::Kind::retention_cut, 1234};
  Bytes bytes = encode_command(command);
  EXPECT_EQ(decode_command(bytes), command);
  bytes[1] = std::byte{7};
  EXPECT_EQ(decode_command(bytes), std::nullopt);
  EXPECT_EQ(decode_command(ByteSpan(encode_command(command)).first(11)), std::nullopt);
}

}  // namespace
}  // namespace sluice::partition
