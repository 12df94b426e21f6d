// Little-endian fixed-width fields for the binary formats of docs/formats/ (the log's files, the
// partition snapshot, the controller's commands and snapshot): put_le / get_le on raw bytes, and
// a growing writer and a bounds-checked reader over a buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "node/base/assert.h"
#include "node/base/bytes.h"

namespace sluice {

template <typename T>
void put_le(std::byte* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out[i] = static_cast<std::byte>(static_cast<uint64_t>(value) >> (8 * i));
}

template <typename T>
T get_le(const std::byte* in) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
  return static_cast<T>(value);
}

class ByteWriter {
 public:
  template <typename T>
  void put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    put_le<T>(&bytes_[at], value);
  }
  // A u16 length, then the bytes (the caller keeps text under 64 KiB).
  void put_text(std::string_view text) {
    SLUICE_ASSERT_LE(text.size(), size_t{UINT16_MAX});
    put<uint16_t>(static_cast<uint16_t>(text.size()));
    append_bytes(bytes_, as_bytes(text));
  }
  void put_bytes(ByteSpan bytes) { append_bytes(bytes_, bytes); }
  Bytes take() { return std::move(bytes_); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

// Reads what the caller first checked is there (has()); reading past the end asserts.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan bytes) : bytes_(bytes) {}
  bool has(size_t count) const { return bytes_.size() - at_ >= count; }
  template <typename T>
  T get() {
    SLUICE_ASSERT(has(sizeof(T)));
    T value = get_le<T>(&bytes_[at_]);
    at_ += sizeof(T);
    return value;
  }
  // A u16 length and that many bytes; false (nothing read) if either is cut short.
  bool get_text(std::string& out) {
    if (!has(2)) return false;
    const auto length = get_le<uint16_t>(&bytes_[at_]);
    if (!has(2 + size_t{length})) return false;
    out.assign(reinterpret_cast<const char*>(&bytes_[at_ + 2]), length);
    at_ += 2 + size_t{length};
    return true;
  }
  // `count` bytes; false (nothing read) if fewer are left.
  bool get_bytes(size_t count, Bytes& out) {
    if (!has(count)) return false;
    out.assign(bytes_.begin() + static_cast<ptrdiff_t>(at_), bytes_.begin() + static_cast<ptrdiff_t>(at_ + count));
    at_ += count;
    return true;
  }
  size_t left() const { return bytes_.size() - at_; }

 private:
  ByteSpan bytes_;
  size_t at_ = 0;
};

}  // namespace sluice
