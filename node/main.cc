// sluice-node: one node on the real (epoll) runtime. Membership only for now: the SWIM driver,
// whose datagram socket is the one the XDP classifier + sk_lookup program steer membership
// packets to when BPF is usable, otherwise a plain UDP socket (docs/xdp.md).
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

#include "node/swim/driver.h"
#include "runtime/epoll/epoll_runtime.h"
#include "runtime/epoll/posix.h"
#ifdef SLUICE_HAVE_BPF
#include "bpf/loader.h"
#endif

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
};

// The node's Runtime: the epoll runtime, except that binding the membership port hands out the
// steered socket (when there is one) instead of binding a new one.
class NodeRuntime final : public rt::Runtime {
 public:
  NodeRuntime(rt::epoll::EpollRuntime& inner, uint16_t membership_port, rt::epoll::UniqueFd steered)
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

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

// The XDP classifier + sk_lookup steering and the membership socket they steer to.
struct Steering {
#ifdef SLUICE_HAVE_BPF
  std::unique_ptr<sluice::bpf::MembershipSteering> programs;
#endif
  rt::epoll::UniqueFd socket;
  std::string interface;
};

// Empty when `out` is set up; otherwise why steering is unavailable.
std::string attach_steering(const Flags& flags, Steering& out) {
#ifdef SLUICE_HAVE_BPF
  namespace bpf = sluice::bpf;
  bpf::SteeringOptions options;
  options.host = flags.host;
  options.membership_port = flags.port;
  options.partition_ports = flags.partition_ports;
  options.interface = flags.interface;
  if (options.interface.empty()) {
    auto found = bpf::interface_for_address(flags.host);
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
  (void)flags;
  (void)out;
  return "built without BPF (SLUICE_BPF=OFF)";
#endif
}

// " xdp_membership_packets=... xdp_steered=..." for the stop line; empty without steering.
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

// --xdp=on: steering or exit; auto: steering or ONE line saying why not; off: the plain socket.
bool set_up_steering(const Flags& flags, Steering& out) {
  if (flags.xdp == "off") {
    std::printf("event=membership_socket kind=udp reason=\"--xdp=off\"\n");
    return true;
  }
  const std::string unavailable = attach_steering(flags, out);
  if (unavailable.empty()) {
    std::printf("event=membership_socket kind=steered xdp_mode=skb interface=%s steering=sk_lookup\n",
                out.interface.c_str());
    return true;
  }
  if (flags.xdp == "on") {
    std::cerr << "sluice-node: --xdp=on but BPF steering is unavailable: " << unavailable << "\n";
    return false;
  }
  std::printf("event=membership_socket kind=udp reason=%s\n", quoted(unavailable).c_str());
  return true;
}

void print_events(std::shared_ptr<rt::Channel<sluice::swim::Event>> events) {
  while (true) {
    auto event = events->receive();
    if (!event.ok()) return;
    std::printf("event=member_%s member=%s incarnation=%llu at_ms=%llu\n",
                std::string(sluice::swim::to_string(event->kind)).c_str(), event->address.c_str(),
                static_cast<unsigned long long>(event->incarnation), static_cast<unsigned long long>(event->at_ms));
  }
}

void print_stop(const sluice::swim::Driver& driver, const Steering& steering) {
  const sluice::swim::Stats& swim = driver.core().stats();
  std::string line = "event=stop live_members=" + std::to_string(driver.core().live_members()) +
                     " swim_datagrams_received=" + std::to_string(swim.datagrams_received) +
                     " swim_dropped_bad_header=" + std::to_string(swim.dropped_bad_header) +
                     " swim_dropped_malformed=" + std::to_string(swim.dropped_malformed);
  line += steering_counters(steering);
  std::printf("%s\n", line.c_str());
}

// The node's main fiber: start membership, log its events, leave on SIGINT/SIGTERM. The driver
// lives in `slot`, outside this fiber: its other fibers still use it until the runtime unwinds
// them after this returns.
int run_node(rt::epoll::EpollRuntime& epoll, NodeRuntime& runtime, const Flags& flags, const Steering& steering,
             std::unique_ptr<sluice::swim::Driver>& slot) {
  sluice::swim::DriverConfig config;
  const std::string self = rt::Address{flags.host, flags.port}.to_string();
  config.core.self_address = self;
  config.core.cluster_id = flags.cluster_id;
  config.port = flags.port;
  config.seeds = flags.seeds;
  slot = std::make_unique<sluice::swim::Driver>(runtime, config);
  sluice::swim::Driver& driver = *slot;
  auto events = driver.subscribe(kEventsQueueMax);
  if (const rt::Status started = driver.start(); !started.ok()) {
    std::cerr << "sluice-node: starting membership on " << self << ": " << started.to_string() << "\n";
    return kExitFailed;
  }
  std::printf("event=start node=%s seeds=%zu\n", self.c_str(), flags.seeds.size());
  runtime.spawn("print-events", [events] { print_events(events); });
  auto signal = epoll.wait_signal({SIGINT, SIGTERM});
  if (!signal.ok()) {
    std::cerr << "sluice-node: waiting for signals: " << signal.status().to_string() << "\n";
    return kExitFailed;
  }
  std::printf("event=leaving signal=%s\n", *signal == SIGINT ? "SIGINT" : "SIGTERM");
  driver.leave();
  const rt::Instant give_up = runtime.now() + kLeaveWaitMax;
  auto now_ms = [&] { return static_cast<uint64_t>(rt::to_ns(runtime.now()) / 1'000'000); };
  while (!driver.core().leave_done(now_ms()) && runtime.now() < give_up) {
    if (!runtime.sleep_for(kLeavePollInterval).ok()) break;
  }
  print_stop(driver, steering);
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
  app.add_option("--cluster-id", flags.cluster_id, "datagrams of another cluster are dropped")->capture_default_str();
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
  Steering steering;
  if (!set_up_steering(flags, steering)) return kExitFailed;
  auto epoll = rt::epoll::EpollRuntime::create(rt::epoll::EpollOptions{flags.data_dir, flags.host});
  if (!epoll.ok()) {
    std::cerr << "sluice-node: " << epoll.status().to_string() << "\n";
    return kExitFailed;
  }
  NodeRuntime runtime(**epoll, flags.port, std::move(steering.socket));
  std::unique_ptr<sluice::swim::Driver> driver;  // destroyed after run() unwound its fibers
  int exit_code = 0;
  const rt::Status ran = (*epoll)->run([&] { exit_code = run_node(**epoll, runtime, flags, steering, driver); });
  if (!ran.ok()) {
    std::cerr << "sluice-node: " << ran.to_string() << "\n";
    return kExitFailed;
  }
  return exit_code;
}
