// sluice-node: one node (node/server/node.h) on the real (epoll) runtime: membership, the Raft host
// with the partition router, and the controller where this node is one of its voters. The SWIM
// driver's datagram socket is the one the XDP classifier + sk_lookup program steer
// membership packets to when BPF is usable, otherwise a plain UDP socket (docs/xdp.md). This file
// parses flags, sets up steering and the runtime, and runs the Node; node logic lives in node/.
//
// It also serves the HTTP API (docs/http.md) on --http-port, with the tokens and anonymous access
// the config file's [http] section gives.
//
//   sluice-node --host 10.0.0.1 --port 7946 --seed 10.0.0.2:7946 --data-dir /var/lib/sluice
//   sluice-node --config /etc/sluice/node.toml --node-id 3     (flags override the file)
//   sluice-node hash-token writer < token.txt                  (prints the config entry of a token)
//
// Logs key=value lines on stdout (`ts=.. level=.. event=..`, runtime/epoll/log_line.h,
// docs/operations.md) and tells a service manager READY=1 once it serves and STOPPING=1 when it
// leaves ($NOTIFY_SOCKET, systemd's Type=notify; nothing without it). Exit codes: 0 after
// SIGINT/SIGTERM (having left the cluster), 1 when the node cannot run (or --xdp=on without BPF),
// 2 on a usage error.
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/cluster_key.h"
#include "node/http/auth.h"
#include "node/server/config_file.h"
#include "node/server/epoll_steering.h"
#include "node/server/node.h"
#include "runtime/epoll/epoll_runtime.h"
#include "runtime/epoll/log_line.h"
#include "runtime/epoll/service_notify.h"

