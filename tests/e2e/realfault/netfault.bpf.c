// The real-fault harness's packet faults where the kernel has no sch_netem (docs/realfault.md):
// tc programs (cls_bpf, direct action) for a clsact egress hook on a veth end. One section per
// level, since tc's object loader sets no constants: `tc filter add dev X egress bpf da obj
// realfault_netfault.bpf.o sec tc/loss20`. The levels are nemesis.cc's kLossPercents and
// kDuplicatePercents.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

// The copy a duplicating program sends passes the same hook again: marked, it is let through.
#define DUPLICATE_MARK 0x5f1dU

static __always_inline int drop(__u32 percent) {
  return bpf_get_prandom_u32() % 100 < percent ? TC_ACT_SHOT : TC_ACT_OK;
}

static __always_inline int duplicate(struct __sk_buff *skb, __u32 percent) {
  if (skb->mark == DUPLICATE_MARK) return TC_ACT_OK;
  if (bpf_get_prandom_u32() % 100 < percent) {
    const __u32 mark = skb->mark;
    skb->mark = DUPLICATE_MARK;
    bpf_clone_redirect(skb, skb->ifindex, 0);  // out of the same device again: a second copy
    skb->mark = mark;
  }
  return TC_ACT_OK;
}

#define LOSS(n) \
  SEC("tc/loss" #n) int loss##n(struct __sk_buff *skb) { (void)skb; return drop(n); }
#define DUPLICATE(n) \
  SEC("tc/duplicate" #n) int duplicate##n(struct __sk_buff *skb) { return duplicate(skb, n); }

LOSS(5)
LOSS(10)
LOSS(20)
LOSS(35)
LOSS(50)
DUPLICATE(10)
DUPLICATE(25)
DUPLICATE(50)

char LICENSE[] SEC("license") = "GPL";
