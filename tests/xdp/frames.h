// Synthetic Ethernet frames for the classifier's tests, the BPF_PROG_TEST_RUN tests, the fuzz
// seeds and the benchmark: Ethernet, optional VLAN tags, IPv4 (optionally with options or as a
// fragment) or IPv6, then UDP or TCP. Header-only so every one of those can include it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bpf/classify.h"

namespace sluice::xdp_testing {

using Frame = std::vector<uint8_t>;

inline constexpr uint16_t kMembershipPort = 7946;
inline constexpr uint16_t kHttpPort = 8080;
inline constexpr uint16_t kRpcPort = 9090;

inline classify_config test_config() {
  classify_config config{};
  config.membership_port = kMembershipPort;
  config.partition_ports[0] = kHttpPort;
  config.partition_ports[1] = kRpcPort;
  return config;
}

struct FrameSpec {
  int ip_version = 4;                // 4 or 6
  std::vector<uint16_t> vlan_tpids;  // outer first, e.g. {0x88a8, 0x8100}
  uint8_t protocol = CLASSIFY_IPPROTO_UDP;
  uint16_t source_port = 40000;
  uint16_t dest_port = kMembershipPort;
  std::vector<uint8_t> payload;
  size_t ipv4_options_bytes = 0;  // a multiple of 4, at most 40
  bool ipv4_more_fragments = false;
};

inline void put_be16(Frame& frame, size_t at, unsigned value) {
  frame[at] = static_cast<uint8_t>(value >> 8);
  frame[at + 1] = static_cast<uint8_t>(value);
}

inline void append_be16(Frame& frame, unsigned value) {
  frame.push_back(static_cast<uint8_t>(value >> 8));
  frame.push_back(static_cast<uint8_t>(value));
}

// A SWIM datagram: the 8-byte header for `payload_bytes`, then that many `fill` bytes.
inline std::vector<uint8_t> swim_datagram(size_t payload_bytes, uint8_t fill = 0x5a) {
  std::vector<uint8_t> datagram(SWIM_HEADER_BYTES + payload_bytes, fill);
  swim_header_write(datagram.data(), static_cast<uint16_t>(payload_bytes));
  return datagram;
}

inline uint16_t ipv4_header_checksum(const uint8_t* header, size_t bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < bytes; i += 2) sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Transport header + payload. Checksums stay 0 (valid "none" for UDP over IPv4; neither the
// classifier nor BPF_PROG_TEST_RUN looks at them).
inline Frame transport_segment(const FrameSpec& spec) {
  Frame l4;
  append_be16(l4, spec.source_port);
  append_be16(l4, spec.dest_port);
  if (spec.protocol == CLASSIFY_IPPROTO_UDP) {
    append_be16(l4, static_cast<unsigned>(CLASSIFY_UDP_HEADER_BYTES + spec.payload.size()));
    append_be16(l4, 0);
  } else {
    l4.resize(CLASSIFY_TCP_HEADER_BYTES_MIN, 0);
    l4[12] = 5 << 4;  // data offset: 5 words
    l4[13] = 0x18;    // PSH, ACK
    put_be16(l4, 14, 65535);
  }
  l4.insert(l4.end(), spec.payload.begin(), spec.payload.end());
  return l4;
}

inline void append_ip_header(Frame& frame, const FrameSpec& spec, size_t l4_bytes) {
  if (spec.ip_version == 6) {
    const uint8_t fixed[8] = {0x60, 0, 0, 0, static_cast<uint8_t>(l4_bytes >> 8), static_cast<uint8_t>(l4_bytes),
                              spec.protocol, 64};
    frame.insert(frame.end(), fixed, fixed + 8);
    const uint8_t source[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    const uint8_t dest[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    frame.insert(frame.end(), source, source + 16);
    frame.insert(frame.end(), dest, dest + 16);
    return;
  }
  const size_t header_bytes = CLASSIFY_IPV4_HEADER_BYTES_MIN + spec.ipv4_options_bytes;
  const size_t at = frame.size();
  frame.resize(at + header_bytes, 0);
  frame[at] = static_cast<uint8_t>(0x40 | header_bytes / 4);
  put_be16(frame, at + 2, static_cast<unsigned>(header_bytes + l4_bytes));
  put_be16(frame, at + 6, spec.ipv4_more_fragments ? 0x2000 : 0x4000);  // MF, or DF
  frame[at + 8] = 64;
  frame[at + 9] = spec.protocol;
  const uint8_t addresses[8] = {10, 213, 0, 2, 10, 213, 0, 1};
  std::copy(addresses, addresses + 8, frame.begin() + static_cast<ptrdiff_t>(at + 12));
  for (size_t i = CLASSIFY_IPV4_HEADER_BYTES_MIN; i < header_bytes; ++i) frame[at + i] = 1;  // NOP options
  put_be16(frame, at + 10, ipv4_header_checksum(frame.data() + at, header_bytes));
}

inline Frame build_frame(const FrameSpec& spec) {
  Frame frame = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};  // destination, source MAC
  for (const uint16_t tpid : spec.vlan_tpids) {
    append_be16(frame, tpid);
    append_be16(frame, 42);  // priority 0, VLAN 42
  }
  append_be16(frame, spec.ip_version == 6 ? CLASSIFY_ETH_P_IPV6 : CLASSIFY_ETH_P_IPV4);
  const Frame l4 = transport_segment(spec);
  append_ip_header(frame, spec, l4.size());
  frame.insert(frame.end(), l4.begin(), l4.end());
  return frame;
}

// Shorthands for the common cases.
inline Frame membership_frame(int ip_version = 4, size_t payload_bytes = 32) {
  FrameSpec spec;
  spec.ip_version = ip_version;
  spec.payload = swim_datagram(payload_bytes);
  return build_frame(spec);
}

inline Frame tcp_frame(uint16_t dest_port, int ip_version = 4, size_t payload_bytes = 64) {
  FrameSpec spec;
  spec.ip_version = ip_version;
  spec.protocol = CLASSIFY_IPPROTO_TCP;
  spec.dest_port = dest_port;
  spec.payload.assign(payload_bytes, 'h');
  return build_frame(spec);
}

inline int classify(const classify_config& config, const Frame& frame) {
  return classify_frame(&config, frame.data(), frame.data() + frame.size());
}

}  // namespace sluice::xdp_testing
