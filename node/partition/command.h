// Partition commands: what a control batch (log attribute "control", docs/formats/log.md) carries
// in its one record's value, replicated through Raft like data so that every replica acts on the
// same decision at the same point of the log (docs/formats/partition.md). Pure.
#pragma once

#include <cstdint>
#include <optional>

#include "node/base/bytes.h"

namespace sluice::partition {

inline constexpr uint8_t kCommandVersion = 1;
inline constexpr size_t kCommandBytes = 12;

struct Command {
  enum class Kind : uint8_t { retention_cut = 1 };
  Kind kind = Kind::retention_cut;
  // retention_cut: the log offset that becomes the log's start: a segment base decided by the
  // leader from replicated timestamps and sizes, so every replica removes the same segments.
  uint64_t log_offset = 0;

  friend bool operator==(const Command&, const Command&) = default;
};

Bytes encode_command(const Command& command);
// nullopt unless `bytes` is exactly one well-formed command of a known kind.
std::optional<Command> decode_command(ByteSpan bytes);

}  // namespace sluice::partition
