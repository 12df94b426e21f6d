// An immutable byte buffer shared by reference count: copying one copies a pointer, not the
// bytes. A Raft entry's payload (a produced record batch of up to megabytes) passes from the
// proposal to the core's unstable log, the Ready, the storage's in-memory tail and the committed
// entries handed to apply; as a Bytes it was copied at each step, and each copy into fresh memory
// also paid its page faults (docs/partition.md, "The produce path").
//
// Made from a Bytes by moving it in (no copy). The bytes never change afterwards, so sharing
// them between fibers of one thread needs no further care; the count itself is atomic.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>

#include "node/base/bytes.h"

namespace sluice {

class SharedBytes {
 public:
  SharedBytes() = default;
  // Implicit on purpose: an entry's payload is built as a Bytes and handed over.
  SharedBytes(Bytes bytes) {  // NOLINT(google-explicit-constructor)
    if (!bytes.empty()) bytes_ = std::make_shared<const Bytes>(std::move(bytes));
  }
  // A copy of `bytes`, made straight into the shared buffer.
  explicit SharedBytes(ByteSpan bytes) {
    if (!bytes.empty()) bytes_ = std::make_shared<const Bytes>(bytes.begin(), bytes.end());
  }

  size_t size() const { return bytes_ ? bytes_->size() : 0; }
  bool empty() const { return size() == 0; }
  const std::byte* data() const { return bytes_ ? bytes_->data() : nullptr; }
  const std::byte* begin() const { return data(); }
  const std::byte* end() const { return data() + size(); }
  std::byte operator[](size_t i) const { return (*bytes_)[i]; }
  ByteSpan span() const { return ByteSpan(data(), size()); }
  operator ByteSpan() const { return span(); }  // NOLINT(google-explicit-constructor)
  // A private copy, for the rare caller that must change the bytes.
  Bytes to_bytes() const { return Bytes(begin(), end()); }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.bytes_ == b.bytes_ || (a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0));
  }
  friend bool operator==(const SharedBytes& a, const Bytes& b) {
    return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
  }

 private:
  std::shared_ptr<const Bytes> bytes_;
};

}  // namespace sluice
