// Root-only end-to-end check of the membership steering, run by tests/xdp/netns_test.sh inside
// the first of two network namespaces joined by a veth pair:
//
//   xdp_steering_check --interface IF --host A --port P --partition-port Q --peer-netns PATH
//
// It attaches the XDP classifier (SKB mode) to IF and sk_lookup to this namespace, registers a
// membership socket bound to an *ephemeral* port (so only steering can bring it datagrams for
// P) and listens on TCP Q. A child process enters the peer namespace and sends valid SWIM
// datagrams and malformed ones to A:P, then pushes bytes through a TCP connection to A:Q and
// reads them back. Checks: every valid datagram, and nothing else, reaches the membership
// socket; malformed ones are dropped and counted at XDP; the TCP (partition) traffic arrives
// intact and is counted as partition. Prints the counters as key=value lines. Exit 0 ok, 1 fail.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/loader.h"
#include "tests/xdp/frames.h"

namespace {

namespace bpf = sluice::bpf;
using sluice::xdp_testing::swim_datagram;

constexpr int kValidDatagrams = 50;
constexpr size_t kTcpBytes = 64 * 1024;  // below the socket buffers: the one-shot echo cannot deadlock
constexpr int kPollSliceMs = 100;
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr auto kDrain = std::chrono::milliseconds(300);  // after the peer exited: late datagrams

struct Args {
  std::string interface, host, peer_netns;
  uint16_t port = 7946;
  uint16_t partition_port = 8080;
};

int fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  return 1;
}

sockaddr_in ipv4(const std::string& host, uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  return address;
}

// The datagrams the peer sends that must never reach the membership socket.
std::vector<std::vector<uint8_t>> malformed_datagrams() {
  std::vector<std::vector<uint8_t>> out;
  for (const size_t at : {size_t{0}, size_t{4}, size_t{5}, size_t{7}}) {  // magic, version, flags, length
    std::vector<uint8_t> datagram = swim_datagram(24);
    datagram[at] ^= 0x40;
    out.push_back(datagram);
  }
  out.push_back({'S', 'W', 'I', 'M'});  // shorter than the header
  out.push_back({});                     // empty
  return out;
}

std::vector<uint8_t> valid_datagram(int index) { return swim_datagram(16 + static_cast<size_t>(index), static_cast<uint8_t>(index)); }

// The child: in the peer namespace, send the datagrams, then echo kTcpBytes over TCP.
int run_peer(const Args& args) {
  const int netns = ::open(args.peer_netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0 || ::setns(netns, CLONE_NEWNET) != 0) return fail("setns " + args.peer_netns + ": " + std::strerror(errno));
  const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in to = ipv4(args.host, args.port);
  auto send = [&](const std::vector<uint8_t>& bytes) {
    return ::sendto(udp, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(bytes.size());
  };
  for (const auto& datagram : malformed_datagrams()) {
    if (!send(datagram)) return fail("sendto (malformed)");
  }
  for (int i = 0; i < kValidDatagrams; ++i) {
    if (!send(valid_datagram(i))) return fail("sendto");
  }
  const int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in server = ipv4(args.host, args.partition_port);
  if (::connect(tcp, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) return fail("connect partition port");
  std::vector<uint8_t> sent(kTcpBytes);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + 3);
  if (::send(tcp, sent.data(), sent.size(), 0) != static_cast<ssize_t>(sent.size())) return fail("send partition bytes");
  ::shutdown(tcp, SHUT_WR);
  std::vector<uint8_t> echoed;
  uint8_t buffer[65536];
  for (ssize_t n; (n = ::recv(tcp, buffer, sizeof buffer, 0)) > 0;) echoed.insert(echoed.end(), buffer, buffer + n);
  if (echoed != sent) return fail("partition bytes came back changed (" + std::to_string(echoed.size()) + " bytes)");
  return 0;
}

struct Observed {
  std::vector<std::vector<uint8_t>> datagrams;
  size_t tcp_bytes_echoed = 0;
  int peer_status = -1;
};

// Serves the membership socket and the partition listener until the peer has exited and the
// socket stayed quiet for a little while, or the deadline passes.
void serve(int membership, int listener, pid_t peer, Observed& seen) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  auto quiet_since = std::chrono::steady_clock::time_point::max();
  int connection = -1;
  bool connection_done = false;
  while (std::chrono::steady_clock::now() < deadline && std::chrono::steady_clock::now() - quiet_since < kDrain) {
    pollfd fds[3] = {{membership, POLLIN, 0}, {listener, POLLIN, 0}, {connection, POLLIN, 0}};
    ::poll(fds, connection >= 0 ? 3 : 2, kPollSliceMs);
    uint8_t buffer[65536];
    for (ssize_t n; (n = ::recv(membership, buffer, sizeof buffer, MSG_DONTWAIT)) >= 0;) {
      seen.datagrams.emplace_back(buffer, buffer + n);
    }
    if (connection < 0 && !connection_done && (fds[1].revents & POLLIN)) connection = ::accept(listener, nullptr, nullptr);
    if (connection >= 0 && (fds[2].revents & (POLLIN | POLLHUP))) {
      const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
      if (n > 0 && ::send(connection, buffer, static_cast<size_t>(n), 0) == n) seen.tcp_bytes_echoed += static_cast<size_t>(n);
      if (n <= 0) {  // the peer is done sending: finish our side, it then reads EOF and exits
        ::shutdown(connection, SHUT_WR);
        ::close(connection);
        connection = -1;
        connection_done = true;
      }
    }
    int status = 0;
    if (seen.peer_status < 0 && ::waitpid(peer, &status, WNOHANG) == peer) {
      seen.peer_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
      quiet_since = std::chrono::steady_clock::now();
    }
  }
  if (connection >= 0) ::close(connection);
}

