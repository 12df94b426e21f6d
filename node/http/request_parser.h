// Incremental HTTP/1.1 request decoder over llhttp: the first layer (decode) of the HTTP pipeline.
// Bytes go in as they arrive from the socket, in pieces of any size (down to one byte); complete
// requests come out in arrival order. Every size is limited by a named _max. The first error stops
// the parser for good: after a framing error nothing that follows on the connection can be
// trusted (request smuggling), so the caller answers with http_status_for(code) and closes.
// The accepted syntax, the limits and the status mapping are documented in
// docs/formats/http-request.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/base/status.h"

namespace sluice::http {

enum class Errc {
  ok = 0,
  malformed,            // not HTTP/1.x request syntax (llhttp's reason is in the message)
  target_too_large,     // request target above target_bytes_max
  header_too_large,     // header names + values above header_bytes_max
  too_many_headers,     // more header fields than headers_max
  body_too_large,       // body (declared or received) above body_bytes_max
  unsupported_version,  // an HTTP version other than 1.0 / 1.1 (including the HTTP/2 preface)
  unsupported_method,   // CONNECT: this server never opens tunnels
  too_many_pipelined,   // more than requests_queued_max complete requests not yet taken
};

std::string_view to_string(Errc code);

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

// The HTTP status a server answers with before closing the connection on `code` (400, 413, 414,
// 429, 431, 501, 505). `code` must not be ok.
int http_status_for(Errc code);

struct HttpHeader {
  std::string name;   // lower-cased (names are case-insensitive; lower case makes lookups exact)
  std::string value;  // without leading or trailing whitespace

  friend bool operator==(const HttpHeader&, const HttpHeader&) = default;
};

struct HttpRequest {
  std::string method;  // canonical upper-case name: "GET", "POST", ...
  std::string target;  // the request target exactly as sent: "/topics/a?x=1"
  int version_major = 1;
  int version_minor = 1;
  std::vector<HttpHeader> headers;   // in arrival order, duplicates kept
  std::vector<HttpHeader> trailers;  // fields after a chunked body, kept apart (RFC 9110 §6.5)
  Bytes body;                        // de-chunked
  bool keep_alive = true;            // false: answer, then close the connection

  // The first header named `lower_name`, or nullptr.
  const HttpHeader* find_header(std::string_view lower_name) const;

  friend bool operator==(const HttpRequest&, const HttpRequest&) = default;
};

inline constexpr size_t kTargetBytesMaxDefault = 8 * 1024;
inline constexpr size_t kHeaderBytesMaxDefault = 16 * 1024;
inline constexpr size_t kHeadersMaxDefault = 100;
inline constexpr size_t kBodyBytesMaxDefault = 1024 * 1024;
inline constexpr size_t kRequestsQueuedMaxDefault = 64;

struct RequestLimits {
  size_t target_bytes_max = kTargetBytesMaxDefault;
  // Sum over all header (and trailer) fields of name bytes + value bytes as received.
  size_t header_bytes_max = kHeaderBytesMaxDefault;
  size_t headers_max = kHeadersMaxDefault;  // header + trailer fields per request
  size_t body_bytes_max = kBodyBytesMaxDefault;
  // Complete requests waiting in next_request(): bounds what one pipelined burst can queue.
  size_t requests_queued_max = kRequestsQueuedMaxDefault;
};

class RequestParser {
 public:
  using Limits = RequestLimits;

  explicit RequestParser(Limits limits = Limits());
  ~RequestParser();
  RequestParser(RequestParser&&) noexcept;
  RequestParser& operator=(RequestParser&&) noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses the next piece of the connection's byte stream. Requests completed by this piece (and
  // earlier ones not yet taken) wait in next_request(), also when the piece ends in an error: the
  // caller answers them first, then sends the error reply and closes. After an error every later
  // feed is refused with the same code. After a request whose keep_alive is false, further bytes
  // are ignored (the connection is about to close).
  Status feed(ByteSpan bytes);

  // The oldest complete request not yet taken.
  std::optional<HttpRequest> next_request();
  size_t requests_queued() const;

  // True once per request whose headers carried "Expect: 100-continue" and whose body had not
  // arrived when feed() returned: the caller sends "HTTP/1.1 100 Continue" so the client sends it.
  bool take_continue_expected();

  // ok, or the error that stopped the parser.
  const Status& status() const;
  const Limits& limits() const;
  // Bytes passed to feed() so far; error messages give positions in this stream.
  uint64_t bytes_fed_total() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::http
