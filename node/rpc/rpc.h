// The inter-node request/response RPC over runtime streams (docs/formats/rpc.md). A call names a
// method (u16) and carries opaque payload bytes; the answer is a Reply: an RpcStatus and payload.
//
// RpcServer: an accept loop; per connection a reader fiber, and each request runs its handler on
// a fiber of its own, so one slow call does not hold up the others on its connection. Responses
// are written under the connection's mutex, in the order handlers finish (callers match them by
// call id). A malformed frame closes its connection and is counted.
//
// RpcClient: one connection per destination, connected lazily and shared by concurrent calls; a
// reader fiber per connection hands each response to its waiting call by call id. When a
// connection fails, every call pending on it fails with the transport error, and the next call
// connects anew.
//
// Two kinds of failure, kept apart: a Reply with a non-ok RpcStatus is the server's answer; an
// error Result of call() is a transport failure (no answer: connection_refused, unreachable,
// connection_reset, timeout, limit_exceeded, ...; runtime/errors.h), and then the call may or
// may not have run on the server.
//
// Lifetime, as for RaftTransport and AcceptLoop: the server and the client must outlive the fibers
// they spawn. Owners are node objects, destroyed after the runtime unwound their fibers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "node/base/bytes.h"
#include "node/base/cluster_key.h"
#include "node/base/unique_function.h"
#include "node/rpc/frame.h"
#include "runtime/accept_loop.h"
#include "runtime/runtime.h"

namespace sluice::rpc {

struct Reply {
  RpcStatus status = RpcStatus::ok;
  Bytes payload;
};

// ---- server ------------------------------------------------------------------------------------

struct RpcServerConfig {
  uint16_t port = 0;  // 0: any free port (local_address() tells which)
  size_t connections_max = 256;
  size_t frame_bytes_max = kFrameBytesMaxDefault;  // inbound bodies above it are malformed
  // Requests being handled at once per connection; one beyond is answered `overloaded` at once.
  size_t calls_in_flight_per_connection_max = 64;
  // A connection with no call in flight that sends nothing for this long is closed. Longer than
  // the clients' idle_timeout, so the client closes first and never sends into a closing stream.
  runtime::Duration idle_timeout = std::chrono::seconds(120);
  // Caps the caller's timeout_ms: the handler's deadline is now + min(timeout_ms, this).
  runtime::Duration call_timeout_max = std::chrono::seconds(60);
  // A response that cannot be written within this closes the connection (a stuck peer).
  runtime::Duration write_timeout = std::chrono::seconds(10);
  // The cluster secret: when set, every frame carries its MAC both ways and a request without a
  // valid one closes its connection (docs/formats/rpc.md). Unset: no MAC at all.
  std::optional<ClusterKey> cluster_key;
};

struct RpcServerStats {
  uint64_t calls = 0;                 // requests handed to a handler
  uint64_t unknown_method = 0;        // answered unknown_method
  uint64_t overloaded = 0;            // answered overloaded
  uint64_t malformed_frames = 0;      // each closed its connection
  uint64_t frames_unauthenticated = 0;  // no valid cluster-secret MAC: each closed its connection
  uint64_t late_replies_dropped = 0;  // the handler returned after the deadline: nobody waits
  uint64_t replies_too_large = 0;     // answered too_large instead
  uint64_t connections = 0;           // accepted
  uint64_t connections_refused = 0;   // above connections_max
  uint64_t connections_idle_closed = 0;
  size_t connections_open = 0;
};

class RpcServer {
 public:
  // Runs on a fiber of its own per call. `deadline` is when the caller stops waiting: a reply
  // after it is dropped, so a handler that cannot finish by then should give up and return
  // (RpcStatus::timeout). Calls of one method run concurrently.
  using Handler = UniqueFunction<Reply(ByteSpan request, runtime::Instant deadline)>;

  RpcServer(runtime::Runtime& runtime, RpcServerConfig config);
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Registers the handler of `method`, once per method and before start().
  void handle(uint16_t method, Handler handler);
  // Listens on config.port and spawns the accept fiber.
  runtime::Status start();
  // Stops accepting and closes every connection; replies of calls still running are dropped.
  void close();