int check(const Observed& seen, const bpf::ClassifyCounters& counters) {
  std::printf("datagrams_received=%zu tcp_bytes_echoed=%zu peer_status=%d\n%s\n", seen.datagrams.size(),
              seen.tcp_bytes_echoed, seen.peer_status, counters.to_key_values().c_str());
  if (seen.peer_status != 0) return fail("the peer failed (status " + std::to_string(seen.peer_status) + ")");
  if (seen.datagrams.size() != kValidDatagrams) return fail("membership socket got " + std::to_string(seen.datagrams.size()) + " datagrams, want " + std::to_string(kValidDatagrams));
  for (int i = 0; i < kValidDatagrams; ++i) {
    if (seen.datagrams[static_cast<size_t>(i)] != valid_datagram(i)) return fail("datagram " + std::to_string(i) + " differs");
  }
  const uint64_t malformed = malformed_datagrams().size();
  if (counters.packets[CLASSIFY_MEMBERSHIP] != kValidDatagrams) return fail("membership packets counted");
  if (counters.packets[CLASSIFY_MEMBERSHIP_MALFORMED] != malformed || counters.drops != malformed) {
    return fail("malformed packets/drops counted");
  }
  if (counters.steered != kValidDatagrams) return fail("steered lookups");
  if (counters.packets[CLASSIFY_PARTITION] == 0 || counters.bytes[CLASSIFY_PARTITION] < kTcpBytes) {
    return fail("partition traffic not counted");
  }
  std::printf("ok: %d SWIM datagrams steered to a socket on another port, %llu malformed dropped at XDP, %zu partition bytes echoed\n",
              kValidDatagrams, static_cast<unsigned long long>(malformed), seen.tcp_bytes_echoed);
  return 0;
}

int run(const Args& args) {
  bpf::SteeringOptions options{args.interface, args.host, args.port, {args.partition_port}};
  auto steering = bpf::MembershipSteering::attach(options);
  if (!steering.ok()) return fail("attach: " + steering.status().to_string());
  // The membership socket on an ephemeral port: only sk_lookup can deliver datagrams for P to it.
  const int membership = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const sockaddr_in any_port = ipv4(args.host, 0);
  if (::bind(membership, reinterpret_cast<const sockaddr*>(&any_port), sizeof any_port) != 0) return fail("bind membership");
  if (auto registered = (*steering)->register_membership_socket(membership); !registered.ok()) return fail(registered.to_string());
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in partition = ipv4(args.host, args.partition_port);
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&partition), sizeof partition) != 0 || ::listen(listener, 4) != 0) {
    return fail("listen on the partition port");
  }
  const pid_t peer = ::fork();
  if (peer == 0) ::_exit(run_peer(args));
  Observed seen;
  serve(membership, listener, peer, seen);
  auto counters = (*steering)->counters();
  if (!counters.ok()) return fail(counters.status().to_string());
  return check(seen, *counters);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("xdp_steering_check: membership steering end to end (run by tests/xdp/netns_test.sh)");
  Args args;
  app.add_option("--interface", args.interface)->required();
  app.add_option("--host", args.host)->required();
  app.add_option("--port", args.port);
  app.add_option("--partition-port", args.partition_port);
  app.add_option("--peer-netns", args.peer_netns, "e.g. /var/run/netns/NAME")->required();
  CLI11_PARSE(app, argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return run(args);
}
