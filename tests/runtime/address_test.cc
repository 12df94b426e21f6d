// Address::parse / to_string: accepted forms round-trip, malformed ones are clear errors.
#include <gtest/gtest.h>

#include "runtime/net.h"

namespace sluice::runtime {
namespace {

TEST(Address, ParsesHostPortAndBracketedIpv6AndRoundTrips) {
  for (const char* text : {"127.0.0.1:7000", "n3:0", "[::1]:65535", "[fe80::1]:80"}) {
    Result<Address> parsed = Address::parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().to_string();
    EXPECT_EQ(parsed->to_string(), text);
    EXPECT_EQ(*Address::parse(parsed->to_string()), *parsed);
  }
  EXPECT_EQ(Address::parse("[::1]:9")->host, "::1");
}

TEST(Address, RejectsMalformedAddresses) {
  for (const char* text : {"", "host", ":80", "host:", "host:65536", "host:-1", "host:8x", "[]:1", "[[a]]:1",
                           "a]:1", "a b:1"}) {
    Result<Address> parsed = Address::parse(text);
    EXPECT_FALSE(parsed.ok()) << "accepted '" << text << "'";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.code(), Errc::invalid_argument);
    }
  }
}

}  // namespace
}  // namespace sluice::runtime