namespace {

namespace rt = sluice::runtime;
using rt::epoll::log_line;
using rt::epoll::LogLevel;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kEventsQueueMax = 1024;
// After SIGINT/SIGTERM: how long the node keeps answering so its leave spreads.
constexpr auto kLeaveWaitMax = std::chrono::seconds(3);
constexpr auto kLeavePollInterval = std::chrono::milliseconds(50);
constexpr size_t kTokenNameBytesMax = 64;  // hash-token NAME

using Flags = sluice::server::NodeSettings;
static_assert(sluice::server::kPartitionPortsMax == CLASSIFY_PARTITION_PORTS_MAX, "the config's limit is the classifier's");

void print_events(std::shared_ptr<rt::Channel<sluice::swim::Event>> events) {
  while (true) {
    auto event = events->receive();
    if (!event.ok()) return;
    // member= stays the address (scripts wait for it); member_id= is the key the node knows it by.
    const std::string named = sluice::swim::to_string(event->named);
    log_line(LogLevel::info, "member_" + std::string(sluice::swim::to_string(event->kind)),
             "member=" + rt::epoll::log_value(event->address) + " member_id=" + std::to_string(event->id) +
                 (named.empty() ? "" : " addresses=" + rt::epoll::log_value(named)) + " incarnation=" + std::to_string(event->incarnation) +
                 " at_ms=" + std::to_string(event->at_ms));
  }
}

// A line whenever the controller's leader or the metadata's node and topic counts change.
void print_controller(rt::Runtime& runtime, const sluice::server::Node& node) {
  std::string last;
  while (runtime.sleep_for(std::chrono::milliseconds(200)).ok()) {
    const sluice::controller::Controller& controller = *node.controller();
    size_t alive = 0;
    for (const auto& [id, member] : controller.metadata().nodes()) alive += member.state == sluice::controller::NodeState::alive ? 1 : 0;
    const std::string line = "leader=" + std::to_string(controller.leader()) +
                             " nodes=" + std::to_string(controller.metadata().nodes().size()) + " nodes_alive=" +
                             std::to_string(alive) + " topics=" + std::to_string(controller.metadata().topics().size());
    if (line != last) log_line(LogLevel::info, "controller", line);
    last = line;
  }
}

void print_stop(const sluice::swim::Driver& driver, const sluice::server::Steering& steering) {
  const sluice::swim::Stats& swim = driver.core().stats();
  std::string line = "live_members=" + std::to_string(driver.core().live_members()) +
                     " swim_datagrams_received=" + std::to_string(swim.datagrams_received) +
                     " swim_dropped_bad_header=" + std::to_string(swim.dropped_bad_header) +
                     " swim_dropped_malformed=" + std::to_string(swim.dropped_malformed) +
                     " swim_dropped_unauthenticated=" + std::to_string(swim.dropped_unauthenticated);
  line += sluice::server::steering_counters(steering);
  log_line(LogLevel::info, "stop", line);
}

// Tells the service manager `state` (READY=1, STOPPING=1); a failure is logged, never fatal: the
// node serves either way, and a unit that waits for READY=1 times out and says so.
void notify(std::string_view state) {
  if (const rt::Status sent = rt::epoll::notify_service_manager(state); !sent.ok()) {
    log_line(LogLevel::warn, "notify_failed", "state=" + std::string(state) + " error=" + rt::epoll::log_quote(sent.to_string()));
  }
}

// The node's main fiber: start the node, log its membership events, leave on SIGINT/SIGTERM. The
// Node lives in `slot`, outside this fiber: its other fibers still use it until the runtime
// unwinds them after this returns.
int run_node(rt::epoll::EpollRuntime& epoll, sluice::server::SteeredRuntime& runtime, const Flags& flags,
             const std::optional<sluice::ClusterKey>& cluster_key, const sluice::server::Steering& steering,
             std::unique_ptr<sluice::server::Node>& slot) {
  sluice::server::NodeConfig config;
  config.cluster_id = flags.cluster_id;
  config.cluster_key = cluster_key;
  config.node_id = flags.node_id;
  config.planted_bug = flags.test_planted_bug;
  if (config.planted_bug != sluice::PlantedBug::none) {
    std::cerr << "sluice-node: TEST ONLY: planted bug " << sluice::to_string(config.planted_bug) << " is on\n";
  }
  sluice::swim::DriverConfig& membership = config.membership.emplace();
  const std::string self = rt::Address{flags.host, flags.membership_port}.to_string();
  membership.core.self_address = self;
  membership.core.cluster_id = flags.cluster_id;
  membership.port = flags.membership_port;
  membership.seeds = flags.seeds;
  // The Raft host with the partition router; the controller where this node is one of its voters.
  // Raft peers are learned from membership (each member announces its Raft endpoint).
  config.raft.emplace().transport.port = flags.raft_port;
  config.rpc.emplace().port = flags.rpc_port;
  config.partitions.emplace();
  // The HTTP API on every node; members announce it in SWIM (named address "api").
  config.http.emplace().port = flags.http_port;
  config.auth = sluice::server::auth_config(flags);
  // The XDP counters on /metrics (sluice_xdp_active 0 without steering): the API cannot read the
  // BPF maps itself. `steering` outlives the node (main destroys the node first).
  config.extra_metrics = [&steering](sluice::http::Metrics& metrics) { sluice::server::export_steering_metrics(steering, metrics); };
  // Every node follows the metadata: the voters run the group, the others join as learners.
  const auto& voters = flags.controller_voters;
  if (!voters.empty()) config.controller.emplace().voters.insert(voters.begin(), voters.end());
  slot = std::make_unique<sluice::server::Node>(runtime, config);
  sluice::server::Node& node = *slot;
  if (const rt::Status started = node.start(); !started.ok()) {
    std::cerr << "sluice-node: starting on " << self << " (data dir " << flags.data_dir << "): " << started.to_string()
              << "\n";
    return kExitFailed;
  }
  auto events = node.membership()->subscribe(kEventsQueueMax);
  log_line(LogLevel::info, "start",
           "node=" + self + " node_id=" + std::to_string(node.id()) + " seeds=" + std::to_string(flags.seeds.size()) +
               " api=" + rt::Address{flags.host, flags.http_port}.to_string() + " anonymous=" + flags.anonymous +
               " tokens=" + std::to_string(flags.tokens.size()));
  // Every listener is bound (start() returned ok): a service manager may start what depends on us.
  notify("READY=1");
  runtime.spawn("print-events", [events] { print_events(events); });
  if (node.controller() != nullptr) runtime.spawn("print-controller", [&runtime, &node] { print_controller(runtime, node); });
  auto signal = epoll.wait_signal({SIGINT, SIGTERM});
  if (!signal.ok()) {
    std::cerr << "sluice-node: waiting for signals: " << signal.status().to_string() << "\n";
    return kExitFailed;
  }
  notify("STOPPING=1");
  log_line(LogLevel::info, "leaving", *signal == SIGINT ? "signal=SIGINT" : "signal=SIGTERM");
  node.leave();
  const rt::Instant give_up = runtime.now() + kLeaveWaitMax;
  while (!node.leave_done() && runtime.now() < give_up) {
    if (!runtime.sleep_for(kLeavePollInterval).ok()) break;
  }
  print_stop(*node.membership(), steering);
  return 0;
}

// Every flag given on the command line (in `cli`) over what the file said (in `flags`).
void override_with_flags(const CLI::App& app, const Flags& cli, Flags& flags) {
  auto given = [&](const char* name) { return app.count(name) > 0; };
  if (given("--host")) flags.host = cli.host;
  if (given("--port")) flags.membership_port = cli.membership_port;
  if (given("--seed")) flags.seeds = cli.seeds;
  if (given("--data-dir")) flags.data_dir = cli.data_dir;
  if (given("--xdp")) flags.xdp = cli.xdp;
  if (given("--interface")) flags.interface = cli.interface;
  if (given("--partition-port")) flags.partition_ports = cli.partition_ports;
  if (given("--cluster-id")) flags.cluster_id = cli.cluster_id;
  if (given("--node-id")) flags.node_id = cli.node_id;
  if (given("--raft-port")) flags.raft_port = cli.raft_port;
  if (given("--rpc-port")) flags.rpc_port = cli.rpc_port;
  if (given("--controller-voters")) flags.controller_voters = cli.controller_voters;
  if (given("--http-port")) flags.http_port = cli.http_port;
  if (given("--anonymous")) flags.anonymous = cli.anonymous;
  if (given("--cluster-secret-file")) flags.cluster_secret_file = cli.cluster_secret_file;
}

// The file (--config) over the defaults, then every flag given over the file.
int parse_flags(int argc, char** argv, Flags& flags) {
  CLI::App app("sluice-node: a sluice node on the real runtime (membership, Raft host, partitions, controller)");
  std::string config_path;
  Flags cli;  // what the command line says; only the options given are applied
  app.footer("Subcommands:\n  hash-token NAME   prints the config entry ([[http.tokens]] entry) of a token read from stdin;\n"
             "                    sluice-node hash-token --help");
  app.add_option("--config", config_path, "TOML configuration file (docs/formats/node-config.md); flags override it");
  app.add_option("--host", cli.host, "numeric IPv4/IPv6 address this node binds to and is reached at (default 127.0.0.1)");
  app.add_option("--port", cli.membership_port, "membership port (SWIM: UDP datagrams, TCP push-pull; default 7946)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--seed", cli.seeds, "a member to join through, host:port (repeatable; replaces the file's seeds)");
  app.add_option("--data-dir", cli.data_dir, "data directory, created if missing (default sluice-data)");
  app.add_option("--xdp", cli.xdp, "membership steering: auto (fall back to UDP, saying why), on, off (default auto)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--interface", cli.interface, "interface for the XDP classifier (default: the one holding --host)");
  app.add_option("--partition-port", cli.partition_ports,
                 "a port the classifier counts as partition traffic (HTTP, inter-node RPC; repeatable, at most 4)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--cluster-id", cli.cluster_id,
                 "the cluster's id: datagrams of another cluster are dropped, and the node refuses a data dir of "
                 "another cluster (default 0)");
  app.add_option("--raft-port", cli.raft_port, "inter-node Raft port (TCP; default 7947)")->check(CLI::Range(1, 65535));
  app.add_option("--rpc-port", cli.rpc_port, "inter-node RPC port (TCP: commands forwarded to the controller leader, ...; default 7948)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--controller-voters", cli.controller_voters,
                 "node ids of the controller's metadata group, comma-separated (1, 3 or 5; the same on every node: voters run it, the others follow as learners)")
      ->delimiter(',');
  app.add_option("--http-port", cli.http_port, "the HTTP API's port (TCP; default 8080)")->check(CLI::Range(1, 65535));
  app.add_option("--anonymous", cli.anonymous,
                 "what a request without a token may do: off, read (every topic), admin (everything); default off")
      ->check(CLI::IsMember({"off", "read", "admin"}));
  app.add_option("--cluster-secret-file", cli.cluster_secret_file,
                 "a file holding the cluster secret (at least 16 bytes, the same on every node): inter-node RPC, Raft "
                 "and SWIM traffic carry a MAC under it and traffic without one is dropped (default: none)");
  std::string planted;
  std::vector<std::string> planted_names;
  for (sluice::PlantedBug bug : sluice::kPlantedBugs) planted_names.emplace_back(sluice::to_string(bug));
  app.add_option("--test-planted-bug", planted,
                 "TESTS ONLY: run with a known bug planted (node/base/planted_bug.h), so a real-fault test can show "
                 "its checkers catch it; never in production (default none)")
      ->check(CLI::IsMember(planted_names));
  app.add_option("--node-id", cli.node_id,
                 "this node's id (recorded in the data dir when it is new; 0: the recorded one, or a random one "
                 "for a new data dir)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (!config_path.empty()) {
    std::ifstream file(config_path);
    std::stringstream text;
    text << file.rdbuf();
    if (!file) {
      std::cerr << "sluice-node: --config " << config_path << ": cannot read it\n";
      return kExitUsage;
    }
    auto parsed = sluice::server::parse_node_config(text.str(), config_path);
    if (!parsed.ok()) {
      std::cerr << "sluice-node: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    flags = std::move(parsed).value();
  }
  override_with_flags(app, cli, flags);
  if (app.count("--test-planted-bug") > 0) flags.test_planted_bug = sluice::parse_planted_bug(planted).value_or(sluice::PlantedBug::none);
  if (auto valid = sluice::server::validate_node_settings(flags); !valid.ok()) {
    std::cerr << "sluice-node: " << valid.message() << "\n";
    return kExitUsage;
  }
  return -1;
}

// The cluster key from flags.cluster_secret_file (docs/formats/rpc.md, "Cluster secret"): the
// BLAKE2b-256 of the file's bytes. kExitUsage when it cannot be read or is too short, else -1.
int load_cluster_key(const Flags& flags, std::optional<sluice::ClusterKey>& key) {
  if (flags.cluster_secret_file.empty()) return -1;
  std::ifstream file(flags.cluster_secret_file, std::ios::binary);
  std::stringstream secret;
  secret << file.rdbuf();
  if (!file) {
    std::cerr << "sluice-node: cluster secret file " << flags.cluster_secret_file << ": cannot read it\n";
    return kExitUsage;
  }
  const std::string bytes = secret.str();
  if (bytes.size() < sluice::ClusterKey::kSecretBytesMin) {
    std::cerr << "sluice-node: cluster secret file " << flags.cluster_secret_file << ": " << bytes.size()
              << " bytes; a secret is at least " << sluice::ClusterKey::kSecretBytesMin
              << " bytes (e.g. head -c 32 /dev/urandom > FILE)\n";
    return kExitUsage;
  }
  key = sluice::ClusterKey::derive(sluice::as_bytes(bytes));
  return -1;
}

// One line of standard input (without its line end), at most `bytes_max` + 1 bytes of it: a longer
// line is refused by the caller. On a terminal it asks for it and does not echo it.
std::string read_secret_line(size_t bytes_max) {
  termios saved{};
  const bool terminal = ::isatty(STDIN_FILENO) != 0 && ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::fprintf(stderr, "token: ");
  }
  std::string line;
  for (int c = std::getchar(); c != EOF && c != '\n' && line.size() <= bytes_max; c = std::getchar()) line.push_back(static_cast<char>(c));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::fprintf(stderr, "\n");
  }
  return line;
}

