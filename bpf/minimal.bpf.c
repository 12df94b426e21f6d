// A minimal XDP program: counts packets and bytes per CPU and passes every packet on. It proves
// the BPF tool chain (clang -target bpf, bpftool skeleton, libbpf load, BPF_PROG_TEST_RUN); the
// membership classifier is built separately.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "minimal.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct minimal_counters);
} counters SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx) {
  __u32 key = 0;
  struct minimal_counters *counter = bpf_map_lookup_elem(&counters, &key);
  if (counter) {
    counter->packets += 1;
    counter->bytes += ctx->data_end - ctx->data;
  }
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
