// Frames of the inter-node request/response RPC (docs/formats/rpc.md): an 8-byte header
// (`u32 body length`, `u32 CRC32C of the body`) and a body holding a request (call id, method,
// the caller's timeout) or a response (call id, status), then the method's payload. Pure: no
// Runtime; the drivers in rpc.h read and write these over runtime streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "node/base/bytes.h"
#include "node/base/cluster_key.h"
#include "node/base/status.h"

namespace sluice::rpc {

// Why a frame does not decode. Each one closes the connection it arrived on: after a bad frame
// the framing itself cannot be trusted.
enum class FrameErrc {
  ok = 0,
  short_header,     // fewer than kFrameHeaderBytes
  too_long,         // the header's body length is above frame_bytes_max
  length_mismatch,  // a whole frame whose byte count is not header + body length
  crc_mismatch,     // the body's CRC32C is not the header's
  short_body,       // the body ends inside its kind's fixed fields
  bad_kind,         // neither request nor response
  unauthenticated,  // a cluster key is set and the MAC trailer is missing or wrong
};

constexpr std::string_view to_string(FrameErrc code) {
  switch (code) {
    case FrameErrc::ok: return "ok";
    case FrameErrc::short_header: return "short_header";
    case FrameErrc::too_long: return "too_long";
    case FrameErrc::length_mismatch: return "length_mismatch";
    case FrameErrc::crc_mismatch: return "crc_mismatch";
    case FrameErrc::short_body: return "short_body";
    case FrameErrc::bad_kind: return "bad_kind";
    case FrameErrc::unauthenticated: return "unauthenticated";
  }
  return "unknown";
}

using FrameStatus = BasicStatus<FrameErrc>;
template <typename T>
using FrameResult = BasicResult<T, FrameErrc>;

// The outcome of a call as the server states it. RPC-level only: what a method's payload means
// is the method's business. A transport failure (no answer at all) is not one of these but a
// runtime error of RpcClient::call. Unknown values decode as they are (a newer server may send
// them); a caller treats any status it does not know as a failure.
enum class RpcStatus : uint16_t {
  ok = 0,
  unknown_method = 1,  // no handler for the method on that server
  overloaded = 2,      // the connection's calls_in_flight_per_connection_max was reached
  timeout = 3,         // the handler gave up within the caller's timeout (its own work timed out)
  unavailable = 4,     // the handler cannot serve it now (cancelled, stopping, not the leader...)
  malformed = 5,       // the handler could not decode the request payload
  too_large = 6,       // the reply would exceed the server's frame_bytes_max
};

std::string_view to_string(RpcStatus status);

enum class FrameKind : uint8_t { request = 1, response = 2 };

inline constexpr size_t kFrameHeaderBytes = 8;                // u32 body length, u32 CRC32C
inline constexpr size_t kBodyCommonBytes = 1 + 8;                         // kind, call id
inline constexpr size_t kRequestFixedBytes = kBodyCommonBytes + 2 + 4;  // + method, timeout
inline constexpr size_t kResponseFixedBytes = kBodyCommonBytes + 2;     // + status
inline constexpr size_t kFrameBytesMaxDefault = 64 * 1024 * 1024;

struct Frame {
  FrameKind kind = FrameKind::request;
  uint64_t call_id = 0;
  uint16_t method = 0;               // request only
  uint32_t timeout_ms = 0;           // request only: how long the caller waits
  RpcStatus status = RpcStatus::ok;  // response only
  Bytes payload;

  friend bool operator==(const Frame&, const Frame&) = default;
};

// Whole frames, header included. The body must fit the u32 length (asserted); whether the peer
// accepts it is its frame_bytes_max, which callers check first.
Bytes encode_request(uint64_t call_id, uint16_t method, uint32_t timeout_ms, ByteSpan payload);
Bytes encode_response(uint64_t call_id, RpcStatus status, ByteSpan payload);
Bytes encode_frame(const Frame& frame);

struct FrameHeader {
  uint32_t body_bytes = 0;
  uint32_t body_crc = 0;
};

// Decodes the first kFrameHeaderBytes of `header`; too_long when the body length is above
// `frame_bytes_max`, checked before anything reads or allocates the body.
FrameResult<FrameHeader> decode_header(ByteSpan header, size_t frame_bytes_max);
// crc_mismatch unless `body` has the header's CRC32C (the length is the reader's to match).
FrameStatus verify_body(const FrameHeader& header, ByteSpan body);
// Decodes a verified body: short_body, bad_kind, or the frame (the payload is the rest).
FrameResult<Frame> decode_body(ByteSpan body);
// All three over exactly one whole frame (tests and the fuzzer; the drivers read in pieces).
FrameResult<Frame> decode_frame(ByteSpan frame, size_t frame_bytes_max);

// The cluster secret (docs/formats/rpc.md, "Cluster secret"): with a key, every frame is followed
// by a MAC trailer of ClusterKey::kTagBytes over its header and body, not counted in the body
// length. Without a key there is no trailer. seal_frame appends it to an encoded frame;
// verify_mac is unauthenticated unless `sealed` (frame + trailer) ends in the frame's MAC.
void seal_frame(Bytes& frame, const ClusterKey& key);
FrameStatus verify_mac(ByteSpan sealed, const ClusterKey& key);
// decode_frame over a frame and its trailer (tests and the fuzzer).
FrameResult<Frame> decode_sealed_frame(ByteSpan sealed, size_t frame_bytes_max, const ClusterKey& key);

}  // namespace sluice::rpc
