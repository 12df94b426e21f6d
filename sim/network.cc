#include "sim/network.h"

#include <algorithm>
#include <deque>

#include "bpf/classify.h"
#include "node/base/hash.h"
#include "node/base/random.h"
#include "runtime/sync.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"

namespace sluice::sim {

using runtime::Address;
using runtime::Datagram;
using runtime::Errc;
using runtime::Instant;
using runtime::Result;
using runtime::Status;
using runtime::wait_until;

namespace {
constexpr uint16_t kEphemeralPortFirst = 49152;
}

// --- connection state, shared by both stream ends and the events in flight ---

struct Network::Connection {
  struct Segment {
    Bytes bytes;
    bool fin = false;
    int64_t ready_ns = 0;
    int64_t sent_ns = 0;  // for the timeline
  };
  // Bytes travelling from side d to side 1-d.
  struct Direction {
    std::deque<Segment> in_flight;
    int64_t last_ready_ns = 0;  // segments never overtake each other
    bool pump_scheduled = false;
    int64_t stalled_since_ns = -1;
    size_t unacked_bytes = 0;   // in flight or unread at the receiver: the flow-control window
    // Acknowledgements on their way back to the sender: (arrival time, bytes), in arrival order.
    // They take effect lazily when the sender looks at its window, so an ack costs an event only
    // when a writer is blocked on a full window (acks were 40 % of all events, almost all of them
    // for a window that was nowhere near full).
    std::deque<std::pair<int64_t, size_t>> acks;
    int64_t last_ack_ns = 0;
    bool ack_wake_scheduled = false;
  };
  // What side s has received and the fibers of side s waiting.
  struct Side {
    std::deque<std::byte> received;
    bool eof = false;
    bool reset_seen = false;
    bool closed = false;
    runtime::WaitList readers;
    runtime::WaitList writers;
  };

  uint64_t id = 0;
  NodeIndex node[2] = {0, 0};
  uint16_t port[2] = {0, 0};
  Direction direction[2];
  Side side[2];
  bool dead = false;  // reset: nothing more is delivered
};

struct Network::ConnectAttempt {
  NodeIndex from = 0;
  uint64_t from_incarnation = 0;
  uint16_t from_port = 0;
  NodeIndex to = 0;
  uint16_t to_port = 0;
  bool done = false;
  bool abandoned = false;
  Errc result = Errc::ok;
  std::shared_ptr<Connection> connection;
  runtime::WaitList waiters;
};

namespace {

runtime::Scheduler& scheduler_of(World& world, NodeIndex node) {
  SimRuntime* runtime = world.runtime(node);
  SLUICE_ASSERT(runtime != nullptr);  // node events only run while their incarnation is up
  return runtime->scheduler();
}

class SimStream final : public runtime::Stream {
 public:
  SimStream(Network& network, SimRuntime& runtime, std::shared_ptr<Network::Connection> connection, int side)
      : network_(network), runtime_(runtime), connection_(std::move(connection)), side_(side) {}
  ~SimStream() override { close(); }

  Address local_address() const override {
    return network_.address(connection_->node[side_], connection_->port[side_]);
  }
  Address peer_address() const override {
    return network_.address(connection_->node[1 - side_], connection_->port[1 - side_]);
  }

  Result<size_t> read(MutableByteSpan buffer, Instant deadline) override {
    auto& me = connection_->side[side_];
    Status status = wait_until(runtime_.scheduler(), me.readers, deadline, [&] {
      return !me.received.empty() || me.eof || me.reset_seen || me.closed;
    });
    if (!status.ok()) return status;
    if (me.closed) return Status(Errc::closed, "stream closed");
    if (!me.received.empty()) {
      const size_t count = std::min(buffer.size(), me.received.size());
      std::copy_n(me.received.begin(), count, buffer.begin());
      me.received.erase(me.received.begin(), me.received.begin() + static_cast<std::ptrdiff_t>(count));
      network_.stream_consumed(connection_, side_, count);
      return count;
    }
    if (me.reset_seen) return Status(Errc::connection_reset, "stream reset by peer or network");
    return size_t{0};
  }

