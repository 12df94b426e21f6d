#include "bpf/loader.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "bpf/classify_maps.h"
#include "classify.skel.h"

namespace sluice::bpf {

namespace {

// libbpf reports through one process-wide print callback without a user pointer, so its last
// words (the tail of a verifier log says what was refused) are kept here for the Status of a
// failed load. Loading happens at node start-up only.
constexpr size_t kLibbpfLogBytesMax = 4096;
std::string& libbpf_log() {
  static std::string log;
  return log;
}

int keep_libbpf_warnings(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.pop_back();
  std::string& log = libbpf_log();
  log += text;
  if (log.size() > kLibbpfLogBytesMax) log.erase(0, log.size() - kLibbpfLogBytesMax);
  return 0;
}

std::string errno_text(int error) { return std::strerror(error); }

// libbpf and bpf() return -errno (or set errno). EPERM means "no privileges" (the verifier
// rejects with EACCES or EINVAL instead, which stay `otherwise`).
Status bpf_error(Errc otherwise, std::string_view what, int error) {
  std::string message = std::string(what) + ": " + errno_text(error);
  if (error == EPERM) {
    return Status(Errc::not_permitted, message + " (BPF needs root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON)");
  }
  if (error == ENOSYS || error == EOPNOTSUPP) return Status(Errc::unsupported, message);
  return Status(otherwise, message);
}

struct BoundAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  uint32_t family = 0;  // 0: any address
};

Result<BoundAddress> parse_host(const std::string& host, uint16_t port) {
  BoundAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.length = sizeof *v4;
    out.family = v4->sin_addr.s_addr == htonl(INADDR_ANY) ? 0 : CLASSIFY_AF_INET;
    return out;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.length = sizeof *v6;
    out.family = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr) ? 0 : CLASSIFY_AF_INET6;
    return out;
  }
  return Status(Errc::invalid_argument, "not a numeric IPv4 or IPv6 address: '" + host + "'");
}

Result<classify_settings> settings_for(const SteeringOptions& options) {
  if (options.membership_port == 0) return Status(Errc::invalid_argument, "membership port 0");
  if (options.partition_ports.size() > CLASSIFY_PARTITION_PORTS_MAX) {
    return Status(Errc::invalid_argument, "more than " + std::to_string(CLASSIFY_PARTITION_PORTS_MAX) + " partition ports");
  }
  SLUICE_ASSIGN_OR_RETURN(BoundAddress bound, parse_host(options.host, options.membership_port));
  classify_settings settings{};
  settings.ports.membership_port = options.membership_port;
  for (size_t i = 0; i < options.partition_ports.size(); ++i) settings.ports.partition_ports[i] = options.partition_ports[i];
  settings.steer_family = bound.family;
  if (bound.family == CLASSIFY_AF_INET) {
    settings.steer_ip4 = reinterpret_cast<const sockaddr_in&>(bound.storage).sin_addr.s_addr;
  } else if (bound.family == CLASSIFY_AF_INET6) {
    std::memcpy(settings.steer_ip6, &reinterpret_cast<const sockaddr_in6&>(bound.storage).sin6_addr, 16);
  }
  return settings;
}

}  // namespace

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::not_permitted: return "not_permitted";
    case Errc::unsupported: return "unsupported";
    case Errc::not_found: return "not_found";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::load_failed: return "load_failed";
    case Errc::attach_failed: return "attach_failed";
    case Errc::io_error: return "io_error";
  }
  return "unknown";
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

OwnedFd& OwnedFd::operator=(OwnedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

std::string_view class_name(int classify_class) {
  switch (classify_class) {
    case CLASSIFY_OTHER: return "other";
    case CLASSIFY_MEMBERSHIP: return "membership";
    case CLASSIFY_PARTITION: return "partition";
    case CLASSIFY_MEMBERSHIP_MALFORMED: return "membership_malformed";
    default: return "unknown";
  }
}

std::string ClassifyCounters::to_key_values() const {
  std::string out;
  for (int c = 0; c < CLASSIFY_CLASSES; ++c) {
    const std::string name(class_name(c));
    out += "xdp_" + name + "_packets=" + std::to_string(packets[c]) + " xdp_" + name + "_bytes=" + std::to_string(bytes[c]) + " ";
  }
  out += "xdp_drops=" + std::to_string(drops) + " xdp_steered=" + std::to_string(steered) +
         " xdp_steer_failures=" + std::to_string(steer_failures);
  return out;
}

Result<std::unique_ptr<MembershipSteering>> MembershipSteering::load(const SteeringOptions& options) {
  std::unique_ptr<MembershipSteering> steering(new MembershipSteering(options));
  SLUICE_TRY(steering->load_and_configure());
  return steering;
}

Result<std::unique_ptr<MembershipSteering>> MembershipSteering::attach(const SteeringOptions& options) {
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<MembershipSteering> steering, load(options));
  SLUICE_TRY(steering->attach_xdp());
  SLUICE_TRY(steering->attach_sk_lookup());
  return steering;
}

MembershipSteering::~MembershipSteering() {
  detach();
  classify__destroy(skeleton_);
}

Status MembershipSteering::load_and_configure() {
  SLUICE_ASSIGN_OR_RETURN(classify_settings settings, settings_for(options_));
  libbpf_set_print(keep_libbpf_warnings);
  libbpf_log().clear();
  skeleton_ = classify__open();
  if (skeleton_ == nullptr) return bpf_error(Errc::load_failed, "opening the classify BPF object", errno);
  if (const int error = classify__load(skeleton_); error != 0) {
    const Status status = bpf_error(Errc::load_failed, "loading the classify BPF programs", -error);
    if (status.code() != Errc::load_failed) return status;
    return Status(status.code(), status.message() + "; libbpf said: " + libbpf_log());
  }
  const uint32_t key = 0;
  if (bpf_map__update_elem(skeleton_->maps.settings, &key, sizeof key, &settings, sizeof settings, BPF_ANY) != 0) {
    return bpf_error(Errc::io_error, "writing the classify settings map", errno);
  }
  return Status();
}

