// RequestParser: framing (Content-Length, chunked, pipelining), feeding in arbitrary pieces,
// every limit at and one past its boundary, malformed input, and the stop-after-error rule.
#include "node/http/request_parser.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http {
namespace {

struct Parsed {
  Status status;
  std::vector<HttpRequest> requests;
};

std::vector<HttpRequest> drain(RequestParser& parser) {
  std::vector<HttpRequest> requests;
  while (std::optional<HttpRequest> request = parser.next_request()) requests.push_back(std::move(*request));
  return requests;
}

// Feeds `wire` in consecutive pieces of the given sizes (the last size repeats until the end),
// stopping at the first error.
Parsed parse_in_pieces(std::string_view wire, const std::vector<size_t>& piece_bytes,
                       RequestLimits limits = RequestLimits()) {
  RequestParser parser(limits);
  Parsed parsed;
  size_t offset = 0;
  for (size_t i = 0; offset < wire.size() && parsed.status.ok(); ++i) {
    const size_t size = std::min(piece_bytes[std::min(i, piece_bytes.size() - 1)], wire.size() - offset);
    parsed.status = parser.feed(as_bytes(wire.substr(offset, size)));
    offset += size;
  }
  parsed.requests = drain(parser);
  return parsed;
}

Parsed parse_whole(std::string_view wire, RequestLimits limits = RequestLimits()) {
  return parse_in_pieces(wire, {std::max<size_t>(wire.size(), 1)}, limits);
}

std::string body_text(const HttpRequest& request) { return std::string(as_string_view(request.body)); }

std::vector<HttpHeader> headers(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  std::vector<HttpHeader> out;
  for (const auto& [name, value] : pairs) out.push_back(HttpHeader{name, value});
  return out;
}

TEST(RequestParser, SimpleGet) {
  Parsed parsed = parse_whole("GET /topics/orders?limit=10 HTTP/1.1\r\nHost: node-1:8080\r\n\r\n");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
  ASSERT_EQ(parsed.requests.size(), 1u);
  const HttpRequest& request = parsed.requests[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/topics/orders?limit=10");
  EXPECT_EQ(request.version_major, 1);
  EXPECT_EQ(request.version_minor, 1);
  EXPECT_EQ(request.headers, headers({{"host", "node-1:8080"}}));
  EXPECT_TRUE(request.body.empty());
  EXPECT_TRUE(request.keep_alive);
}

TEST(RequestParser, HeaderNamesAreLowerCasedOrderAndDuplicatesKeptValuesTrimmed) {
  Parsed parsed =
      parse_whole("GET / HTTP/1.1\r\nHost: a\r\nX-Trace-ID:   abc  \r\nx-tag: one\r\nX-TAG:two\r\nX-Empty:\r\n\r\n");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
  ASSERT_EQ(parsed.requests.size(), 1u);
  const HttpRequest& request = parsed.requests[0];
  EXPECT_EQ(request.headers,
            headers({{"host", "a"}, {"x-trace-id", "abc"}, {"x-tag", "one"}, {"x-tag", "two"}, {"x-empty", ""}}));
  ASSERT_NE(request.find_header("x-tag"), nullptr);
  EXPECT_EQ(request.find_header("x-tag")->value, "one");
  EXPECT_EQ(request.find_header("missing"), nullptr);
}

TEST(RequestParser, PostWithContentLengthBody) {
  Parsed parsed = parse_whole("POST /topics/t/records HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
  ASSERT_EQ(parsed.requests.size(), 1u);
  EXPECT_EQ(parsed.requests[0].method, "POST");
  EXPECT_EQ(body_text(parsed.requests[0]), "hello world");
}

TEST(RequestParser, ChunkedBodyIsJoinedAndTrailersKeptApart) {
  Parsed parsed = parse_whole(
      "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=ignored\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Checksum: 42\r\n\r\n");
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
  ASSERT_EQ(parsed.requests.size(), 1u);
  EXPECT_EQ(body_text(parsed.requests[0]), "hello world");
  EXPECT_EQ(parsed.requests[0].headers, headers({{"transfer-encoding", "chunked"}}));
  EXPECT_EQ(parsed.requests[0].trailers, headers({{"x-checksum", "42"}}));
}

// Several requests of every framing kind back to back, as a pipelining client sends them.
constexpr std::string_view kPipelined =
    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST /b HTTP/1.1\r\nContent-Length: 3\r\nX-Long-Header-Name: a value with spaces\r\n\r\nxyz"
    "DELETE /c?q=%20 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: v\r\n\r\n"
    "GET /d HTTP/1.0\r\n\r\n";

TEST(RequestParser, PipelinedRequestsComeOutInOrder) {
  Parsed parsed = parse_whole(kPipelined);
  ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
  ASSERT_EQ(parsed.requests.size(), 4u);
  EXPECT_EQ(parsed.requests[0].target, "/a");
  EXPECT_EQ(parsed.requests[1].method, "POST");
  EXPECT_EQ(body_text(parsed.requests[1]), "xyz");
  EXPECT_EQ(parsed.requests[1].headers[1], (HttpHeader{"x-long-header-name", "a value with spaces"}));
  EXPECT_EQ(parsed.requests[2].method, "DELETE");
  EXPECT_EQ(parsed.requests[2].target, "/c?q=%20");
  EXPECT_EQ(body_text(parsed.requests[2]), "ab");
  EXPECT_EQ(parsed.requests[3].version_minor, 0);
  EXPECT_FALSE(parsed.requests[3].keep_alive);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(parsed.requests[i].keep_alive) << i;
}

TEST(RequestParser, ByteByByteAndEverySplitPointGiveTheSameRequests) {
  const Parsed whole = parse_whole(kPipelined);
  ASSERT_TRUE(whole.status.ok());
  ASSERT_EQ(whole.requests.size(), 4u);

  const Parsed byte_by_byte = parse_in_pieces(kPipelined, {1});
  ASSERT_TRUE(byte_by_byte.status.ok()) << byte_by_byte.status.to_string();
  EXPECT_EQ(byte_by_byte.requests, whole.requests);

  for (size_t split = 0; split <= kPipelined.size(); ++split) {
    const Parsed two_pieces = parse_in_pieces(kPipelined, {split, kPipelined.size()});
    ASSERT_TRUE(two_pieces.status.ok()) << "split " << split << ": " << two_pieces.status.to_string();
    ASSERT_EQ(two_pieces.requests, whole.requests) << "split " << split;
  }
}

TEST(RequestParser, HeaderNameAndValueSplitAcrossFeeds) {
  RequestParser parser;
  for (std::string_view piece :
       {"GET /split HTTP/1.1\r\nX-Lo", "ng-Na", "me: val", "ue-he", "re  ", "\r", "\n\r", "\n"}) {
    ASSERT_EQ(parser.requests_queued(), 0u);
    ASSERT_TRUE(parser.feed(as_bytes(piece)).ok()) << piece;
  }
  std::vector<HttpRequest> requests = drain(parser);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].headers, headers({{"x-long-name", "value-here"}}));
  EXPECT_EQ(parser.bytes_fed_total(),
            std::string_view("GET /split HTTP/1.1\r\nX-Long-Name: value-here  \r\n\r\n").size());
}

TEST(RequestParser, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    std::string_view wire;
    bool keep_alive;
  };
  for (const Case& c :
       {Case{"GET / HTTP/1.1\r\n\r\n", true}, Case{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
        Case{"GET / HTTP/1.0\r\n\r\n", false}, Case{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true}}) {
    Parsed parsed = parse_whole(c.wire);
    ASSERT_TRUE(parsed.status.ok()) << c.wire;
    ASSERT_EQ(parsed.requests.size(), 1u) << c.wire;
    EXPECT_EQ(parsed.requests[0].keep_alive, c.keep_alive) << c.wire;
  }
}

TEST(RequestParser, BytesAfterAClosingRequestAreIgnored) {
  RequestParser parser;
  ASSERT_TRUE(
      parser.feed(as_bytes("GET /last HTTP/1.1\r\nConnection: close\r\n\r\nGET /same-feed HTTP/1.1\r\n\r\n")).ok());
  ASSERT_TRUE(parser.feed(as_bytes("GET /later-feed HTTP/1.1\r\n\r\n")).ok());
  std::vector<HttpRequest> requests = drain(parser);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target, "/last");
}

