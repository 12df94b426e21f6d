// sluice-node: one node (node/server/node.h) on the real (epoll) runtime. Membership only for now:
// the SWIM driver, whose datagram socket is the one the XDP classifier + sk_lookup program steer
// membership packets to when BPF is usable, otherwise a plain UDP socket (docs/xdp.md). This file
// parses flags, sets up steering and the runtime, and runs the Node; node logic lives in node/.
//
//   sluice-node --host 10.0.0.1 --port 7946 --seed 10.0.0.2:7946 --data-dir /var/lib/sluice
//
// Logs key=value lines on stdout. Exit codes: 0 after SIGINT/SIGTERM (having left the cluster),
// 1 when the node cannot run (or --xdp=on without BPF), 2 on a usage error.
#include <signal.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "node/server/epoll_steering.h"
#include "node/server/node.h"
#include "runtime/epoll/epoll_runtime.h"

namespace {

namespace rt = sluice::runtime;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kEventsQueueMax = 1024;
// After SIGINT/SIGTERM: how long the node keeps answering so its leave spreads.
constexpr auto kLeaveWaitMax = std::chrono::seconds(3);
constexpr auto kLeavePollInterval = std::chrono::milliseconds(50);

struct Flags {
  std::string host = "127.0.0.1";
  uint16_t port = 7946;
  std::vector<std::string> seeds;
  std::string data_dir = "sluice-data";
  std::string xdp = "auto";
  std::string interface;
  std::vector<uint16_t> partition_ports;
  uint64_t cluster_id = 0;
  uint64_t node_id = 0;
};

void print_events(std::shared_ptr<rt::Channel<sluice::swim::Event>> events) {
  while (true) {
    auto event = events->receive();
    if (!event.ok()) return;
    // member= stays the address (scripts wait for it); member_id= is the key the node knows it by.
    std::string named = sluice::swim::to_string(event->named);
    std::printf("event=member_%s member=%s member_id=%llu%s%s incarnation=%llu at_ms=%llu\n",
                std::string(sluice::swim::to_string(event->kind)).c_str(), event->address.c_str(),
                static_cast<unsigned long long>(event->id), named.empty() ? "" : " addresses=", named.c_str(),
                static_cast<unsigned long long>(event->incarnation), static_cast<unsigned long long>(event->at_ms));
  }
}

void print_stop(const sluice::swim::Driver& driver, const sluice::server::Steering& steering) {
  const sluice::swim::Stats& swim = driver.core().stats();
  std::string line = "event=stop live_members=" + std::to_string(driver.core().live_members()) +
                     " swim_datagrams_received=" + std::to_string(swim.datagrams_received) +
                     " swim_dropped_bad_header=" + std::to_string(swim.dropped_bad_header) +
                     " swim_dropped_malformed=" + std::to_string(swim.dropped_malformed);
  line += sluice::server::steering_counters(steering);
  std::printf("%s\n", line.c_str());
}

// The node's main fiber: start the node, log its membership events, leave on SIGINT/SIGTERM. The
// Node lives in `slot`, outside this fiber: its other fibers still use it until the runtime
// unwinds them after this returns.
int run_node(rt::epoll::EpollRuntime& epoll, sluice::server::SteeredRuntime& runtime, const Flags& flags,
             const sluice::server::Steering& steering, std::unique_ptr<sluice::server::Node>& slot) {
  sluice::server::NodeConfig config;
  config.cluster_id = flags.cluster_id;
  config.node_id = flags.node_id;
  sluice::swim::DriverConfig& membership = config.membership.emplace();
  const std::string self = rt::Address{flags.host, flags.port}.to_string();
  membership.core.self_address = self;
  membership.core.cluster_id = flags.cluster_id;
  membership.port = flags.port;
  membership.seeds = flags.seeds;
  slot = std::make_unique<sluice::server::Node>(runtime, config);
  sluice::server::Node& node = *slot;
  if (const rt::Status started = node.start(); !started.ok()) {
    std::cerr << "sluice-node: starting on " << self << " (data dir " << flags.data_dir << "): " << started.to_string()
              << "\n";
    return kExitFailed;
  }
  auto events = node.membership()->subscribe(kEventsQueueMax);
  std::printf("event=start node=%s node_id=%llu seeds=%zu\n", self.c_str(),
              static_cast<unsigned long long>(node.id()), flags.seeds.size());
  runtime.spawn("print-events", [events] { print_events(events); });
  auto signal = epoll.wait_signal({SIGINT, SIGTERM});
  if (!signal.ok()) {
    std::cerr << "sluice-node: waiting for signals: " << signal.status().to_string() << "\n";
    return kExitFailed;
  }
  std::printf("event=leaving signal=%s\n", *signal == SIGINT ? "SIGINT" : "SIGTERM");
  node.leave();
  const rt::Instant give_up = runtime.now() + kLeaveWaitMax;
  while (!node.leave_done() && runtime.now() < give_up) {
    if (!runtime.sleep_for(kLeavePollInterval).ok()) break;
  }
  print_stop(*node.membership(), steering);
  return 0;
}

int parse_flags(int argc, char** argv, Flags& flags) {
  CLI::App app("sluice-node: a sluice node on the real runtime (membership only for now)");
  app.add_option("--host", flags.host, "numeric IPv4/IPv6 address this node binds to and is reached at")
      ->capture_default_str();
  app.add_option("--port", flags.port, "membership port (SWIM: UDP datagrams, TCP push-pull)")->capture_default_str();
  app.add_option("--seed", flags.seeds, "a member to join through, host:port (repeatable)");
  app.add_option("--data-dir", flags.data_dir, "data directory (created if missing)")->capture_default_str();
  app.add_option("--xdp", flags.xdp, "membership steering: auto (fall back to UDP, saying why), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--interface", flags.interface, "interface for the XDP classifier (default: the one holding --host)");
  app.add_option("--partition-port", flags.partition_ports,
                 "a port the classifier counts as partition traffic (HTTP, inter-node RPC; repeatable, at most 4)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--cluster-id", flags.cluster_id,
                 "the cluster's id: datagrams of another cluster are dropped, and the node refuses a data dir of "
                 "another cluster")
      ->capture_default_str();
  app.add_option("--node-id", flags.node_id,
                 "this node's id (recorded in the data dir when it is new; 0: the recorded one, or a random one "
                 "for a new data dir)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  for (const std::string& seed : flags.seeds) {
    if (auto parsed = rt::Address::parse(seed); !parsed.ok()) {
      std::cerr << "sluice-node: --seed " << seed << ": " << parsed.status().to_string() << "\n";
      return kExitUsage;
    }
  }
  if (flags.port == 0 || flags.partition_ports.size() > CLASSIFY_PARTITION_PORTS_MAX) {
    std::cerr << "sluice-node: --port must be 1..65535 and --partition-port given at most "
              << CLASSIFY_PARTITION_PORTS_MAX << " times\n";
    return kExitUsage;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (const int code = parse_flags(argc, argv, flags); code >= 0) return code;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // one line at a time, also into a pipe or file
  // Blocked before the runtime starts its file worker threads, which inherit the mask: the
  // signals then arrive only through the reactor's signalfd (EpollRuntime::wait_signal). An
  // ignored signal is discarded instead of becoming pending, and a shell starts background jobs
  // with SIGINT ignored: the default disposition first (blocked, it never runs).
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  if (::mkdir(flags.data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::cerr << "sluice-node: mkdir " << flags.data_dir << ": " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  sluice::server::Steering steering;
  const sluice::server::SteeringRequest request{flags.xdp, flags.host, flags.port, flags.partition_ports, flags.interface};
  if (!sluice::server::set_up_steering(request, steering)) return kExitFailed;
  auto epoll = rt::epoll::EpollRuntime::create(rt::epoll::EpollOptions{flags.data_dir, flags.host});
  if (!epoll.ok()) {
    std::cerr << "sluice-node: " << epoll.status().to_string() << "\n";
    return kExitFailed;
  }
  sluice::server::SteeredRuntime runtime(**epoll, flags.port, std::move(steering.socket));
  std::unique_ptr<sluice::server::Node> node;  // destroyed after run() unwound its fibers
  int exit_code = 0;
  const rt::Status ran = (*epoll)->run([&] { exit_code = run_node(**epoll, runtime, flags, steering, node); });
  if (!ran.ok()) {
    std::cerr << "sluice-node: " << ran.to_string() << "\n";
    return kExitFailed;
  }
  return exit_code;
}
