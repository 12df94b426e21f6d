// Frames of the inter-node Raft transport (docs/formats/raft-rpc.md): a 12-byte header (magic,
// version, flags, length) and one FlatBuffers RaftFrame holding every message one node had for
// another at one flush, for all groups. Heartbeats and heartbeat responses are coalesced: one
// small struct per group instead of a full message. Pure: no Runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "node/base/bytes.h"
#include "node/base/ids.h"
#include "node/multiraft/errors.h"
#include "node/raft/message.h"

namespace sluice::multiraft {

using sluice::GroupId;  // node/base/ids.h

struct GroupMessage {
  GroupId group = 0;
  raft::Message message;

  friend bool operator==(const GroupMessage&, const GroupMessage&) = default;
};

inline constexpr size_t kFrameHeaderBytes = 12;
inline constexpr uint8_t kFrameVersion = 3;  // 2: heartbeats carry commit_term; 3: jumps carry app_state
// Decoder bounds: a hostile frame cannot make it allocate beyond these.
inline constexpr size_t kFrameMessagesMax = 1 << 16;
inline constexpr size_t kFrameHeartbeatsMax = 1 << 20;
inline constexpr size_t kMessageEntriesMax = 1 << 16;

// What one encoded frame counted, for the transport's statistics.
struct FrameCounts {
  size_t messages = 0;             // full messages
  size_t heartbeats = 0;           // per-group heartbeats inside the coalesced one
  size_t heartbeat_responses = 0;  // per-group responses inside the coalesced one
};

// True when `message` survives the coalesced form exactly (a heartbeat or response that uses
// only term, commit and context); anything else travels as a full message.
bool coalescible(const raft::Message& message);

// Encodes `messages` (all from `from` to `to`) as frames of about `frame_bytes_target` payload
// each; the coalesced heartbeats and responses all go into the first frame, so one flush sends
// at most one coalesced heartbeat message per peer. Appends the counts of each frame to `counts`.
std::vector<Bytes> encode_frames(raft::NodeId from, raft::NodeId to, const std::vector<GroupMessage>& messages,
                                 size_t frame_bytes_target, std::vector<FrameCounts>* counts);

struct FrameHeader {
  uint32_t payload_bytes = 0;
};

// Checks magic, version, flags and that the length is within `frame_bytes_max`.
HostResult<FrameHeader> decode_frame_header(ByteSpan header, size_t frame_bytes_max);

struct DecodedFrame {
  raft::NodeId from = raft::kNoNode;
  std::vector<GroupMessage> messages;  // coalesced heartbeats expanded, in frame order
};

// Verifies and decodes one frame payload addressed to `self`: malformed unless the verifier
// accepts it, every enum is known, every count is within its bound and `to` is `self`.
HostResult<DecodedFrame> decode_frame(ByteSpan payload, raft::NodeId self);

}  // namespace sluice::multiraft