TEST(RequestParser, UpgradeHeaderIsIgnoredAndParsingContinues) {
  constexpr std::string_view wire =
      "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
      "POST /up HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 2\r\n\r\nok"
      "GET /next HTTP/1.1\r\n\r\n";
  for (size_t piece : {wire.size(), size_t{1}, size_t{7}}) {
    Parsed parsed = parse_in_pieces(wire, {piece});
    ASSERT_TRUE(parsed.status.ok()) << parsed.status.to_string();
    ASSERT_EQ(parsed.requests.size(), 3u) << "piece " << piece;
    EXPECT_EQ(parsed.requests[0].target, "/ws");
    EXPECT_EQ(body_text(parsed.requests[1]), "ok");
    EXPECT_EQ(parsed.requests[2].target, "/next");
  }
}

TEST(RequestParser, ExpectContinueIsReportedOnceWhileTheBodyIsOutstanding) {
  RequestParser parser;
  ASSERT_TRUE(parser.feed(as_bytes("POST /p HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n")).ok());
  EXPECT_TRUE(parser.take_continue_expected());
  EXPECT_FALSE(parser.take_continue_expected());
  ASSERT_TRUE(parser.feed(as_bytes("abc")).ok());
  EXPECT_FALSE(parser.take_continue_expected());
  EXPECT_EQ(parser.requests_queued(), 1u);

  // The body came in the same piece: nothing to ask for.
  ASSERT_TRUE(parser.feed(as_bytes("POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz")).ok());
  EXPECT_FALSE(parser.take_continue_expected());
  // HTTP/1.0 clients cannot expect it.
  ASSERT_TRUE(parser
                  .feed(as_bytes("POST /p HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n"
                                 "Content-Length: 1\r\n\r\n"))
                  .ok());
  EXPECT_FALSE(parser.take_continue_expected());
}

