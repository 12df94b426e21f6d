// The client's HTTP/1.1 response parser (client/http/response_parser.h): framings (Content-Length,
// chunked, to the end of the connection, none for HEAD/1xx/204/304) fed whole, split at every byte
// and one byte at a time; keep-alive; limits; malformed input.
#include "client/http/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::client {
namespace {

using http::Errc;
using namespace std::string_literals;

struct Parsed {
  http::Status status;
  bool complete = false;
  bool keep_alive = false;
  HttpClientResponse response;
};

// Feeds `wire` cut at `cuts` (ascending offsets); `eof`: then the connection ends.
Parsed parse(std::string_view wire, const std::vector<size_t>& cuts = {}, std::string_view method = "GET",
             bool eof = false, ResponseLimits limits = {}) {
  ResponseParser parser(method, limits);
  Parsed parsed;
  size_t from = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(wire.size());
  for (size_t end : ends) {
    parsed.status = parser.feed(as_bytes(wire.substr(from, end - from)));
    from = end;
    if (!parsed.status.ok()) break;
  }
  if (parsed.status.ok() && eof) parsed.status = parser.finish();
  parsed.complete = parser.complete();
  parsed.keep_alive = parser.keep_alive();
  if (parsed.complete) parsed.response = parser.take_response();
  return parsed;
}

std::vector<size_t> every_byte(std::string_view wire) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  return cuts;
}

std::string body_of(const Parsed& parsed) { return std::string(as_string_view(parsed.response.body)); }

// The same result whole, in two pieces cut at every offset, and one byte at a time.
void expect_same_in_any_pieces(std::string_view wire, const Parsed& expected, std::string_view method = "GET",
                               bool eof = false) {
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    const Parsed parsed = parse(wire, {cut}, method, eof);
    ASSERT_EQ(parsed.status.code(), expected.status.code()) << "cut at " << cut << ": " << parsed.status.to_string();
    ASSERT_EQ(parsed.complete, expected.complete) << "cut at " << cut;
    EXPECT_EQ(parsed.keep_alive, expected.keep_alive) << "cut at " << cut;
    EXPECT_EQ(parsed.response.status, expected.response.status) << "cut at " << cut;
    EXPECT_EQ(parsed.response.headers, expected.response.headers) << "cut at " << cut;
    EXPECT_EQ(parsed.response.body, expected.response.body) << "cut at " << cut;
  }
  const Parsed bytewise = parse(wire, every_byte(wire), method, eof);
  EXPECT_EQ(bytewise.status.code(), expected.status.code());
  EXPECT_EQ(bytewise.response.body, expected.response.body);
  EXPECT_EQ(bytewise.response.headers, expected.response.headers);
}

// --- framings ---

TEST(ResponseParser, ContentLengthBodyInAnyPieces) {
  const std::string wire = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Trim:  v \t\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
  const Parsed whole = parse(wire);
  ASSERT_TRUE(whole.status.ok()) << whole.status.to_string();
  ASSERT_TRUE(whole.complete);
  EXPECT_EQ(whole.response.status, 201);
  EXPECT_EQ(body_of(whole), "{\"ok\":true}");
  EXPECT_TRUE(whole.keep_alive);
  ASSERT_NE(whole.response.header("content-type"), nullptr);
  EXPECT_EQ(*whole.response.header("content-type"), "application/json") << "names are lower-cased";
  EXPECT_EQ(*whole.response.header("x-trim"), "v") << "values are trimmed";
  EXPECT_EQ(whole.response.header("Content-Type"), nullptr) << "lookups take lower-case names";
  expect_same_in_any_pieces(wire, whole);
}

TEST(ResponseParser, IncompleteUntilTheLastBodyByte) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
  const Parsed partial = parse(wire.substr(0, wire.size() - 1));
  EXPECT_TRUE(partial.status.ok());
  EXPECT_FALSE(partial.complete);
  EXPECT_FALSE(partial.keep_alive);
}

