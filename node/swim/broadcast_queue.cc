#include "node/swim/broadcast_queue.h"

#include <algorithm>
#include <utility>

#include "node/swim/codec.h"

namespace sluice::swim {

bool BroadcastQueue::push(Update update) {
  const NodeId member = update.member;
  Entry entry{std::move(update), 0, next_order_++};
  auto it = entries_.find(member);
  if (it != entries_.end()) {
    it->second = std::move(entry);
    return true;
  }
  bool kept_all = true;
  if (entries_.size() >= entries_max_) {
    evict_one();
    kept_all = false;
  }
  entries_.emplace(member, std::move(entry));
  return kept_all;
}

void BroadcastQueue::evict_one() {
  auto victim = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const Entry& a = it->second;
    const Entry& b = victim->second;
    if (a.transmits > b.transmits || (a.transmits == b.transmits && a.order < b.order)) victim = it;
  }
  entries_.erase(victim);
}

size_t BroadcastQueue::take(size_t& bytes_budget, uint32_t transmits_max, NodeId skip_member,
                            std::vector<Update>& out) {
  std::vector<std::map<NodeId, Entry>::iterator> order;
  order.reserve(entries_.size());
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    // Nothing may be sent more often than the limit; the limit shrinks when members die.
    if (it->second.transmits >= transmits_max) continue;
    if (it->first == skip_member) continue;
    order.push_back(it);
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a->second.transmits != b->second.transmits) return a->second.transmits < b->second.transmits;
    return a->second.order > b->second.order;
  });
  size_t taken = 0;
  for (auto it : order) {
    if (out.size() >= kUpdatesPerDatagramMax) break;
    const size_t cost = update_bytes_bound(it->second.update);
    // A smaller update further down may still fit; one that never fits an empty datagram
    // must not block the queue behind it.
    if (cost > bytes_budget) continue;
    bytes_budget -= cost;
    out.push_back(it->second.update);
    it->second.transmits += 1;
    ++taken;
  }
  std::erase_if(entries_, [transmits_max](const auto& item) { return item.second.transmits >= transmits_max; });
  return taken;
}

bool BroadcastQueue::pending(uint32_t transmits_max) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [transmits_max](const auto& item) { return item.second.transmits < transmits_max; });
}

const Update* BroadcastQueue::find(NodeId member) const {
  auto it = entries_.find(member);
  return it == entries_.end() ? nullptr : &it->second.update;
}

uint32_t BroadcastQueue::transmits(NodeId member) const {
  auto it = entries_.find(member);
  return it == entries_.end() ? 0 : it->second.transmits;
}

}  // namespace sluice::swim
