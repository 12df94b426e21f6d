/* The value types of bpf/classify.bpf.c's maps, shared with the loader (bpf/loader.cc). */
#ifndef SLUICE_BPF_CLASSIFY_MAPS_H
#define SLUICE_BPF_CLASSIFY_MAPS_H

#include <linux/types.h>

#include "classify.h"

/* Address families as the kernel numbers them (sk_lookup's ctx->family); -target bpf has no
 * <sys/socket.h>. */
#define CLASSIFY_AF_INET 2
#define CLASSIFY_AF_INET6 10

/* `settings` (an array of one): the classifier's ports, and which local address the sk_lookup
 * program steers membership datagrams for, so several nodes can share a network namespace. */
struct classify_settings {
  struct classify_config ports;
  __u16 reserved; /* explicit padding: the struct has no holes the loader might leave unset */
  __u32 steer_family;  /* 0: any local address; CLASSIFY_AF_INET(6): only steer_ip4 / steer_ip6 */
  __u32 steer_ip4;     /* network byte order */
  __u32 steer_ip6[4];  /* network byte order */
};

/* `counters` (a per-CPU array of one): the reader sums over CPUs, so no atomics are needed. */
struct classify_counters {
  __u64 packets[CLASSIFY_CLASSES]; /* by enum classify_class, counted by the XDP program */
  __u64 bytes[CLASSIFY_CLASSES];   /* frame bytes, Ethernet header included */
  __u64 drops;                     /* frames the XDP program dropped (malformed membership) */
  __u64 steered;                   /* socket lookups the sk_lookup program assigned */
  __u64 steer_failures;            /* lookups it should have steered: no socket, or assign failed */
};

#endif /* SLUICE_BPF_CLASSIFY_MAPS_H */
