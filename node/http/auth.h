// Who may call the API (docs/http.md, "Security"): bearer tokens from the node's config, stored as
// salted hashes (a BLAKE2b keyed with the entry's salt, libsodium's crypto_generichash) and
// compared in constant time, each with grants: per-topic read, write and admin, and cluster
// admin. Anonymous access (no Authorization header) has its own grants and is off unless the
// config says so. Pure apart from libsodium.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/http/request_parser.h"

namespace sluice::http {

inline constexpr size_t kTokenSaltBytes = 16;
inline constexpr size_t kTokenHashBytes = 32;
inline constexpr size_t kTokenBytesMax = 512;  // a longer bearer token is refused unhashed

enum class Permission : uint8_t { read, write, admin };

// `topic` is a name, a prefix ending in '*' ("orders-*"), or "*" (every topic).
struct TopicGrant {
  std::string topic;
  bool read = false;
  bool write = false;
  bool admin = false;  // create, alter, delete
};

struct Grants {
  bool cluster_admin = false;  // every permission on every topic, and cluster operations
  std::vector<TopicGrant> topics;
  bool allows(Permission permission, std::string_view topic) const;
};

struct TokenEntry {
  std::string name;
  Bytes salt;  // kTokenSaltBytes
  Bytes hash;  // kTokenHashBytes: hash_token(token, salt)
  Grants grants;
};

struct AuthConfig {
  bool anonymous_allowed = false;
  Grants anonymous;  // what a request without a token may do, when allowed
  std::vector<TokenEntry> tokens;
};

// The salted hash a token entry stores.
Bytes hash_token(std::string_view token, ByteSpan salt);
// A config line for a new token: "name:<salt hex>:<hash hex>" (sluice-node hash-token prints it).
std::string token_entry_line(std::string_view name, std::string_view token, ByteSpan salt);
// Parses such a line (grants are configured beside it); nullopt when malformed.
std::optional<TokenEntry> parse_token_entry_line(std::string_view line);

// The caller of a request as its Authorization header names it.
struct Caller {
  enum class Kind : uint8_t { anonymous, token, invalid } kind = Kind::anonymous;
  const TokenEntry* entry = nullptr;  // token
  std::string name() const { return kind == Kind::token ? entry->name : kind == Kind::anonymous ? "anonymous" : "invalid"; }
};
// invalid: a header that is not "Bearer <token>", or a token no entry matches. Every entry is
// compared (in constant time), so the time taken does not say which entries exist.
Caller identify(const AuthConfig& config, const HttpRequest& request);

enum class Decision : uint8_t { allow, unauthenticated, forbidden };
// `topic` empty: a cluster-level action (needs cluster admin for admin, any caller for read).
Decision decide(const AuthConfig& config, const Caller& caller, Permission permission, std::string_view topic);

}  // namespace sluice::http
