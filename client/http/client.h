// The HTTP/1.1 client the sluice client library talks to nodes with, on the runtime seam (so the
// simulator runs it unchanged). One request at a time per connection, no pipelining; connections
// are kept alive and pooled per address.
//
// Pool: at most connections_per_address_max connections to one address, idle or busy. A caller
// beyond it waits, until its deadline, for one to come back (woken in arrival order). An idle connection is
// reused newest first; one idle longer than idle_timeout is closed when the pool is next looked at
// (there is no reaper fiber: nothing runs while the client is not used).
//
// Stale keep-alive: a server closes idle connections when it likes (sluice's idle_timeout), and the
// client learns it only by sending on one. A request whose pooled connection ends before any byte
// of a response arrived is sent once more, on a fresh connection, when its method is idempotent
// (GET, HEAD, PUT, DELETE). POST is never sent twice here: the server may have read the request
// and acted on it (a produce appended) before the connection broke, and only the caller (an
// idempotent producer with sequence numbers) can make a resend safe.
//
// Errors (runtime::Errc), so a caller can tell "not sent" from "outcome unknown":
//   connection_refused, unreachable   no connection could be made: the request was not sent
//   timeout        the deadline passed (waiting for a connection, connecting, sending or reading);
//                  the request may have taken effect once sending had begun
//   connection_reset  the connection broke or ended before the whole response arrived: the
//                  outcome is unknown
//   io_error       the response was not HTTP the client can read (the message says why)
//   limit_exceeded the response is larger than response_bytes_max (or its head than
//                  response_header_bytes_max)
//   invalid_argument  the request cannot be encoded (a framing header, CR/LF in a header, ...)
//   closed         close() was called; cancelled: the calling fiber was cancelled
//
// Lifetime: the client must outlive every call in flight (owners are node objects, destroyed after
// the runtime unwound their fibers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/http/response_parser.h"
#include "node/base/bytes.h"
#include "node/http/request_parser.h"
#include "runtime/runtime.h"

namespace sluice::client {

namespace rt = sluice::runtime;

struct HttpClientRequest {
  std::string method = "GET";  // upper case
  std::string target = "/";    // path + query, as sent: "/topics/a/partitions/0/records?offset=3"
  // Sent as given, after Host and User-Agent. The client writes the framing itself: Host,
  // Content-Length, Transfer-Encoding, Connection, and Authorization when a token is configured,
  // must not be among them.
  std::vector<http::HttpHeader> headers;
  Bytes body;
};

struct HttpClientConfig {
  // Busy and idle connections to one address; callers beyond it wait for one.
  size_t connections_per_address_max = 8;
  // A pooled connection unused for this long is closed instead of reused. Below the servers'
  // idle timeout (sluice: 60 s) so most stale connections are never tried.
  rt::Duration idle_timeout = std::chrono::seconds(30);
  // A connect takes at most this (and never past the call's deadline).
  rt::Duration connect_timeout = std::chrono::seconds(5);
  size_t response_bytes_max = kResponseBodyBytesMaxDefault;            // body of one response
  size_t response_header_bytes_max = kResponseHeaderBytesMaxDefault;  // its head
  // Sent as "Authorization: Bearer <token>" on every request; empty: none.
  std::string bearer_token;
};

struct HttpClientStats {
  uint64_t requests = 0;             // calls that got a response
  uint64_t connections_opened = 0;
  uint64_t connections_reused = 0;   // requests sent on a pooled connection
  uint64_t stale_retries = 0;        // idempotent requests sent again after a stale connection
  uint64_t idle_expired = 0;         // pooled connections closed after idle_timeout
};

class HttpClient {
 public:
  HttpClient(rt::Runtime& runtime, HttpClientConfig config);
  // Closes every connection. Asserts that no call is in flight (the lifetime rule above).
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` to `to` and reads the response, all before `deadline`. Any status the server
  // answers with is a response, not an error: errors are the transport's (see the top).
  rt::Result<HttpClientResponse> call(const rt::Address& to, const HttpClientRequest& request, rt::Instant deadline);

  // Closes every connection, idle or busy (calls on them fail with `closed`), wakes waiters, and
  // refuses later calls. Idempotent.
  void close();

  const HttpClientStats& stats() const { return stats_; }
  const HttpClientConfig& config() const { return config_; }
  // Connections to `to`, busy and idle.
  size_t connections_open(const rt::Address& to) const;

 private:
  struct Connection;
  struct Pool;
  class Lease;
  struct Outcome;

  rt::Result<Lease> acquire(const rt::Address& to, rt::Instant deadline);
  rt::Result<std::unique_ptr<rt::Stream>> connect(const rt::Address& to, rt::Instant deadline);
  void release(Pool& pool, std::unique_ptr<Connection> connection, bool reusable);
  void expire_idle(Pool& pool);
  void drop_idle(Pool& pool);
  Outcome exchange(Connection& connection, ByteSpan wire, std::string_view method, rt::Instant deadline);
  rt::Result<HttpClientResponse> send_with_retry(const rt::Address& to, std::string_view method, ByteSpan wire,
                                                 rt::Instant deadline);

  rt::Runtime& runtime_;
  HttpClientConfig config_;
  HttpClientStats stats_;
  std::map<rt::Address, std::unique_ptr<Pool>> pools_;  // ordered: close() is deterministic
  uint64_t next_connection_id_ = 1;
  bool closed_ = false;
};

// The request as written on the wire (exposed for tests): request line, Host, User-Agent, the
// caller's headers, Authorization when `bearer_token` is set, Content-Length (also 0, except for
// GET, HEAD and DELETE without a body), the blank line and the body.
rt::Result<Bytes> encode_request(const HttpClientRequest& request, std::string_view host, std::string_view bearer_token);

}  // namespace sluice::client
