// The inter-node transport of the multi-Raft host. Outbound: one stream per peer, connected at
// start and again after any failure with exponential backoff, written by that peer's writer fiber; everything queued for
// the peer between two flushes leaves as one frame (split only above frame_bytes_target), with
// the heartbeats of all groups coalesced into one. Inbound: a listener accepts the peers'
// streams; a reader fiber per stream verifies every frame and hands the expanded per-group
// messages to one bounded channel. A malformed frame closes its connection and is counted.
//
// Raft tolerates loss, so every overflow drops (and counts) instead of blocking the host.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "node/base/cluster_key.h"
#include "node/multiraft/codec.h"
#include "runtime/accept_loop.h"
#include "runtime/runtime.h"

namespace sluice::multiraft {

struct TransportConfig {
  raft::NodeId self = raft::kNoNode;
  uint16_t port = 7100;
  std::map<raft::NodeId, runtime::Address> peers;  // every other node this one may talk to
  size_t frame_bytes_max = 64 * 1024 * 1024;       // inbound: larger frames are malformed
  size_t frame_bytes_target = 1024 * 1024;         // outbound: split point between frames
  size_t peer_queue_messages_max = 65536;          // queued per peer; more are dropped
  size_t inbound_messages_max = 1 << 20;           // decoded, waiting for the host fiber
  size_t inbound_connections_max = 64;
  runtime::Duration connect_timeout = std::chrono::milliseconds(200);
  runtime::Duration reconnect_backoff_min = std::chrono::milliseconds(10);
  runtime::Duration reconnect_backoff_max = std::chrono::milliseconds(1000);
  runtime::Duration write_timeout = std::chrono::seconds(2);
  // The cluster secret: when set, every frame ends in its MAC (docs/formats/raft-rpc.md) and an
  // inbound frame without a valid one closes its connection. Unset: no MAC at all.
  std::optional<ClusterKey> cluster_key;
};

struct PeerStats {
  uint64_t frames_sent = 0;
  uint64_t messages_sent = 0;                // full (not coalesced) messages
  uint64_t heartbeat_msgs_sent = 0;          // coalesced heartbeat messages (frames carrying any)
  uint64_t heartbeat_response_msgs_sent = 0; // coalesced response messages
  uint64_t heartbeats_sent = 0;              // per-group heartbeats inside them
  uint64_t heartbeat_responses_sent = 0;
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t write_failures = 0;
  uint64_t messages_dropped = 0;  // queue full, or the peer unreachable
};

struct TransportStats {
  uint64_t frames_received = 0;
  uint64_t frames_malformed = 0;  // each closed its connection
  uint64_t frames_unauthenticated = 0;  // no valid cluster-secret MAC: each closed its connection
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // above inbound_connections_max
  uint64_t inbound_dropped = 0;      // the inbound channel was full
  uint64_t unknown_peer_dropped = 0; // messages for a node not in `peers`
};

class RaftTransport {
 public:
  RaftTransport(runtime::Runtime& runtime, TransportConfig config);
  RaftTransport(const RaftTransport&) = delete;
  RaftTransport& operator=(const RaftTransport&) = delete;

  // Listens and spawns the accept fiber and one writer fiber per peer.
  runtime::Status start();
  // Queues `message` for message.to; nothing leaves before flush().
  void send(GroupId group, raft::Message message);
  // Wakes the writer of every peer with queued messages.
  void flush();
  // Adds a peer, or moves a known one to a new address (its stream is dropped: the writer
  // reconnects there). Peers learned at run time, from membership. No-op for self.
  void set_peer(raft::NodeId id, runtime::Address address);

  runtime::Channel<GroupMessage>& inbound() { return inbound_; }
  TransportStats stats() const {
    TransportStats stats = stats_;
    stats.connections_accepted = acceptor_.stats().accepted;
    stats.connections_refused = acceptor_.stats().refused;
    return stats;
  }
  // Zeroes for a peer not in `peers`.
  PeerStats peer_stats(raft::NodeId peer) const;
  // Every peer known (configured or learned), in id order.
  std::vector<raft::NodeId> peer_ids() const;
  const TransportConfig& config() const { return config_; }

 private:
  struct Peer {
    Peer(runtime::Scheduler& scheduler, runtime::Address address) : address(std::move(address)), doorbell(scheduler, 1) {}
    runtime::Address address;
    std::vector<GroupMessage> queue;
    runtime::Channel<bool> doorbell;  // capacity 1: rings coalesce
    std::shared_ptr<runtime::Stream> stream;  // shared with its watcher fiber
    runtime::Duration backoff{0};
    runtime::Instant next_connect_at{};
    PeerStats stats;
  };

  void run_writer(raft::NodeId id, Peer& peer);
  runtime::Status ensure_connected(Peer& peer);
  void write_batch(raft::NodeId id, Peer& peer, std::vector<GroupMessage> batch);
  runtime::Status write_frame(Peer& peer, const Bytes& frame, bool& reconnected);
  void run_reader(runtime::Stream& stream);
  void watch_stream(Peer& peer, std::shared_ptr<runtime::Stream> stream);
  runtime::Status read_frame(runtime::Stream& stream, Bytes& frame, bool& unauthenticated);

  runtime::Runtime& runtime_;
  TransportConfig config_;
  bool started_ = false;
  std::map<raft::NodeId, std::unique_ptr<Peer>> peers_;
  runtime::Channel<GroupMessage> inbound_;
  TransportStats stats_;
  runtime::AcceptLoop acceptor_;
};

}  // namespace sluice::multiraft
