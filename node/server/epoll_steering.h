// The XDP/eBPF path of sluice-node (docs/xdp.md): the classifier + sk_lookup steering that hands
// membership datagrams to SWIM's own socket, and the runtime decorator that gives that socket to
// the node. Real-runtime only (the simulator's network runs the classifier itself).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "node/http/metrics.h"
#include "runtime/epoll/epoll_runtime.h"
#include "runtime/epoll/posix.h"
#include "runtime/runtime.h"
#ifdef SLUICE_HAVE_BPF
#include "bpf/loader.h"
#endif

namespace sluice::server {

namespace rt = sluice::runtime;

struct SteeringRequest {
  std::string mode = "auto";  // auto (fall back to UDP, saying why), on (steering or fail), off
  std::string host;           // the address membership binds to
  uint16_t membership_port = 0;
  std::vector<uint16_t> partition_ports;  // counted by the classifier as partition traffic
  std::string interface;                  // default: the one holding `host`
};

// The node's Runtime: the epoll runtime, except that binding the membership port hands out the
// steered socket (when there is one) instead of binding a new one.
class SteeredRuntime final : public rt::Runtime {
 public:
  SteeredRuntime(rt::epoll::EpollRuntime& inner, uint16_t membership_port, rt::epoll::UniqueFd steered)
      : inner_(inner), membership_port_(membership_port), steered_(std::move(steered)) {}

  rt::Instant now() override { return inner_.now(); }
  void wake_at(rt::Instant deadline, rt::WakeToken token) override { inner_.wake_at(deadline, token); }
  rt::WallTime wall_now() override { return inner_.wall_now(); }
  uint64_t random() override { return inner_.random(); }
  rt::Result<std::unique_ptr<rt::DatagramSocket>> bind_datagram(uint16_t port) override {
    if (port == membership_port_ && steered_.valid()) return inner_.adopt_datagram(steered_.release());
    return inner_.bind_datagram(port);
  }
  rt::Result<std::unique_ptr<rt::Listener>> listen(uint16_t port) override { return inner_.listen(port); }
  rt::Result<std::unique_ptr<rt::Stream>> connect(const rt::Address& to, rt::Duration timeout) override {
    return inner_.connect(to, timeout);
  }
  std::string_view host() const override { return inner_.host(); }
  rt::Filesystem& fs() override { return inner_.fs(); }
  bool buggify(rt::SiteId site) override { return inner_.buggify(site); }
  rt::Scheduler& scheduler() override { return inner_.scheduler(); }

 private:
  rt::epoll::EpollRuntime& inner_;
  uint16_t membership_port_;
  rt::epoll::UniqueFd steered_;
};

// `text` in double quotes, with quotes and backslashes escaped (log values).
std::string quoted(const std::string& text);

// The XDP classifier + sk_lookup steering and the membership socket they steer to.
struct Steering {
#ifdef SLUICE_HAVE_BPF
  std::unique_ptr<sluice::bpf::MembershipSteering> programs;
#endif
  rt::epoll::UniqueFd socket;
  std::string interface;
};

// on: steering or false (having said why on stderr); auto: steering or ONE log line saying why
// not; off: the plain socket. Prints the event=membership_socket line.
bool set_up_steering(const SteeringRequest& request, Steering& out);
// " xdp_membership_packets=... xdp_steered=..." for the stop line; empty without steering.
std::string steering_counters(const Steering& steering);
// The same counters as /metrics families (xdp_metrics.h), read from the maps at each call: the
// provider sluice-node installs as NodeConfig::extra_metrics. sluice_xdp_active 0 without steering.
void export_steering_metrics(const Steering& steering, http::Metrics& metrics);

}  // namespace sluice::server
