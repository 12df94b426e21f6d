// Model-based property test of the partition state machine (node/partition/state_machine.h):
// random sequences of produces (plain and idempotent: next batch, retry of an earlier batch, a
// sequence gap, a new epoch, an old epoch), leader stamps under a clock that jumps both ways, the
// no-ops and membership changes Raft interleaves, retention cuts, and restarts (snapshot encoded,
// decoded and restored into a fresh state), run against PartitionState and against a plain
// in-memory model written from the rules in docs/partition.md. After every step the outcome, the
// offsets of every retained record, the start and end, and the producer table must agree.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "node/partition/state_machine.h"
#include "tests/testing/rapidcheck_floor.h"

namespace sluice::partition {
namespace {

using sluice::testing::check_at_least;
using Kind = ApplyOutcome::Kind;

constexpr int kCasesMin = 300;
constexpr int64_t kIdleMsMax = 20'000;
constexpr size_t kProducersMax = 2;  // three idempotent producers: eviction happens
constexpr uint64_t kProducerIds = 3;

// The model: what the partition must hold, kept as plainly as possible.
struct ModelBatch {
  uint32_t first_sequence = 0;
  uint32_t last_sequence = 0;
  uint64_t base_offset = 0;
  int64_t timestamp_ms = 0;
};
struct ModelProducer {
  uint16_t epoch = 0;
  int64_t last_timestamp_ms = 0;
  std::deque<ModelBatch> recent;  // oldest first, at most 5
};
struct Expected {
  Kind kind = Kind::hole;
  Errc error = Errc::ok;
  uint64_t base_offset = 0;
  uint64_t last_offset = 0;
};

struct Model {
  std::vector<uint64_t> record_log_offsets;  // by partition offset: where each record sits in the log
  std::vector<uint64_t> entry_log_offsets;   // where each entry starts: the possible cut points
  std::vector<uint64_t> hole_log_offsets;
  uint64_t log_end = 0;
  uint64_t log_start = 0;
  std::map<uint64_t, ModelProducer> producers;
  int64_t stamp_floor_ms = 0;

