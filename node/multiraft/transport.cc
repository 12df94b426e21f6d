#include "node/multiraft/transport.h"

#include <algorithm>
#include <utility>

#include "node/base/coverage.h"

namespace sluice::multiraft {

namespace rt = sluice::runtime;
using namespace std::chrono_literals;

RaftTransport::RaftTransport(rt::Runtime& runtime, TransportConfig config)
    : runtime_(runtime),
      config_(std::move(config)),
      inbound_(runtime.scheduler(), config_.inbound_messages_max),
      acceptor_(runtime, "raft", config_.inbound_connections_max) {
  for (const auto& [id, address] : config_.peers) {
    if (id != config_.self) peers_.emplace(id, std::make_unique<Peer>(runtime.scheduler(), address));
  }
  // BUGGIFY: tiny queues now and then, so that overflow drops (which Raft must tolerate) happen.
  if (SLUICE_BUGGIFY(runtime_)) config_.peer_queue_messages_max = 4;
}

rt::Status RaftTransport::start() {
  SLUICE_TRY(acceptor_.start(config_.port, [this](std::unique_ptr<rt::Stream> stream) { run_reader(*stream); }));
  for (auto& [id, peer] : peers_) {
    runtime_.spawn("raft-write", [this, id = id, peer = peer.get()] { run_writer(id, *peer); });
  }
  started_ = true;
  return rt::Status();
}

void RaftTransport::set_peer(raft::NodeId id, rt::Address address) {
  if (id == config_.self || id == raft::kNoNode) return;
  auto found = peers_.find(id);
  if (found != peers_.end()) {
    Peer& peer = *found->second;
    if (peer.address == address) return;
    SLUICE_COVER("multiraft.transport.peer_moved");
    peer.address = std::move(address);
    if (peer.stream) peer.stream->close();
    peer.stream.reset();
    (void)peer.doorbell.try_send(true);
    return;
  }
  SLUICE_COVER("multiraft.transport.peer_added");
  Peer* peer = peers_.emplace(id, std::make_unique<Peer>(runtime_.scheduler(), std::move(address))).first->second.get();
  if (started_) runtime_.spawn("raft-write", [this, id, peer] { run_writer(id, *peer); });
}

void RaftTransport::send(GroupId group, raft::Message message) {
  auto it = peers_.find(message.to);
  if (it == peers_.end()) {
    ++stats_.unknown_peer_dropped;
    return;
  }
  Peer& peer = *it->second;
  if (peer.queue.size() >= config_.peer_queue_messages_max) {
    SLUICE_COVER("multiraft.transport.peer_queue_full");
    ++peer.stats.messages_dropped;
    return;
  }
  peer.queue.push_back(GroupMessage{group, std::move(message)});
}

void RaftTransport::flush() {
  for (auto& [id, peer] : peers_) {
    if (!peer->queue.empty()) (void)peer->doorbell.try_send(true);  // full: a ring is pending already
  }
}

PeerStats RaftTransport::peer_stats(raft::NodeId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? PeerStats{} : it->second->stats;
}

std::vector<raft::NodeId> RaftTransport::peer_ids() const {
  std::vector<raft::NodeId> ids;
  ids.reserve(peers_.size());
  for (const auto& [id, peer] : peers_) ids.push_back(id);
  return ids;
}

// The only fiber that writes to this peer. It connects eagerly (not at the first message) so that
// an election after a crash does not wait a connection handshake on top of its round trips;
// while the peer is unreachable it retries with backoff and drops what is queued meanwhile
// (Raft retransmits what matters; stale votes and appends are worthless after a backoff).
void RaftTransport::run_writer(raft::NodeId id, Peer& peer) {
  while (true) {
    if (!ensure_connected(peer).ok()) {
      peer.stats.messages_dropped += peer.queue.size();
      peer.queue.clear();
      if (!runtime_.sleep_until(peer.next_connect_at).ok()) return;  // cancelled: the node stops
      continue;
    }
    if (peer.queue.empty() && !peer.doorbell.receive().ok()) return;
    // BUGGIFY: a late flush. What is queued meanwhile joins the batch, and this peer hears later
    // than the others (a vote or an append overtaken by the next round's messages).
    if (SLUICE_BUGGIFY(runtime_)) {
      SLUICE_COVER("multiraft.transport.flush_delayed");
      if (!runtime_.sleep_for(rt::Duration(1 + static_cast<int64_t>(runtime_.random_below(static_cast<uint64_t>(rt::to_ns(rt::Duration(20ms))))))).ok()) return;
    }
    (void)peer.doorbell.try_receive();  // this pass sends everything queued so far
    if (!peer.queue.empty()) write_batch(id, peer, std::exchange(peer.queue, {}));
  }
}

rt::Status RaftTransport::ensure_connected(Peer& peer) {
  if (peer.stream) return rt::Status();
  auto stream = runtime_.connect(peer.address, config_.connect_timeout);
  if (!stream.ok()) {
    SLUICE_COVER("multiraft.transport.connect_failed");
    ++peer.stats.connect_failures;
    peer.backoff = std::clamp(peer.backoff * 2, config_.reconnect_backoff_min, config_.reconnect_backoff_max);
    peer.next_connect_at = runtime_.now() + peer.backoff;
    return stream.status();
  }
  ++peer.stats.connects;
  peer.backoff = rt::Duration(0);
  peer.stream = std::move(stream).value();
  runtime_.spawn("raft-watch", [this, &peer, watched = peer.stream] { watch_stream(peer, watched); });
  return rt::Status();
}

// The peer never writes on our outbound stream, so a read ends only when the connection does
// (the peer crashed or restarted). Followers write to each other only during elections: without
// this the first vote request after a peer's restart would go into a dead stream and be lost.
// Reconnecting now (with the usual backoff while the peer is down) has a fresh stream waiting.
void RaftTransport::watch_stream(Peer& peer, std::shared_ptr<rt::Stream> stream) {
  std::byte byte[1];
  if (stream->read_exact(byte).code() == rt::Errc::cancelled) return;  // the node stops
  if (peer.stream != stream) return;  // the writer replaced it already
  SLUICE_COVER("multiraft.transport.reconnect_on_peer_close");
  stream->close();
  peer.stream.reset();
  (void)peer.doorbell.try_send(true);  // the writer reconnects
}

// A failed write is retried once per batch on a fresh connection: the stream may be stale (the
// peer restarted since we last wrote; followers write to each other only during elections), and
// one reconnect keeps the batch — often a vote request — from being lost to a long-dead stream.
rt::Status RaftTransport::write_frame(Peer& peer, const Bytes& frame, bool& reconnected) {
  // Frames the peer would refuse would close the connection again and again: never send one.
  SLUICE_ASSERT_LE(frame.size(), kFrameHeaderBytes + config_.frame_bytes_max + ClusterKey::kTagBytes);
  // BUGGIFY: the connection dies just before a write (a reset the watcher has not seen yet): the
  // write fails and is retried once on a fresh connection.
  if (peer.stream && SLUICE_BUGGIFY(runtime_)) peer.stream->close();
  while (true) {
    rt::Status written(rt::Errc::closed, "no connection");
    if (std::shared_ptr<rt::Stream> stream = peer.stream) written = stream->write(frame, runtime_.now() + config_.write_timeout);
    if (written.ok()) return written;
    if (reconnected) SLUICE_COVER("multiraft.transport.write_failed_twice"); else SLUICE_COVER("multiraft.transport.write_retried");
    ++peer.stats.write_failures;
    if (peer.stream) peer.stream->close();
    peer.stream.reset();
    if (reconnected) return written;
    reconnected = true;
    SLUICE_TRY(ensure_connected(peer));
  }
}

void RaftTransport::write_batch(raft::NodeId id, Peer& peer, std::vector<GroupMessage> batch) {
  // BUGGIFY: an early split, one message per frame: the peer reads a batch in many frames, and a
  // failure in the middle loses only the rest of it.
  const size_t target = SLUICE_BUGGIFY(runtime_) ? 1 : config_.frame_bytes_target;
  std::vector<FrameCounts> counts;
  std::vector<Bytes> frames = encode_frames(config_.self, id, batch, target, &counts);
  if (config_.cluster_key) {
    for (Bytes& frame : frames) config_.cluster_key->seal(frame);
  }
  if (frames.size() > 1) SLUICE_COVER("multiraft.transport.frame_split");
  // Every message queued is in exactly one frame (the counts are what the stats say was sent).
  if (coverage::expensive_assertions()) {
    size_t counted = 0;
    for (const FrameCounts& c : counts) counted += c.messages + c.heartbeats + c.heartbeat_responses;
    SLUICE_ASSERT_EQ(counted, batch.size());
  }
  bool reconnected = false;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (!write_frame(peer, frames[i], reconnected).ok()) {
      if (i > 0) SLUICE_COVER("multiraft.transport.batch_cut_after_frames");
      for (size_t j = i; j < frames.size(); ++j) {
        peer.stats.messages_dropped += counts[j].messages + counts[j].heartbeats + counts[j].heartbeat_responses;
      }
      return;
    }
    ++peer.stats.frames_sent;
    peer.stats.messages_sent += counts[i].messages;
    peer.stats.heartbeats_sent += counts[i].heartbeats;
    peer.stats.heartbeat_responses_sent += counts[i].heartbeat_responses;
    if (counts[i].heartbeats > 0) ++peer.stats.heartbeat_msgs_sent;
    if (counts[i].heartbeat_responses > 0) ++peer.stats.heartbeat_response_msgs_sent;
  }
}

