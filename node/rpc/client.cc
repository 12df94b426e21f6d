// RpcClient (rpc.h): one connection per destination, a reader fiber per connection, pending
// calls matched by call id.
#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "node/base/coverage.h"
#include "node/rpc/frame_stream.h"
#include "node/rpc/rpc.h"

namespace sluice::rpc {

namespace rt = sluice::runtime;

namespace {

// What the reader hands a waiting call: its reply, or why the connection failed.
using Answer = rt::Result<Reply>;

// The caller's remaining time as the request states it, rounded up so that the server never
// gives up before the caller does.
uint32_t timeout_ms_until(rt::Instant deadline, rt::Instant now) {
  const int64_t remaining_ns = rt::to_ns(deadline - now);
  const int64_t ms = (remaining_ns + 999'999) / 1'000'000;
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 1, std::numeric_limits<uint32_t>::max()));
}

}  // namespace

// Shared by the connection's fiber (connect, then read) and the calls using it.
struct RpcClient::Connection {
  Connection(rt::Scheduler& scheduler, rt::Address address)
      : address(std::move(address)), ready(scheduler), write_mutex(scheduler) {}
  rt::Address address;
  std::unique_ptr<rt::Stream> stream;  // set once connected
  rt::Event ready;                     // set once connected, or failed
  rt::Status failure;                  // not ok once failed: then out of connections_ for good
  rt::Mutex write_mutex;
  std::map<uint64_t, rt::Oneshot<Answer>::Sender> pending;  // by call id
  rt::Instant last_active_at{};  // the last call sent or reply read: idle from then on
};

RpcClient::RpcClient(rt::Runtime& runtime, RpcClientConfig config) : runtime_(runtime), config_(std::move(config)) {
  SLUICE_ASSERT_GT(config_.calls_pending_max, 0u);
  SLUICE_ASSERT_GT(config_.connections_max, 0u);
  SLUICE_ASSERT_GE(config_.frame_bytes_max, kRequestFixedBytes);
}

RpcClientStats RpcClient::stats() const {
  RpcClientStats stats = stats_;
  stats.connections_open = connections_.size();
  return stats;
}

void RpcClient::close() {
  std::vector<ConnectionPtr> all;
  for (auto& [address, connection] : connections_) all.push_back(connection);
  for (const ConnectionPtr& connection : all) fail(connection, rt::Status(rt::Errc::closed, "rpc client closed"));
}

rt::Result<Reply> RpcClient::call(const rt::Address& to, uint16_t method, ByteSpan payload, rt::Instant deadline) {
  if (payload.size() > config_.frame_bytes_max - kRequestFixedBytes) {
    ++stats_.calls_refused;
    return rt::Status(rt::Errc::message_too_large, "rpc request of " + std::to_string(payload.size()) + " bytes");
  }
  rt::Result<Reply> reply = connect_and_call(to, method, payload, deadline);
  switch (reply.code()) {
    case rt::Errc::ok: ++stats_.replies; break;
    case rt::Errc::timeout: ++stats_.timeouts; break;
    case rt::Errc::limit_exceeded: ++stats_.calls_refused; break;
    default: ++stats_.calls_failed; break;
  }
  return reply;
}

rt::Result<Reply> RpcClient::connect_and_call(const rt::Address& to, uint16_t method, ByteSpan payload, rt::Instant deadline) {
  SLUICE_ASSIGN_OR_RETURN(const ConnectionPtr connection, connection_to(to, deadline));
  const uint64_t call_id = next_call_id_++;
  // Encoded once connected: the timeout the server gets is what is left of the caller's.
  Bytes request = encode_request(call_id, method, timeout_ms_until(deadline, runtime_.now()), payload);
  if (config_.cluster_key) seal_frame(request, *config_.cluster_key);
  return await_reply(*connection, call_id, request, deadline);
}

// The connection to `to`, connecting it (on a fiber of its own, shared by every call that comes
// meanwhile) when there is none.
rt::Result<RpcClient::ConnectionPtr> RpcClient::connection_to(const rt::Address& to, rt::Instant deadline) {
  if (runtime_.now() >= deadline) return rt::Status(rt::Errc::timeout, "rpc call past its deadline");
  ConnectionPtr connection;
  if (auto found = connections_.find(to); found != connections_.end()) {
    connection = found->second;
  } else {
    if (connections_.size() >= config_.connections_max) {
      return rt::Status(rt::Errc::limit_exceeded, "rpc client: connections_max reached");
    }
    connection = std::make_shared<Connection>(runtime_.scheduler(), to);
    connections_.emplace(to, connection);
    runtime_.spawn("rpc-client", [this, connection] { run_connection(connection); });
  }
  SLUICE_TRY(connection->ready.wait(deadline));
  if (!connection->failure.ok()) return connection->failure;
  return connection;
}