  uint64_t start_offset() const {
    auto first = std::lower_bound(record_log_offsets.begin(), record_log_offsets.end(), log_start);
    return static_cast<uint64_t>(first - record_log_offsets.begin());
  }
  void expire(int64_t now_ms) {
    std::erase_if(producers, [&](const auto& item) { return item.second.last_timestamp_ms < now_ms - kIdleMsMax; });
  }
  Expected verdict(const ProducerId& producer, uint32_t records) const {
    auto found = producers.find(producer.id);
    const uint32_t last = producer.first_sequence + records - 1;
    if (found == producers.end() || producer.epoch > found->second.epoch) {
      return producer.first_sequence == 0 ? Expected{Kind::appended} : Expected{Kind::refused, Errc::out_of_order_sequence};
    }
    if (producer.epoch < found->second.epoch) return Expected{Kind::refused, Errc::producer_fenced};
    for (const ModelBatch& batch : found->second.recent) {
      if (batch.first_sequence == producer.first_sequence && batch.last_sequence == last) {
        return Expected{Kind::duplicate, Errc::ok, batch.base_offset, batch.base_offset + (last - producer.first_sequence)};
      }
    }
    if (found->second.recent.back().last_sequence + 1 == producer.first_sequence) return Expected{Kind::appended};
    return Expected{Kind::refused, Errc::out_of_order_sequence};
  }
  void record(const ProducerId& producer, const ModelBatch& batch) {
    if (producers.count(producer.id) == 0 && producers.size() >= kProducersMax) {
      // The longest idle goes; ties by the smaller id.
      auto idlest = std::min_element(producers.begin(), producers.end(), [](const auto& a, const auto& b) {
        return std::tie(a.second.last_timestamp_ms, a.first) < std::tie(b.second.last_timestamp_ms, b.first);
      });
      producers.erase(idlest);
    }
    ModelProducer& state = producers[producer.id];
    if (state.epoch != producer.epoch) state.recent.clear();
    state.epoch = producer.epoch;
    state.recent.push_back(batch);
    if (state.recent.size() > kRecentBatches) state.recent.pop_front();
    state.last_timestamp_ms = std::max(state.last_timestamp_ms, batch.timestamp_ms);
  }
};

// What a producer client has sent, to retry and to derive its next batch from.
struct Sent {
  uint16_t epoch = 0;
  uint32_t first_sequence = 0;
  uint32_t records = 0;
};
struct Client {
  uint16_t epoch = 0;
  uint32_t next_sequence = 0;
  std::vector<Sent> sent;
};

using Op = std::tuple<uint8_t, uint64_t, uint64_t>;  // kind, two parameters

PartitionConfig config() {
  PartitionConfig config;
  config.producers.idle_ms_max = kIdleMsMax;
  config.producers.producers_max = kProducersMax;
  return config;
}

class Harness {
 public:
  void run(const Op& op) {
    const auto [kind, a, b] = op;
    switch (kind % 8) {
      case 0:
      case 1:
      case 2:
      case 3: produce(a, b); break;
      case 4: hole(1 + static_cast<uint32_t>(a % 2)); break;
      case 5: cut(a); break;
      case 6: restart(); break;
      case 7: clock_ms_ += static_cast<int64_t>(a % 40'000) - 10'000; break;  // jumps, back included
    }
    check();
  }

 private:
  void produce(uint64_t a, uint64_t b) {
    const uint32_t records = 1 + static_cast<uint32_t>(b % 4);
    const uint64_t id = a % (kProducerIds + 1);  // 0: not idempotent
    ProducerId producer;
    uint32_t count = records;
    if (id != 0) {
      Client& client = clients_[id];
      producer.id = id;
      producer.epoch = client.epoch;
      producer.first_sequence = client.next_sequence;
      switch ((a >> 8) % 8) {
        case 0:
        case 1:
        case 2: client.next_sequence += records; break;  // the next batch
        case 3:
        case 4: {  // a retry of one of the last batches sent (the 6th back is outside the window)
          if (client.sent.empty()) return;
          const Sent& again = client.sent[client.sent.size() - 1 - (b >> 8) % std::min<size_t>(client.sent.size(), 7)];
          producer.epoch = again.epoch;
          producer.first_sequence = again.first_sequence;
          count = again.records;
          break;
        }
        case 5: producer.first_sequence += 1 + static_cast<uint32_t>((b >> 8) % 3); break;  // a gap
        case 6:  // a new epoch starts at 0 (or, one time in two, does not)
          producer.epoch = ++client.epoch;
          producer.first_sequence = (b >> 8) % 2 == 0 ? 0 : 3;
          client.next_sequence = producer.first_sequence + records;
          break;
        case 7:  // a zombie from an older epoch
          if (client.epoch == 0) return;
          producer.epoch = static_cast<uint16_t>(client.epoch - 1);
          break;
      }
      client.sent.push_back(Sent{producer.epoch, producer.first_sequence, count});
    }
    // The leader's view first: a duplicate of a committed batch is answered without proposing.
    const Expected expected_before = id == 0 ? Expected{Kind::appended} : model_.verdict(producer, count);
    Result<ProduceDecision> checked = state_.check_produce(producer, count);
    RC_ASSERT(checked.ok() == (expected_before.kind != Kind::refused));
    if (checked.ok()) RC_ASSERT(checked->duplicate == (expected_before.kind == Kind::duplicate));
    if (checked.ok() && checked->duplicate) RC_ASSERT(checked->base_offset == expected_before.base_offset);
    // Stamped (the clock may have gone back) and applied, as a leader proposing it anyway would.
    Result<int64_t> stamp = state_.stamp(0, clock_ms_);
    RC_ASSERT(stamp.ok());
    const int64_t expected_stamp = std::max(clock_ms_, model_.stamp_floor_ms);
    RC_ASSERT(*stamp == expected_stamp);
    model_.stamp_floor_ms = expected_stamp;
    apply_data(producer, count, *stamp);
  }

  void apply_data(const ProducerId& producer, uint32_t records, int64_t timestamp_ms) {
    CommittedEntry entry = next(records, CommittedEntry::Kind::data);
    entry.first_timestamp_ms = timestamp_ms;
    entry.max_timestamp_ms = timestamp_ms;
    entry.producer = producer;
    const ApplyOutcome outcome = state_.apply(entry);
    model_.expire(timestamp_ms);
    Expected expected = producer.id == 0 ? Expected{Kind::appended} : model_.verdict(producer, records);
    if (expected.kind == Kind::appended) {
      expected.base_offset = model_.record_log_offsets.size();
      expected.last_offset = expected.base_offset + records - 1;
      for (uint32_t i = 0; i < records; ++i) model_.record_log_offsets.push_back(entry.log_offset + i);
      if (producer.id != 0) {
        model_.record(producer, ModelBatch{producer.first_sequence, producer.first_sequence + records - 1, expected.base_offset, timestamp_ms});
      }
    } else {
      for (uint32_t i = 0; i < records; ++i) model_.hole_log_offsets.push_back(entry.log_offset + i);
    }
    RC_ASSERT(outcome.kind == expected.kind);
    RC_ASSERT(outcome.error == expected.error);
    if (expected.kind == Kind::appended || expected.kind == Kind::duplicate) {
      RC_ASSERT(outcome.base_offset == expected.base_offset);
      RC_ASSERT(outcome.last_offset == expected.last_offset);
    }
    model_.log_end += records;
  }

  void hole(uint32_t log_records) {
    CommittedEntry entry = next(log_records, CommittedEntry::Kind::other);
    RC_ASSERT(state_.apply(entry).kind == Kind::hole);
    for (uint32_t i = 0; i < log_records; ++i) model_.hole_log_offsets.push_back(entry.log_offset + i);
    model_.log_end += log_records;
  }

  // A retention command: the cut is an entry boundary (a segment base is one) up to the command's
  // own log offset; one at or below the start changes nothing.
  void cut(uint64_t a) {
    std::vector<uint64_t> points = model_.entry_log_offsets;
    points.push_back(model_.log_end);
    const uint64_t cut_at = points[a % points.size()];
    CommittedEntry entry = next(1, CommittedEntry::Kind::command);
    entry.command = Command{Command::Kind::retention_cut, cut_at};
    const ApplyOutcome outcome = state_.apply(entry);
    model_.hole_log_offsets.push_back(entry.log_offset);
    model_.log_end += 1;
    if (cut_at <= model_.log_start) {
      RC_ASSERT(outcome.kind == Kind::hole);
      return;
    }
    RC_ASSERT(outcome.kind == Kind::retention_cut);
    RC_ASSERT(outcome.cut_log_offset == cut_at);
    model_.log_start = cut_at;
    std::erase_if(model_.entry_log_offsets, [&](uint64_t offset) { return offset < cut_at; });
  }

  // A restart from the snapshot a retention cut writes: encoded, decoded, restored afresh.
  void restart() {
    const Bytes bytes = encode_snapshot(state_.snapshot());
    Result<PartitionState::Snapshot> decoded = decode_snapshot(bytes);
    RC_ASSERT(decoded.ok());
    PartitionState restored(config());
    RC_ASSERT(restored.restore(std::move(decoded).value()));
    RC_ASSERT(encode_snapshot(restored.snapshot()) == bytes);
    state_ = std::move(restored);
  }

  CommittedEntry next(uint32_t log_records, CommittedEntry::Kind kind) {
    CommittedEntry entry;
    entry.index = state_.applied_index() + 1;
    entry.log_offset = model_.log_end;
    entry.log_records = log_records;
    entry.kind = kind;
    model_.entry_log_offsets.push_back(model_.log_end);
    return entry;
  }

  void check() const {
    const OffsetMap& offsets = state_.offsets();
    RC_ASSERT(state_.end_offset() == model_.record_log_offsets.size());
    RC_ASSERT(state_.start_offset() == model_.start_offset());
    RC_ASSERT(offsets.log_start() == model_.log_start);
    RC_ASSERT(offsets.log_end() == model_.log_end);
    for (uint64_t offset = model_.start_offset(); offset < model_.record_log_offsets.size(); ++offset) {
      const uint64_t log_offset = model_.record_log_offsets[offset];
      RC_ASSERT(offsets.offset_of(log_offset) == std::optional<uint64_t>(offset));
      RC_ASSERT(offsets.log_offset_of(offset) == log_offset);
    }
    RC_ASSERT(offsets.log_offset_of(state_.end_offset()) == model_.log_end);
    for (uint64_t log_offset : model_.hole_log_offsets) {
      if (log_offset >= model_.log_start) RC_ASSERT(!offsets.offset_of(log_offset).has_value());
    }
    RC_ASSERT(state_.producers().size() == model_.producers.size());
    for (const auto& [id, expected] : model_.producers) {
      const ProducerState* actual = state_.producers().find(id);
      RC_ASSERT(actual != nullptr);
      RC_ASSERT(actual->epoch == expected.epoch);
      RC_ASSERT(actual->last_timestamp_ms == expected.last_timestamp_ms);
      RC_ASSERT(actual->recent.size() == expected.recent.size());
      for (size_t i = 0; i < expected.recent.size(); ++i) {
        RC_ASSERT(actual->recent[i].first_sequence == expected.recent[i].first_sequence);
        RC_ASSERT(actual->recent[i].last_sequence == expected.recent[i].last_sequence);
        RC_ASSERT(actual->recent[i].base_offset == expected.recent[i].base_offset);
      }
    }
  }

  PartitionState state_{config()};
  Model model_;
  std::map<uint64_t, Client> clients_;
  int64_t clock_ms_ = 1'700'000'000'000;
};

TEST(PartitionModel, MatchesAPlainModelThroughRetriesRetentionAndRestarts) {
  check_at_least(kCasesMin, [] {
    const std::vector<Op> ops = *rc::gen::scale(3.0, rc::gen::container<std::vector<Op>>(rc::gen::tuple(
        rc::gen::arbitrary<uint8_t>(), rc::gen::arbitrary<uint64_t>(), rc::gen::arbitrary<uint64_t>())));
    Harness harness;
    for (const Op& op : ops) harness.run(op);
  });
}

}  // namespace
}  // namespace sluice::partition