// The whole frame into `frame`: header, payload and (when keyed) the MAC trailer, verified.
rt::Status RaftTransport::read_frame(rt::Stream& stream, Bytes& frame, bool& unauthenticated) {
  frame.resize(kFrameHeaderBytes);
  SLUICE_TRY(stream.read_exact(frame));
  auto decoded = decode_frame_header(frame, config_.frame_bytes_max);
  if (!decoded.ok()) return rt::Status(rt::Errc::invalid_argument, decoded.status().to_string());
  frame.resize(kFrameHeaderBytes + decoded->payload_bytes + (config_.cluster_key ? ClusterKey::kTagBytes : 0));
  SLUICE_TRY(stream.read_exact(MutableByteSpan(frame).subspan(kFrameHeaderBytes)));
  if (config_.cluster_key && !config_.cluster_key->opens(frame)) {
    unauthenticated = true;
    return rt::Status(rt::Errc::invalid_argument, "raft frame without a valid cluster-secret MAC");
  }
  frame.resize(kFrameHeaderBytes + decoded->payload_bytes);
  return rt::Status();
}

// One per inbound connection. Any malformed frame ends the connection: after a bad frame the
// framing itself cannot be trusted.
void RaftTransport::run_reader(rt::Stream& stream) {
  Bytes bytes;
  while (true) {
    bool unauthenticated = false;
    rt::Status status = read_frame(stream, bytes, unauthenticated);
    HostResult<DecodedFrame> frame = HostStatus(HostErrc::malformed, status.to_string());
    if (status.ok()) frame = decode_frame(ByteSpan(bytes).subspan(kFrameHeaderBytes), config_.self);
    if (!frame.ok()) {
      if (unauthenticated) {
        SLUICE_COVER("multiraft.transport.frame_unauthenticated");
        ++stats_.frames_unauthenticated;
      } else if (status.ok() || status.code() == rt::Errc::invalid_argument) {
        SLUICE_COVER("multiraft.transport.frame_malformed");
        ++stats_.frames_malformed;
      }
      stream.close();
      return;
    }
    ++stats_.frames_received;
    for (GroupMessage& message : frame->messages) {
      if (!inbound_.try_send(std::move(message)).ok()) {
        SLUICE_COVER("multiraft.transport.inbound_full");
        ++stats_.inbound_dropped;
      }
    }
  }
}

}  // namespace sluice::multiraft