void RpcClient::run_connection(const ConnectionPtr& connection) {
  rt::Result<std::unique_ptr<rt::Stream>> stream = runtime_.connect(connection->address, config_.connect_timeout);
  const std::string context = "rpc connection to " + connection->address.to_string();
  if (!stream.ok()) {
    SLUICE_COVER("rpc.client.connect_failed");
    ++stats_.connect_failures;
    fail(connection, stream.status().with_context(context));
    return;
  }
  ++stats_.connects;
  connection->stream = std::move(stream).value();
  if (!connection->failure.ok()) {  // close() came first
    connection->stream->close();
    return;
  }
  connection->ready.set();
  const rt::Status ended = read_responses(*connection);
  if (ended.code() != rt::Errc::timeout && connection->failure.ok()) {
    SLUICE_COVER("rpc.client.connection_lost");
    ++stats_.connections_lost;
  }
  fail(connection, ended.with_context(context));
}

// Returns why the connection ended: `timeout` when it was idle (nothing pending) for
// idle_timeout, else the stream's error or invalid_argument for a malformed frame.
rt::Status RpcClient::read_responses(Connection& connection) {
  FrameReader reader(*connection.stream, config_.frame_bytes_max, config_.cluster_key);
  connection.last_active_at = runtime_.now();
  auto idle_at = [&] {
    return idle_deadline(!connection.pending.empty(), connection.last_active_at, config_.idle_timeout, runtime_.now());
  };
  while (true) {
    rt::Result<Frame> frame = reader.next(idle_at());
    if (frame.code() == rt::Errc::timeout && idle_at() > runtime_.now()) continue;  // busy, or active meanwhile
    if (reader.unauthenticated()) {
      SLUICE_COVER("rpc.client.frame_unauthenticated");
      ++stats_.frames_unauthenticated;
      return frame.status();
    }
    if (frame.code() == rt::Errc::invalid_argument || (frame.ok() && frame->kind != FrameKind::response)) {
      SLUICE_COVER("rpc.client.frame_malformed");
      ++stats_.malformed_frames;
      return rt::Status(rt::Errc::invalid_argument, frame.ok() ? "a request sent to the client" : frame.status().message());
    }
    if (!frame.ok()) return frame.status();
    connection.last_active_at = runtime_.now();
    auto waiting = connection.pending.find(frame->call_id);
    if (waiting == connection.pending.end()) {  // that call timed out and left
      SLUICE_COVER("rpc.client.late_reply_dropped");
      ++stats_.late_replies_dropped;
      continue;
    }
    waiting->second.send(Reply{frame->status, std::move(frame->payload)});
    connection.pending.erase(waiting);
  }
}

// Ends a connection for good: every call pending on it gets `why`, and the next call to its
// address connects anew. Idempotent.
void RpcClient::fail(const ConnectionPtr& connection, const rt::Status& why) {
  SLUICE_ASSERT(!why.ok());
  if (!connection->failure.ok()) return;
  connection->failure = why;
  if (connection->stream) connection->stream->close();
  if (auto found = connections_.find(connection->address); found != connections_.end() && found->second == connection) {
    connections_.erase(found);
  }
  for (auto& [call_id, sender] : connection->pending) sender.send(why);
  connection->pending.clear();
  connection->ready.set();
}

rt::Result<Reply> RpcClient::await_reply(Connection& connection, uint64_t call_id, ByteSpan request, rt::Instant deadline) {
  if (connection.pending.size() >= config_.calls_pending_max) {
    SLUICE_COVER("rpc.client.pending_full");
    return rt::Status(rt::Errc::limit_exceeded, "rpc client: calls_pending_max reached for " + connection.address.to_string());
  }
  auto [sender, receiver] = rt::Oneshot<Answer>::make(runtime_.scheduler());
  connection.pending.emplace(call_id, std::move(sender));
  // However the call ends (answer, timeout, failure, unwinding), its entry goes: a late answer
  // then finds no one and is dropped.
  struct Pending {
    std::map<uint64_t, rt::Oneshot<Answer>::Sender>& pending;
    uint64_t call_id;
    ~Pending() { pending.erase(call_id); }
  } listed{connection.pending, call_id};
  ++stats_.calls;
  connection.last_active_at = runtime_.now();
  SLUICE_TRY(write_frame(connection.write_mutex, *connection.stream, request, deadline));
  rt::Result<Answer> answer = receiver.receive(deadline);
  if (!answer.ok()) return answer.status();
  return std::move(answer).value();
}

}  // namespace sluice::rpc
