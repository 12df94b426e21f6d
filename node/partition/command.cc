#include "node/partition/command.h"

#include "node/log/endian.h"

namespace sluice::partition {

using log::detail::get_le;
using log::detail::put_le;

Bytes encode_command(const Command& command) {
  Bytes bytes(kCommandBytes);
  put_le<uint8_t>(&bytes[0], kCommandVersion);
  put_le<uint8_t>(&bytes[1], static_cast<uint8_t>(command.kind));
  put_le<uint16_t>(&bytes[2], 0);
  put_le<uint64_t>(&bytes[4], command.log_offset);
  return bytes;
}

std::optional<Command> decode_command(ByteSpan bytes) {
  if (bytes.size() != kCommandBytes || get_le<uint8_t>(&bytes[0]) != kCommandVersion) return std::nullopt;
  if (get_le<uint16_t>(&bytes[2]) != 0) return std::nullopt;
  auto kind = get_le<uint8_t>(&bytes[1]);
  if (kind != static_cast<uint8_t>(Command::Kind::retention_cut)) return std::nullopt;
  return Command{Command::Kind::retention_cut, get_le<uint64_t>(&bytes[4])};
}

}  // namespace sluice::partition
