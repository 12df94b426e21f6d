// The HTTP/1.1 server on the runtime seam (docs/formats/http-request.md, "Connections"): an accept
// loop, and per connection one fiber that reads bytes into a RequestParser and answers the
// complete requests strictly in order, one at a time, by calling the Handler. Keep-alive,
// pipelining (requests wait in the parser's queue, at most limits.requests_queued_max),
// chunked request bodies (the handler sees them de-chunked) and "Expect: 100-continue".
//
// The server never waits on one client: every read and write has a deadline. A request's header
// section must arrive within header_read_timeout of its first byte and its body within
// body_read_timeout of its headers (a slowloris client is cut off and counted); a keep-alive
// connection that sends no byte of a next request for idle_timeout is closed. A parse error is
// answered, after the requests before it, with its status (http_status_for) and a JSON error, and
// closes the connection. A handler never sees a partial request.
//
// Lifetime, as for AcceptLoop and RpcServer: the server must outlive the fibers it spawns. Owners
// are node objects, destroyed after the runtime unwound their fibers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

#include "node/http/request_parser.h"
#include "node/http/response.h"
#include "runtime/accept_loop.h"
#include "runtime/runtime.h"

namespace sluice::http {

struct ConnectionInfo {
  runtime::Address peer;
  uint64_t id = 0;  // per server, from 1, in accept order
};

// Runs on the connection's fiber and may block (a long-poll fetch) until `deadline`, after which
// nobody should wait for it: the server cannot preempt it. Must not throw.
using Handler =
    std::function<HttpResponse(const HttpRequest& request, const ConnectionInfo& connection, runtime::Instant deadline)>;

struct HttpServerConfig {
  uint16_t port = 0;  // 0: any free port (local_address() tells which)
  size_t connections_max = 1024;  // one more is closed at once and counted
  RequestLimits limits;           // header bytes, body bytes, pipelined requests queued, ...
  // From the first byte of a request to its last header byte: a slowloris client is cut off.
  runtime::Duration header_read_timeout = std::chrono::seconds(10);
  // The body, from the end of the headers (or from the 100 Continue that asked for it).
  runtime::Duration body_read_timeout = std::chrono::seconds(30);
  // Keep-alive: no byte of a next request for this long after the last response closes.
  runtime::Duration idle_timeout = std::chrono::seconds(60);
  // The handler's deadline: now + this when the request is handed over.
  runtime::Duration request_timeout_max = std::chrono::seconds(60);
  // A response (or 100 Continue) that cannot be written within this closes the connection.
  runtime::Duration write_timeout = std::chrono::seconds(10);
  // After an error reply the server reads (and drops) what the client still sends, until it
  // closes or for at most this long / this many bytes, before closing: closing a socket with
  // unread input makes TCP send a reset that can destroy the reply before the client reads it.
  runtime::Duration error_linger_timeout = std::chrono::seconds(1);
  size_t error_linger_bytes_max = 1024 * 1024;
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // above connections_max
  size_t connections_open = 0;
  uint64_t requests = 0;                          // complete requests handed to the handler
  std::array<uint64_t, 6> responses_by_class{};   // written, by status / 100 ([1]: 100 Continue)
  uint64_t parse_errors = 0;                      // each answered with its status, then closed
  uint64_t slow_clients_cut = 0;                  // header_read_timeout or body_read_timeout
  uint64_t idle_closed = 0;                       // idle_timeout between requests
  uint64_t write_failures = 0;                    // a write timed out or the stream failed
};

class HttpServer {
 public:
  HttpServer(runtime::Runtime& runtime, HttpServerConfig config, Handler handler);
  // Asserts that no connection fiber is left (the lifetime rule above).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Listens on config.port and spawns the accept fiber.
  runtime::Status start();
  // The same with a listener made elsewhere (config.port is not used).
  void start(std::unique_ptr<runtime::Listener> listener);
  // Stops accepting and closes every connection. A handler still running finishes; its response
  // has nowhere to go (counted in write_failures).
  void close();

  runtime::Address local_address() const { return acceptor_.local_address(); }
  HttpServerStats stats() const;
  const HttpServerConfig& config() const { return config_; }

 private:
  class Connection;
  friend class Connection;

  void serve(std::unique_ptr<runtime::Stream> stream);

  runtime::Runtime& runtime_;
  HttpServerConfig config_;
  Handler handler_;
  HttpServerStats stats_;
  std::map<uint64_t, runtime::Stream*> streams_;  // of open connections, by id: close() closes them
  uint64_t next_connection_id_ = 1;
  bool closed_ = false;  // close() was called: a connection whose fiber starts later ends at once
  runtime::AcceptLoop acceptor_;
};

}  // namespace sluice::http
