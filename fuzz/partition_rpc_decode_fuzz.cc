// Fuzzes the decoders of the partition calls and replies nodes forward to each other over the
// inter-node RPC (node/server/partition_rpc.h, docs/formats/rpc.md "Partition calls"): the bytes
// come from another node. Any input is accepted or refused without a crash, and an accepted one
// encodes back to exactly its bytes.
#include <cstddef>
#include <cstdint>

#include "node/base/assert.h"
#include "node/server/partition_rpc.h"

namespace server = sluice::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sluice::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  const sluice::Bytes input(bytes.begin(), bytes.end());
  if (const auto call = server::decode_partition_call(bytes)) SLUICE_ASSERT(server::encode_partition_call(*call) == input);
  if (const auto reply = server::decode_partition_reply(bytes)) SLUICE_ASSERT(server::encode_partition_reply(*reply) == input);
  return 0;
}
