// The gossip broadcast queue: membership updates waiting to ride on outgoing datagrams. At most
// one update per member is queued (a newer one supersedes the older, which is then pointless to
// spread). Updates are taken least-sent first and, among equals, newest first, so fresh news
// overtakes news most members already have; each is dropped after its retransmit limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "node/swim/message.h"

namespace sluice::swim {

class BroadcastQueue {
 public:
  explicit BroadcastQueue(size_t entries_max) : entries_max_(entries_max) {}

  // Queues `update`, replacing any queued update about the same member. When the queue is full
  // the entry sent most often (oldest among equals) makes room; returns false if one was evicted.
  bool push(Update update);

  // Appends queued updates to `out` in priority order as long as their update_bytes_bound()
  // fits in `bytes_budget` (which shrinks accordingly), skipping those that do not. Skips
  // updates about `skip_member` (already in the datagram; kNoNode skips none). Counts a transmit on each taken
  // update and drops those that have now been sent `transmits_max` times. Returns how many.
  size_t take(size_t& bytes_budget, uint32_t transmits_max, NodeId skip_member,
              std::vector<Update>& out);

  // Whether some update has been sent fewer than `transmits_max` times.
  bool pending(uint32_t transmits_max) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  // The queued update about `member` and how often it was sent, for tests and introspection.
  const Update* find(NodeId member) const;
  uint32_t transmits(NodeId member) const;

 private:
  struct Entry {
    Update update;
    uint32_t transmits = 0;
    uint64_t order = 0;  // insertion counter: higher is newer
  };

  void evict_one();

  std::map<NodeId, Entry> entries_;  // by member id
  uint64_t next_order_ = 0;
  size_t entries_max_;
};

}  // namespace sluice::swim