Status MembershipSteering::attach_xdp() {
  if (options_.interface.empty()) return Status();
  const unsigned ifindex = ::if_nametoindex(options_.interface.c_str());
  if (ifindex == 0) return Status(Errc::not_found, "interface '" + options_.interface + "': " + errno_text(errno));
  // SKB (generic) mode: works on every interface, veth and loopback included; the classifier
  // costs far less than the stack that follows it, so native mode would buy little here.
  LIBBPF_OPTS(bpf_link_create_opts, link_options, .flags = XDP_FLAGS_SKB_MODE);
  const int link = bpf_link_create(bpf_program__fd(skeleton_->progs.classify_xdp), static_cast<int>(ifindex), BPF_XDP,
                                   &link_options);
  if (link < 0) {
    const int error = -link;
    if (error == EBUSY || error == EEXIST) {
      return Status(Errc::attach_failed, "interface '" + options_.interface + "' already runs an XDP program");
    }
    return bpf_error(Errc::attach_failed, "attaching XDP (SKB mode) to '" + options_.interface + "'", error);
  }
  xdp_link_ = OwnedFd(link);
  return Status();
}

Status MembershipSteering::attach_sk_lookup() {
  OwnedFd netns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return Status(Errc::io_error, "open /proc/self/ns/net: " + errno_text(errno));
  sk_lookup_link_ = bpf_program__attach_netns(skeleton_->progs.steer_membership, netns.get());
  if (sk_lookup_link_ == nullptr) {
    const int error = errno;
    return bpf_error(Errc::attach_failed, "attaching sk_lookup to this network namespace", error);
  }
  return Status();
}

Result<OwnedFd> MembershipSteering::open_membership_socket() {
  SLUICE_ASSIGN_OR_RETURN(BoundAddress bound, parse_host(options_.host, options_.membership_port));
  OwnedFd fd(::socket(bound.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status(Errc::io_error, "socket: " + errno_text(errno));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bound.storage), bound.length) != 0) {
    return Status(Errc::io_error, "bind " + options_.host + " port " + std::to_string(options_.membership_port) + ": " +
                                      errno_text(errno));
  }
  SLUICE_TRY(register_membership_socket(fd.get()));
  return fd;
}

Status MembershipSteering::register_membership_socket(int fd) {
  const uint32_t key = 0;
  const uint64_t value = static_cast<uint64_t>(fd);
  if (bpf_map__update_elem(skeleton_->maps.membership_socket, &key, sizeof key, &value, sizeof value, BPF_ANY) != 0) {
    return bpf_error(Errc::io_error, "registering the membership socket in the sockmap", errno);
  }
  return Status();
}

Result<ClassifyCounters> MembershipSteering::counters() const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return bpf_error(Errc::io_error, "libbpf_num_possible_cpus", -cpus);
  std::vector<classify_counters> per_cpu(static_cast<size_t>(cpus));
  const uint32_t key = 0;
  if (bpf_map__lookup_elem(skeleton_->maps.counters, &key, sizeof key, per_cpu.data(),
                           per_cpu.size() * sizeof(classify_counters), 0) != 0) {
    return bpf_error(Errc::io_error, "reading the classify counters", errno);
  }
  ClassifyCounters sum;
  for (const classify_counters& cpu : per_cpu) {
    for (int c = 0; c < CLASSIFY_CLASSES; ++c) {
      sum.packets[c] += cpu.packets[c];
      sum.bytes[c] += cpu.bytes[c];
    }
    sum.drops += cpu.drops;
    sum.steered += cpu.steered;
    sum.steer_failures += cpu.steer_failures;
  }
  return sum;
}

void MembershipSteering::detach() {
  xdp_link_ = OwnedFd();
  if (sk_lookup_link_ != nullptr) {
    bpf_link__destroy(sk_lookup_link_);
    sk_lookup_link_ = nullptr;
  }
}

int MembershipSteering::xdp_program_fd() const { return bpf_program__fd(skeleton_->progs.classify_xdp); }

int MembershipSteering::sk_lookup_program_fd() const { return bpf_program__fd(skeleton_->progs.steer_membership); }

Result<std::string> interface_for_address(const std::string& host) {
  in6_addr want6{};
  in_addr want4{};
  const bool v4 = ::inet_pton(AF_INET, host.c_str(), &want4) == 1;
  if (!v4 && ::inet_pton(AF_INET6, host.c_str(), &want6) != 1) {
    return Status(Errc::invalid_argument, "not a numeric IPv4 or IPv6 address: '" + host + "'");
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return Status(Errc::io_error, "getifaddrs: " + errno_text(errno));
  std::string found;
  for (const ifaddrs* entry = list; entry != nullptr && found.empty(); entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    if (v4 && entry->ifa_addr->sa_family == AF_INET &&
        reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr.s_addr == want4.s_addr) {
      found = entry->ifa_name;
    }
    if (!v4 && entry->ifa_addr->sa_family == AF_INET6 &&
        std::memcmp(&reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr, &want6, sizeof want6) == 0) {
      found = entry->ifa_name;
    }
  }
  ::freeifaddrs(list);
  if (found.empty()) return Status(Errc::not_found, "no interface holds " + host + " (name one with --interface)");
  return found;
}

}  // namespace sluice::bpf