TEST(ResponseParser, ChunkedBodyInAnyPieces) {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5;ext=1\r\n defg\r\n0\r\nX-Trailer: t\r\n\r\n";
  const Parsed whole = parse(wire);
  ASSERT_TRUE(whole.status.ok()) << whole.status.to_string();
  ASSERT_TRUE(whole.complete);
  EXPECT_EQ(body_of(whole), "abc defg");
  EXPECT_TRUE(whole.keep_alive);
  EXPECT_EQ(whole.response.header("x-trailer"), nullptr) << "trailers are not headers";
  expect_same_in_any_pieces(wire, whole);
}

TEST(ResponseParser, HeadResponseHasNoBodyWhateverItsContentLength) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n";
  const Parsed head = parse(wire, {}, "HEAD");
  ASSERT_TRUE(head.complete) << head.status.to_string();
  EXPECT_TRUE(head.response.body.empty());
  EXPECT_TRUE(head.keep_alive);
  expect_same_in_any_pieces(wire, head, "HEAD");
  EXPECT_FALSE(parse(wire, {}, "GET").complete) << "a GET waits for the 8 bytes";
}

TEST(ResponseParser, NoContentAndNotModifiedHaveNoBody) {
  for (std::string_view wire : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"}) {
    const Parsed parsed = parse(wire);
    ASSERT_TRUE(parsed.complete) << wire << parsed.status.to_string();
    EXPECT_TRUE(parsed.response.body.empty());
    EXPECT_TRUE(parsed.keep_alive) << wire;
  }
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  const std::string wire = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n"
                           "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const Parsed parsed = parse(wire);
  ASSERT_TRUE(parsed.complete) << parsed.status.to_string();
  EXPECT_EQ(parsed.response.status, 200);
  EXPECT_EQ(parsed.response.header("x-interim"), nullptr);
  EXPECT_EQ(body_of(parsed), "ok");
  expect_same_in_any_pieces(wire, parsed);
  EXPECT_FALSE(parse("HTTP/1.1 100 Continue\r\n\r\n").complete) << "an interim response alone is no answer";
}

TEST(ResponseParser, BodyToTheEndOfTheConnection) {
  const std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
  const Parsed open = parse(wire);
  EXPECT_TRUE(open.status.ok());
  EXPECT_FALSE(open.complete) << "more may come";
  const Parsed ended = parse(wire, {}, "GET", /*eof=*/true);
  ASSERT_TRUE(ended.complete) << ended.status.to_string();
  EXPECT_EQ(body_of(ended), "until the end");
  EXPECT_FALSE(ended.keep_alive);
  expect_same_in_any_pieces(wire, ended, "GET", /*eof=*/true);
}

// --- keep-alive ---

TEST(ResponseParser, KeepAliveFollowsConnectionAndVersion) {
  const struct {
    std::string wire;
    bool keep_alive;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true},
      // Something the server sent unasked behind the response: the connection is not trusted.
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    const Parsed parsed = parse(c.wire);
    ASSERT_TRUE(parsed.complete) << c.wire << parsed.status.to_string();
    EXPECT_EQ(parsed.keep_alive, c.keep_alive) << c.wire;
    EXPECT_EQ(parse(c.wire, every_byte(c.wire)).keep_alive, c.keep_alive) << c.wire << " byte by byte";
  }
}

