// User space side of bpf/classify.bpf.c: loads the programs, writes the node's ports, attaches
// the XDP classifier (SKB mode) to an interface and the sk_lookup steering program to this
// process's network namespace, hands out the membership socket the program steers to, reads the
// counters, and detaches. docs/xdp.md has the why; errors are values, nothing throws.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/classify.h"
#include "node/base/status.h"

struct classify;  // the bpftool skeleton (classify.skel.h), kept out of this header
struct bpf_link;

namespace sluice::bpf {

enum class Errc {
  ok = 0,
  not_permitted,     // no BPF privileges (root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON)
  unsupported,       // the kernel lacks bpf() or a program/map/attach type we need
  not_found,         // no such interface, or no interface holds the address
  invalid_argument,  // bad options (port 0, too many partition ports, not a numeric address)
  load_failed,       // the verifier or libbpf refused the object: a bug, the message says more
  attach_failed,     // e.g. the interface already runs another XDP program
  io_error,          // a socket or map call failed
};

std::string_view to_string(Errc code);

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

// Owns one file descriptor; -1 means none.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(OwnedFd&& other) noexcept : fd_(other.release()) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// The programs' counters summed over CPUs.
struct ClassifyCounters {
  std::array<uint64_t, CLASSIFY_CLASSES> packets{};  // by classify_class
  std::array<uint64_t, CLASSIFY_CLASSES> bytes{};
  uint64_t drops = 0;           // malformed membership frames dropped at XDP
  uint64_t steered = 0;         // UDP lookups assigned to the membership socket
  uint64_t steer_failures = 0;  // lookups for the membership port that were not assigned

  // "xdp_membership_packets=3 xdp_membership_bytes=402 ... xdp_steered=3": for logs and metrics.
  std::string to_key_values() const;
};

std::string_view class_name(int classify_class);  // "other", "membership", ...

struct SteeringOptions {
  std::string interface;    // XDP attaches here in SKB mode; empty: no XDP (steering only)
  std::string host;         // numeric address of the membership socket; 0.0.0.0 / :: = any
  uint16_t membership_port = 0;
  std::vector<uint16_t> partition_ports;  // HTTP, inter-node RPC; at most CLASSIFY_PARTITION_PORTS_MAX
};

class MembershipSteering {
 public:
  // Loads the programs and writes the settings; attaches nothing (BPF_PROG_TEST_RUN, benches).
  static Result<std::unique_ptr<MembershipSteering>> load(const SteeringOptions& options);
  // load(), then XDP on options.interface (if any) and sk_lookup on this network namespace. Both
  // are bpf_links: they also go away when the process dies, never outliving the node.
  static Result<std::unique_ptr<MembershipSteering>> attach(const SteeringOptions& options);
  ~MembershipSteering();
  MembershipSteering(const MembershipSteering&) = delete;
  MembershipSteering& operator=(const MembershipSteering&) = delete;

  // A non-blocking UDP socket bound to host:membership_port and registered as the steering
  // target. The caller owns it (the runtime adopts it as the SWIM driver's datagram socket).
  Result<OwnedFd> open_membership_socket();
  // Makes `fd`, any bound UDP socket of this network namespace, the steering target (replacing
  // the previous one). The map keeps its own reference: closing `fd` later unregisters it.
  Status register_membership_socket(int fd);

  Result<ClassifyCounters> counters() const;
  // Detaches both programs (idempotent; the destructor calls it).
  void detach();

  int xdp_program_fd() const;
  int sk_lookup_program_fd() const;
  const SteeringOptions& options() const { return options_; }

 private:
  explicit MembershipSteering(SteeringOptions options) : options_(std::move(options)) {}
  Status load_and_configure();
  Status attach_xdp();
  Status attach_sk_lookup();

  SteeringOptions options_;
  ::classify* skeleton_ = nullptr;
  OwnedFd xdp_link_;
  ::bpf_link* sk_lookup_link_ = nullptr;
};

// The interface that holds the numeric address `host`, for attaching XDP when none is named.
// not_found when none does (a wildcard or a remote address).
Result<std::string> interface_for_address(const std::string& host);

}  // namespace sluice::bpf
