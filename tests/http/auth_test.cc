// Tokens and grants (node/http/auth.h): a configured token is recognised by its salted hash and
// nothing else is; anonymous access follows the config; 401 and 403 are told apart.
#include <gtest/gtest.h>

#include "node/http/auth.h"

namespace sluice::http {
namespace {

const Bytes kSalt(kTokenSaltBytes, std::byte{0x5a});

HttpRequest with_authorization(std::string value) {
  HttpRequest request;
  request.headers.push_back(HttpHeader{"authorization", std::move(value)});
  return request;
}

AuthConfig config_with(Grants grants) {
  AuthConfig config;
  std::optional<TokenEntry> entry = parse_token_entry_line(token_entry_line("writer", "s3cret", kSalt));
  EXPECT_TRUE(entry.has_value());
  entry->grants = std::move(grants);
  config.tokens.push_back(*entry);
  return config;
}

TEST(HttpAuth, EntryLinesRoundTripAndOnlyTheRightTokenMatches) {
  const std::string line = token_entry_line("writer", "s3cret", kSalt);
  EXPECT_EQ(line.find("s3cret"), std::string::npos);  // the token itself is never stored
  const std::optional<TokenEntry> entry = parse_token_entry_line(line);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->name, "writer");
  EXPECT_EQ(entry->hash, hash_token("s3cret", kSalt));
  EXPECT_NE(hash_token("s3cret", kSalt), hash_token("s3cret", Bytes(kTokenSaltBytes, std::byte{1})));  // salted
  const std::string odd_hash = "w:" + std::string(32, '0') + ":" + std::string(63, '0');
  for (const std::string& bad : std::vector<std::string>{"", "writer", "writer:00", ":aa:bb", "w:zz:00", odd_hash}) {
    EXPECT_FALSE(parse_token_entry_line(bad).has_value()) << bad;
  }
  const AuthConfig config = config_with({});
  EXPECT_EQ(identify(config, with_authorization("Bearer s3cret")).kind, Caller::Kind::token);
  EXPECT_EQ(identify(config, with_authorization("Bearer s3cret")).name(), "writer");
  for (const char* wrong : {"Bearer s3cre", "Bearer s3cret ", "bearer s3cret", "Basic s3cret", "Bearer ", "s3cret"}) {
    EXPECT_EQ(identify(config, with_authorization(wrong)).kind, Caller::Kind::invalid) << wrong;
  }
  EXPECT_EQ(identify(config, with_authorization("Bearer " + std::string(kTokenBytesMax + 1, 'x'))).kind, Caller::Kind::invalid);
  EXPECT_EQ(identify(config, HttpRequest{}).kind, Caller::Kind::anonymous);
}

TEST(HttpAuth, GrantsDecideAndUnauthenticatedIsNotForbidden) {
  Grants grants;
  grants.topics.push_back(TopicGrant{"orders-*", true, true, false});
  grants.topics.push_back(TopicGrant{"audit", true, false, false});
  AuthConfig config = config_with(grants);
  const Caller writer = identify(config, with_authorization("Bearer s3cret"));
  EXPECT_EQ(decide(config, writer, Permission::write, "orders-eu"), Decision::allow);
  EXPECT_EQ(decide(config, writer, Permission::read, "audit"), Decision::allow);
  EXPECT_EQ(decide(config, writer, Permission::write, "audit"), Decision::forbidden);
  EXPECT_EQ(decide(config, writer, Permission::admin, "orders-eu"), Decision::forbidden);
  EXPECT_EQ(decide(config, writer, Permission::read, "order"), Decision::forbidden);
  EXPECT_EQ(decide(config, writer, Permission::read, ""), Decision::allow);    // cluster reads
  EXPECT_EQ(decide(config, writer, Permission::admin, ""), Decision::forbidden);  // cluster admin
  const Caller anonymous;
  EXPECT_EQ(decide(config, anonymous, Permission::read, "audit"), Decision::unauthenticated);
  config.anonymous_allowed = true;
  config.anonymous.topics.push_back(TopicGrant{"*", true, false, false});
  EXPECT_EQ(decide(config, anonymous, Permission::read, "audit"), Decision::allow);
  EXPECT_EQ(decide(config, anonymous, Permission::write, "audit"), Decision::forbidden);
  EXPECT_EQ(decide(config, Caller{Caller::Kind::invalid, nullptr}, Permission::read, "audit"), Decision::unauthenticated);
  Grants admin;
  admin.cluster_admin = true;
  EXPECT_TRUE(admin.allows(Permission::admin, ""));
  EXPECT_TRUE(admin.allows(Permission::write, "anything"));
}

}  // namespace
}  // namespace sluice::http
