// The partition requests one node sends another over the inter-node RPC (docs/formats/rpc.md,
// "Methods"): a produce, fetch or list-offsets for a partition led elsewhere is forwarded to its
// leader (one hop), and its reply comes back as the router's Reply. A pure codec: the decoders
// take any bytes and accept exactly the canonical encoding of one call or reply.
#pragma once

#include <optional>
#include <variant>

#include "node/base/bytes.h"
#include "node/base/ids.h"
#include "node/partition/router.h"

namespace sluice::server {

inline constexpr uint8_t kPartitionRpcVersion = 1;
inline constexpr size_t kPartitionRpcTextBytesMax = 1024;  // a message, an address
inline constexpr size_t kPartitionRpcBatchesMax = 1 << 16;  // base offsets in one fetch reply

// How a node may serve a call.
struct CallFlags {
  bool forwarded = false;   // sent by another node: serve it here or answer; never forward again
  bool local_only = false;  // fetch / list offsets: this node's replica only (a follower's read)

  friend bool operator==(const CallFlags&, const CallFlags&) = default;
};

// One of ProduceRequest, FetchRequest, ListOffsetsRequest (the router's other requests are local).
struct PartitionCall {
  PartitionId partition;
  CallFlags flags;
  partition::Request request;
};

// ProduceRequest: u32 timeout_ms + the batch. FetchRequest: u64 offset, u32 bytes_max, u32 wait_ms.
// ListOffsetsRequest: u8 query, i64 timestamp_ms. Durations in whole milliseconds.
Bytes encode_partition_call(const PartitionCall& call);
std::optional<PartitionCall> decode_partition_call(ByteSpan bytes);

// The router's Reply: error code, leader and its address, the message, then the value for the
// request kind (`kind`: 0 produce, 1 fetch, 2 list offsets; a reply of another kind is refused).
Bytes encode_partition_reply(const partition::Reply& reply);
std::optional<partition::Reply> decode_partition_reply(ByteSpan bytes);

}  // namespace sluice::server
