#include "node/http/auth.h"

#include <sodium.h>

#include "node/base/assert.h"

namespace sluice::http {
namespace {

std::string hex(ByteSpan bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

std::optional<Bytes> unhex(std::string_view text, size_t size) {
  Bytes out(size);
  size_t length = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), size, text.data(), text.size(), nullptr, &length, &end) != 0 ||
      length != size || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return out;
}

bool topic_matches(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*') return topic.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == topic;
}

}  // namespace

bool Grants::allows(Permission permission, std::string_view topic) const {
  if (cluster_admin) return true;
  if (topic.empty()) return permission == Permission::read;
  for (const TopicGrant& grant : topics) {
    if (!topic_matches(grant.topic, topic)) continue;
    if ((permission == Permission::read && grant.read) || (permission == Permission::write && grant.write) ||
        (permission == Permission::admin && grant.admin)) {
      return true;
    }
  }
  return false;
}

Bytes hash_token(std::string_view token, ByteSpan salt) {
  SLUICE_ASSERT_EQ(salt.size(), kTokenSaltBytes);
  Bytes out(kTokenHashBytes);
  SLUICE_ASSERT(crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(), reinterpret_cast<const unsigned char*>(token.data()),
                                   token.size(), reinterpret_cast<const unsigned char*>(salt.data()), salt.size()) == 0);
  return out;
}

std::string token_entry_line(std::string_view name, std::string_view token, ByteSpan salt) {
  return std::string(name) + ":" + hex(salt) + ":" + hex(hash_token(token, salt));
}

std::optional<TokenEntry> parse_token_entry_line(std::string_view line) {
  const size_t first = line.find(':');
  const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
  if (second == std::string_view::npos || first == 0) return std::nullopt;
  std::optional<Bytes> salt = unhex(line.substr(first + 1, second - first - 1), kTokenSaltBytes);
  std::optional<Bytes> hash = unhex(line.substr(second + 1), kTokenHashBytes);
  if (!salt || !hash) return std::nullopt;
  return TokenEntry{std::string(line.substr(0, first)), std::move(*salt), std::move(*hash), {}};
}

Caller identify(const AuthConfig& config, const HttpRequest& request) {
  const HttpHeader* header = request.find_header("authorization");
  if (header == nullptr) return Caller{};
  constexpr std::string_view kBearer = "Bearer ";
  const std::string& value = header->value;
  if (value.size() <= kBearer.size() || value.size() > kBearer.size() + kTokenBytesMax ||
      sodium_memcmp(value.data(), kBearer.data(), kBearer.size()) != 0) {
    return Caller{Caller::Kind::invalid, nullptr};
  }
  const std::string_view token = std::string_view(value).substr(kBearer.size());
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : config.tokens) {
    const Bytes hash = hash_token(token, entry.salt);
    if (sodium_memcmp(hash.data(), entry.hash.data(), kTokenHashBytes) == 0 && found == nullptr) found = &entry;
  }
  return found == nullptr ? Caller{Caller::Kind::invalid, nullptr} : Caller{Caller::Kind::token, found};
}

Decision decide(const AuthConfig& config, const Caller& caller, Permission permission, std::string_view topic) {
  switch (caller.kind) {
    case Caller::Kind::invalid: return Decision::unauthenticated;
    case Caller::Kind::anonymous:
      if (!config.anonymous_allowed) return Decision::unauthenticated;
      return config.anonymous.allows(permission, topic) ? Decision::allow : Decision::forbidden;
    case Caller::Kind::token: return caller.entry->grants.allows(permission, topic) ? Decision::allow : Decision::forbidden;
  }
  return Decision::forbidden;
}

}  // namespace sluice::http
