// Fuzzes the partition snapshot decoder and the command decoder (node/partition/state_machine.h,
// command.h; docs/formats/partition.md): both read bytes from disk or from the replicated log.
// Any input must be accepted or rejected without a crash; an accepted snapshot must restore into
// a state machine and encode back to exactly its bytes; an accepted command likewise.
//
// The snapshot's CRC would stop the fuzzer at the first byte, so when the first input byte is odd
// the CRC of the rest is recomputed first: that lets it explore counts, holes and producers.
#include <cstddef>
#include <cstdint>

#include "node/base/assert.h"
#include "node/log/crc32c.h"
#include "node/log/endian.h"
#include "node/partition/command.h"
#include "node/partition/state_machine.h"

namespace {

using sluice::Bytes;
using sluice::ByteSpan;
namespace log = sluice::log;
namespace partition = sluice::partition;

constexpr size_t kCrcBytes = 4;

void reseal(Bytes& bytes) {
  if (bytes.size() < kCrcBytes) return;
  const size_t body = bytes.size() - kCrcBytes;
  log::detail::put_le<uint32_t>(bytes.data() + body, log::crc32c(ByteSpan(bytes).first(body)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes bytes(reinterpret_cast<const std::byte*>(data) + 1, reinterpret_cast<const std::byte*>(data) + size);
  if ((data[0] & 1) != 0) reseal(bytes);

  if (const auto command = partition::decode_command(bytes)) {
    SLUICE_ASSERT(partition::encode_command(*command) == bytes);
  }
  const auto snapshot = partition::decode_snapshot(bytes);
  if (!snapshot.ok()) return 0;
  partition::PartitionState state;
  SLUICE_ASSERT(state.restore(*snapshot));
  SLUICE_ASSERT(partition::encode_snapshot(state.snapshot()) == bytes);
  return 0;
}
