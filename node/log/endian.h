// Little-endian fixed-width fields and LEB128 varints for the log's on-disk formats. Readers take
// a span they have already bounds-checked; nothing here allocates.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "node/base/byte_io.h"
#include "node/base/bytes.h"

namespace sluice::log::detail {

using ::sluice::get_le;
using ::sluice::put_le;

constexpr size_t kVarintBytesMax = 10;

constexpr size_t varint_bytes(uint64_t value) {
  size_t bytes = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++bytes;
  }
  return bytes;
}

inline std::byte* put_varint(std::byte* out, uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<std::byte>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<std::byte>(value);
  return out;
}

// Reads a canonical varint (no redundant trailing zero groups, at most 64 bits) from the front of
// `in` and advances it; nullopt if it is cut short, overlong or not canonical. Rejecting
// non-canonical forms keeps decode(encode(x)) == x and encode(decode(b)) == b both true.
inline std::optional<uint64_t> take_varint(ByteSpan& in) {
  uint64_t value = 0;
  for (size_t i = 0; i < in.size() && i < kVarintBytesMax; ++i) {
    const auto byte = static_cast<uint64_t>(in[i]);
    if (i == kVarintBytesMax - 1 && byte > 1) return std::nullopt;  // beyond 64 bits
    value |= (byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (i > 0 && byte == 0) return std::nullopt;  // a redundant zero group
      in = in.subspan(i + 1);
      return value;
    }
  }
  return std::nullopt;
}

constexpr uint64_t zigzag_encode(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
constexpr int64_t zigzag_decode(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

}  // namespace sluice::log::detail
