// Fuzzes the shared packet classifier (bpf/classify.h) with arbitrary frames. The frame is
// copied into a buffer of exactly its size, so a read past `end` (what the BPF verifier rules
// out in the kernel) is a heap overflow ASan reports here. Also checks what must hold for every
// frame: the verdict is a known class; without a membership port nothing is membership; making
// the membership port a partition port too never changes a UDP membership verdict.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "bpf/classify.h"

namespace {

constexpr uint16_t kMembershipPort = 7946;

classify_config config(uint16_t membership_port, bool shared) {
  classify_config out{};
  out.membership_port = membership_port;
  out.partition_ports[0] = 8080;
  out.partition_ports[1] = 9090;
  if (shared) out.partition_ports[2] = kMembershipPort;
  return out;
}

void require(bool holds) {
  if (!holds) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<uint8_t[]> frame(new uint8_t[size == 0 ? 1 : size]);
  if (size > 0) std::memcpy(frame.get(), data, size);
  const uint8_t* end = frame.get() + size;

  const classify_config normal = config(kMembershipPort, false);
  const int verdict = classify_frame(&normal, frame.get(), end);
  require(verdict >= CLASSIFY_OTHER && verdict < CLASSIFY_CLASSES);

  const classify_config no_membership = config(0, false);
  const int without = classify_frame(&no_membership, frame.get(), end);
  require(without == CLASSIFY_OTHER || without == CLASSIFY_PARTITION);

  const classify_config shared = config(kMembershipPort, true);
  const int with_shared = classify_frame(&shared, frame.get(), end);
  if (verdict == CLASSIFY_MEMBERSHIP || verdict == CLASSIFY_MEMBERSHIP_MALFORMED) require(with_shared == verdict);

  // The simulator's entry point on the raw bytes as one datagram.
  const int datagram = classify_membership_payload(frame.get(), end, size);
  require(datagram == CLASSIFY_MEMBERSHIP || datagram == CLASSIFY_MEMBERSHIP_MALFORMED);
  return 0;
}
