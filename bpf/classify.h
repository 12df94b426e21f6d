/* The packet classifier shared by the XDP program (bpf/classify.bpf.c), user space (tests,
 * benchmarks, the loader's documentation of what it counts) and the simulator's network: one
 * function decides, for a frame and the node's ports, whether it is membership traffic (a SWIM
 * datagram), partition traffic (HTTP, inter-node RPC), something else, or a malformed datagram
 * on the membership port. docs/xdp.md describes the rules.
 *
 * Plain C, no library calls, only forward loops with constant bounds, and every read preceded by
 * an explicit `p + n > end` check, so the BPF verifier accepts it as it is; user space gets the
 * same code. Multi-byte fields are read byte by byte (big-endian): no unaligned struct overlays,
 * which UBSan would flag in user space and which buy nothing in BPF.
 *
 * What is parsed: Ethernet II; up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8, in any
 * order); IPv4 with options (not fragments: the stack reassembles them, then the membership
 * decoder checks); IPv6 without extension headers (anything else is `other`); UDP and TCP. */
#ifndef SLUICE_BPF_CLASSIFY_H
#define SLUICE_BPF_CLASSIFY_H

#include <linux/types.h>

#include "node/swim/wire_header.h"

#if defined(__bpf__)
/* A BPF-to-BPF call cannot take packet pointers in every kernel; inlining avoids the question. */
#define CLASSIFY_INLINE static inline __attribute__((always_inline))
#else
#define CLASSIFY_INLINE static inline
#endif

/* The verdict. The values index the per-class counters (bpf/classify_maps.h). */
enum classify_class {
  CLASSIFY_OTHER = 0,                /* not ours, or not parseable far enough to tell: passed */
  CLASSIFY_MEMBERSHIP = 1,           /* a well-formed SWIM datagram to the membership port */
  CLASSIFY_PARTITION = 2,            /* TCP or UDP to an HTTP / inter-node RPC port */
  CLASSIFY_MEMBERSHIP_MALFORMED = 3  /* UDP to the membership port that is not a valid datagram */
};
#define CLASSIFY_CLASSES 4

#define CLASSIFY_PARTITION_PORTS_MAX 4

/* The node's ports, host byte order; 0 = unused. The membership port may equal a partition port:
 * UDP to it is membership, TCP to it partition (one advertised port for both). */
struct classify_config {
  __u16 membership_port;
  __u16 partition_ports[CLASSIFY_PARTITION_PORTS_MAX];
};

#define CLASSIFY_ETH_HEADER_BYTES 14
#define CLASSIFY_VLAN_TAG_BYTES 4
#define CLASSIFY_VLAN_TAGS_MAX 2
#define CLASSIFY_ETH_P_IPV4 0x0800
#define CLASSIFY_ETH_P_IPV6 0x86dd
#define CLASSIFY_ETH_P_8021Q 0x8100
#define CLASSIFY_ETH_P_8021AD 0x88a8
#define CLASSIFY_IPV4_HEADER_BYTES_MIN 20
#define CLASSIFY_IPV6_HEADER_BYTES 40
#define CLASSIFY_IPPROTO_TCP 6
#define CLASSIFY_IPPROTO_UDP 17
#define CLASSIFY_UDP_HEADER_BYTES 8
#define CLASSIFY_TCP_HEADER_BYTES_MIN 20
/* IPv4 flags/fragment-offset field: MF bit and the 13-bit offset (DF does not matter). */
#define CLASSIFY_IPV4_FRAGMENT_MASK 0x3fff

CLASSIFY_INLINE unsigned classify_load_be16(const uint8_t *at) {
  return ((unsigned)at[0] << 8) | (unsigned)at[1];
}

CLASSIFY_INLINE int classify_is_partition_port(const struct classify_config *config, unsigned port) {
  int found = 0;
  for (int i = 0; i < CLASSIFY_PARTITION_PORTS_MAX; i++) {
    if (config->partition_ports[i] != 0 && config->partition_ports[i] == port) found = 1;
  }
  return found;
}

/* A UDP datagram to the membership port: `datagram_bytes` is its length without the UDP header
 * (from the UDP length field), its payload starts at `payload`, and bytes before `end` may be read.
 * Also the entry point for the simulator, which has datagrams but no frames. */
CLASSIFY_INLINE int classify_membership_payload(const uint8_t *payload, const uint8_t *end,
                                                size_t datagram_bytes) {
  if (datagram_bytes < SWIM_HEADER_BYTES || payload + SWIM_HEADER_BYTES > end) {
    return CLASSIFY_MEMBERSHIP_MALFORMED;
  }
  if (swim_header_check(payload, datagram_bytes) != SWIM_HEADER_OK) return CLASSIFY_MEMBERSHIP_MALFORMED;
  return CLASSIFY_MEMBERSHIP;
}

