// Shared between bpf/minimal.bpf.c and user space: the value type of the `counters` map.
#ifndef SLUICE_BPF_MINIMAL_H_
#define SLUICE_BPF_MINIMAL_H_

#include <linux/types.h>

// One slot per CPU (BPF_MAP_TYPE_PERCPU_ARRAY, key 0): the reader sums over CPUs, so the program
// needs no atomics.
struct minimal_counters {
  __u64 packets;
  __u64 bytes;
};

#endif  // SLUICE_BPF_MINIMAL_H_
