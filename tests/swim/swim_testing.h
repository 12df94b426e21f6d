// Test helpers for the SWIM core: a configuration for tests, hand-made datagrams, decoding what a
// core sent, and TestNet: several cores on a tiny in-test network with virtual time, where the
// test delivers, drops, delays and partitions by hand and kills or restarts members.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/swim/codec.h"
#include "node/swim/core.h"

namespace sluice::swim::testing {

inline constexpr uint64_t kCluster = 0x5eed;

// Members in these tests are node ids; member `id` is reached at addr(id).
std::string addr(NodeId id);  // "n<id>:7946"
Config test_config(NodeId self, bool lifeguard = true);

// A claim about `member`: an alive one says it is at addr(member).
Update claim(NodeId member, MemberState state = MemberState::alive, uint64_t incarnation = 0,
             NodeId origin = kNoNode);

Bytes encode_or_die(const Message& message);
Message decode_or_die(const OutDatagram& datagram);
// From `source` at addr(source); a ping-req asks to probe `target` at addr(target).
Message make_message(MessageKind kind, NodeId source, uint32_t seq = 0, NodeId target = kNoNode,
                     std::vector<Update> updates = {}, uint64_t source_incarnation = 0);

// Datagrams in `ready` of `kind` (to address `to`, when given), decoded.
std::vector<Message> sent(const Ready& ready, MessageKind kind, std::optional<std::string> to = std::nullopt);
// Whether `message` piggybacks an update about `member` in `state`.
bool carries(const Message& message, NodeId member, MemberState state);

class TestNet {
 public:
  struct Node {
    std::unique_ptr<Core> core;
    bool up = true;
    std::vector<Event> events;  // everything the core reported, in order
    uint64_t stall_ms = 0;
  };

  // Member `index` (0..n-1) is node id index + 1 at addr(index + 1); each joins through member 0
  // when `join` is true.
  TestNet(size_t n, const Config& base, uint64_t seed, bool join = true);
  static NodeId id_of(size_t index) { return static_cast<NodeId>(index) + 1; }
  static std::string address_of(size_t index) { return addr(id_of(index)); }

  uint64_t now_ms() const { return now_ms_; }
  Node& node(size_t index) { return nodes_.at(address_of(index)); }
  Core& core(size_t index) { return *node(index).core; }

  // Runs virtual time forward, delivering datagrams (after `latency_ms`) and ticking cores
  // exactly when they have something due.
  void run_for(uint64_t duration_ms);
  // Runs until `done()` holds (checked after every step) or `limit_ms` passes; true if it held.
  template <typename Predicate>
  bool run_until(Predicate done, uint64_t limit_ms) {
    const uint64_t end_ms = now_ms_ + limit_ms;
    while (now_ms_ < end_ms) {
      step(end_ms);
      if (done()) return true;
    }
    return false;
  }

  // Blocks datagrams and push-pull from `from` to `to` (one direction).
  void block(size_t from, size_t to) { blocked_.insert({address_of(from), address_of(to)}); }
  void unblock(size_t from, size_t to) { blocked_.erase({address_of(from), address_of(to)}); }
  void isolate(size_t index);  // both directions to and from everyone
  void heal() { blocked_.clear(); }
  void kill(size_t index) { node(index).up = false; }
  // The member runs (receives and ticks) only at multiples of `period_ms`, like a process
  // starved of CPU; 0 makes it prompt again.
  void stall(size_t index, uint64_t period_ms) { node(index).stall_ms = period_ms; }
  // A fresh core (same id, incarnation 0, empty table) at the same address, joining through
  // member 0.
  void restart(size_t index);
  // A new node with id `id` at member `index`'s address (the old one is gone for good), joining
  // through member 0. From now on node(index) is the new one.
  void replace(size_t index, NodeId id);

  // Every up member other than `index` holds `index` in `state`.
  bool everyone_sees(size_t index, MemberState state);
  // Every up member knows every other up member as alive.
  bool converged();
  // Events of member `observer` about `subject` of `kind`.
  size_t count_events(size_t observer, size_t subject, EventKind kind);

  uint64_t latency_ms = 5;
  double loss_probability = 0;  // each datagram independently
  bool push_pull_enabled = true;
  uint64_t datagrams_delivered = 0;
  uint64_t transcript_hash = 0;  // every delivered datagram, folded in order

 private:
  struct InFlight {
    uint64_t deliver_at_ms;
    uint64_t sequence;
    std::string from;
    std::string to;
    Bytes bytes;
  };

  void step(uint64_t end_ms);
  void collect(const std::string& address);
  void exchange_push_pull(const std::string& from, const std::string& to, bool join);
  bool link_up(const std::string& from, const std::string& to);
  bool awake(const Node& node) const { return node.stall_ms == 0 || now_ms_ % node.stall_ms == 0; }
  uint64_t next_wake_ms(const Node& node) const { return (now_ms_ / node.stall_ms + 1) * node.stall_ms; }

  Config config_of(size_t index, NodeId id = kNoNode) const;
  void start_fresh(size_t index, NodeId id);

  Config base_;
  uint64_t seed_;
  Prng prng_;
  uint64_t now_ms_ = 0;
  uint64_t sequence_ = 0;
  std::map<std::string, Node> nodes_;
  std::set<std::pair<std::string, std::string>> blocked_;
  std::vector<InFlight> in_flight_;
};

}  // namespace sluice::swim::testing
