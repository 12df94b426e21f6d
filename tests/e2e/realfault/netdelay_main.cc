// sluice-netdelay: delay, jitter and reorder for the real-fault harness on kernels without
// sch_netem (docs/realfault.md, "Delay and reorder without netem"). An iptables NFQUEUE rule in a
// node's namespace hands it the node's packets; it holds each one as DelayQueue decides
// (delay_queue.h) and accepts it when due. The harness starts it for a fault and stops it with
// SIGTERM: everything still held is accepted, and the counts are printed as key=value lines.
// The rule carries --queue-bypass, so packets flow undelayed whenever no sluice-netdelay listens.
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/e2e/realfault/delay_queue.h"

namespace {

using sluice::realfault::DelayConfig;
using sluice::realfault::DelayQueue;

constexpr const char* kUsage = R"(usage: sluice-netdelay --queue N --delay-ms D [--jitter-ms J] [--reorder-pct P] [--seed S]
                       [--held-max H] [--duration-s T]

Holds the packets of NFQUEUE queue N (an iptables rule sends them, e.g. `iptables -I OUTPUT -o
eth0 -j NFQUEUE --queue-num N --queue-bypass`) and accepts each one after a delay drawn uniformly
in [D - J, D + J] ms (J wider than the gap between packets reorders them); P percent of the
packets are accepted at once, ahead of the held ones. At most H packets are held (default 4096;
past that a packet is accepted at once). Runs until SIGTERM or SIGINT, or T seconds (default
3600), then accepts whatever it holds (and at once whatever still arrives) and prints
packets_arrived=, packets_delayed=, packets_reordered=, packets_sent_at_once=, packets_over_limit=,
packets_passed_while_stopping= on stdout. Needs CAP_NET_ADMIN.

  --queue N        the NFQUEUE queue number (0..65535)
  --delay-ms D     base delay, 0..5000
  --jitter-ms J    jitter, 0..5000 (default 0)
  --reorder-pct P  packets sent at once, 0..100 (default 0)
  --seed S         the seed of the delays (default 1)
  --held-max H     packets held at most, 1..65536 (default 4096)
  --duration-s T   stop after T seconds, 1..86400 (default 3600)
  --help           this text
)";

struct Options {
  uint32_t queue = 0;
  bool queue_given = false;
  bool delay_given = false;
  DelayConfig delay;
  uint64_t seed = 1;
  int64_t duration_s = 3600;
};

bool parse_number(std::string_view text, uint64_t low, uint64_t high, uint64_t& out) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < low || value > high) return false;
  out = value;
  return true;
}

// Options from argv; 0 to run, else the exit code (2: usage error, 0: --help printed).
int parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return std::cout << kUsage, -1;
    if (i + 1 >= argc) return std::cerr << "sluice-netdelay: " << flag << " needs a value (see --help)\n", 2;
    const std::string_view value = argv[++i];
    uint64_t number = 0;
    bool ok = true;
    if (flag == "--queue") {
      ok = parse_number(value, 0, 65535, number);
      options.queue = static_cast<uint32_t>(number);
      options.queue_given = true;
    } else if (flag == "--delay-ms") {
      ok = parse_number(value, 0, 5000, number);
      options.delay.delay_us = static_cast<int64_t>(number) * 1000;
      options.delay_given = true;
    } else if (flag == "--jitter-ms") {
      ok = parse_number(value, 0, 5000, number);
      options.delay.jitter_us = static_cast<int64_t>(number) * 1000;
    } else if (flag == "--reorder-pct") {
      ok = parse_number(value, 0, 100, number);
      options.delay.reorder_percent = static_cast<uint32_t>(number);
    } else if (flag == "--seed") {
      ok = parse_number(value, 0, UINT64_MAX, options.seed);
    } else if (flag == "--held-max") {
      ok = parse_number(value, 1, 65536, number);
      options.delay.held_max = number;
    } else if (flag == "--duration-s") {
      ok = parse_number(value, 1, 86400, number);
      options.duration_s = static_cast<int64_t>(number);
    } else {
      return std::cerr << "sluice-netdelay: unknown flag " << flag << " (see --help)\n", 2;
    }
    if (!ok) return std::cerr << "sluice-netdelay: " << flag << ": bad value '" << value << "' (see --help)\n", 2;
  }
  if (!options.queue_given || !options.delay_given) return std::cerr << "sluice-netdelay: --queue and --delay-ms are required (see --help)\n", 2;
  return 0;
}

int64_t now_us() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
}

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Delayer {
  DelayQueue queue;
  nfq_q_handle* handle = nullptr;
  uint64_t verdict_errors = 0;
  // Stopping: packets still arriving (from the socket's buffer, or handed to the callback while
  // nfq_destroy_queue waits for the kernel's answer) are accepted at once, never left unanswered.
  bool stopping = false;
  uint64_t passed_while_stopping = 0;
  std::vector<uint32_t> due;

  void accept(uint32_t id) {
    if (nfq_set_verdict(handle, id, NF_ACCEPT, 0, nullptr) < 0) ++verdict_errors;
  }
  void accept_due() {
    for (uint32_t id : due) accept(id);
    due.clear();
  }
};

