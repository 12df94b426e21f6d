// encode_response / encode_continue (node/http/response.h): the exact bytes of the status line,
// headers, computed Content-Length, Connection: close and the body; HEAD; the bodiless statuses;
// reason phrases; and the programmer errors the encoder refuses (response splitting, framing
// headers, statuses outside 200..599).
#include "node/http/response.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sluice::http {
namespace {

std::string encode(const HttpResponse& response, bool keep_alive = true, bool head_request = false) {
  return std::string(as_string_view(encode_response(response, keep_alive, head_request)));
}

HttpResponse json_response(int status, std::string_view body) {
  HttpResponse response;
  response.status = status;
  response.headers.push_back(HttpHeader{"content-type", "application/json"});
  response.body = to_bytes(body);
  return response;
}

TEST(EncodeResponse, StatusLineHeadersInOrderLengthAndBody) {
  HttpResponse response = json_response(201, "{\"a\":1}");
  response.headers.push_back(HttpHeader{"X-Trace", "t 1"});
  response.headers.push_back(HttpHeader{"x-trace", "t2"});  // duplicates are the caller's to send
  EXPECT_EQ(encode(response),
            "HTTP/1.1 201 Created\r\n"
            "content-type: application/json\r\n"
            "X-Trace: t 1\r\n"
            "x-trace: t2\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            "{\"a\":1}");
}

TEST(EncodeResponse, ContentLengthIsSentForAnEmptyBodyToo) {
  EXPECT_EQ(encode(HttpResponse{}), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(EncodeResponse, ConnectionCloseWhenNotKeptAlive) {
  EXPECT_EQ(encode(json_response(404, "{}"), /*keep_alive=*/false),
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
}

TEST(EncodeResponse, HeadGetsTheHeadersAndTheLengthButNoBody) {
  const std::string head = encode(json_response(200, "0123456789"), true, /*head_request=*/true);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 10\r\n\r\n");
}

TEST(EncodeResponse, NoContentAndNotModifiedCarryNoLength) {
  EXPECT_EQ(encode(HttpResponse{204, {}, {}}), "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(encode(HttpResponse{304, {{"etag", "\"x\""}}, {}}, false), "HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\nConnection: close\r\n\r\n");
}

TEST(EncodeResponse, BinaryBodyIsSentAsIs) {
  HttpResponse response;
  response.body = Bytes{std::byte{0}, std::byte{0xff}, std::byte{'\r'}, std::byte{'\n'}};
  const Bytes wire = encode_response(response, true, false);
  const std::string_view head = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
  ASSERT_EQ(wire.size(), head.size() + 4);
  EXPECT_EQ(as_string_view(ByteSpan(wire).first(head.size())), head);
  EXPECT_EQ(Bytes(wire.end() - 4, wire.end()), response.body);
}

TEST(EncodeResponse, UnnamedStatusHasAnEmptyReasonPhrase) {
  EXPECT_EQ(encode(HttpResponse{299, {}, {}}), "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");
}

TEST(ReasonPhrase, NamesTheStatusesTheServerAndTheApiUse) {
  EXPECT_EQ(reason_phrase(100), "Continue");
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(401), "Unauthorized");
  EXPECT_EQ(reason_phrase(403), "Forbidden");
  EXPECT_EQ(reason_phrase(409), "Conflict");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(414), "URI Too Long");
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(501), "Not Implemented");
  EXPECT_EQ(reason_phrase(503), "Service Unavailable");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(299), "");
  EXPECT_EQ(reason_phrase(0), "");
}

// Every status http_status_for can give has a phrase.
TEST(ReasonPhrase, EveryParseErrorStatusIsNamed) {
  for (Errc code : {Errc::malformed, Errc::target_too_large, Errc::header_too_large, Errc::too_many_headers,
                    Errc::body_too_large, Errc::unsupported_version, Errc::unsupported_method, Errc::too_many_pipelined}) {
    EXPECT_NE(reason_phrase(http_status_for(code)), "") << to_string(code);
  }
}

TEST(EncodeContinue, IsTheInterimResponse) {
  EXPECT_EQ(as_string_view(encode_continue()), "HTTP/1.1 100 Continue\r\n\r\n");
}

// --- programmer errors: the encoder never emits a response a client could misframe ---

HttpResponse with_header(std::string name, std::string value) {
  HttpResponse response;
  response.headers.push_back(HttpHeader{std::move(name), std::move(value)});
  return response;
}

TEST(EncodeResponseDeathTest, RefusesLineBreaksInValues) {
  EXPECT_DEATH(encode(with_header("x", "a\r\nSet-Cookie: evil")), "CR, LF or NUL");
  EXPECT_DEATH(encode(with_header("x", "a\nb")), "CR, LF or NUL");
  EXPECT_DEATH(encode(with_header("x", "a\rb")), "CR, LF or NUL");
  EXPECT_DEATH(encode(with_header("x", std::string("a\0b", 3))), "CR, LF or NUL");
}

TEST(EncodeResponseDeathTest, RefusesNamesThatAreNotTokens) {
  EXPECT_DEATH(encode(with_header("", "v")), "token");
  EXPECT_DEATH(encode(with_header("x\r\ny", "v")), "token");
  EXPECT_DEATH(encode(with_header("two words", "v")), "token");
  EXPECT_DEATH(encode(with_header("x:", "v")), "token");
}

TEST(EncodeResponseDeathTest, RefusesFramingHeaders) {
  EXPECT_DEATH(encode(with_header("Content-Length", "5")), "Content-Length and Connection");
  EXPECT_DEATH(encode(with_header("transfer-encoding", "chunked")), "Content-Length and Connection");
  EXPECT_DEATH(encode(with_header("CONNECTION", "keep-alive")), "Content-Length and Connection");
}

TEST(EncodeResponseDeathTest, RefusesStatusesOutsideTheFinalRange) {
  EXPECT_DEATH(encode(HttpResponse{100, {}, {}}), "status");
  EXPECT_DEATH(encode(HttpResponse{199, {}, {}}), "status");
  EXPECT_DEATH(encode(HttpResponse{600, {}, {}}), "status");
}

TEST(EncodeResponseDeathTest, RefusesABodyOnNoContent) {
  EXPECT_DEATH(encode(HttpResponse{204, {}, to_bytes("x")}), "body");
  EXPECT_DEATH(encode(HttpResponse{304, {}, to_bytes("x")}), "body");
}

}  // namespace
}  // namespace sluice::http
