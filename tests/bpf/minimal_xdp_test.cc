// Loads bpf/minimal.bpf.c through its bpftool skeleton and runs it with BPF_PROG_TEST_RUN on a
// synthetic Ethernet/IPv4/UDP frame: the program must return XDP_PASS every time and count each
// run once, with the frame's length in bytes. Needs root (or CAP_BPF + CAP_NET_ADMIN); otherwise
// it exits 77, which ctest reports as skipped.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bpf/minimal.h"
#include "minimal.skel.h"

namespace {

constexpr int kExitSkip = 77;
constexpr uint32_t kRepeat = 1000;
constexpr size_t kPayloadBytes = 22;  // 14 + 20 + 8 + 22 = a 64-byte frame
constexpr size_t kFrameBytes = sizeof(ethhdr) + sizeof(iphdr) + sizeof(udphdr) + kPayloadBytes;

uint16_t ipv4_checksum(const void* header, size_t bytes) {
  const auto* data = static_cast<const uint8_t*>(header);
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

// 02:00:00:00:00:01 -> 02:00:00:00:00:02, 10.0.0.1:7946 -> 10.0.0.2:7946 (UDP), payload 'S'...
std::array<uint8_t, kFrameBytes> synthetic_frame() {
  std::array<uint8_t, kFrameBytes> frame{};
  ethhdr eth{};
  const uint8_t source_mac[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x01};
  const uint8_t dest_mac[ETH_ALEN] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(eth.h_source, source_mac, ETH_ALEN);
  std::memcpy(eth.h_dest, dest_mac, ETH_ALEN);
  eth.h_proto = htons(ETH_P_IP);

  iphdr ip{};
  ip.version = 4;
  ip.ihl = sizeof(iphdr) / 4;
  ip.tot_len = htons(static_cast<uint16_t>(sizeof(iphdr) + sizeof(udphdr) + kPayloadBytes));
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.saddr = htonl(0x0a000001);
  ip.daddr = htonl(0x0a000002);
  ip.check = ipv4_checksum(&ip, sizeof ip);

  udphdr udp{};
  udp.source = htons(7946);
  udp.dest = htons(7946);
  udp.len = htons(static_cast<uint16_t>(sizeof(udphdr) + kPayloadBytes));
  udp.check = 0;  // optional over IPv4

  uint8_t* at = frame.data();
  std::memcpy(at, &eth, sizeof eth);
  at += sizeof eth;
  std::memcpy(at, &ip, sizeof ip);
  at += sizeof ip;
  std::memcpy(at, &udp, sizeof udp);
  at += sizeof udp;
  std::memset(at, 'S', kPayloadBytes);
  return frame;
}

// libbpf's warnings go to stderr (they carry their own "libbpf: " prefix); its debug chatter
// is dropped.
int print_libbpf(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return std::vfprintf(stderr, format, args);
}

int fail(const char* what, int error) {
  std::fprintf(stderr, "FAIL: %s: %s\n", what, std::strerror(error));
  return 1;
}

int run(minimal* skel) {
  const std::array<uint8_t, kFrameBytes> frame = synthetic_frame();
  std::array<uint8_t, kFrameBytes> frame_out{};
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = frame_out.data();
  opts.data_size_out = static_cast<uint32_t>(frame_out.size());
  opts.repeat = kRepeat;
  if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.count_packets), &opts) != 0) {
    return fail("bpf_prog_test_run_opts", errno);
  }
  if (opts.retval != XDP_PASS) {
    std::fprintf(stderr, "FAIL: program returned %u, want XDP_PASS (%d)\n", opts.retval, XDP_PASS);
    return 1;
  }
  if (opts.data_size_out != frame.size() || frame_out != frame) {
    std::fprintf(stderr, "FAIL: the program changed the frame (%u bytes out)\n",
                 opts.data_size_out);
    return 1;
  }

  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return fail("libbpf_num_possible_cpus", -cpus);
  std::vector<minimal_counters> per_cpu(static_cast<size_t>(cpus));
  const uint32_t key = 0;
  if (bpf_map__lookup_elem(skel->maps.counters, &key, sizeof key, per_cpu.data(),
                           per_cpu.size() * sizeof(minimal_counters), 0) != 0) {
    return fail("bpf_map__lookup_elem(counters)", errno);
  }
  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (const minimal_counters& counter : per_cpu) {
    packets += counter.packets;
    bytes += counter.bytes;
  }
  const uint64_t bytes_want = uint64_t{kRepeat} * kFrameBytes;
  if (packets != kRepeat || bytes != bytes_want) {
    std::fprintf(stderr, "FAIL: counters packets=%llu bytes=%llu, want packets=%u bytes=%llu\n",
                 static_cast<unsigned long long>(packets), static_cast<unsigned long long>(bytes),
                 kRepeat, static_cast<unsigned long long>(bytes_want));
    return 1;
  }
  std::printf("ok: XDP_PASS x%u, counters packets=%llu bytes=%llu (%zu-byte frame, %u ns/run)\n",
              kRepeat, static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(bytes), kFrameBytes, opts.duration);
  return 0;
}

}  // namespace

int main() {
  if (geteuid() != 0) {
    std::printf("skip: loading BPF programs needs root (euid %u)\n", geteuid());
    return kExitSkip;
  }
  libbpf_set_print(print_libbpf);

  minimal* skel = minimal__open();
  if (skel == nullptr) return fail("minimal__open", errno);
  if (int error = minimal__load(skel); error != 0) {
    // libbpf returns -errno. EPERM: root without CAP_BPF/CAP_SYS_ADMIN (e.g. an unprivileged
    // container); ENOSYS: a kernel without bpf(). Anything else (a verifier rejection) is a bug.
    error = -error;
    minimal__destroy(skel);
    if (error == EPERM || error == ENOSYS) {
      std::printf("skip: cannot load BPF programs here: %s\n", std::strerror(error));
      return kExitSkip;
    }
    return fail("minimal__load", error);
  }
  const int result = run(skel);
  minimal__destroy(skel);
  return result;
}
