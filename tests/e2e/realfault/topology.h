// The real-fault harness's network (docs/realfault.md, "Topology"): one network namespace per
// node, each joined to a Linux bridge in the harness's own namespace by a veth pair, addresses
// from a private /24 the harness picks (the bridge holds .1, so the harness reaches every node's
// API; node i is at .10+i). Faults: qdiscs on both ends of a node's veth (the host end's egress is
// what the node receives, the namespace end's what it sends): netem where the kernel has it, else
// tc BPF programs on a clsact hook for loss and duplication (netfault.bpf.c), tbf (a slow link)
// always; blackhole routes inside the namespaces for (asymmetric, k-of-n)
// partitions, which leave the harness's own traffic alone; the host end's link down for
// isolation. (Without sch_netem, prio and gact, as on this project's CI kernel, tc cannot drop by
// address: routes can.) Everything it made is removed by teardown() and the destructor;
// remove_leftovers() removes what dead harnesses left behind.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/realfault/nemesis.h"

namespace sluice::realfault {

// Runs `argv` (argv[0] looked up in PATH), waiting at most `timeout`; its stderr and stdout in
// `output`. True when it exited 0. Killed when it overruns.
bool run_command(const std::vector<std::string>& argv, std::string& output,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The full path of `name` found in PATH ("" when none).
std::string find_program(const std::string& name);

// Names every harness object starts with: "slrf<pid>". Interface names stay below IFNAMSIZ.
std::string name_prefix(int pid);
// Removes the namespaces (and kills the processes in them) and links of harnesses whose pid no
// longer runs; says what it removed on stderr.
void remove_leftovers();

class Topology {
 public:
  // nullptr with `error` set when a step fails (what was made is removed again).
  static std::unique_ptr<Topology> create(int nodes, std::string& error);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  int nodes() const { return nodes_; }
  const std::string& netns(int node) const { return netns_.at(static_cast<size_t>(node - 1)); }
  std::string node_address(int node) const { return subnet_ + std::to_string(10 + node); }
  std::string harness_address() const { return subnet_ + "1"; }

  // Whether this kernel has sch_netem (tried on the bridge, then removed).
  bool netem_available() const;
  // Whether tc attaches the BPF programs of `object` (netfault.bpf.c) to a clsact hook (tried on
  // the bridge, then removed).
  bool bpf_available(const std::string& object) const;
  // How loss and duplicate faults are made: netem, else the BPF programs of `bpf_object`.
  void use(bool netem, std::string bpf_object) {
    netem_ = netem;
    bpf_object_ = std::move(bpf_object);
  }
  // Delay and reorder without netem: `program` (sluice-netdelay) behind NFQUEUE rules in the
  // node's namespace, one per fault, until stop_delay(). "" (the default): none.
  void use_netdelay(std::string program) { netdelay_ = std::move(program); }
  // Whether iptables takes an NFQUEUE rule here (tried in a node's namespace, then removed).
  bool nfqueue_available() const;
  // A network fault (delay .. partition); false with `error` when tc or ip refused it.
  bool apply(const Fault& fault, std::string& error);
  // Whether `fault` is made by sluice-netdelay (then stop_delay ends it, not heal).
  bool delayed_by_netdelay(const Fault& fault) const {
    return !netem_ && !netdelay_.empty() && (fault.kind == FaultKind::delay || fault.kind == FaultKind::reorder);
  }
  // Stops the node's sluice-netdelay (SIGTERM: what it holds goes out), adds up its counts and
  // removes its rules; true when none ran. stop_delays: every node's.
  bool stop_delay(int node, std::string& error);
  bool stop_delays(std::string& error);
  uint64_t packets_delayed() const { return packets_delayed_; }
  uint64_t packets_reordered() const { return packets_reordered_; }
  // Removes every qdisc and blackhole route the faults installed and sets every link up.
  bool heal(std::string& error);
  void teardown();

 private:
  Topology(int nodes, std::string prefix) : nodes_(nodes), prefix_(std::move(prefix)), delayers_(static_cast<size_t>(nodes)) {}
  bool build(std::string& error);
  bool pick_subnet(std::string& error);
  bool build_node(int node, std::string& error);
  std::string host_veth(int node) const { return prefix_ + "v" + std::to_string(node); }
  // tc on the node's namespace end (outbound) or the host end (inbound).
  bool tc(int node, bool outbound, std::vector<std::string> args, std::string& error) const;
  bool qdisc_both(int node, const std::vector<std::string>& qdisc, std::string& error) const;
  // The BPF program `section` on the egress of both ends of the node's veth.
  bool bpf_both(int node, const std::string& section, std::string& error) const;
  // Blackhole routes in `node`'s namespace to the addresses of `others`: what it sends them is dropped.
  bool drop_to(int node, const std::vector<int>& others, std::string& error) const;
  // The NFQUEUE rules on the node's eth0, both directions: `action` "-I" adds them, "-D" removes.
  bool nfqueue_rules(int node, const std::string& action, std::string& error) const;
  bool start_delay(const Fault& fault, std::string& error);
  struct Delayer {
    int pid = -1;
    int output_fd = -1;  // its stdout (the counts it prints at exit)
  };

  int nodes_;
  std::string prefix_;
  std::string bridge_;
  // The bridge and the host ends of the veths live in a namespace of their own: bridged traffic
  // then meets that namespace's (empty) netfilter tables, not the host's, whose FORWARD chain may
  // drop it (br_netfilter with a FORWARD policy of DROP, as Docker installs).
  std::string hub_;
  bool hub_made_ = false;
  std::string subnet_;  // "10.213.X."
  std::vector<std::string> netns_;
  bool torn_down_ = false;
  bool netem_ = false;
  std::string bpf_object_;
  std::string netdelay_;
  std::vector<Delayer> delayers_;  // per node (index node - 1): its running sluice-netdelay
  uint64_t packets_delayed_ = 0;
  uint64_t packets_reordered_ = 0;
};

}  // namespace sluice::realfault