// --- limits: exactly at each limit is accepted, one past is refused with its own code ---

std::string request_with_target(size_t target_bytes) {
  return "GET /" + std::string(target_bytes - 1, 't') + " HTTP/1.1\r\n\r\n";
}

TEST(RequestParserLimits, TargetBytesMaxDefault) {
  Parsed at_limit = parse_whole(request_with_target(kTargetBytesMaxDefault));
  ASSERT_TRUE(at_limit.status.ok()) << at_limit.status.to_string();
  ASSERT_EQ(at_limit.requests.size(), 1u);
  EXPECT_EQ(at_limit.requests[0].target.size(), kTargetBytesMaxDefault);

  Parsed over = parse_whole(request_with_target(kTargetBytesMaxDefault + 1));
  EXPECT_EQ(over.status.code(), Errc::target_too_large);
  EXPECT_NE(over.status.message().find("target_bytes_max 8192"), std::string::npos) << over.status.message();
  EXPECT_TRUE(over.requests.empty());
}

// One header whose name + value is `bytes` long.
std::string request_with_header_bytes(size_t bytes) {
  return "GET / HTTP/1.1\r\nX: " + std::string(bytes - 1, 'v') + "\r\n\r\n";
}

TEST(RequestParserLimits, HeaderBytesMaxDefault) {
  Parsed at_limit = parse_whole(request_with_header_bytes(kHeaderBytesMaxDefault));
  ASSERT_TRUE(at_limit.status.ok()) << at_limit.status.to_string();
  ASSERT_EQ(at_limit.requests.size(), 1u);

  Parsed over = parse_whole(request_with_header_bytes(kHeaderBytesMaxDefault + 1));
  EXPECT_EQ(over.status.code(), Errc::header_too_large);
  EXPECT_TRUE(over.requests.empty());
}

TEST(RequestParserLimits, HeaderBytesCountNamesAndValuesOfAllFields) {
  RequestLimits limits;
  limits.header_bytes_max = 10;
  // "ab"+"cd" + "efg"+"hij" = 10 bytes; the colons, spaces and line ends do not count.
  EXPECT_TRUE(parse_whole("GET / HTTP/1.1\r\nab: cd\r\nefg:  hij\r\n\r\n", limits).status.ok());
  EXPECT_EQ(parse_whole("GET / HTTP/1.1\r\nab: cd\r\nefg: hijk\r\n\r\n", limits).status.code(), Errc::header_too_large);
  // Trailers share the budget: "transfer-encoding"+"chunked" is 24 bytes, the trailer 16 or 17.
  limits.header_bytes_max = 40;
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  EXPECT_TRUE(parse_whole(head + "abcdefghij: klmnop\r\n\r\n", limits).status.ok());
  EXPECT_EQ(parse_whole(head + "abcdefghij: klmnopq\r\n\r\n", limits).status.code(), Errc::header_too_large);
}

