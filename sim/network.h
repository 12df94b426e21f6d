// The simulated network. Datagrams: per-link latency drawn per packet (so they reorder), loss and
// duplication. Streams: reliable and ordered byte streams with a flow-control window; while a
// partition blocks their path they stall, and a stall longer than stream_stall_reset_after, a
// random reset, or a crash of either end resets them. Partitions are sets of blocked directed
// links: symmetric, one-way, or a group isolated from everyone else.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "node/base/random.h"
#include "runtime/net.h"
#include "runtime/time.h"
#include "sim/timeline.h"

namespace sluice::sim {

using NodeIndex = int32_t;
class World;
class SimRuntime;

struct LinkConfig {
  runtime::Duration latency_min = std::chrono::milliseconds(1);
  runtime::Duration latency_max = std::chrono::milliseconds(10);
  double loss_probability = 0;       // datagrams
  double duplicate_probability = 0;  // datagrams
};

struct NetworkConfig {
  LinkConfig link;                          // every link, unless overridden
  double stream_reset_probability = 0;      // per delivered stream segment
  runtime::Duration stream_stall_reset_after = std::chrono::seconds(10);
  runtime::Duration stream_retry_interval = std::chrono::milliseconds(200);
  size_t datagram_queue_max = 1024;         // per socket; beyond it arrivals are dropped
  size_t stream_window_bytes_max = 1 << 20; // unacknowledged bytes per direction
  size_t stream_segment_bytes_max = 64 * 1024;
  size_t accept_backlog_max = 128;
  // Datagrams to this port go through the XDP classifier's membership check (bpf/classify.h),
  // as on a node with XDP: malformed ones are dropped and counted. 0: no classifier.
  uint16_t membership_port = 0;
};

struct NetworkStats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_delivered = 0;
  uint64_t datagrams_lost = 0;         // loss probability
  uint64_t datagrams_duplicated = 0;
  uint64_t datagrams_blocked = 0;      // partition
  uint64_t datagrams_overflowed = 0;   // receiver queue full or no receiver
  uint64_t datagrams_dropped_classifier = 0;  // malformed membership datagrams (XDP classifier)
  uint64_t streams_connected = 0;
  uint64_t streams_refused = 0;
  uint64_t streams_reset = 0;
  uint64_t stream_bytes_delivered = 0;
  uint64_t stream_stalls = 0;          // pump retries while partitioned
};

class Network {
 public:
  struct Connection;
  struct DatagramEndpoint;
  struct ListenerEndpoint;
  struct ConnectAttempt;

  Network(World& world, NetworkConfig config);
  ~Network();

  NetworkConfig& config() { return config_; }
  const NetworkStats& stats() const { return stats_; }
  void set_link(NodeIndex from, NodeIndex to, LinkConfig link);

  // --- partitions ---
  void block(NodeIndex from, NodeIndex to) { blocked_.insert({from, to}); }
  // Blocks a->b for every pair across the sides; both ways when symmetric.
  void partition(const std::vector<NodeIndex>& side_a, const std::vector<NodeIndex>& side_b, bool symmetric);
  // Cuts `group` off from every other node, both ways (k-of-n).
  void isolate(const std::vector<NodeIndex>& group);
  void heal() { blocked_.clear(); }
  bool blocked(NodeIndex from, NodeIndex to) const { return from != to && blocked_.count({from, to}) != 0; }
  size_t blocked_links() const { return blocked_.size(); }

  // --- used by SimRuntime ---
  runtime::Result<std::unique_ptr<runtime::DatagramSocket>> bind_datagram(SimRuntime& runtime, uint16_t port);
  runtime::Result<std::unique_ptr<runtime::Listener>> listen(SimRuntime& runtime, uint16_t port);
  runtime::Result<std::unique_ptr<runtime::Stream>> connect(SimRuntime& runtime, const runtime::Address& to,
                                                            runtime::Duration timeout);
  // The node lost power: its sockets are gone and its connections reset (peers learn of it after
  // a latency).
  void on_crash(NodeIndex node);

  // --- internal, used by the socket objects ---
  void send_datagram(NodeIndex from, uint16_t from_port, const runtime::Address& to, ByteSpan payload);
  void unregister_datagram(NodeIndex node, uint16_t port, const DatagramEndpoint* endpoint);
  void unregister_listener(NodeIndex node, uint16_t port, const ListenerEndpoint* endpoint);
  void stream_enqueue(const std::shared_ptr<Connection>& connection, int side, ByteSpan bytes, bool fin);
  void stream_consumed(const std::shared_ptr<Connection>& connection, int side, size_t bytes);
  // Applies the acks that have arrived at side `side`; true when it may send. When it may not,
  // its writers are woken as the next ack arrives.
  bool window_open(const std::shared_ptr<Connection>& connection, int side);
  void reset(const std::shared_ptr<Connection>& connection);
  int64_t draw_latency_ns(NodeIndex from, NodeIndex to);
  World& world() { return world_; }
  const runtime::Address address(NodeIndex node, uint16_t port) const;

 private:
  uint16_t pick_port(NodeIndex node, uint16_t requested, bool stream);
  void pump(const std::shared_ptr<Connection>& connection, int direction);
  void schedule_ack_wake(const std::shared_ptr<Connection>& connection, int side);
  void schedule_pump(const std::shared_ptr<Connection>& connection, int direction, int64_t at_ns);
  void on_syn(const std::shared_ptr<ConnectAttempt>& attempt);
  const LinkConfig& link(NodeIndex from, NodeIndex to) const;
  bool classifier_passes(uint16_t port, const Bytes& payload) const;
  // For the timeline (World::timeline()); both do nothing without one. A stream is classified by
  // its listening side's port, a datagram by its destination port, else its source port.
  MessageClass datagram_class(uint16_t from_port, uint16_t to_port) const;
  void note_message(int64_t sent_ns, NodeIndex from, NodeIndex to, MessageClass cls, bool stream, bool dropped, size_t bytes);

  World& world_;
  NetworkConfig config_;
  Prng prng_;  // the world's "network" stream: latency, loss, duplication, stream resets
  NetworkStats stats_;
  std::set<std::pair<NodeIndex, NodeIndex>> blocked_;
  std::map<std::pair<NodeIndex, NodeIndex>, LinkConfig> link_overrides_;
  std::map<std::pair<NodeIndex, uint16_t>, DatagramEndpoint*> datagram_endpoints_;
  std::map<std::pair<NodeIndex, uint16_t>, ListenerEndpoint*> listeners_;
  std::map<uint64_t, std::weak_ptr<Connection>> connections_;  // by id: deterministic order
  std::map<NodeIndex, uint16_t> next_ephemeral_port_;
  uint64_t next_connection_id_ = 1;
};

}  // namespace sluice::sim
