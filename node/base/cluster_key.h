// The cluster secret (docs/formats/rpc.md, "Cluster secret"): a 32-byte key every node of one
// cluster holds. Inter-node RPC frames, Raft frames and SWIM datagrams and push-pull messages
// carry a MAC under it (HMAC-SHA-512-256, libsodium's crypto_auth), so a process that does not
// know the secret cannot join, vote or inject. Pure: no clock, no randomness, no I/O.
#pragma once

#include <array>
#include <cstddef>

#include "node/base/bytes.h"

namespace sluice {

class ClusterKey {
 public:
  static constexpr size_t kKeyBytes = 32;
  static constexpr size_t kTagBytes = 32;  // the MAC trailer every protocol appends
  // A secret shorter than this is refused by the node's configuration (node/main.cc).
  static constexpr size_t kSecretBytesMin = 16;
  using Key = std::array<std::byte, kKeyBytes>;
  using Tag = std::array<std::byte, kTagBytes>;

  explicit ClusterKey(const Key& key) : key_(key) {}
  // The key of a secret of any length: its unkeyed BLAKE2b-256 (crypto_generichash).
  static ClusterKey derive(ByteSpan secret);

  Tag mac(ByteSpan bytes) const;
  // Constant-time; false unless `tag` is kTagBytes long and the MAC of `bytes`.
  bool verify(ByteSpan bytes, ByteSpan tag) const;
  // Appends mac(frame) to `frame` (the trailer).
  void seal(Bytes& frame) const;
  // Whether `sealed` is at least kTagBytes long and ends in the MAC of what comes before.
  bool opens(ByteSpan sealed) const;

  friend bool operator==(const ClusterKey&, const ClusterKey&) = default;

 private:
  Key key_;
};

}  // namespace sluice
