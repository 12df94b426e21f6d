// sluice-xdp-bench: figures for the membership classifier, as key=value lines (docs/xdp.md).
//
//   sluice-xdp-bench [--packets N] [--repeat R]
//
// - classify_user_*: the shared classifier (bpf/classify.h) in user space, N frames per kind,
//   cycling through 64 copies so the loop is not one cached frame.
// - xdp_prog_*: the real XDP program via BPF_PROG_TEST_RUN with `repeat` R; the kernel reports the
//   mean nanoseconds per run. Baseline: bpf/minimal.bpf.c (count and pass), so the difference is
//   the classifier's own cost. sk_lookup_prog_ns: the steering program per socket lookup.
//   Needs root; otherwise one line says why and those figures are absent.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bpf/loader.h"
#include "minimal.skel.h"
#include "tests/xdp/frames.h"

namespace {

namespace bpf = sluice::bpf;
using namespace sluice::xdp_testing;

constexpr size_t kCopies = 64;

struct Kind {
  const char* name;
  Frame frame;
};

std::vector<Kind> kinds() {
  FrameSpec tagged;
  tagged.vlan_tpids = {0x8100};
  tagged.ip_version = 6;
  tagged.payload = swim_datagram(120);
  Frame malformed = membership_frame(4, 120);
  malformed[malformed.size() - 128] = 'X';
  return {{"membership", membership_frame(4, 120)},
          {"membership_vlan_v6", build_frame(tagged)},
          {"partition", tcp_frame(kHttpPort, 4, 512)},
          {"other", tcp_frame(22, 4, 64)},
          {"malformed", malformed}};
}

void classify_user(const Kind& kind, uint64_t packets) {
  const classify_config config = test_config();
  std::vector<Frame> copies(kCopies, kind.frame);
  uint64_t verdicts = 0;
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < packets; ++i) {
    const Frame& frame = copies[i % kCopies];
    const uint8_t* data = frame.data();
    asm volatile("" : "+r"(data));  // the compiler may not hoist the classification out of the loop
    verdicts += static_cast<uint64_t>(classify_frame(&config, data, data + frame.size()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The verdicts are summed so the loop has a result; every frame of a kind gets the same one.
  const int verdict = static_cast<int>(verdicts / packets);
  std::printf("classify_user_%s_ns_per_packet=%.2f classify_user_%s_packets_per_second=%.0f classify_user_%s_class=%s\n",
              kind.name, seconds * 1e9 / static_cast<double>(packets), kind.name,
              static_cast<double>(packets) / seconds, kind.name, std::string(bpf::class_name(verdict)).c_str());
}

// Mean ns per run of `program` on `frame`, as the kernel measures it; -1 on failure.
double test_run_ns(int program, const Frame& frame, uint32_t repeat) {
  Frame out(frame.size() + 64);
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(program, &opts) != 0) return -1;
  return opts.duration;
}

double sk_lookup_ns(int program, uint32_t repeat) {
  bpf_sk_lookup context{};
  context.family = AF_INET;
  context.protocol = IPPROTO_UDP;
  ::inet_pton(AF_INET, "10.213.0.1", &context.local_ip4);
  context.local_port = kMembershipPort;
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.ctx_in = &context;
  opts.ctx_size_in = sizeof context;
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(program, &opts) != 0) return -1;
  return opts.duration;
}

int bench_programs(uint32_t repeat) {
  bpf::SteeringOptions options{"", "10.213.0.1", kMembershipPort, {kHttpPort, kRpcPort}};
  auto steering = bpf::MembershipSteering::load(options);
  if (!steering.ok()) {
    std::printf("xdp_prog=skipped reason=\"%s\"\n", steering.status().to_string().c_str());
    return 0;
  }
  minimal* baseline = minimal__open_and_load();
  if (baseline == nullptr) {
    std::printf("xdp_prog=skipped reason=\"loading bpf/minimal.bpf.c failed\"\n");
    return 0;
  }
  const double minimal_ns = test_run_ns(bpf_program__fd(baseline->progs.count_packets), membership_frame(4, 120), repeat);
  std::printf("xdp_prog_repeat=%u xdp_prog_minimal_ns=%.0f\n", repeat, minimal_ns);
  for (const Kind& kind : kinds()) {
    std::printf("xdp_prog_%s_ns=%.0f\n", kind.name, test_run_ns((*steering)->xdp_program_fd(), kind.frame, repeat));
  }
  // With a socket registered, so the figure includes the assignment.
  const int socket = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (socket >= 0 && ::bind(socket, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
      (*steering)->register_membership_socket(socket).ok()) {
    std::printf("sk_lookup_prog_steer_ns=%.0f\n", sk_lookup_ns((*steering)->sk_lookup_program_fd(), repeat));
  }
  if (socket >= 0) ::close(socket);
  minimal__destroy(baseline);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("sluice-xdp-bench: classifier figures (user space, and the XDP program via BPF_PROG_TEST_RUN)");
  uint64_t packets = 20'000'000;
  uint32_t repeat = 1'000'000;
  app.add_option("--packets", packets, "frames per kind for the user-space classifier")->capture_default_str();
  app.add_option("--repeat", repeat, "BPF_PROG_TEST_RUN repeat count")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // usage errors exit 2, like every sluice tool
  }
  libbpf_set_print([](libbpf_print_level, const char*, va_list) { return 0; });
  for (const Kind& kind : kinds()) classify_user(kind, packets);
  return bench_programs(repeat);
}
