#include "node/rpc/frame.h"

#include <cstdint>
#include <string>

#include "node/base/assert.h"
#include "node/base/byte_io.h"
#include "node/log/crc32c.h"

namespace sluice::rpc {
namespace {

// Starts a frame: room for the header, then the body's fixed fields come next.
ByteWriter start_frame(FrameKind kind, uint64_t call_id) {
  ByteWriter out;
  out.put<uint64_t>(0);  // the header, filled in by finish_frame
  out.put<uint8_t>(static_cast<uint8_t>(kind));
  out.put<uint64_t>(call_id);
  return out;
}

Bytes finish_frame(ByteWriter out, ByteSpan payload) {
  Bytes frame = out.take();
  append_bytes(frame, payload);
  const size_t body_bytes = frame.size() - kFrameHeaderBytes;
  SLUICE_ASSERT_LE(body_bytes, size_t{UINT32_MAX});
  const ByteSpan body = ByteSpan(frame).subspan(kFrameHeaderBytes);
  put_le<uint32_t>(frame.data(), static_cast<uint32_t>(body_bytes));
  put_le<uint32_t>(frame.data() + 4, log::crc32c(body));
  return frame;
}

FrameStatus bad(FrameErrc code, std::string why) { return FrameStatus(code, "rpc frame: " + why); }

}  // namespace

std::string_view to_string(RpcStatus status) {
  switch (status) {
    case RpcStatus::ok: return "ok";
    case RpcStatus::unknown_method: return "unknown_method";
    case RpcStatus::overloaded: return "overloaded";
    case RpcStatus::timeout: return "timeout";
    case RpcStatus::unavailable: return "unavailable";
    case RpcStatus::malformed: return "malformed";
    case RpcStatus::too_large: return "too_large";
  }
  return "unknown";
}

Bytes encode_request(uint64_t call_id, uint16_t method, uint32_t timeout_ms, ByteSpan payload) {
  ByteWriter out = start_frame(FrameKind::request, call_id);
  out.put<uint16_t>(method);
  out.put<uint32_t>(timeout_ms);
  return finish_frame(std::move(out), payload);
}

Bytes encode_response(uint64_t call_id, RpcStatus status, ByteSpan payload) {
  ByteWriter out = start_frame(FrameKind::response, call_id);
  out.put<uint16_t>(static_cast<uint16_t>(status));
  return finish_frame(std::move(out), payload);
}

Bytes encode_frame(const Frame& frame) {
  if (frame.kind == FrameKind::request) return encode_request(frame.call_id, frame.method, frame.timeout_ms, frame.payload);
  SLUICE_ASSERT(frame.kind == FrameKind::response);
  return encode_response(frame.call_id, frame.status, frame.payload);
}

FrameResult<FrameHeader> decode_header(ByteSpan header, size_t frame_bytes_max) {
  if (header.size() < kFrameHeaderBytes) {
    return bad(FrameErrc::short_header, std::to_string(header.size()) + " header bytes");
  }
  FrameHeader decoded{get_le<uint32_t>(header.data()), get_le<uint32_t>(header.data() + 4)};
  if (decoded.body_bytes > frame_bytes_max) {
    return bad(FrameErrc::too_long, "body of " + std::to_string(decoded.body_bytes) + " bytes, at most " +
                                        std::to_string(frame_bytes_max));
  }
  return decoded;
}

FrameStatus verify_body(const FrameHeader& header, ByteSpan body) {
  if (log::crc32c(body) != header.body_crc) return bad(FrameErrc::crc_mismatch, "body CRC32C mismatch");
  return FrameStatus();
}

FrameResult<Frame> decode_body(ByteSpan body) {
  ByteReader in(body);
  if (!in.has(kBodyCommonBytes)) return bad(FrameErrc::short_body, std::to_string(body.size()) + " body bytes");
  Frame frame;
  const auto kind = in.get<uint8_t>();
  frame.kind = static_cast<FrameKind>(kind);
  frame.call_id = in.get<uint64_t>();
  if (frame.kind == FrameKind::request) {
    if (!in.has(kRequestFixedBytes - kBodyCommonBytes)) return bad(FrameErrc::short_body, "request cut short");
    frame.method = in.get<uint16_t>();
    frame.timeout_ms = in.get<uint32_t>();
  } else if (frame.kind == FrameKind::response) {
    if (!in.has(kResponseFixedBytes - kBodyCommonBytes)) return bad(FrameErrc::short_body, "response cut short");
    frame.status = static_cast<RpcStatus>(in.get<uint16_t>());
  } else {
    return bad(FrameErrc::bad_kind, "kind " + std::to_string(kind));
  }
  frame.payload.assign(body.end() - static_cast<std::ptrdiff_t>(in.left()), body.end());
  return frame;
}

FrameResult<Frame> decode_frame(ByteSpan frame, size_t frame_bytes_max) {
  SLUICE_ASSIGN_OR_RETURN(const FrameHeader header, decode_header(frame, frame_bytes_max));
  if (frame.size() != kFrameHeaderBytes + size_t{header.body_bytes}) {
    return bad(FrameErrc::length_mismatch, std::to_string(frame.size()) + " bytes for a body of " +
                                               std::to_string(header.body_bytes));
  }
  const ByteSpan body = frame.subspan(kFrameHeaderBytes);
  SLUICE_TRY(verify_body(header, body));
  return decode_body(body);
}

void seal_frame(Bytes& frame, const ClusterKey& key) { key.seal(frame); }

FrameStatus verify_mac(ByteSpan sealed, const ClusterKey& key) {
  if (!key.opens(sealed)) return bad(FrameErrc::unauthenticated, "no valid cluster-secret MAC");
  return FrameStatus();
}

FrameResult<Frame> decode_sealed_frame(ByteSpan sealed, size_t frame_bytes_max, const ClusterKey& key) {
  SLUICE_TRY(verify_mac(sealed, key));
  return decode_frame(sealed.first(sealed.size() - ClusterKey::kTagBytes), frame_bytes_max);
}

}  // namespace sluice::rpc