std::string request_with_headers(size_t count) {
  std::string wire = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < count; ++i) {
    // Appended piece by piece: GCC 12 reports a false -Wrestrict on `"h" + std::to_string(i)`.
    wire += 'h';
    wire += std::to_string(i);
    wire += ": v\r\n";
  }
  return wire + "\r\n";
}

TEST(RequestParserLimits, HeadersMaxDefault) {
  Parsed at_limit = parse_whole(request_with_headers(kHeadersMaxDefault));
  ASSERT_TRUE(at_limit.status.ok()) << at_limit.status.to_string();
  ASSERT_EQ(at_limit.requests.size(), 1u);
  EXPECT_EQ(at_limit.requests[0].headers.size(), kHeadersMaxDefault);

  Parsed over = parse_whole(request_with_headers(kHeadersMaxDefault + 1));
  EXPECT_EQ(over.status.code(), Errc::too_many_headers);
  EXPECT_TRUE(over.requests.empty());
}

TEST(RequestParserLimits, ContentLengthAboveBodyBytesMaxIsRefusedBeforeTheBody) {
  const std::string head_at_limit =
      "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(kBodyBytesMaxDefault) + "\r\n\r\n";
  RequestParser parser;
  ASSERT_TRUE(parser.feed(as_bytes(head_at_limit)).ok());
  ASSERT_TRUE(parser.feed(as_bytes(std::string(kBodyBytesMaxDefault, 'b'))).ok());
  std::vector<HttpRequest> requests = drain(parser);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body.size(), kBodyBytesMaxDefault);

  RequestParser refusing;
  const std::string head_over =
      "POST / HTTP/1.1\r\nContent-Length: " + std::to_string(kBodyBytesMaxDefault + 1) + "\r\n\r\n";
  Status status = refusing.feed(as_bytes(head_over));  // no body byte sent yet
  EXPECT_EQ(status.code(), Errc::body_too_large);
  EXPECT_NE(status.message().find("Content-Length 1048577 exceeds body_bytes_max 1048576"), std::string::npos)
      << status.message();
}

std::string chunked_request(size_t body_bytes, size_t chunk_bytes) {
  std::string wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t sent = 0; sent < body_bytes; sent += chunk_bytes) {
    const size_t size = std::min(chunk_bytes, body_bytes - sent);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx", size);
    wire += std::string(hex) + "\r\n" + std::string(size, 'c') + "\r\n";
  }
  return wire + "0\r\n\r\n";
}

TEST(RequestParserLimits, ChunkedBodyAboveBodyBytesMax) {
  RequestLimits limits;
  limits.body_bytes_max = 100;
  Parsed at_limit = parse_in_pieces(chunked_request(100, 30), {13}, limits);
  ASSERT_TRUE(at_limit.status.ok()) << at_limit.status.to_string();
  ASSERT_EQ(at_limit.requests.size(), 1u);
  EXPECT_EQ(at_limit.requests[0].body.size(), 100u);

  Parsed over = parse_in_pieces(chunked_request(101, 30), {13}, limits);
  EXPECT_EQ(over.status.code(), Errc::body_too_large);
  EXPECT_TRUE(over.requests.empty());
}

