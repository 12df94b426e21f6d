// Incremental HTTP/1.1 response decoder over llhttp: what the client reads back from a sluice node
// (or anything else speaking HTTP/1.1). The mirror image of node/http/request_parser.h, with the
// same error enum (sluice::http::Errc) and the same style of named limits.
//
// One parser reads one exchange: the interim 1xx responses a server may send first are skipped,
// and the first final response (status 200..599) is the result. Its body is framed by
// Content-Length, by chunked transfer coding, or by the end of the connection (finish()); it has
// none for a HEAD request and for 204 and 304 (RFC 9110 §6.4.1). The first error stops the parser
// for good: after a framing error the rest of the connection cannot be trusted, so the caller
// drops the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/http/request_parser.h"

namespace sluice::client {

// A final HTTP response as the client returns it.
struct HttpClientResponse {
  int status = 0;                        // 200..599
  std::vector<http::HttpHeader> headers;  // names lower-cased, in arrival order, duplicates kept
  Bytes body;                            // de-chunked

  // The value of the first header named `lower_name`, or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

inline constexpr size_t kResponseHeaderBytesMaxDefault = 16 * 1024;
inline constexpr size_t kResponseHeadersMaxDefault = 100;
inline constexpr size_t kResponseBodyBytesMaxDefault = 64 * 1024 * 1024;

struct ResponseLimits {
  // Sum over all header (and trailer) fields, of every response read (1xx ones included), of name
  // bytes + value bytes as received.
  size_t header_bytes_max = kResponseHeaderBytesMaxDefault;
  size_t headers_max = kResponseHeadersMaxDefault;  // header + trailer fields over all responses read
  size_t body_bytes_max = kResponseBodyBytesMaxDefault;
};

class ResponseParser {
 public:
  using Limits = ResponseLimits;

  // `request_method` is the method of the request being answered: "HEAD" gets no body.
  explicit ResponseParser(std::string_view request_method, Limits limits = Limits());
  ~ResponseParser();
  ResponseParser(ResponseParser&&) noexcept;
  ResponseParser& operator=(ResponseParser&&) noexcept;
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  // Parses the next piece of the connection's byte stream, of any size (down to one byte). Bytes
  // after the final response are not parsed; they make the connection not reusable (keep_alive()
  // false): a server sends nothing unasked. After an error every later feed is refused with the
  // same code.
  http::Status feed(ByteSpan bytes);
  // The peer closed its side: completes a body delimited by the end of the connection. Refused
  // (malformed) when the response is incomplete: the connection ended part-way.
  http::Status finish();

  // True once the final response is complete; take_response() then hands it over.
  bool complete() const;
  HttpClientResponse take_response();
  // Whether the connection may carry a next request: the final response is complete, neither side
  // said "Connection: close", it is not HTTP/1.0 without keep-alive, its body did not run to the
  // end of the connection, and nothing followed it.
  bool keep_alive() const;

  // ok, or the error that stopped the parser.
  const http::Status& status() const;
  const Limits& limits() const;
  uint64_t bytes_fed_total() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::client
