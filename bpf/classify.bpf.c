// Membership vs partition traffic (docs/xdp.md). Two programs share the maps:
//
// - classify_xdp (XDP, attached in SKB mode to the node's interface): classifies every frame with
//   bpf/classify.h, counts packets and bytes per class, drops malformed membership datagrams and
//   passes everything else to the stack untouched.
// - steer_membership (SK_LOOKUP, attached to the node's network namespace): assigns UDP socket
//   lookups for the membership port (and the node's address) to the one socket in
//   `membership_socket`, the membership subsystem's own. Steering happens at socket lookup, after
//   the stack has reassembled, checksummed and filtered the datagram, on every interface.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "classify_maps.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct classify_settings);
} settings SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct classify_counters);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} membership_socket SEC(".maps");

SEC("xdp")
int classify_xdp(struct xdp_md *ctx) {
  const uint8_t *data = (const uint8_t *)(long)ctx->data;
  const uint8_t *end = (const uint8_t *)(long)ctx->data_end;
  __u32 key = 0;
  // Not configured yet (the loader writes settings before attaching): pass untouched.
  const struct classify_settings *config = bpf_map_lookup_elem(&settings, &key);
  if (!config) return XDP_PASS;
  int verdict = classify_frame(&config->ports, data, end);
  struct classify_counters *counter = bpf_map_lookup_elem(&counters, &key);
  if (counter && verdict >= 0 && verdict < CLASSIFY_CLASSES) {
    counter->packets[verdict] += 1;
    counter->bytes[verdict] += ctx->data_end - ctx->data;
  }
  if (verdict == CLASSIFY_MEMBERSHIP_MALFORMED) {
    if (counter) counter->drops += 1;
    return XDP_DROP;
  }
  return XDP_PASS;
}

static __attribute__((always_inline)) int steer_address_matches(const struct bpf_sk_lookup *ctx,
                                                                const struct classify_settings *config) {
  // Every context field is read once, up front: clang would otherwise share one load between
  // the IPv4 and IPv6 comparisons through a computed ctx pointer, which the verifier rejects.
  const __u32 family = ctx->family;
  const __u32 ip4 = ctx->local_ip4;
  const __u32 ip6[4] = {ctx->local_ip6[0], ctx->local_ip6[1], ctx->local_ip6[2], ctx->local_ip6[3]};
  if (config->steer_family == 0) return 1;
  if (family != config->steer_family) return 0;
  if (family == CLASSIFY_AF_INET) return ip4 == config->steer_ip4;
  return ip6[0] == config->steer_ip6[0] && ip6[1] == config->steer_ip6[1] && ip6[2] == config->steer_ip6[2] &&
         ip6[3] == config->steer_ip6[3];
}

SEC("sk_lookup")
int steer_membership(struct bpf_sk_lookup *ctx) {
  __u32 key = 0;
  if (ctx->protocol != CLASSIFY_IPPROTO_UDP) return SK_PASS;
  const struct classify_settings *config = bpf_map_lookup_elem(&settings, &key);
  if (!config || config->ports.membership_port == 0 || ctx->local_port != config->ports.membership_port) {
    return SK_PASS;
  }
  if (!steer_address_matches(ctx, config)) return SK_PASS;
  struct classify_counters *counter = bpf_map_lookup_elem(&counters, &key);
  // SK_PASS without an assignment falls back to the regular lookup: with no membership socket
  // registered yet, datagrams still reach whatever is bound to the port.
  struct bpf_sock *sk = bpf_map_lookup_elem(&membership_socket, &key);
  if (!sk) {
    if (counter) counter->steer_failures += 1;
    return SK_PASS;
  }
  // NO_REUSEPORT: the membership socket itself, never a member of a reuseport group.
  long error = bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
  bpf_sk_release(sk);
  if (counter) {
    if (error == 0) {
      counter->steered += 1;
    } else {
      counter->steer_failures += 1;
    }
  }
  return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