  Status write(ByteSpan bytes, Instant deadline) override {
    const size_t window = network_.config().stream_window_bytes_max;
    auto& me = connection_->side[side_];
    auto& direction = connection_->direction[side_];
    size_t written = 0;
    while (written < bytes.size()) {
      Status status = wait_until(runtime_.scheduler(), me.writers, deadline, [&] {
        return me.closed || me.reset_seen || network_.window_open(connection_, side_);
      });
      if (!status.ok()) return status;
      if (me.closed) return Status(Errc::closed, "stream closed");
      if (me.reset_seen) return Status(Errc::connection_reset, "stream reset by peer or network");
      const size_t count = std::min({window - direction.unacked_bytes, bytes.size() - written,
                                     network_.config().stream_segment_bytes_max});
      network_.stream_enqueue(connection_, side_, bytes.subspan(written, count), false);
      written += count;
    }
    return Status();
  }

  void close() override {
    auto& me = connection_->side[side_];
    if (me.closed) return;
    me.closed = true;
    network_.stream_enqueue(connection_, side_, {}, true);
    me.readers.wake_all(runtime_.scheduler());
    me.writers.wake_all(runtime_.scheduler());
  }

 private:
  Network& network_;
  SimRuntime& runtime_;
  std::shared_ptr<Network::Connection> connection_;
  int side_;
};

}  // namespace

// --- datagram socket ---

struct Network::DatagramEndpoint final : public runtime::DatagramSocket {
  DatagramEndpoint(Network& network, SimRuntime& runtime, uint16_t port)
      : network(network), runtime(runtime), node(runtime.node()), port(port) {}
  ~DatagramEndpoint() override { close(); }

  Address local_address() const override { return network.address(node, port); }

  Status send_to(const Address& to, ByteSpan payload) override {
    if (closed) return Status(Errc::closed, "datagram socket closed");
    if (payload.size() > runtime::kDatagramBytesMax) {
      return Status(Errc::message_too_large, "datagram of " + std::to_string(payload.size()) + " bytes");
    }
    network.send_datagram(node, port, to, payload);
    return Status();
  }

  Result<Datagram> receive(Instant deadline) override {
    Status status = wait_until(runtime.scheduler(), receivers, deadline, [&] { return closed || !queue.empty(); });
    if (!status.ok()) {
      if (!queue.empty()) receivers.wake_one(runtime.scheduler());  // pass the wake on
      return status;
    }
    if (queue.empty()) return Status(Errc::closed, "datagram socket closed");
    Datagram datagram = std::move(queue.front());
    queue.pop_front();
    return datagram;
  }

  void close() override {
    if (closed) return;
    closed = true;
    network.unregister_datagram(node, port, this);
    receivers.wake_all(runtime.scheduler());
  }

  Network& network;
  SimRuntime& runtime;
  NodeIndex node;
  uint16_t port;
  std::deque<Datagram> queue;
  runtime::WaitList receivers;
  bool closed = false;
};

// --- listener ---

struct Network::ListenerEndpoint final : public runtime::Listener {
  ListenerEndpoint(Network& network, SimRuntime& runtime, uint16_t port)
      : network(network), runtime(runtime), node(runtime.node()), port(port) {}
  ~ListenerEndpoint() override { close(); }

  Address local_address() const override { return network.address(node, port); }

  Result<std::unique_ptr<runtime::Stream>> accept(Instant deadline) override {
    Status status = wait_until(runtime.scheduler(), acceptors, deadline, [&] { return closed || !backlog.empty(); });
    if (!status.ok()) {
      if (!backlog.empty()) acceptors.wake_one(runtime.scheduler());
      return status;
    }
    if (closed) return Status(Errc::closed, "listener closed");
    std::shared_ptr<Connection> connection = std::move(backlog.front());
    backlog.pop_front();
    return std::unique_ptr<runtime::Stream>(std::make_unique<SimStream>(network, runtime, std::move(connection), 1));
  }

  void close() override {
    if (closed) return;
    closed = true;
    network.unregister_listener(node, port, this);
    for (auto& connection : backlog) network.reset(connection);
    backlog.clear();
    acceptors.wake_all(runtime.scheduler());
  }