// Printable ASCII without spaces: what fits an entry's name, or a bearer token in a header.
bool visible_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// sluice-node hash-token NAME: the token from standard input, the entry line of the node config's
// [[http.tokens]] on standard output (docs/formats/node-config.md). The salt comes from the OS
// (libsodium's randombytes_buf): this is the composition root, not node logic, and a salt must
// not repeat across runs.
int hash_token(int argc, char** argv) {
  CLI::App app(
      "sluice-node hash-token: reads a bearer token (one line) from standard input and prints the line that lists it in a "
      "node's config file ([[http.tokens]] entry = \"...\"): NAME:<salt hex>:<hash hex>, the token hashed (BLAKE2b) with "
      "a fresh 16-byte salt. The token itself is not stored: give it to the client.",
      "sluice-node hash-token");
  std::string name;
  app.add_option("NAME", name, "the token's name (printable ASCII, no ':' or spaces, at most 64 bytes)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kExitUsage;
  }
  if (name.empty() || name.size() > kTokenNameBytesMax || !visible_ascii(name) || name.find(':') != std::string::npos) {
    std::cerr << "sluice-node hash-token: NAME is 1 to " << kTokenNameBytesMax << " printable ASCII bytes without ':' or spaces\n";
    return kExitUsage;
  }
  const std::string token = read_secret_line(sluice::http::kTokenBytesMax);
  if (token.empty() || token.size() > sluice::http::kTokenBytesMax || !visible_ascii(token)) {
    std::cerr << "sluice-node hash-token: the token (one line on standard input) is 1 to " << sluice::http::kTokenBytesMax
              << " printable ASCII bytes without spaces\n";
    return kExitUsage;
  }
  if (::sodium_init() < 0) {
    std::cerr << "sluice-node hash-token: libsodium cannot be initialised\n";
    return kExitFailed;
  }
  sluice::Bytes salt(sluice::http::kTokenSaltBytes);
  ::randombytes_buf(salt.data(), salt.size());
  std::printf("%s\n", sluice::http::token_entry_line(name, token, salt).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "hash-token") return hash_token(argc - 1, argv + 1);
  Flags flags;
  if (const int code = parse_flags(argc, argv, flags); code >= 0) return code;
  if (::sodium_init() < 0) {  // before the HTTP API hashes a token: picks libsodium's implementations
    std::cerr << "sluice-node: libsodium cannot be initialised\n";
    return kExitFailed;
  }
  std::optional<sluice::ClusterKey> cluster_key;
  if (const int code = load_cluster_key(flags, cluster_key); code >= 0) return code;
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
  const sluice::server::SteeringRequest request{flags.xdp, flags.host, flags.membership_port, flags.partition_ports, flags.interface};
  if (!sluice::server::set_up_steering(request, steering)) return kExitFailed;
  auto epoll = rt::epoll::EpollRuntime::create(rt::epoll::EpollOptions{flags.data_dir, flags.host});
  if (!epoll.ok()) {
    std::cerr << "sluice-node: " << epoll.status().to_string() << "\n";
    return kExitFailed;
  }
  sluice::server::SteeredRuntime runtime(**epoll, flags.membership_port, std::move(steering.socket));
  std::unique_ptr<sluice::server::Node> node;  // destroyed after run() unwound its fibers
  int exit_code = 0;
  const rt::Status ran = (*epoll)->run([&] { exit_code = run_node(**epoll, runtime, flags, cluster_key, steering, node); });
  if (!ran.ok()) {
    std::cerr << "sluice-node: " << ran.to_string() << "\n";
    return kExitFailed;
  }
  return exit_code;
}