int on_packet(nfq_q_handle*, nfgenmsg*, nfq_data* packet, void* data) {
  auto& delayer = *static_cast<Delayer*>(data);
  const nfqnl_msg_packet_hdr* header = nfq_get_msg_packet_hdr(packet);
  if (header == nullptr) return 0;
  const uint32_t id = ntohl(header->packet_id);
  if (delayer.stopping) {
    ++delayer.passed_while_stopping;
    delayer.accept(id);
  } else if (!delayer.queue.arrive(id, now_us())) {
    delayer.accept(id);
  }
  return 0;
}

int fail(const std::string& what) {
  std::cerr << "sluice-netdelay: " << what << ": " << std::strerror(errno) << "\n";
  return 1;
}

// One read of the queue's socket, its packets handed to on_packet: what recv returned.
ssize_t receive(nfq_handle* library, std::vector<char>& buffer) {
  const ssize_t received = recv(nfq_fd(library), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (received > 0) nfq_handle_packet(library, buffer.data(), static_cast<int>(received));
  return received;
}

// A failed read worth reading again: nothing there yet, a signal, or ENOBUFS (the kernel dropped
// queue messages; their packets fail open, NFQA_CFG_F_FAIL_OPEN).
bool transient(int error) { return error == EAGAIN || error == EINTR || error == ENOBUFS; }

// Receives and releases until stopped: ppoll waits for a packet, the next release or a signal
// (unblocked only while waiting, so none is lost between checks).
int serve(nfq_handle* library, Delayer& delayer, const Options& options, const sigset_t& waiting_mask) {
  const int fd = nfq_fd(library);
  const int64_t stop_at = now_us() + options.duration_s * 1'000'000;
  std::vector<char> buffer(1 << 16);
  while (g_stop == 0 && now_us() < stop_at) {
    const int64_t until = std::min(stop_at, delayer.queue.next_due_us().value_or(stop_at));
    const int64_t wait_us = std::max<int64_t>(0, until - now_us());
    const timespec timeout{static_cast<time_t>(wait_us / 1'000'000), static_cast<long>(wait_us % 1'000'000) * 1000};
    pollfd poll_fd{fd, POLLIN, 0};
    const int ready = ppoll(&poll_fd, 1, &timeout, &waiting_mask);
    if (ready < 0 && errno != EINTR) return fail("ppoll");
    if (ready > 0 && receive(library, buffer) < 0 && !transient(errno)) return fail("recv");
    delayer.queue.due(now_us(), delayer.due);
    delayer.accept_due();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const int code = parse_options(argc, argv, options); code != 0) return code < 0 ? 0 : code;

  sigset_t blocked, waiting_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, &waiting_mask);  // waiting_mask: the mask before, signals open
  struct sigaction action{};
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  nfq_handle* library = nfq_open();
  if (library == nullptr) return fail("nfq_open");
  Delayer delayer{DelayQueue(options.delay, options.seed)};
  delayer.handle = nfq_create_queue(library, static_cast<uint16_t>(options.queue), &on_packet, &delayer);
  if (delayer.handle == nullptr) return fail("binding NFQUEUE queue " + std::to_string(options.queue));
  if (nfq_set_mode(delayer.handle, NFQNL_COPY_META, 0) < 0) return fail("nfq_set_mode");
  (void)nfq_set_queue_maxlen(delayer.handle, static_cast<uint32_t>(options.delay.held_max * 2));
  (void)nfq_set_queue_flags(delayer.handle, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);

  const int served = serve(library, delayer, options, waiting_mask);
  delayer.stopping = true;
  std::vector<char> buffer(1 << 16);
  for (int reads = 0; reads < 10'000; ++reads) {  // what the socket already holds
    const ssize_t received = receive(library, buffer);
    if (received == 0 || (received < 0 && (errno == EAGAIN || !transient(errno)))) break;
  }
  delayer.queue.drain(delayer.due);
  delayer.accept_due();
  nfq_destroy_queue(delayer.handle);
  nfq_close(library);
  const auto& stats = delayer.queue.stats();
  std::cout << "packets_arrived=" << stats.arrived << "\npackets_delayed=" << stats.delayed << "\npackets_reordered=" << stats.reordered
            << "\npackets_sent_at_once=" << stats.sent_at_once << "\npackets_over_limit=" << stats.over_limit
            << "\npackets_passed_while_stopping=" << delayer.passed_while_stopping
            << "\nverdict_errors=" << delayer.verdict_errors << std::endl;
  return served;
}
