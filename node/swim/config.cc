#include "node/swim/config.h"

#include <algorithm>
#include <cmath>

namespace sluice::swim {

namespace {

Status invalid(std::string message) { return Status(Errc::invalid_config, std::move(message)); }

}  // namespace

Status validate(const Config& config) {
  if (config.self_id == kNoNode) return invalid("self_id must be a node id (not 0)");
  NamedAddresses named = config.self_named;
  sort_named_addresses(named);
  if (!named_addresses_ok(named)) {
    return invalid("self_named: at most " + std::to_string(kNamedAddressesMax) + " with unique names of 1.." +
                   std::to_string(kAddressNameBytesMax) + " bytes and addresses of 1.." +
                   std::to_string(kNamedAddressBytesMax) + " bytes");
  }
  if (config.self_address.empty() || config.self_address.size() > kAddressBytesMax) {
    return invalid("self_address must be 1.." + std::to_string(kAddressBytesMax) + " bytes");
  }
  if (config.probe_interval_ms == 0) return invalid("probe_interval_ms must be positive");
  if (config.probe_timeout_ms == 0 || config.probe_timeout_ms >= config.probe_deadline_ms) {
    return invalid("probe_timeout_ms must be in (0, probe_deadline_ms)");
  }
  if (config.probe_deadline_ms > config.probe_interval_ms) {
    return invalid("probe_deadline_ms must not exceed probe_interval_ms");
  }
  if (config.nack_timeout_ms == 0) return invalid("nack_timeout_ms must be positive");
  if (config.suspicion_mult == 0) return invalid("suspicion_mult must be positive");
  if (config.suspicion_mult_max == 0) return invalid("suspicion_mult_max must be positive");
  if (config.gossip_interval_ms > 0 && config.gossip_nodes == 0) {
    return invalid("gossip_nodes must be positive when gossip_interval_ms is");
  }
  // Below this a datagram with two long addresses could not carry even one update.
  if (config.datagram_bytes_max < 1024 || config.datagram_bytes_max > kDatagramBytesMax) {
    return invalid("datagram_bytes_max must be in [1024, " + std::to_string(kDatagramBytesMax) + "]");
  }
  if (config.members_max == 0 || config.broadcast_queue_max == 0 || config.outbox_datagrams_max == 0 ||
      config.outbox_events_max == 0) {
    return invalid("queue and table limits must be positive");
  }
  // full_state() lists every member and self; the peer must be able to decode it.
  if (config.members_max >= kPushPullMembersMax) {
    return invalid("members_max must be below " + std::to_string(kPushPullMembersMax));
  }
  return Status();
}

uint32_t log10_ceil_plus_one(size_t n) {
  uint32_t digits = 0;
  for (uint64_t power = 1; power < static_cast<uint64_t>(n) + 1; power *= 10) ++digits;
  return std::max<uint32_t>(digits, 1);
}

uint32_t retransmit_limit(const Config& config, size_t live_members) {
  return config.retransmit_mult * log10_ceil_plus_one(live_members);
}

uint64_t suspicion_timeout_min_ms(const Config& config, size_t live_members) {
  // Continuous in N (as memberlist): a cluster of 128 waits 2.1·mult periods, not 3·mult as
  // ⌈log10(N+1)⌉ would have it, while the growth with N that keeps gossip ahead is the same.
  const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<size_t>(live_members, 1))));
  const double timeout_ms = static_cast<double>(config.suspicion_mult) * scale * static_cast<double>(config.probe_interval_ms);
  return static_cast<uint64_t>(std::floor(timeout_ms));
}

uint64_t suspicion_timeout_ms(const Config& config, size_t live_members, uint32_t confirmations) {
  const uint64_t min_ms = suspicion_timeout_min_ms(config, live_members);
  if (!config.lifeguard) return min_ms;
  const uint64_t max_ms = min_ms * config.suspicion_mult_max;
  const size_t others = live_members >= 2 ? live_members - 2 : 0;
  const uint32_t expected = static_cast<uint32_t>(std::min<size_t>(config.suspicion_confirmations_expected, others));
  if (expected == 0 || max_ms <= min_ms) return min_ms;
  // Each further confirmation buys less: the first few independent witnesses are what make a
  // false suspicion unlikely. log() of small integers only shapes a timeout, rounded to ms.
  const double fraction = std::min(1.0, std::log(static_cast<double>(confirmations) + 1) /
                                               std::log(static_cast<double>(expected) + 1));
  const double timeout_ms = static_cast<double>(max_ms) - static_cast<double>(max_ms - min_ms) * fraction;
  return std::max<uint64_t>(min_ms, static_cast<uint64_t>(std::floor(timeout_ms)));
}

}  // namespace sluice::swim
