// RpcServer (rpc.h): a reader fiber per connection, a fiber per call.
#include <algorithm>
#include <utility>

#include "node/base/coverage.h"
#include "node/rpc/frame_stream.h"
#include "node/rpc/rpc.h"

namespace sluice::rpc {

namespace rt = sluice::runtime;

// Shared by the connection's reader fiber and its call fibers: a call may finish after the
// reader has gone (its write then fails on the closed stream).
struct RpcServer::Connection {
  Connection(rt::Scheduler& scheduler, std::unique_ptr<rt::Stream> stream)
      : stream(std::move(stream)), write_mutex(scheduler) {}
  std::unique_ptr<rt::Stream> stream;
  rt::Mutex write_mutex;
  size_t calls_in_flight = 0;
  rt::Instant last_active_at{};  // the last frame read or call finished: idle from then on
};

RpcServer::RpcServer(rt::Runtime& runtime, RpcServerConfig config)
    : runtime_(runtime), config_(config), acceptor_(runtime, "rpc", config_.connections_max) {
  SLUICE_ASSERT_GT(config_.calls_in_flight_per_connection_max, 0u);
  SLUICE_ASSERT_GE(config_.frame_bytes_max, kRequestFixedBytes);
  SLUICE_ASSERT_LE(config_.frame_bytes_max, size_t{UINT32_MAX});
}

void RpcServer::handle(uint16_t method, Handler handler) {
  SLUICE_ASSERT(!started_);  // handlers_ is read by running calls: fixed from start() on
  const bool added = handlers_.emplace(method, std::move(handler)).second;
  SLUICE_ASSERT(added);
}

rt::Status RpcServer::start() {
  SLUICE_ASSERT(!started_);
  SLUICE_TRY(acceptor_.start(config_.port, [this](std::unique_ptr<rt::Stream> stream) { serve(std::move(stream)); }));
  started_ = true;
  return rt::Status();
}

void RpcServer::close() {
  acceptor_.close();
  for (auto& [id, connection] : connections_) connection->stream->close();
}

RpcServerStats RpcServer::stats() const {
  RpcServerStats stats = stats_;
  stats.connections = acceptor_.stats().accepted;
  stats.connections_refused = acceptor_.stats().refused;
  stats.connections_open = acceptor_.stats().open;
  return stats;
}

void RpcServer::serve(std::unique_ptr<rt::Stream> stream) {
  auto connection = std::make_shared<Connection>(runtime_.scheduler(), std::move(stream));
  // Listed while its reader runs, also when a shutdown unwinds the reader.
  struct Listed {
    std::map<uint64_t, Connection*>& connections;
    uint64_t id;
    ~Listed() { connections.erase(id); }
  } listed{connections_, next_connection_id_++};
  connections_.emplace(listed.id, connection.get());
  read_requests(connection);
  connection->stream->close();
}

// Until the connection ends: closed by the peer, idle, or a malformed frame (after a bad frame the
// framing itself cannot be trusted).
void RpcServer::read_requests(const std::shared_ptr<Connection>& connection) {
  FrameReader reader(*connection->stream, config_.frame_bytes_max, config_.cluster_key);
  connection->last_active_at = runtime_.now();
  auto idle_at = [&] {
    return idle_deadline(connection->calls_in_flight > 0, connection->last_active_at, config_.idle_timeout, runtime_.now());
  };
  while (true) {
    rt::Result<Frame> frame = reader.next(idle_at());
    if (frame.code() == rt::Errc::timeout && idle_at() > runtime_.now()) continue;  // busy, or active meanwhile
    if (frame.code() == rt::Errc::timeout) {
      SLUICE_COVER("rpc.server.idle_closed");
      ++stats_.connections_idle_closed;
    }
    if (reader.unauthenticated()) {
      SLUICE_COVER("rpc.server.frame_unauthenticated");
      ++stats_.frames_unauthenticated;
      return;
    }
    if (frame.code() == rt::Errc::invalid_argument || (frame.ok() && frame->kind != FrameKind::request)) {
      SLUICE_COVER("rpc.server.frame_malformed");
      ++stats_.malformed_frames;
      return;
    }
    if (!frame.ok()) return;
    connection->last_active_at = runtime_.now();
    dispatch(connection, std::move(frame).value());
  }
}

// The refusals need no handler: the reader answers them at once. Every other call gets a fiber.
void RpcServer::dispatch(const std::shared_ptr<Connection>& connection, Frame request) {
  auto found = handlers_.find(request.method);
  if (found == handlers_.end()) {
    ++stats_.unknown_method;
    respond(*connection, request.call_id, RpcStatus::unknown_method, {});
    return;
  }
  if (connection->calls_in_flight >= config_.calls_in_flight_per_connection_max) {
    SLUICE_COVER("rpc.server.overloaded");
    ++stats_.overloaded;
    respond(*connection, request.call_id, RpcStatus::overloaded, {});
    return;
  }
  ++stats_.calls;
  ++connection->calls_in_flight;
  const rt::Duration timeout = std::min<rt::Duration>(std::chrono::milliseconds(request.timeout_ms), config_.call_timeout_max);
  const rt::Instant deadline = runtime_.now() + timeout;
  runtime_.spawn("rpc-call", [this, connection, handler = &found->second, request = std::move(request), deadline]() mutable {
    run_call(*connection, *handler, std::move(request), deadline);
  });
}

void RpcServer::run_call(Connection& connection, Handler& handler, Frame request, rt::Instant deadline) {
  // The slot is held until the reply is written: a peer that reads slowly is throttled too.
  struct InFlight {
    Connection& connection;
    rt::Runtime& runtime;
    ~InFlight() {
      --connection.calls_in_flight;
      connection.last_active_at = runtime.now();
    }
  } in_flight{connection, runtime_};
  Reply reply = handler(request.payload, deadline);
  if (runtime_.now() > deadline) {
    SLUICE_COVER("rpc.server.late_reply_dropped");
    ++stats_.late_replies_dropped;
    return;
  }
  if (reply.payload.size() > config_.frame_bytes_max - kResponseFixedBytes) {
    SLUICE_COVER("rpc.server.reply_too_large");
    ++stats_.replies_too_large;
    reply = Reply{RpcStatus::too_large, {}};
  }
  respond(connection, request.call_id, reply.status, reply.payload);
}

// A failed write closes the stream (write_frame), which ends the connection's reader too.
void RpcServer::respond(Connection& connection, uint64_t call_id, RpcStatus status, ByteSpan payload) {
  Bytes frame = encode_response(call_id, status, payload);
  if (config_.cluster_key) seal_frame(frame, *config_.cluster_key);
  (void)write_frame(connection.write_mutex, *connection.stream, frame, runtime_.now() + config_.write_timeout);
}

}  // namespace sluice::rpc
