#include "node/server/xdp_metrics.h"

namespace sluice::server {

void export_xdp_metrics(http::Metrics& metrics, bool active, const XdpCounters* counters) {
  using http::MetricType;
  // Described at every call, which only rewrites the help text: the families belong to the
  // provider sluice-node installs (NodeConfig::extra_metrics), not to the API that calls it.
  metrics.describe("sluice_xdp_active", MetricType::gauge,
                   "1 while the XDP classifier and sk_lookup steering run for this node's membership socket, else 0.");
  metrics.set("sluice_xdp_active", {}, active ? 1 : 0);
  if (!active || counters == nullptr) return;
  metrics.describe("sluice_xdp_packets_total", MetricType::counter, "Frames XDP saw on the interface, by class.");
  metrics.describe("sluice_xdp_bytes_total", MetricType::counter, "Frame bytes (Ethernet header included) XDP saw, by class.");
  metrics.describe("sluice_xdp_drops_total", MetricType::counter, "Frames XDP dropped (malformed membership datagrams).");
  metrics.describe("sluice_xdp_steered_total", MetricType::counter, "UDP socket lookups sk_lookup assigned to the membership socket.");
  metrics.describe("sluice_xdp_steer_failures_total", MetricType::counter,
                   "Lookups for the membership port sk_lookup could not assign (they fell back to the regular lookup).");
  for (const XdpClassCounters& counted : counters->classes) {
    metrics.set("sluice_xdp_packets_total", {{"class", counted.name}}, static_cast<double>(counted.packets));
    metrics.set("sluice_xdp_bytes_total", {{"class", counted.name}}, static_cast<double>(counted.bytes));
  }
  metrics.set("sluice_xdp_drops_total", {}, static_cast<double>(counters->drops));
  metrics.set("sluice_xdp_steered_total", {}, static_cast<double>(counters->steered));
  metrics.set("sluice_xdp_steer_failures_total", {}, static_cast<double>(counters->steer_failures));
}

}  // namespace sluice::server
