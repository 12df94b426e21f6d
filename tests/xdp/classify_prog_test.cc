// bpf/classify.bpf.c under BPF_PROG_TEST_RUN, loaded and configured by the real loader: the XDP
// program's verdict for every class (malformed membership dropped, everything else passed
// byte-for-byte), its per-class packet/byte and drop counters, and the sk_lookup program's
// steering decision (which socket it selects, and when it stays out of the way). Needs root
// (or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON); otherwise main() exits 77, which ctest reports as
// skipped.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "bpf/loader.h"
#include "tests/xdp/frames.h"

namespace sluice::xdp_testing {

constexpr int kExitSkip = 77;

bpf::SteeringOptions test_options() {
  bpf::SteeringOptions options;
  options.host = "10.213.0.1";
  options.membership_port = kMembershipPort;
  options.partition_ports = {kHttpPort, kRpcPort};
  return options;
}

namespace {

constexpr uint32_t kRepeat = 100;

struct RunResult {
  uint32_t verdict = 0;
  bool unchanged = false;
};

class ClassifyProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = bpf::MembershipSteering::load(test_options());
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    steering_ = std::move(loaded).value();
  }

  RunResult run_xdp(const Frame& frame, uint32_t repeat = 1) {
    Frame out(frame.size() + 64);
    bpf_test_run_opts opts{};
    opts.sz = sizeof opts;
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.data_out = out.data();
    opts.data_size_out = static_cast<uint32_t>(out.size());
    opts.repeat = repeat;
    EXPECT_EQ(bpf_prog_test_run_opts(steering_->xdp_program_fd(), &opts), 0) << std::strerror(errno);
    out.resize(opts.data_size_out);
    return RunResult{opts.retval, out == frame};
  }

  bpf::ClassifyCounters counters() {
    auto read = steering_->counters();
    EXPECT_TRUE(read.ok()) << read.status().to_string();
    return read.ok() ? *read : bpf::ClassifyCounters{};
  }

  std::unique_ptr<bpf::MembershipSteering> steering_;
};

TEST_F(ClassifyProgramTest, VerdictPerClass) {
  struct Case {
    const char* name;
    Frame frame;
    uint32_t verdict;
  };
  FrameSpec bad_magic;
  bad_magic.payload = swim_datagram(16);
  bad_magic.payload[0] = 'X';
  FrameSpec tagged;
  tagged.vlan_tpids = {0x88a8, 0x8100};
  tagged.ip_version = 6;
  tagged.payload = swim_datagram(40);
  const Case cases[] = {
      {"membership v4", membership_frame(4), XDP_PASS},
      {"membership v6", membership_frame(6), XDP_PASS},
      {"membership QinQ v6", build_frame(tagged), XDP_PASS},
      {"partition http", tcp_frame(kHttpPort), XDP_PASS},
      {"partition rpc v6", tcp_frame(kRpcPort, 6), XDP_PASS},
      {"other", tcp_frame(22), XDP_PASS},
      {"malformed magic", build_frame(bad_magic), XDP_DROP},
      {"malformed version", [] { Frame f = membership_frame(); f[f.size() - 32 - 4] = 9; return f; }(), XDP_DROP},
      {"truncated membership", [] { Frame f = membership_frame(); f.resize(f.size() - 1); return f; }(), XDP_DROP},
  };
  for (const Case& c : cases) {
    const RunResult result = run_xdp(c.frame);
    EXPECT_EQ(result.verdict, c.verdict) << c.name;
    if (c.verdict == XDP_PASS) {
      EXPECT_TRUE(result.unchanged) << c.name << ": a passed frame must be untouched";
    }
  }
}

TEST_F(ClassifyProgramTest, CountsPacketsAndBytesPerClassAndDrops) {
  const Frame membership = membership_frame(4, 100);
  const Frame partition = tcp_frame(kHttpPort, 6, 300);
  const Frame other = tcp_frame(443);
  Frame malformed = membership_frame(4, 20);
  malformed[malformed.size() - 28 + 6] = 0x7f;  // length high byte: claims 32532 payload bytes
  ASSERT_EQ(run_xdp(membership, kRepeat).verdict, XDP_PASS);
  ASSERT_EQ(run_xdp(partition, 2 * kRepeat).verdict, XDP_PASS);
  ASSERT_EQ(run_xdp(other, 3 * kRepeat).verdict, XDP_PASS);
  ASSERT_EQ(run_xdp(malformed, 4 * kRepeat).verdict, XDP_DROP);

  const bpf::ClassifyCounters got = counters();
  EXPECT_EQ(got.packets[CLASSIFY_MEMBERSHIP], kRepeat);
  EXPECT_EQ(got.bytes[CLASSIFY_MEMBERSHIP], kRepeat * membership.size());
  EXPECT_EQ(got.packets[CLASSIFY_PARTITION], 2 * kRepeat);
  EXPECT_EQ(got.bytes[CLASSIFY_PARTITION], 2 * kRepeat * partition.size());
  EXPECT_EQ(got.packets[CLASSIFY_OTHER], 3 * kRepeat);
  EXPECT_EQ(got.bytes[CLASSIFY_OTHER], 3 * kRepeat * other.size());
  EXPECT_EQ(got.packets[CLASSIFY_MEMBERSHIP_MALFORMED], 4 * kRepeat);
  EXPECT_EQ(got.bytes[CLASSIFY_MEMBERSHIP_MALFORMED], 4 * kRepeat * malformed.size());
  EXPECT_EQ(got.drops, 4 * kRepeat);
  EXPECT_EQ(got.steered, 0u);
  const std::string line = got.to_key_values();
  EXPECT_NE(line.find("xdp_membership_packets=100 "), std::string::npos) << line;
  EXPECT_NE(line.find("xdp_drops=400 "), std::string::npos) << line;
}

