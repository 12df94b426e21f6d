#include "node/base/cluster_key.h"

#include <sodium.h>

#include "node/base/assert.h"

namespace sluice {
namespace {

static_assert(ClusterKey::kKeyBytes == crypto_auth_KEYBYTES);
static_assert(ClusterKey::kTagBytes == crypto_auth_BYTES);

const unsigned char* uchars(ByteSpan bytes) { return reinterpret_cast<const unsigned char*>(bytes.data()); }

// Picks libsodium's implementations once; thread-safe and idempotent (the epoll runtime's
// reactors may each build a node).
void init_sodium() { SLUICE_ASSERT_GE(sodium_init(), 0); }

}  // namespace

ClusterKey ClusterKey::derive(ByteSpan secret) {
  init_sodium();
  Key key;
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(), uchars(secret), secret.size(), nullptr, 0);
  return ClusterKey(key);
}

ClusterKey::Tag ClusterKey::mac(ByteSpan bytes) const {
  Tag tag;
  crypto_auth(reinterpret_cast<unsigned char*>(tag.data()), uchars(bytes), bytes.size(), uchars(key_));
  return tag;
}

bool ClusterKey::verify(ByteSpan bytes, ByteSpan tag) const {
  if (tag.size() != kTagBytes) return false;
  return crypto_auth_verify(uchars(tag), uchars(bytes), bytes.size(), uchars(key_)) == 0;
}

void ClusterKey::seal(Bytes& frame) const {
  const Tag tag = mac(frame);
  append_bytes(frame, tag);
}

bool ClusterKey::opens(ByteSpan sealed) const {
  if (sealed.size() < kTagBytes) return false;
  return verify(sealed.first(sealed.size() - kTagBytes), sealed.last(kTagBytes));
}

}  // namespace sluice