  Network& network;
  SimRuntime& runtime;
  NodeIndex node;
  uint16_t port;
  std::deque<std::shared_ptr<Connection>> backlog;
  runtime::WaitList acceptors;
  bool closed = false;
};

// --- Network ---

Network::Network(World& world, NetworkConfig config)
    : world_(world), config_(config), prng_(world.stream("network")) {}

Network::~Network() = default;

// Only the registered object may remove itself: after a crash the port may belong to a new
// incarnation's socket.
void Network::unregister_datagram(NodeIndex node, uint16_t port, const DatagramEndpoint* endpoint) {
  auto it = datagram_endpoints_.find({node, port});
  if (it != datagram_endpoints_.end() && it->second == endpoint) datagram_endpoints_.erase(it);
}

void Network::unregister_listener(NodeIndex node, uint16_t port, const ListenerEndpoint* endpoint) {
  auto it = listeners_.find({node, port});
  if (it != listeners_.end() && it->second == endpoint) listeners_.erase(it);
}

void Network::set_link(NodeIndex from, NodeIndex to, LinkConfig link) { link_overrides_[{from, to}] = link; }

const LinkConfig& Network::link(NodeIndex from, NodeIndex to) const {
  auto it = link_overrides_.find({from, to});
  return it == link_overrides_.end() ? config_.link : it->second;
}

void Network::partition(const std::vector<NodeIndex>& side_a, const std::vector<NodeIndex>& side_b, bool symmetric) {
  for (NodeIndex a : side_a) {
    for (NodeIndex b : side_b) {
      if (a == b) continue;
      block(a, b);
      if (symmetric) block(b, a);
    }
  }
}

void Network::isolate(const std::vector<NodeIndex>& group) {
  std::vector<NodeIndex> rest;
  for (NodeIndex node = 0; node < static_cast<NodeIndex>(world_.node_count()); ++node) {
    if (std::find(group.begin(), group.end(), node) == group.end()) rest.push_back(node);
  }
  partition(group, rest, true);
}

const Address Network::address(NodeIndex node, uint16_t port) const { return Address{world_.host(node), port}; }

int64_t Network::draw_latency_ns(NodeIndex from, NodeIndex to) {
  const LinkConfig& l = link(from, to);
  auto next = [this] { return prng_.next(); };
  return random_range(next, runtime::to_ns(l.latency_min), runtime::to_ns(l.latency_max));
}

uint16_t Network::pick_port(NodeIndex node, uint16_t requested, bool stream) {
  auto in_use = [&](uint16_t port) {
    return stream ? listeners_.count({node, port}) != 0 : datagram_endpoints_.count({node, port}) != 0;
  };
  if (requested != 0) return in_use(requested) ? 0 : requested;
  uint16_t& next = next_ephemeral_port_.try_emplace(node, kEphemeralPortFirst).first->second;
  for (uint32_t tries = 0; tries < 65536 - kEphemeralPortFirst; ++tries) {
    uint16_t port = next;
    next = next == 65535 ? kEphemeralPortFirst : static_cast<uint16_t>(next + 1);
    if (!in_use(port)) return port;
  }
  return 0;
}

Result<std::unique_ptr<runtime::DatagramSocket>> Network::bind_datagram(SimRuntime& runtime, uint16_t port) {
  const uint16_t chosen = pick_port(runtime.node(), port, false);
  if (chosen == 0) return Status(Errc::address_in_use, "udp port " + std::to_string(port) + " in use");
  auto endpoint = std::make_unique<DatagramEndpoint>(*this, runtime, chosen);
  datagram_endpoints_[{runtime.node(), chosen}] = endpoint.get();
  return std::unique_ptr<runtime::DatagramSocket>(std::move(endpoint));
}

Result<std::unique_ptr<runtime::Listener>> Network::listen(SimRuntime& runtime, uint16_t port) {
  const uint16_t chosen = pick_port(runtime.node(), port, true);
  if (chosen == 0) return Status(Errc::address_in_use, "tcp port " + std::to_string(port) + " in use");
  auto endpoint = std::make_unique<ListenerEndpoint>(*this, runtime, chosen);
  listeners_[{runtime.node(), chosen}] = endpoint.get();
  return std::unique_ptr<runtime::Listener>(std::move(endpoint));
}

void Network::send_datagram(NodeIndex from, uint16_t from_port, const Address& to, ByteSpan payload) {
  ++stats_.datagrams_sent;
  std::optional<NodeIndex> destination = world_.node_by_host(to.host);
  auto next = [this] { return prng_.next(); };
  const uint64_t detail = hash_combine(hash_bytes(payload), (static_cast<uint64_t>(from) << 32) | to.port);
  const int64_t sent_ns = world_.now_ns();
  const MessageClass cls = datagram_class(from_port, to.port);
  if (!destination || blocked(from, *destination)) {
    ++stats_.datagrams_blocked;
    world_.trace().record(world_.now_ns(), from, "net.datagram_blocked", detail);
    if (destination) note_message(sent_ns, from, *destination, cls, false, true, payload.size());
    return;
  }
  const LinkConfig& l = link(from, *destination);
  if (random_chance(next, l.loss_probability)) {
    ++stats_.datagrams_lost;
    world_.trace().record(world_.now_ns(), from, "net.datagram_lost", detail);
    note_message(sent_ns, from, *destination, cls, false, true, payload.size());
    return;
  }
  int copies = 1;
  if (random_chance(next, l.duplicate_probability)) {
    copies = 2;
    ++stats_.datagrams_duplicated;
  }
  auto datagram = std::make_shared<Datagram>(Datagram{address(from, from_port), Bytes(payload.begin(), payload.end())});
  const NodeIndex to_node = *destination;
  const uint16_t to_port = to.port;
  for (int copy = 0; copy < copies; ++copy) {
    const int64_t arrival_ns = world_.now_ns() + draw_latency_ns(from, to_node);
    world_.schedule(world_.inbound_handled_ns(to_node, arrival_ns), to_node, "net.datagram", detail,
                    [this, datagram, from, to_node, to_port, sent_ns, cls] {
                      auto dropped = [&] { note_message(sent_ns, from, to_node, cls, false, true, datagram->payload.size()); };
                      if (blocked(from, to_node)) {
                        ++stats_.datagrams_blocked;
                        return dropped();
                      }
                      if (!classifier_passes(to_port, datagram->payload)) {
                        ++stats_.datagrams_dropped_classifier;
                        return dropped();
                      }
                      auto it = datagram_endpoints_.find({to_node, to_port});
                      if (it == datagram_endpoints_.end() || it->second->queue.size() >= config_.datagram_queue_max) {
                        ++stats_.datagrams_overflowed;
                        return dropped();
                      }
                      it->second->queue.push_back(*datagram);
                      it->second->receivers.wake_one(scheduler_of(world_, to_node));
                      ++stats_.datagrams_delivered;
                      note_message(sent_ns, from, to_node, cls, false, false, datagram->payload.size());
                    });
  }
}

MessageClass Network::datagram_class(uint16_t from_port, uint16_t to_port) const {
  const Timeline* timeline = world_.timeline();
  if (timeline == nullptr) return MessageClass::other;
  const MessageClass cls = timeline->class_of(to_port);
  return cls != MessageClass::other ? cls : timeline->class_of(from_port);
}

void Network::note_message(int64_t sent_ns, NodeIndex from, NodeIndex to, MessageClass cls, bool stream, bool dropped,
                           size_t bytes) {
  Timeline* timeline = world_.timeline();
  if (timeline == nullptr) return;
  timeline->message(TimelineMessage{sent_ns, world_.now_ns(), from, to, cls, stream, dropped, static_cast<uint32_t>(bytes)});
}

// The very function the XDP program runs, on the datagram the simulated NIC received.
bool Network::classifier_passes(uint16_t port, const Bytes& payload) const {
  if (config_.membership_port == 0 || port != config_.membership_port) return true;
  const auto* data = reinterpret_cast<const uint8_t*>(payload.data());
  return classify_membership_payload(data, data + payload.size(), payload.size()) == CLASSIFY_MEMBERSHIP;
}

Result<std::unique_ptr<runtime::Stream>> Network::connect(SimRuntime& runtime, const Address& to,
                                                         runtime::Duration timeout) {
  std::optional<NodeIndex> destination = world_.node_by_host(to.host);
  if (!destination) return Status(Errc::unreachable, "no simulated host " + to.host);
  auto attempt = std::make_shared<ConnectAttempt>();
  attempt->from = runtime.node();
  attempt->from_incarnation = runtime.incarnation();
  attempt->from_port = pick_port(runtime.node(), 0, true);
  attempt->to = *destination;
  attempt->to_port = to.port;
  const uint64_t detail = hash_combine(static_cast<uint64_t>(attempt->from), hash_bytes(to.to_string()));
  world_.schedule(world_.now_ns() + draw_latency_ns(attempt->from, attempt->to), attempt->to, "net.syn", detail,
                  [this, attempt] { on_syn(attempt); });
  const Instant deadline = runtime.now() + timeout;
  Status status = wait_until(runtime.scheduler(), attempt->waiters, deadline, [&] { return attempt->done; });
  if (!status.ok()) {
    attempt->abandoned = true;
    if (attempt->connection) reset(attempt->connection);
    // As on the real runtime (errors.h): no answer within the connect timeout is `unreachable`.
    if (status.code() == Errc::timeout) return Status(Errc::unreachable, "connect to " + to.to_string() + " timed out");
    return status;
  }
  if (attempt->result != Errc::ok) return Status(attempt->result, "connect to " + to.to_string());
  ++stats_.streams_connected;
  return std::unique_ptr<runtime::Stream>(std::make_unique<SimStream>(*this, runtime, attempt->connection, 0));
}

// Runs on the destination node when the SYN arrives.
void Network::on_syn(const std::shared_ptr<ConnectAttempt>& attempt) {
  const bool client_alive =
      world_.is_up(attempt->from) && world_.incarnation(attempt->from) == attempt->from_incarnation;
  if (!client_alive || blocked(attempt->from, attempt->to)) return;  // the client times out
  auto reply = [this, attempt](const char* kind, std::function<void()> action) {
    world_.schedule(world_.now_ns() + draw_latency_ns(attempt->to, attempt->from), attempt->from, kind,
                    attempt->from_port, std::move(action));
  };
  auto it = listeners_.find({attempt->to, attempt->to_port});
  if (it == listeners_.end() || it->second->backlog.size() >= config_.accept_backlog_max) {
    ++stats_.streams_refused;
    reply("net.rst", [this, attempt] {
      attempt->done = true;
      attempt->result = Errc::connection_refused;
      attempt->waiters.wake_all(scheduler_of(world_, attempt->from));
    });
    return;
  }
  auto connection = std::make_shared<Connection>();
  connection->id = next_connection_id_++;
  connection->node[0] = attempt->from;
  connection->port[0] = attempt->from_port;
  connection->node[1] = attempt->to;
  connection->port[1] = attempt->to_port;
  connections_[connection->id] = connection;
  it->second->backlog.push_back(connection);
  it->second->acceptors.wake_one(scheduler_of(world_, attempt->to));
  reply("net.synack", [this, attempt, connection] {
    if (attempt->abandoned || blocked(attempt->to, attempt->from)) {
      reset(connection);
      return;
    }
    attempt->connection = connection;
    attempt->done = true;
    attempt->waiters.wake_all(scheduler_of(world_, attempt->from));
  });
}

void Network::stream_enqueue(const std::shared_ptr<Connection>& connection, int side, ByteSpan bytes, bool fin) {
  if (connection->dead) return;
  auto& direction = connection->direction[side];
  const int64_t latency = draw_latency_ns(connection->node[side], connection->node[1 - side]);
  const int64_t ready = std::max(direction.last_ready_ns, world_.now_ns() + latency);
  direction.last_ready_ns = ready;
  direction.in_flight.push_back(Connection::Segment{Bytes(bytes.begin(), bytes.end()), fin, ready, world_.now_ns()});
  direction.unacked_bytes += bytes.size();
  if (!direction.pump_scheduled) schedule_pump(connection, side, ready);
}

void Network::schedule_pump(const std::shared_ptr<Connection>& connection, int direction, int64_t at_ns) {
  connection->direction[direction].pump_scheduled = true;
  world_.schedule(at_ns, connection->node[1 - direction], "net.stream", connection->id * 2 + direction,
                  [this, connection, direction] { pump(connection, direction); });
}

// Delivers the segments of one direction that are due, in order; stalls while partitioned.
void Network::pump(const std::shared_ptr<Connection>& connection, int direction_index) {
  auto& direction = connection->direction[direction_index];
  direction.pump_scheduled = false;
  if (connection->dead) return;
  const int to = 1 - direction_index;
  const int64_t now = world_.now_ns();
  if (blocked(connection->node[direction_index], connection->node[to])) {
    ++stats_.stream_stalls;
    if (direction.stalled_since_ns < 0) direction.stalled_since_ns = now;
    if (now - direction.stalled_since_ns >= runtime::to_ns(config_.stream_stall_reset_after)) {
      reset(connection);
      return;
    }
    schedule_pump(connection, direction_index, now + runtime::to_ns(config_.stream_retry_interval));
    return;
  }
  direction.stalled_since_ns = -1;
  auto& side = connection->side[to];
  auto next = [this] { return prng_.next(); };
  while (!direction.in_flight.empty() && direction.in_flight.front().ready_ns <= now) {
    Connection::Segment segment = std::move(direction.in_flight.front());
    direction.in_flight.pop_front();
    if (segment.fin) {
      side.eof = true;
    } else if (side.closed) {
      reset(connection);  // data for a closed socket: answered with a reset, as TCP does
      return;
    } else {
      side.received.insert(side.received.end(), segment.bytes.begin(), segment.bytes.end());
      stats_.stream_bytes_delivered += segment.bytes.size();
      if (world_.timeline() != nullptr) {
        note_message(segment.sent_ns, connection->node[direction_index], connection->node[to],
                     world_.timeline()->class_of(connection->port[1]), true, false, segment.bytes.size());
      }
    }
    if (random_chance(next, config_.stream_reset_probability)) {
      reset(connection);
      return;
    }
  }
  side.readers.wake_all(scheduler_of(world_, connection->node[to]));
  if (!direction.in_flight.empty()) {
    schedule_pump(connection, direction_index, std::max(now, direction.in_flight.front().ready_ns));
  }
}

// Side `side` read `bytes`: the acknowledgement reopens the sender's window after a latency.
void Network::stream_consumed(const std::shared_ptr<Connection>& connection, int side, size_t bytes) {
  if (connection->dead || bytes == 0) return;
  const int sender = 1 - side;
  auto& direction = connection->direction[sender];
  const int64_t latency = draw_latency_ns(connection->node[side], connection->node[sender]);
  direction.last_ack_ns = std::max(direction.last_ack_ns, world_.now_ns() + latency);
  direction.acks.emplace_back(direction.last_ack_ns, bytes);
  if (!connection->side[sender].writers.empty()) schedule_ack_wake(connection, sender);
}

bool Network::window_open(const std::shared_ptr<Connection>& connection, int side) {
  auto& direction = connection->direction[side];
  const int64_t now = world_.now_ns();
  while (!direction.acks.empty() && direction.acks.front().first <= now) {
    SLUICE_ASSERT_GE(direction.unacked_bytes, direction.acks.front().second);
    direction.unacked_bytes -= direction.acks.front().second;
    direction.acks.pop_front();
  }
  if (direction.unacked_bytes < config_.stream_window_bytes_max) return true;
  schedule_ack_wake(connection, side);  // the writer parks: wake it when the next ack arrives
  return false;
}

// Wakes side `side`'s blocked writers when the first pending ack arrives (one event at a time).
void Network::schedule_ack_wake(const std::shared_ptr<Connection>& connection, int side) {
  auto& direction = connection->direction[side];
  if (direction.ack_wake_scheduled || direction.acks.empty() || connection->dead) return;
  direction.ack_wake_scheduled = true;
  const NodeIndex node = connection->node[side];
  world_.schedule(std::max(world_.now_ns(), direction.acks.front().first), node, "net.ack",
                  connection->id * 2 + static_cast<uint64_t>(side), [this, connection, side, node] {
                    connection->direction[side].ack_wake_scheduled = false;
                    if (connection->dead) return;
                    connection->side[side].writers.wake_all(scheduler_of(world_, node));
                  });
}

void Network::reset(const std::shared_ptr<Connection>& connection) {
  if (connection->dead) return;
  connection->dead = true;
  ++stats_.streams_reset;
  for (int side = 0; side < 2; ++side) {
    const NodeIndex node = connection->node[side];
    const int64_t at = world_.now_ns() + draw_latency_ns(connection->node[1 - side], node);
    world_.schedule(at, node, "net.stream_reset", connection->id, [this, connection, side, node] {
      auto& state = connection->side[side];
      state.reset_seen = true;
      state.readers.wake_all(scheduler_of(world_, node));
      state.writers.wake_all(scheduler_of(world_, node));
    });
  }
}

void Network::on_crash(NodeIndex node) {
  for (auto it = datagram_endpoints_.begin(); it != datagram_endpoints_.end();) {
    it = it->first.first == node ? datagram_endpoints_.erase(it) : std::next(it);
  }
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    it = it->first.first == node ? listeners_.erase(it) : std::next(it);
  }
  for (auto it = connections_.begin(); it != connections_.end();) {
    std::shared_ptr<Connection> connection = it->second.lock();
    if (!connection || connection->dead) {
      it = connections_.erase(it);
      continue;
    }
    if (connection->node[0] == node || connection->node[1] == node) reset(connection);
    ++it;
  }
}

}  // namespace sluice::sim
