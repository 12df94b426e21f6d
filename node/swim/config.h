// Parameters of the SWIM core and the formulas derived from them (docs/swim.md lists every
// default and why). Times are milliseconds on the caller's monotonic clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <optional>

#include "node/base/cluster_key.h"
#include "node/base/planted_bug.h"
#include "node/swim/codec.h"
#include "node/swim/message.h"

namespace sluice::swim {

struct Config {
  NodeId self_id = kNoNode;   // this node's id (node/base/ids.h): the key others know it by
  std::string self_address;   // "host:port" as the others reach this member's SWIM endpoint
  // The node's other endpoints ("raft", "api"), carried in its alive claims; any order here,
  // at most kNamedAddressesMax with unique names.
  NamedAddresses self_named;
  uint64_t cluster_id = 0;   // datagrams and push-pull state of another cluster are dropped
  // The cluster secret: when set, every datagram and push-pull message carries its MAC and
  // anything without a valid one is dropped (docs/formats/swim.md). Unset: no MAC at all.
  std::optional<ClusterKey> cluster_key;
  // Lifeguard on: local health awareness + nacks, dynamic suspicion timeout, buddy system.
  // Off: plain SWIM as published (fixed suspicion timeout), kept for comparison.
  bool lifeguard = true;
  // Test-only (node/base/planted_bug.h): swim_no_refute makes the member never refute a
  // suspicion or death of itself.
  PlantedBug planted_bug = PlantedBug::none;

  uint64_t probe_interval_ms = 1000;  // protocol period T (times (awareness score + 1))
  uint64_t probe_timeout_ms = 200;    // direct ack wait before ping-req (times (score + 1))
  // No ack this long after the ping: the target becomes suspect (times (score + 1)). Below T,
  // so a failure is noticed half a period after the first probe instead of a whole one.
  uint64_t probe_deadline_ms = 400;
  uint32_t indirect_probes = 3;       // k: ping-req helpers per failed direct probe
  uint64_t nack_timeout_ms = 160;     // a helper nacks when the target is silent this long

  uint32_t retransmit_mult = 4;      // λ: each update is sent λ·⌈log10(N+1)⌉ times
  uint32_t suspicion_mult = 3;       // min suspicion = suspicion_mult·max(1, log10 N)·T
  uint32_t suspicion_mult_max = 6;   // Lifeguard: max suspicion = suspicion_mult_max · min
  uint32_t suspicion_confirmations_expected = 3;  // Lifeguard K: confirmations to reach the min
  uint32_t awareness_score_max = 7;  // Lifeguard: score 0..max, timeouts scale by score + 1

  // Gossip tick: while updates wait to be spread, send them in Gossip datagrams to
  // gossip_nodes random live members every gossip_interval_ms (0 = off), so news does not wait
  // for probe traffic. It stays silent while this member already sent gossip_load_datagrams_max
  // datagrams of any kind within the last T: the per-period load stays bounded.
  uint64_t gossip_interval_ms = 200;
  uint32_t gossip_nodes = 2;
  uint32_t gossip_load_datagrams_max = 6;

  uint64_t push_pull_interval_ms = 30000;  // periodic full-state sync; 0 = only on join
  uint64_t join_retry_interval_ms = 2000;  // re-contact seeds while no other member is known
  // Ping one random dead member this often, telling it that it is dead: after a partition both
  // sides hold each other dead at equal incarnations, and only this brings them back. 0 = off.
  uint64_t reconnect_interval_ms = 10000;
  // Keep dead/left tombstones this long: against stale gossip, and as reconnect targets.
  uint64_t dead_retention_ms = 3600000;
  uint64_t leave_linger_ms = 1000;         // keep answering after leave() so the news spreads

  size_t datagram_bytes_max = kDatagramBytesMax;
  size_t members_max = 4096;
  size_t broadcast_queue_max = 4096;
  size_t indirect_pending_max = 256;  // ping-reqs this member is serving at once
  size_t seeds_max = 16;
  size_t outbox_datagrams_max = 4096;  // between two take_ready() calls
  size_t outbox_events_max = 4096;
};

Status validate(const Config& config);

// ⌈log10(n + 1)⌉ for n ≥ 1, in integers so every platform agrees.
uint32_t log10_ceil_plus_one(size_t n);

// λ·⌈log10(N+1)⌉: how many datagrams carry one update (N counts live members, self included).
uint32_t retransmit_limit(const Config& config, size_t live_members);

// suspicion_mult·max(1, log10 N)·T, rounded down to whole ms.
uint64_t suspicion_timeout_min_ms(const Config& config, size_t live_members);

// The suspicion timeout after `confirmations` independent confirmations. Plain SWIM: the min.
// Lifeguard: max − (max − min)·log(C+1)/log(K+1), never below the min, where K is
// suspicion_confirmations_expected capped at N − 2 (the members other than self and suspect).
uint64_t suspicion_timeout_ms(const Config& config, size_t live_members, uint32_t confirmations);

}  // namespace sluice::swim