TEST(ResponseParser, BytesFedAfterTheResponseSpoilKeepAlive) {
  ResponseParser parser("GET");
  ASSERT_TRUE(parser.feed(as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")).ok());
  EXPECT_TRUE(parser.keep_alive());
  ASSERT_TRUE(parser.feed(as_bytes("?")).ok());
  EXPECT_FALSE(parser.keep_alive());
  EXPECT_EQ(as_string_view(parser.take_response().body), "ok");
}

// --- limits ---

ResponseLimits small_limits() {
  ResponseLimits limits;
  limits.header_bytes_max = 64;
  limits.headers_max = 3;
  limits.body_bytes_max = 10;
  return limits;
}

TEST(ResponseParser, BodyAboveTheLimitIsRefused) {
  // Announced: refused at the head, before any body byte.
  const Parsed declared = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", {}, "GET", false, small_limits());
  EXPECT_EQ(declared.status.code(), Errc::body_too_large) << declared.status.to_string();
  EXPECT_NE(declared.status.message().find("body_bytes_max 10"), std::string::npos) << declared.status.message();
  const Parsed at_limit = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", {}, "GET", false, small_limits());
  EXPECT_TRUE(at_limit.complete) << at_limit.status.to_string();
  const Parsed chunked = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nghijkl\r\n0\r\n\r\n",
                               {}, "GET", false, small_limits());
  EXPECT_EQ(chunked.status.code(), Errc::body_too_large) << chunked.status.to_string();
  const Parsed to_eof = parse("HTTP/1.1 200 OK\r\n\r\n" + std::string(11, 'x'), {}, "GET", false, small_limits());
  EXPECT_EQ(to_eof.status.code(), Errc::body_too_large) << to_eof.status.to_string();
  const Parsed head = parse("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", {}, "HEAD", false, small_limits());
  EXPECT_TRUE(head.complete) << "a HEAD response's length announces no body: " << head.status.to_string();
}

TEST(ResponseParser, HeadAboveTheLimitsIsRefused) {
  const Parsed big = parse("HTTP/1.1 200 OK\r\nX-Big: " + std::string(60, 'v') + "\r\n\r\n", {}, "GET", false, small_limits());
  EXPECT_EQ(big.status.code(), Errc::header_too_large) << big.status.to_string();
  const Parsed many = parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", {}, "GET", false, small_limits());
  EXPECT_EQ(many.status.code(), Errc::too_many_headers) << many.status.to_string();
  // Interim responses count too: a server cannot stream 1xx heads forever.
  std::string interim;
  for (int i = 0; i < 4; ++i) interim += "HTTP/1.1 100 Continue\r\nX: 1\r\n\r\n";
  EXPECT_EQ(parse(interim, {}, "GET", false, small_limits()).status.code(), Errc::too_many_headers);
}

// --- malformed ---

TEST(ResponseParser, MalformedInputIsAnErrorNeverACrash) {
  const struct {
    std::string wire;
    Errc code;
  } cases[] = {
      {"FOO\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 OK\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 600 High\r\nContent-Length: 0\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", Errc::malformed},
      {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", Errc::malformed},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n", Errc::malformed},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n", Errc::malformed},
      {"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", Errc::unsupported_version},
      {"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"s, Errc::malformed},  // NUL in a value
  };
  for (const auto& c : cases) {
    const Parsed parsed = parse(c.wire);
    EXPECT_EQ(parsed.status.code(), c.code) << c.wire << " -> " << parsed.status.to_string();
    EXPECT_FALSE(parsed.complete) << c.wire;
    EXPECT_FALSE(parsed.status.message().empty()) << c.wire;
    EXPECT_EQ(parse(c.wire, every_byte(c.wire)).status.code(), c.code) << c.wire << " byte by byte";
  }
}

TEST(ResponseParser, TheFirstErrorStopsTheParserForGood) {
  ResponseParser parser("GET");
  const http::Status first = parser.feed(as_bytes("HTTP/1.1 200 OK\r\nBad Name: x\r\n"));
  ASSERT_EQ(first.code(), Errc::malformed);
  EXPECT_NE(first.message().find("at response byte"), std::string::npos) << first.message();
  EXPECT_EQ(parser.feed(as_bytes("Content-Length: 0\r\n\r\n")).code(), Errc::malformed);
  EXPECT_EQ(parser.finish().code(), Errc::malformed);
  EXPECT_FALSE(parser.complete());
}

TEST(ResponseParser, ConnectionEndingPartWayIsAnError) {
  for (const std::string& wire : {std::string(), std::string("HTTP/1.1 200"), std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"),
                                 std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")}) {
    const Parsed parsed = parse(wire, {}, "GET", /*eof=*/true);
    EXPECT_EQ(parsed.status.code(), Errc::malformed) << "'" << wire << "' -> " << parsed.status.to_string();
    EXPECT_FALSE(parsed.complete);
  }
}

}  // namespace
}  // namespace sluice::client
