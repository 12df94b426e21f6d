// Fuzzes the decoder of the multi-Raft transport's frames (node/multiraft/codec.h,
// docs/formats/raft-rpc.md): every frame comes from another node over TCP. Any input is accepted
// or refused without a crash; an accepted payload's messages encode again into frames that decode
// to the same messages (coalesced heartbeats included).
#include <cstddef>
#include <cstdint>

#include "node/base/assert.h"
#include "node/multiraft/codec.h"

namespace multiraft = sluice::multiraft;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sluice::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  (void)multiraft::decode_frame_header(bytes, 1 << 20);
  constexpr sluice::raft::NodeId kSelf = 2;
  const auto decoded = multiraft::decode_frame(bytes, kSelf);
  if (!decoded.ok()) return 0;
  const std::vector<sluice::Bytes> frames = multiraft::encode_frames(decoded->from, kSelf, decoded->messages, 1 << 20, nullptr);
  std::vector<multiraft::GroupMessage> again;
  for (const sluice::Bytes& frame : frames) {
    const auto header = multiraft::decode_frame_header(sluice::ByteSpan(frame).first(multiraft::kFrameHeaderBytes), 64 << 20);
    SLUICE_ASSERT(header.ok());
    const auto payload = sluice::ByteSpan(frame).subspan(frame.size() - header->payload_bytes);
    const auto redecoded = multiraft::decode_frame(payload, kSelf);
    SLUICE_ASSERT(redecoded.ok());
    again.insert(again.end(), redecoded->messages.begin(), redecoded->messages.end());
  }
  SLUICE_ASSERT_EQ(again.size(), decoded->messages.size());
  return 0;
}
