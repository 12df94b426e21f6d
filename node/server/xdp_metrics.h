// The XDP classifier's and sk_lookup steering's counters (docs/xdp.md, "Counters") as /metrics
// families. Pure: the counters come as plain numbers, so the API (node/) never depends on the
// epoll runtime or libbpf; sluice-node reads them from the BPF maps (epoll_steering.h) and hands
// them over at each scrape through NodeConfig::extra_metrics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "node/http/metrics.h"

namespace sluice::server {

struct XdpClassCounters {
  std::string name;  // the classifier's class: "other", "membership", "partition", "membership_malformed"
  uint64_t packets = 0;
  uint64_t bytes = 0;  // frame bytes, Ethernet header included
};

// What bpf::ClassifyCounters holds (summed over CPUs), without the BPF types.
struct XdpCounters {
  std::vector<XdpClassCounters> classes;
  uint64_t drops = 0;           // frames XDP dropped (malformed membership)
  uint64_t steered = 0;         // UDP lookups sk_lookup assigned to the membership socket
  uint64_t steer_failures = 0;  // lookups for the membership port it could not assign
};

// Describes the sluice_xdp_* families and sets them, at every scrape. Not `active` (steering off
// or unavailable, or a build without BPF): sluice_xdp_active 0 alone. Active: sluice_xdp_active 1
// and the counters; null `counters` means the maps could not be read this time, and the counter
// families keep the values of the last read (they only grow while the programs stay attached).
void export_xdp_metrics(http::Metrics& metrics, bool active, const XdpCounters* counters);

}  // namespace sluice::server