/* UDP at `udp` (header known to be readable); `l3_end` is where the IP packet ends by its own
 * length field. On the membership port every inconsistency is malformed: a UDP length shorter
 * than its header, longer than the IP payload, or beyond the captured frame. */
CLASSIFY_INLINE int classify_udp(const struct classify_config *config, const uint8_t *udp, const uint8_t *l3_end,
                                 const uint8_t *end) {
  unsigned port = classify_load_be16(udp + 2);
  if (config->membership_port == 0 || port != config->membership_port) {
    return classify_is_partition_port(config, port) ? CLASSIFY_PARTITION : CLASSIFY_OTHER;
  }
  unsigned udp_bytes = classify_load_be16(udp + 4);
  if (udp_bytes < CLASSIFY_UDP_HEADER_BYTES) return CLASSIFY_MEMBERSHIP_MALFORMED;
  const uint8_t *udp_end = udp + udp_bytes;
  if (udp_end > l3_end || udp_end > end) return CLASSIFY_MEMBERSHIP_MALFORMED;
  return classify_membership_payload(udp + CLASSIFY_UDP_HEADER_BYTES, end, udp_bytes - CLASSIFY_UDP_HEADER_BYTES);
}

/* The transport header at `l4` of protocol `protocol`; the IP packet claims to end at `l3_end`. */
CLASSIFY_INLINE int classify_l4(const struct classify_config *config, unsigned protocol, const uint8_t *l4,
                                const uint8_t *l3_end, const uint8_t *end) {
  if (protocol == CLASSIFY_IPPROTO_UDP) {
    if (l4 + CLASSIFY_UDP_HEADER_BYTES > end) return CLASSIFY_OTHER;
    return classify_udp(config, l4, l3_end, end);
  }
  if (protocol == CLASSIFY_IPPROTO_TCP) {
    if (l4 + CLASSIFY_TCP_HEADER_BYTES_MIN > end) return CLASSIFY_OTHER;
    return classify_is_partition_port(config, classify_load_be16(l4 + 2)) ? CLASSIFY_PARTITION : CLASSIFY_OTHER;
  }
  return CLASSIFY_OTHER;
}

CLASSIFY_INLINE int classify_ipv4(const struct classify_config *config, const uint8_t *ip, const uint8_t *end) {
  if (ip + CLASSIFY_IPV4_HEADER_BYTES_MIN > end) return CLASSIFY_OTHER;
  if ((ip[0] >> 4) != 4) return CLASSIFY_OTHER;
  unsigned header_bytes = (unsigned)(ip[0] & 0x0f) * 4;
  unsigned total_bytes = classify_load_be16(ip + 2);
  if (header_bytes < CLASSIFY_IPV4_HEADER_BYTES_MIN || total_bytes < header_bytes) return CLASSIFY_OTHER;
  if (classify_load_be16(ip + 6) & CLASSIFY_IPV4_FRAGMENT_MASK) return CLASSIFY_OTHER;
  return classify_l4(config, ip[9], ip + header_bytes, ip + total_bytes, end);
}

CLASSIFY_INLINE int classify_ipv6(const struct classify_config *config, const uint8_t *ip, const uint8_t *end) {
  if (ip + CLASSIFY_IPV6_HEADER_BYTES > end) return CLASSIFY_OTHER;
  if ((ip[0] >> 4) != 6) return CLASSIFY_OTHER;
  const uint8_t *l4 = ip + CLASSIFY_IPV6_HEADER_BYTES;
  return classify_l4(config, ip[6], l4, l4 + classify_load_be16(ip + 4), end);
}

/* The class of the Ethernet frame in [data, end). */
CLASSIFY_INLINE int classify_frame(const struct classify_config *config, const uint8_t *data, const uint8_t *end) {
  if (data + CLASSIFY_ETH_HEADER_BYTES > end) return CLASSIFY_OTHER;
  unsigned type = classify_load_be16(data + 12);
  const uint8_t *at = data + CLASSIFY_ETH_HEADER_BYTES;
  for (int i = 0; i < CLASSIFY_VLAN_TAGS_MAX; i++) {
    if (type == CLASSIFY_ETH_P_8021Q || type == CLASSIFY_ETH_P_8021AD) {
      if (at + CLASSIFY_VLAN_TAG_BYTES > end) return CLASSIFY_OTHER;
      type = classify_load_be16(at + 2);
      at += CLASSIFY_VLAN_TAG_BYTES;
    }
  }
  if (type == CLASSIFY_ETH_P_IPV4) return classify_ipv4(config, at, end);
  if (type == CLASSIFY_ETH_P_IPV6) return classify_ipv6(config, at, end);
  return CLASSIFY_OTHER;
}

#endif /* SLUICE_BPF_CLASSIFY_H */
