#include "node/partition/producers.h"

#include "node/base/assert.h"
#include "node/base/coverage.h"

namespace sluice::partition {

ProducerVerdict ProducerTable::check(const ProducerId& producer, uint32_t record_count) const {
  SLUICE_ASSERT(producer.id != 0 && record_count >= 1);
  SLUICE_ASSERT(uint64_t{producer.first_sequence} + record_count - 1 <= UINT32_MAX);
  using Kind = ProducerVerdict::Kind;
  const ProducerState* state = find(producer.id);
  if (state == nullptr || producer.epoch > state->epoch) {
    // A producer we do not know (new, or expired) or a new epoch of one starts its sequence anew.
    return {producer.first_sequence == 0 ? Kind::append : Kind::out_of_order_sequence, {}};
  }
  if (producer.epoch < state->epoch) {
    SLUICE_COVER("partition.producer_fenced");
    return {Kind::producer_fenced, {}};
  }
  uint32_t last_sequence = producer.first_sequence + record_count - 1;
  for (const ProducerBatch& batch : state->recent) {
    if (batch.first_sequence == producer.first_sequence && batch.last_sequence == last_sequence) {
      SLUICE_COVER("partition.producer_duplicate");
      return {Kind::duplicate, batch};
    }
  }
  const ProducerBatch& newest = state->recent.back();
  if (newest.last_sequence != UINT32_MAX && producer.first_sequence == newest.last_sequence + 1) {
    return {Kind::append, {}};
  }
  SLUICE_COVER("partition.producer_out_of_order");
  return {Kind::out_of_order_sequence, {}};
}

void ProducerTable::record(const ProducerId& producer, const ProducerBatch& batch) {
  auto found = producers_.find(producer.id);
  if (found == producers_.end()) {
    if (producers_.size() >= limits_.producers_max && !by_last_timestamp_.empty()) {
      SLUICE_COVER("partition.producer_evicted");
      forget(by_last_timestamp_.begin()->second);  // the longest idle, ties by id: deterministic
    }
    found = producers_.emplace(producer.id, ProducerState{}).first;
  } else {
    by_last_timestamp_.erase({found->second.last_timestamp_ms, producer.id});
  }
  ProducerState& state = found->second;
  if (producer.epoch != state.epoch) state.recent.clear();
  state.epoch = producer.epoch;
  state.recent.push_back(batch);
  if (state.recent.size() > kRecentBatches) state.recent.pop_front();
  // Timestamps only grow along the log, but a restored table may meet an older one: keep the max.
  state.last_timestamp_ms = std::max(state.last_timestamp_ms, batch.timestamp_ms);
  by_last_timestamp_.insert({state.last_timestamp_ms, producer.id});
}

void ProducerTable::expire(int64_t now_ms) {
  while (!by_last_timestamp_.empty()) {
    auto [last_ms, id] = *by_last_timestamp_.begin();
    if (now_ms - limits_.idle_ms_max <= last_ms) return;
    SLUICE_COVER("partition.producer_expired");
    forget(id);
  }
}

void ProducerTable::forget(uint64_t id) {
  auto found = producers_.find(id);
  SLUICE_ASSERT(found != producers_.end());
  by_last_timestamp_.erase({found->second.last_timestamp_ms, id});
  producers_.erase(found);
}

const ProducerState* ProducerTable::find(uint64_t id) const {
  auto found = producers_.find(id);
  return found == producers_.end() ? nullptr : &found->second;
}

bool ProducerTable::restore(std::map<uint64_t, ProducerState> producers) {
  if (producers.size() > limits_.producers_max) return false;
  for (const auto& [id, state] : producers) {
    if (id == 0 || state.recent.empty() || state.recent.size() > kRecentBatches) return false;
    for (const ProducerBatch& batch : state.recent) {
      if (batch.first_sequence > batch.last_sequence) return false;
    }
  }
  producers_ = std::move(producers);
  by_last_timestamp_.clear();
  for (const auto& [id, state] : producers_) by_last_timestamp_.insert({state.last_timestamp_ms, id});
  return true;
}

}  // namespace sluice::partition
