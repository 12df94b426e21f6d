// Fuzzes the RPC frame decoder (node/rpc/frame.h, docs/formats/rpc.md): every node decodes what
// any peer (or anything that connects to its port) writes. Any input is accepted or refused
// without a crash; an accepted frame encodes back to exactly its bytes, and the piecewise decode
// the drivers use (header, CRC, body) agrees with the whole-frame decode.
//
// The CRC would stop the fuzzer at the header, so when the first input byte is odd the header of
// the rest is rewritten first (its length and CRC made right): that lets it explore kinds,
// statuses and cut-short bodies.
#include <cstddef>
#include <cstdint>

#include "node/base/assert.h"
#include "node/base/byte_io.h"
#include "node/base/cluster_key.h"
#include "node/log/crc32c.h"
#include "node/rpc/frame.h"

namespace {

using sluice::Bytes;
using sluice::ByteSpan;
namespace rpc = sluice::rpc;

constexpr size_t kFrameBytesMax = 1 << 20;
constexpr size_t kFrameBytesMaxSmall = 16;  // so that too_long is reached as well

const sluice::ClusterKey& fuzz_key() {
  static const sluice::ClusterKey key = sluice::ClusterKey::derive(sluice::as_bytes("the fuzzer's cluster secret"));
  return key;
}

void reseal(Bytes& bytes) {
  if (bytes.size() < rpc::kFrameHeaderBytes) return;
  const ByteSpan body = ByteSpan(bytes).subspan(rpc::kFrameHeaderBytes);
  sluice::put_le<uint32_t>(bytes.data(), static_cast<uint32_t>(body.size()));
  sluice::put_le<uint32_t>(bytes.data() + 4, sluice::log::crc32c(body));
}

// What the drivers do: the header alone, then the body it announces.
void check_piecewise(const Bytes& bytes, const rpc::FrameResult<rpc::Frame>& whole, size_t frame_bytes_max) {
  const auto header = rpc::decode_header(bytes, frame_bytes_max);
  if (!header.ok() || bytes.size() != rpc::kFrameHeaderBytes + header->body_bytes) {
    SLUICE_ASSERT(!whole.ok());
    return;
  }
  const ByteSpan body = ByteSpan(bytes).subspan(rpc::kFrameHeaderBytes);
  const rpc::FrameStatus verified = rpc::verify_body(*header, body);
  if (!verified.ok()) {
    SLUICE_ASSERT_EQ(static_cast<int>(whole.code()), static_cast<int>(rpc::FrameErrc::crc_mismatch));
    return;
  }
  const auto piecewise = rpc::decode_body(body);
  SLUICE_ASSERT_EQ(static_cast<int>(piecewise.code()), static_cast<int>(whole.code()));
  if (whole.ok()) SLUICE_ASSERT(*piecewise == *whole);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Bytes bytes(reinterpret_cast<const std::byte*>(data) + 1, reinterpret_cast<const std::byte*>(data) + size);
  if ((data[0] & 1) != 0) reseal(bytes);

  for (size_t frame_bytes_max : {kFrameBytesMax, kFrameBytesMaxSmall}) {
    const auto frame = rpc::decode_frame(bytes, frame_bytes_max);
    check_piecewise(bytes, frame, frame_bytes_max);
    if (!frame.ok()) continue;
    SLUICE_ASSERT(frame->kind == rpc::FrameKind::request || frame->kind == rpc::FrameKind::response);
    SLUICE_ASSERT(rpc::encode_frame(*frame) == bytes);
    // With the cluster secret: the frame sealed opens to the same frame, and the input as it is
    // (no trailer, or a made-up one) is refused as unauthenticated, never crashes.
    Bytes sealed = bytes;
    rpc::seal_frame(sealed, fuzz_key());
    const auto opened = rpc::decode_sealed_frame(sealed, frame_bytes_max, fuzz_key());
    SLUICE_ASSERT(opened.ok() && *opened == *frame);
  }
  const auto unsealed = rpc::decode_sealed_frame(bytes, kFrameBytesMax, fuzz_key());
  SLUICE_ASSERT(!unsealed.ok());  // a forged MAC: 2^-256
  return 0;
}
