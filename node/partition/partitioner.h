// Which partition a keyed record goes to when the producer names none (docs/formats/http-api.md,
// "Partitioning"): the server's HTTP API and the client library use this one function, so a key
// lands on the same partition whichever of them chose it. FNV-1a 64 over the key bytes, finished
// with the splitmix64 mix (node/base/hash.h), modulo the partition count.
#pragma once

#include <cstdint>

#include "node/base/assert.h"
#include "node/base/bytes.h"
#include "node/base/hash.h"

namespace sluice::partition {

inline uint32_t partition_for_key(ByteSpan key, uint32_t partitions) {
  SLUICE_ASSERT_GT(partitions, 0u);
  return static_cast<uint32_t>(hash_bytes(key) % partitions);
}

}  // namespace sluice::partition