// A UDP socket bound to 127.0.0.1 (any free port) and its cookie, the identity sk_lookup's
// BPF_PROG_TEST_RUN reports for the socket it selected.
struct CookiedSocket {
  int fd = -1;
  uint64_t cookie = 0;
  ~CookiedSocket() {
    if (fd >= 0) ::close(fd);
  }
};

void open_cookied_socket(CookiedSocket& out) {
  out.fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(out.fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(out.fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
  socklen_t length = sizeof out.cookie;
  ASSERT_EQ(::getsockopt(out.fd, SOL_SOCKET, SO_COOKIE, &out.cookie, &length), 0);
}

// Runs the sk_lookup program on a lookup for local_ip4:local_port; returns the selected cookie.
uint64_t run_sk_lookup(int program_fd, uint32_t protocol, const char* local_ip4, uint16_t local_port) {
  bpf_sk_lookup context{};
  context.family = AF_INET;
  context.protocol = protocol;
  ::inet_pton(AF_INET, "10.213.0.2", &context.remote_ip4);
  context.remote_port = htons(40000);
  ::inet_pton(AF_INET, local_ip4, &context.local_ip4);
  context.local_port = local_port;
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.ctx_in = &context;
  opts.ctx_size_in = sizeof context;
  opts.ctx_out = &context;
  opts.ctx_size_out = sizeof context;
  EXPECT_EQ(bpf_prog_test_run_opts(program_fd, &opts), 0) << std::strerror(errno);
  EXPECT_EQ(opts.retval, static_cast<uint32_t>(SK_PASS));
  return context.cookie;
}

TEST_F(ClassifyProgramTest, SkLookupSteersMembershipDatagramsToTheRegisteredSocket) {
  const int program = steering_->sk_lookup_program_fd();
  // Nothing registered yet: the lookup proceeds as usual, and the miss is counted.
  EXPECT_EQ(run_sk_lookup(program, IPPROTO_UDP, "10.213.0.1", kMembershipPort), 0u);
  EXPECT_EQ(counters().steer_failures, 1u);

  CookiedSocket socket;
  ASSERT_NO_FATAL_FAILURE(open_cookied_socket(socket));
  ASSERT_TRUE(steering_->register_membership_socket(socket.fd).ok());
  // Its own port is irrelevant: the program assigns lookups for the membership port to it.
  EXPECT_EQ(run_sk_lookup(program, IPPROTO_UDP, "10.213.0.1", kMembershipPort), socket.cookie);
  EXPECT_EQ(counters().steered, 1u);

  // Not for us: TCP (push-pull, partition), another port, another local address.
  EXPECT_EQ(run_sk_lookup(program, IPPROTO_TCP, "10.213.0.1", kMembershipPort), 0u);
  EXPECT_EQ(run_sk_lookup(program, IPPROTO_UDP, "10.213.0.1", kRpcPort), 0u);
  EXPECT_EQ(run_sk_lookup(program, IPPROTO_UDP, "10.213.0.9", kMembershipPort), 0u);
  EXPECT_EQ(counters().steered, 1u);
  EXPECT_EQ(counters().steer_failures, 1u);
}

TEST(ClassifyLoaderTest, RejectsBadOptions) {
  bpf::SteeringOptions options = test_options();
  options.membership_port = 0;
  EXPECT_EQ(bpf::MembershipSteering::load(options).code(), bpf::Errc::invalid_argument);
  options = test_options();
  options.partition_ports = {1, 2, 3, 4, 5};
  EXPECT_EQ(bpf::MembershipSteering::load(options).code(), bpf::Errc::invalid_argument);
  options = test_options();
  options.host = "node-1";
  EXPECT_EQ(bpf::MembershipSteering::load(options).code(), bpf::Errc::invalid_argument);
  options = test_options();
  options.interface = "sluice-none0";
  EXPECT_EQ(bpf::MembershipSteering::attach(options).code(), bpf::Errc::not_found);
}

}  // namespace
}  // namespace sluice::xdp_testing

int main(int argc, char** argv) {
  using sluice::xdp_testing::kExitSkip;
  if (::geteuid() != 0) {
    std::printf("skip: loading BPF programs needs root (euid %u)\n", ::geteuid());
    return kExitSkip;
  }
  // Root without BPF (an unprivileged container, a kernel without bpf()) skips as well.
  auto probe = sluice::bpf::MembershipSteering::load(sluice::xdp_testing::test_options());
  if (probe.code() == sluice::bpf::Errc::not_permitted || probe.code() == sluice::bpf::Errc::unsupported) {
    std::printf("skip: %s\n", probe.status().to_string().c_str());
    return kExitSkip;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
