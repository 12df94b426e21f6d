#include "node/server/epoll_steering.h"

#include <cstdio>
#include <iostream>

#include "node/server/xdp_metrics.h"
#include "runtime/epoll/log_line.h"

namespace sluice::server {

std::string quoted(const std::string& text) { return rt::epoll::log_quote(text); }

namespace {

// Empty when `out` is set up; otherwise why steering is unavailable.
std::string attach_steering(const SteeringRequest& request, Steering& out) {
#ifdef SLUICE_HAVE_BPF
  namespace bpf = sluice::bpf;
  bpf::SteeringOptions options;
  options.host = request.host;
  options.membership_port = request.membership_port;
  options.partition_ports = request.partition_ports;
  options.interface = request.interface;
  if (options.interface.empty()) {
    auto found = bpf::interface_for_address(request.host);
    if (!found.ok()) return found.status().to_string();
    options.interface = *found;
  }
  auto programs = bpf::MembershipSteering::attach(options);
  if (!programs.ok()) return programs.status().to_string();
  auto socket = (*programs)->open_membership_socket();
  if (!socket.ok()) return socket.status().to_string();
  out.programs = std::move(programs).value();
  out.socket = rt::epoll::UniqueFd(socket->release());
  out.interface = options.interface;
  return "";
#else
  (void)request;
  (void)out;
  return "built without BPF (SLUICE_BPF=OFF)";
#endif
}

}  // namespace

std::string steering_counters(const Steering& steering) {
#ifdef SLUICE_HAVE_BPF
  if (!steering.programs) return "";
  auto counters = steering.programs->counters();
  return " " + (counters.ok() ? counters->to_key_values() : "xdp_counters_error=" + quoted(counters.status().to_string()));
#else
  (void)steering;
  return "";
#endif
}

void export_steering_metrics(const Steering& steering, http::Metrics& metrics) {
#ifdef SLUICE_HAVE_BPF
  if (steering.programs) {
    auto counters = steering.programs->counters();
    if (!counters.ok()) return export_xdp_metrics(metrics, true, nullptr);
    XdpCounters xdp;
    for (int c = 0; c < CLASSIFY_CLASSES; ++c) {
      xdp.classes.push_back(XdpClassCounters{std::string(bpf::class_name(c)), counters->packets[c], counters->bytes[c]});
    }
    xdp.drops = counters->drops;
    xdp.steered = counters->steered;
    xdp.steer_failures = counters->steer_failures;
    return export_xdp_metrics(metrics, true, &xdp);
  }
#else
  (void)steering;
#endif
  export_xdp_metrics(metrics, false, nullptr);
}

bool set_up_steering(const SteeringRequest& request, Steering& out) {
  if (request.mode == "off") {
    rt::epoll::log_line(rt::epoll::LogLevel::info, "membership_socket", "kind=udp reason=\"--xdp=off\"");
    return true;
  }
  const std::string unavailable = attach_steering(request, out);
  if (unavailable.empty()) {
    rt::epoll::log_line(rt::epoll::LogLevel::info, "membership_socket",
                        "kind=steered xdp_mode=skb interface=" + rt::epoll::log_value(out.interface) + " steering=sk_lookup");
    return true;
  }
  if (request.mode == "on") {
    std::cerr << "sluice-node: --xdp=on but BPF steering is unavailable: " << unavailable << "\n";
    return false;
  }
  rt::epoll::log_line(rt::epoll::LogLevel::warn, "membership_socket", "kind=udp reason=" + quoted(unavailable));
  return true;
}

}  // namespace sluice::server