  runtime::Address local_address() const { return acceptor_.local_address(); }
  RpcServerStats stats() const;
  const RpcServerConfig& config() const { return config_; }

 private:
  struct Connection;

  void serve(std::unique_ptr<runtime::Stream> stream);
  void read_requests(const std::shared_ptr<Connection>& connection);
  void dispatch(const std::shared_ptr<Connection>& connection, Frame request);
  void run_call(Connection& connection, Handler& handler, Frame request, runtime::Instant deadline);
  void respond(Connection& connection, uint64_t call_id, RpcStatus status, ByteSpan payload);

  runtime::Runtime& runtime_;
  RpcServerConfig config_;
  std::map<uint16_t, Handler> handlers_;
  std::map<uint64_t, Connection*> connections_;  // open ones, by id: close() closes them
  uint64_t next_connection_id_ = 1;
  bool started_ = false;
  RpcServerStats stats_;
  runtime::AcceptLoop acceptor_;
};

// ---- client ------------------------------------------------------------------------------------

struct RpcClientConfig {
  runtime::Duration connect_timeout = std::chrono::milliseconds(500);
  size_t frame_bytes_max = kFrameBytesMaxDefault;  // responses above are malformed, requests refused
  size_t calls_pending_max = 1024;                 // per connection; more calls are refused
  size_t connections_max = 1024;                   // destinations connected at once
  // A connection with no call pending for this long is closed (shorter than the server's).
  runtime::Duration idle_timeout = std::chrono::seconds(60);
  // The cluster secret, as RpcServerConfig::cluster_key: the servers called must hold the same.
  std::optional<ClusterKey> cluster_key;
};

struct RpcClientStats {
  uint64_t calls = 0;                 // sent
  uint64_t replies = 0;               // answered (any RpcStatus)
  uint64_t timeouts = 0;              // the deadline passed first
  uint64_t calls_failed = 0;          // a transport error ended them
  uint64_t calls_refused = 0;         // calls_pending_max, connections_max or frame_bytes_max
  uint64_t late_replies_dropped = 0;  // answers to calls that had timed out
  uint64_t malformed_frames = 0;      // each closed its connection
  uint64_t frames_unauthenticated = 0;  // no valid cluster-secret MAC: each closed its connection
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t connections_lost = 0;      // closed by the peer or the network (not idle closes)
  size_t connections_open = 0;
};

class RpcClient {
 public:
  RpcClient(runtime::Runtime& runtime, RpcClientConfig config);
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  // Calls `method` on `to` and waits (on the calling fiber) for its reply until `deadline`.
  // Errors are transport failures (see the top of this file); `timeout` when the deadline passed
  // first (a late answer is dropped and the connection stays usable).
  runtime::Result<Reply> call(const runtime::Address& to, uint16_t method, ByteSpan payload, runtime::Instant deadline);
  // Closes every connection: pending calls fail with `closed`; later calls connect anew.
  void close();

  RpcClientStats stats() const;
  const RpcClientConfig& config() const { return config_; }

 private:
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;

  runtime::Result<Reply> connect_and_call(const runtime::Address& to, uint16_t method, ByteSpan payload,
                                          runtime::Instant deadline);
  runtime::Result<ConnectionPtr> connection_to(const runtime::Address& to, runtime::Instant deadline);
  void run_connection(const ConnectionPtr& connection);
  runtime::Status read_responses(Connection& connection);
  void fail(const ConnectionPtr& connection, const runtime::Status& why);
  runtime::Result<Reply> await_reply(Connection& connection, uint64_t call_id, ByteSpan request, runtime::Instant deadline);

  runtime::Runtime& runtime_;
  RpcClientConfig config_;
  std::map<runtime::Address, ConnectionPtr> connections_;
  uint64_t next_call_id_ = 1;
  RpcClientStats stats_;
};

}  // namespace sluice::rpc
