/* The fixed 8-byte header in front of every SWIM datagram (docs/formats/swim.md):
 *
 *   bytes 0..3  magic "SWIM"
 *   byte  4     version (2: members named by node id; 1 named them by address)
 *   byte  5     flags (none defined: must be 0)
 *   bytes 6..7  payload length, big-endian: the number of bytes after the header
 *
 * Plain C with no loops and no library calls, so the XDP classifier (bpf/) can include it and
 * steer membership traffic with exactly the rule user space applies when it decodes. */
#ifndef SLUICE_NODE_SWIM_WIRE_HEADER_H
#define SLUICE_NODE_SWIM_WIRE_HEADER_H

#if defined(__bpf__)
/* -target bpf has no C library headers; the compiler's own type names need none. C11 allows a
 * typedef to be repeated, so a program that has these already is fine. */
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __SIZE_TYPE__ size_t;
#else
#include <stddef.h>
#include <stdint.h>
#endif

#define SWIM_HEADER_BYTES 8
/* The payload's format changes with the version; a datagram of any other version is refused,
 * in user space and by the XDP classifier alike. */
#define SWIM_VERSION 2
/* Whole datagram, header included: stays below common MTUs so it is never fragmented. */
#define SWIM_DATAGRAM_BYTES_MAX 1400

enum swim_header_check {
  SWIM_HEADER_OK = 0,
  SWIM_HEADER_SHORT = 1,       /* fewer than SWIM_HEADER_BYTES bytes */
  SWIM_HEADER_BAD_MAGIC = 2,   /* not "SWIM": not ours at all */
  SWIM_HEADER_BAD_VERSION = 3, /* ours, but a version this build does not speak */
  SWIM_HEADER_BAD_FLAGS = 4,   /* a flag this version does not define */
  SWIM_HEADER_BAD_LENGTH = 5   /* length field disagrees with the datagram, or above the max */
};

/* Returns a swim_header_check code for the datagram `data` of `size` bytes. */
static inline int swim_header_check(const uint8_t *data, size_t size) {
  if (size < SWIM_HEADER_BYTES) return SWIM_HEADER_SHORT;
  if (data[0] != 'S' || data[1] != 'W' || data[2] != 'I' || data[3] != 'M') return SWIM_HEADER_BAD_MAGIC;
  if (data[4] != SWIM_VERSION) return SWIM_HEADER_BAD_VERSION;
  if (data[5] != 0) return SWIM_HEADER_BAD_FLAGS;
  if (size > SWIM_DATAGRAM_BYTES_MAX) return SWIM_HEADER_BAD_LENGTH;
  size_t payload_bytes = ((size_t)data[6] << 8) | (size_t)data[7];
  if (payload_bytes != size - SWIM_HEADER_BYTES) return SWIM_HEADER_BAD_LENGTH;
  return SWIM_HEADER_OK;
}

/* 1 when the datagram carries a well-formed SWIM header of SWIM_VERSION, else 0. */
static inline int swim_header_valid(const uint8_t *data, size_t size) {
  return swim_header_check(data, size) == SWIM_HEADER_OK;
}

/* Writes a SWIM_VERSION header for `payload_bytes` bytes into out[0..7]. */
static inline void swim_header_write(uint8_t *out, uint16_t payload_bytes) {
  out[0] = 'S';
  out[1] = 'W';
  out[2] = 'I';
  out[3] = 'M';
  out[4] = SWIM_VERSION;
  out[5] = 0;
  out[6] = (uint8_t)(payload_bytes >> 8);
  out[7] = (uint8_t)(payload_bytes & 0xff);
}

#endif /* SLUICE_NODE_SWIM_WIRE_HEADER_H */
