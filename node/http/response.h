// HTTP/1.1 response encoding: the send side of the HTTP pipeline (docs/formats/http-request.md,
// "Responses"). Pure: no runtime, no clock. There is no Date header, since node code reads no wall
// clock (RFC 9110 §6.6.1 lets a server without a reliable clock leave it out).
#pragma once

#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/http/request_parser.h"

namespace sluice::http {

struct HttpResponse {
  int status = 200;  // a final status, 200..599
  // Sent in this order, as given. Framing is the encoder's: Content-Length, Transfer-Encoding and
  // Connection must not be among them.
  std::vector<HttpHeader> headers;
  Bytes body;
};

// The reason phrase of `status` as RFC 9110 §15 names it; "" for a status it does not name (the
// status line then ends "HTTP/1.1 599 ", which RFC 9112 §4 allows).
std::string_view reason_phrase(int status);

// The status line, `response.headers`, "Content-Length" computed from the body, "Connection: close"
// when !keep_alive, the blank line, then the body. For a HEAD request (`head_request`) everything
// but the body: Content-Length is still the length a GET would get (RFC 9110 §9.3.2).
// 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6). Programmer errors assert: a
// status outside 200..599, a header name that is not a token, a value with CR, LF or NUL (response
// splitting), a framing header among `headers`, a body on a 204 or 304.
Bytes encode_response(const HttpResponse& response, bool keep_alive, bool head_request);

// "HTTP/1.1 100 Continue\r\n\r\n": the interim response that asks a client waiting on
// "Expect: 100-continue" to send the body.
Bytes encode_continue();

}  // namespace sluice::http
