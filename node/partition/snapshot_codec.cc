// The partition snapshot's bytes (docs/formats/partition.md, "Snapshot"). Little-endian, fixed
// widths, a CRC32C over everything before it. Decoding checks every count against the bytes
// present before reading, so a damaged file can neither crash nor allocate beyond its size.
#include <string>

#include "node/base/byte_io.h"
#include "node/log/crc32c.h"
#include "node/partition/state_machine.h"

namespace sluice::partition {
namespace {

constexpr uint32_t kSnapshotMagic = 0x53504C53u;  // bytes "SLPS"
constexpr uint16_t kSnapshotVersion = 1;
constexpr size_t kFixedBytes = 4 + 2 + 2 + 8 + 8 + 5 * 8 + 4;  // up to the hole count
constexpr size_t kHoleBytes = 24;
constexpr size_t kProducerFixedBytes = 8 + 2 + 2 + 8;
constexpr size_t kProducerBatchBytes = 4 + 4 + 8 + 8;
constexpr size_t kCrcBytes = 4;

using Writer = ByteWriter;
using Reader = ByteReader;

Result<PartitionState::Snapshot> bad(const std::string& why) {
  return Result<PartitionState::Snapshot>(Errc::storage_error, "partition snapshot: " + why);
}

bool read_producers(Reader& in, uint32_t count, std::map<uint64_t, ProducerState>& producers) {
  for (uint32_t i = 0; i < count; ++i) {
    if (!in.has(kProducerFixedBytes)) return false;
    auto id = in.get<uint64_t>();
    // Ascending, as encode_snapshot writes them (map order): the same producers in another order
    // would decode to the same state yet not be the canonical bytes (docs/formats/partition.md).
    if (!producers.empty() && id <= producers.rbegin()->first) return false;
    ProducerState state;
    state.epoch = in.get<uint16_t>();
    auto batches = in.get<uint16_t>();
    state.last_timestamp_ms = in.get<int64_t>();
    if (batches == 0 || batches > kRecentBatches || !in.has(size_t{batches} * kProducerBatchBytes)) return false;
    for (uint16_t b = 0; b < batches; ++b) {
      ProducerBatch batch;
      batch.first_sequence = in.get<uint32_t>();
      batch.last_sequence = in.get<uint32_t>();
      batch.base_offset = in.get<uint64_t>();
      batch.timestamp_ms = in.get<int64_t>();
      state.recent.push_back(batch);
    }
    producers.emplace_hint(producers.end(), id, std::move(state));
  }
  return true;
}

}  // namespace

Bytes encode_snapshot(const PartitionState::Snapshot& snapshot) {
  Writer out;
  out.put<uint32_t>(kSnapshotMagic);
  out.put<uint16_t>(kSnapshotVersion);
  out.put<uint16_t>(0);
  out.put<uint64_t>(snapshot.applied_index);
  out.put<int64_t>(snapshot.max_timestamp_ms);
  const OffsetMap::State& offsets = snapshot.offsets;
  for (uint64_t field : {offsets.log_start, offsets.log_end, offsets.bias, offsets.skipped_dropped, offsets.skipped_total}) {
    out.put<uint64_t>(field);
  }
  out.put<uint32_t>(static_cast<uint32_t>(offsets.holes.size()));
  for (const OffsetMap::Hole& hole : offsets.holes) {
    out.put<uint64_t>(hole.log_offset);
    out.put<uint64_t>(hole.count);
    out.put<uint64_t>(hole.skipped_before);
  }
  out.put<uint32_t>(static_cast<uint32_t>(snapshot.producers.size()));
  for (const auto& [id, state] : snapshot.producers) {
    out.put<uint64_t>(id);
    out.put<uint16_t>(state.epoch);
    out.put<uint16_t>(static_cast<uint16_t>(state.recent.size()));
    out.put<int64_t>(state.last_timestamp_ms);
    for (const ProducerBatch& batch : state.recent) {
      out.put<uint32_t>(batch.first_sequence);
      out.put<uint32_t>(batch.last_sequence);
      out.put<uint64_t>(batch.base_offset);
      out.put<int64_t>(batch.timestamp_ms);
    }
  }
  out.put<uint32_t>(log::crc32c(out.bytes()));
  return out.take();
}

Result<PartitionState::Snapshot> decode_snapshot(ByteSpan bytes) {
  if (bytes.size() < kFixedBytes + 4 + kCrcBytes) return bad("too short");
  ByteSpan body = bytes.first(bytes.size() - kCrcBytes);
  if (log::crc32c(body) != get_le<uint32_t>(&bytes[body.size()])) return bad("CRC mismatch");
  Reader in(body);
  if (in.get<uint32_t>() != kSnapshotMagic) return bad("bad magic");
  if (in.get<uint16_t>() != kSnapshotVersion) return bad("unknown version");
  if (in.get<uint16_t>() != 0) return bad("reserved field set");
  PartitionState::Snapshot snapshot;
  snapshot.applied_index = in.get<uint64_t>();
  snapshot.max_timestamp_ms = in.get<int64_t>();
  OffsetMap::State& offsets = snapshot.offsets;
  for (uint64_t* field : {&offsets.log_start, &offsets.log_end, &offsets.bias, &offsets.skipped_dropped, &offsets.skipped_total}) {
    *field = in.get<uint64_t>();
  }
  auto holes = in.get<uint32_t>();
  if (in.left() / kHoleBytes < holes) return bad("hole count beyond the file");
  for (uint32_t i = 0; i < holes; ++i) {
    OffsetMap::Hole hole;
    hole.log_offset = in.get<uint64_t>();
    hole.count = in.get<uint64_t>();
    hole.skipped_before = in.get<uint64_t>();
    offsets.holes.push_back(hole);
  }
  if (!in.has(4)) return bad("truncated");
  auto producers = in.get<uint32_t>();
  if (in.left() / kProducerFixedBytes < producers) return bad("producer count beyond the file");
  if (!read_producers(in, producers, snapshot.producers)) return bad("bad producer entry");
  if (in.left() != 0) return bad("trailing bytes");
  // The parts must hold together as the state machine would have built them.
  PartitionState probe;
  if (!probe.restore(snapshot)) return bad("contradicts itself");
  return snapshot;
}

}  // namespace sluice::partition
