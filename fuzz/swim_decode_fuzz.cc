// Fuzzes the SWIM decoders (node/swim/codec.h) with arbitrary bytes, as a datagram (header +
// SwimMessage) and as push-pull state (SwimPushPull). Decoding must never crash or read out of
// bounds (ASan, UBSan), and what it accepts must respect every limit the encoder keeps: ids, the
// membership and named addresses (at most 4, names 1..16 and addresses 1..64 bytes, ascending),
// addresses only on alive claims. So whatever decodes re-encodes (unless our encoding of it is
// larger than the input's, which FlatBuffers' shared strings allow) and decodes to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "node/swim/codec.h"

namespace {

// The cluster id of the seed inputs (fuzz/corpus/fuzz_swim_decode/): mutations of a seed mostly
// keep it, so the checks after the cluster id get exercised.
constexpr uint64_t kCluster = 42;

void require(bool holds) {
  if (!holds) std::abort();
}

void check_datagram(sluice::ByteSpan bytes) {
  using namespace sluice::swim;
  Result<Message> decoded = decode_datagram(bytes, kCluster);
  if (!decoded.ok()) {
    const Errc code = decoded.code();
    require(code == Errc::bad_header || code == Errc::malformed || code == Errc::foreign_cluster);
    return;
  }
  require(decoded->source != sluice::kNoNode && named_addresses_ok(decoded->source_named));
  require(decoded->updates.size() <= kUpdatesPerDatagramMax);
  Result<sluice::Bytes> again = encode_datagram(*decoded);
  if (!again.ok()) {
    require(again.code() == Errc::too_large);
    return;
  }
  Result<Message> round_trip = decode_datagram(*again, kCluster);
  require(round_trip.ok() && *round_trip == *decoded);
}

// With the cluster secret: the input as it is never opens (a forged MAC: 2^-256) nor crashes; a
// datagram that decodes, sealed, opens back to exactly its bytes.
void check_sealed(sluice::ByteSpan bytes) {
  using namespace sluice::swim;
  static const sluice::ClusterKey key = sluice::ClusterKey::derive(sluice::as_bytes("the fuzzer's cluster secret"));
  sluice::Bytes received(bytes.begin(), bytes.end());
  const Status opened = open_datagram(received, key);
  require(opened.code() == Errc::bad_header || opened.code() == Errc::unauthenticated);
  if (!decode_datagram(bytes, kCluster).ok() || bytes.size() + sluice::ClusterKey::kTagBytes > kDatagramBytesMax) return;
  sluice::Bytes sealed(bytes.begin(), bytes.end());
  seal_datagram(sealed, key);
  require(open_datagram(sealed, key).ok() && sealed == received);
}

void check_push_pull(sluice::ByteSpan bytes) {
  using namespace sluice::swim;
  Result<PushPullState> decoded = decode_push_pull(bytes, kCluster);
  if (!decoded.ok()) {
    const Errc code = decoded.code();
    require(code == Errc::malformed || code == Errc::foreign_cluster || code == Errc::too_large);
    return;
  }
  Result<sluice::Bytes> again = encode_push_pull(*decoded);
  if (!again.ok()) {
    require(again.code() == Errc::too_large);
    return;
  }
  Result<PushPullState> round_trip = decode_push_pull(*again, kCluster);
  require(round_trip.ok() && *round_trip == *decoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const sluice::ByteSpan bytes(reinterpret_cast<const std::byte*>(data), size);
  check_datagram(bytes);
  check_sealed(bytes);
  check_push_pull(bytes);
  return 0;
}