TEST(RequestParserLimits, RequestsQueuedMaxBoundsAPipelinedBurst) {
  RequestLimits limits;
  limits.requests_queued_max = 3;
  std::string three;
  for (int i = 0; i < 3; ++i) three += "GET / HTTP/1.1\r\n\r\n";

  RequestParser parser(limits);
  ASSERT_TRUE(parser.feed(as_bytes(three)).ok());
  EXPECT_EQ(parser.requests_queued(), 3u);
  ASSERT_TRUE(parser.next_request().has_value());  // taking one makes room for one more
  ASSERT_TRUE(parser.feed(as_bytes("GET / HTTP/1.1\r\n\r\n")).ok());
  Status status = parser.feed(as_bytes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(status.code(), Errc::too_many_pipelined);
  EXPECT_EQ(drain(parser).size(), 3u);  // what completed before the error is still answered
}

// --- malformed input, version and method rules, stop after error ---

TEST(RequestParser, MalformedInputIsRefusedWithAReadableMessage) {
  struct Case {
    std::string_view wire;
    std::string_view message_part;
  };
  const Case cases[] = {
      {"FETCH / HTTP/1.1\r\n\r\n", "Invalid method"},
      {"GET /a b HTTP/1.1\r\n\r\n", "Expected HTTP/"},
      {"GET / HTTP/1.1\r\nBad@Name: x\r\n\r\n", "Invalid header token"},
      {"GET / HTTP/1.1\r\nName : x\r\n\r\n", "whitespace in header name \"name \""},
      {"GET / HTTP/1.1\r\nTwo Words: x\r\n\r\n", "whitespace in header name \"two words\""},
      {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Duplicate Content-Length"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", "Content-Length can't be"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
  };
  for (const Case& c : cases) {
    Parsed parsed = parse_whole(c.wire);
    EXPECT_EQ(parsed.status.code(), Errc::malformed) << c.wire;
    EXPECT_NE(parsed.status.message().find(c.message_part), std::string::npos) << parsed.status.message();
    EXPECT_NE(parsed.status.message().find(" at byte "), std::string::npos) << parsed.status.message();
    EXPECT_TRUE(parsed.requests.empty()) << c.wire;
    // The same verdict however the bytes arrive.
    EXPECT_EQ(parse_in_pieces(c.wire, {1}).status.code(), Errc::malformed) << c.wire;
  }
}

TEST(RequestParser, ErrorPositionCountsFromTheStartOfTheStream) {
  RequestParser parser;
  ASSERT_TRUE(parser.feed(as_bytes("GET / HTTP/1.1\r\n\r\n")).ok());  // bytes 0..17
  ASSERT_TRUE(parser.feed(as_bytes("GET / HTTP/1.1\r\nHo")).ok());    // bytes 18..35
  Status status = parser.feed(as_bytes("st: a\r\nB@d: x\r\n\r\n"));   // '@' is byte 44
  EXPECT_EQ(status.code(), Errc::malformed);
  EXPECT_NE(status.message().find("Invalid header token (HPE_INVALID_HEADER_TOKEN) at byte 44"), std::string::npos)
      << status.message();
}

TEST(RequestParser, OnlyHttp1IsSupported) {
  for (std::string_view wire :
       {"GET / HTTP/2.0\r\n\r\n", "GET /\r\n\r\n" /* HTTP/0.9 */, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}) {
    Parsed parsed = parse_whole(wire);
    EXPECT_EQ(parsed.status.code(), Errc::unsupported_version) << wire << ": " << parsed.status.to_string();
    EXPECT_TRUE(parsed.requests.empty()) << wire;
  }
  EXPECT_EQ(parse_whole("GET / HTTP/3.1\r\n\r\n").status.code(), Errc::malformed);  // not a version llhttp knows
}

TEST(RequestParser, ConnectIsUnsupported) {
  Parsed parsed = parse_whole("CONNECT example.com:443 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(parsed.status.code(), Errc::unsupported_method);
  EXPECT_TRUE(parsed.requests.empty());
}

TEST(RequestParser, InputAfterAnErrorIsRefused) {
  RequestParser parser;
  Status first = parser.feed(as_bytes("GET /ok HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nBad Name: x\r\n\r\n"));
  ASSERT_EQ(first.code(), Errc::malformed);
  EXPECT_EQ(parser.status().code(), Errc::malformed);

  Status refused = parser.feed(as_bytes("GET /after HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(refused.code(), Errc::malformed);
  EXPECT_NE(refused.message().find("input refused after an earlier error"), std::string::npos) << refused.message();
  std::vector<HttpRequest> requests = drain(parser);
  ASSERT_EQ(requests.size(), 1u);  // the request before the error, nothing after it
  EXPECT_EQ(requests[0].target, "/ok");
}

TEST(RequestParser, EveryErrorHasANameAndAnHttpStatus) {
  EXPECT_EQ(http_status_for(Errc::malformed), 400);
  EXPECT_EQ(http_status_for(Errc::target_too_large), 414);
  EXPECT_EQ(http_status_for(Errc::header_too_large), 431);
  EXPECT_EQ(http_status_for(Errc::too_many_headers), 431);
  EXPECT_EQ(http_status_for(Errc::body_too_large), 413);
  EXPECT_EQ(http_status_for(Errc::unsupported_version), 505);
  EXPECT_EQ(http_status_for(Errc::unsupported_method), 501);
  EXPECT_EQ(http_status_for(Errc::too_many_pipelined), 429);
  EXPECT_EQ(to_string(Errc::body_too_large), "body_too_large");
  EXPECT_EQ(Status(Errc::malformed, "x").to_string(), "malformed: x");
}

// --- property: a random valid request survives any split into pieces ---

const std::string kTokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
const std::string kTargetChars = "abcdefghijklmnopqrstuvwxyz0123456789-._~/?=&%";

rc::Gen<std::string> gen_string_of(const std::string& chars, size_t size_min, size_t size_max) {
  return rc::gen::mapcat(rc::gen::inRange(size_min, size_max + 1), [chars](size_t size) {
    return rc::gen::container<std::string>(size, rc::gen::elementOf(chars));
  });
}

// A random field value: visible ASCII with inner spaces, no leading or trailing whitespace.
std::string random_value() {
  std::string value = *gen_string_of(kTokenChars + "!#$%&'*+.^`|~\"(),/:;<=>?@[\\]{} ", 0, 40);
  while (!value.empty() && value.front() == ' ') value.erase(value.begin());
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

std::string chunk_encode(const std::string& body, const std::vector<size_t>& chunk_sizes) {
  std::string out;
  size_t offset = 0;
  for (size_t i = 0; offset < body.size(); ++i) {
    const size_t size = std::min(chunk_sizes[i % chunk_sizes.size()], body.size() - offset);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zX", size);
    out += std::string(hex) + "\r\n" + body.substr(offset, size) + "\r\n";
    offset += size;
  }
  return out + "0\r\n\r\n";
}

// Builds one random request and its wire form.
HttpRequest random_request(std::string& wire) {
  HttpRequest expected;
  expected.method = *rc::gen::element<std::string>("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS");
  expected.target = "/" + *gen_string_of(kTargetChars, 0, 60);
  const bool chunked = *rc::gen::arbitrary<bool>();
  const std::string body = *gen_string_of(kTokenChars + std::string("\r\n\0 ", 4), 0, 300);
  wire += expected.method + " " + expected.target + " HTTP/1.1\r\n";
  const size_t header_count = *rc::gen::inRange<size_t>(0, 8);
  for (size_t i = 0; i < header_count; ++i) {
    const std::string name = "X-" + *gen_string_of(kTokenChars, 1, 20);
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return std::tolower(c); });
    const std::string value = random_value();
    wire += name + ":" + std::string(*rc::gen::inRange(0, 3), ' ') + value + "\r\n";
    expected.headers.push_back(HttpHeader{lower, value});
  }
  if (chunked) {
    wire += "Transfer-Encoding: chunked\r\n\r\n";
    wire += chunk_encode(body,
                         *rc::gen::nonEmpty(rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 64))));
    expected.headers.push_back(HttpHeader{"transfer-encoding", "chunked"});
  } else {
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    expected.headers.push_back(HttpHeader{"content-length", std::to_string(body.size())});
  }
  expected.body = to_bytes(body);
  return expected;
}

RC_GTEST_PROP(RequestParserProperty, RandomValidRequestsSurviveRandomSplits, ()) {
  std::string wire;
  std::vector<HttpRequest> expected;
  const size_t request_count = *rc::gen::inRange<size_t>(1, 4);
  for (size_t i = 0; i < request_count; ++i) expected.push_back(random_request(wire));
  const std::vector<size_t> piece_bytes =
      *rc::gen::nonEmpty(rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 40)));

  Parsed parsed = parse_in_pieces(wire, piece_bytes);
  RC_ASSERT(parsed.status.ok());
  RC_ASSERT(parsed.requests == expected);
}

}  // namespace
}  // namespace sluice::http
