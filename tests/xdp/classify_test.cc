// The shared classifier (bpf/classify.h) in user space: every class, VLAN tags, IPv4 options and
// fragments, IPv6, the shared membership/partition port, bad SWIM header fields, inconsistent
// lengths, and every truncation of the frames that matter. Each frame is classified from an
// exactly-sized buffer, so a read past `end` is a heap overflow that ASan builds report.
#include <gtest/gtest.h>

#include <string>

#include "node/base/cluster_key.h"
#include "node/swim/codec.h"
#include "tests/xdp/frames.h"

namespace sluice::xdp_testing {
namespace {

const classify_config kConfig = test_config();

constexpr size_t kEthBytes = CLASSIFY_ETH_HEADER_BYTES;
constexpr size_t kIpv4Bytes = CLASSIFY_IPV4_HEADER_BYTES_MIN;
constexpr size_t kIpv6Bytes = CLASSIFY_IPV6_HEADER_BYTES;
constexpr size_t kUdpBytes = CLASSIFY_UDP_HEADER_BYTES;

std::string describe(int verdict) {
  switch (verdict) {
    case CLASSIFY_OTHER: return "other";
    case CLASSIFY_MEMBERSHIP: return "membership";
    case CLASSIFY_PARTITION: return "partition";
    case CLASSIFY_MEMBERSHIP_MALFORMED: return "membership_malformed";
  }
  return "invalid " + std::to_string(verdict);
}

#define EXPECT_CLASS(frame, want) EXPECT_EQ(describe(classify(kConfig, frame)), describe(want))

FrameSpec udp_spec(uint16_t dest_port, std::vector<uint8_t> payload) {
  FrameSpec spec;
  spec.dest_port = dest_port;
  spec.payload = std::move(payload);
  return spec;
}

// A membership frame whose SWIM header byte `at` is replaced by `value`.
Frame with_header_byte(size_t at, uint8_t value, int ip_version = 4) {
  FrameSpec spec = udp_spec(kMembershipPort, swim_datagram(20));
  spec.ip_version = ip_version;
  spec.payload[at] = value;
  return build_frame(spec);
}

TEST(ClassifyTest, SwimDatagramsToTheMembershipPortAreMembership) {
  EXPECT_CLASS(membership_frame(4), CLASSIFY_MEMBERSHIP);
  EXPECT_CLASS(membership_frame(6), CLASSIFY_MEMBERSHIP);
  EXPECT_CLASS(membership_frame(4, 0), CLASSIFY_MEMBERSHIP);  // header only: an empty payload
  // The largest datagram SWIM allows (1400 bytes with its header) still is one.
  EXPECT_CLASS(membership_frame(4, SWIM_DATAGRAM_BYTES_MAX - SWIM_HEADER_BYTES), CLASSIFY_MEMBERSHIP);
}

// With the cluster secret a datagram carries a MAC trailer that its header's length counts
// (docs/formats/swim.md): the classifier reads only the header, so it still says membership.
TEST(ClassifyTest, SwimDatagramsSealedWithTheClusterSecretAreMembership) {
  swim::Message message;
  message.cluster_id = 7;
  message.source = 1;
  message.source_address = "10.0.0.1:7946";
  swim::Result<Bytes> datagram = swim::encode_datagram(message, swim::kDatagramBytesMax - ClusterKey::kTagBytes);
  ASSERT_TRUE(datagram.ok());
  swim::seal_datagram(*datagram, ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes")));
  const auto* begin = reinterpret_cast<const uint8_t*>(datagram->data());
  for (const int version : {4, 6}) {
    FrameSpec spec = udp_spec(kMembershipPort, std::vector<uint8_t>(begin, begin + datagram->size()));
    spec.ip_version = version;
    EXPECT_CLASS(build_frame(spec), CLASSIFY_MEMBERSHIP);
  }
}

TEST(ClassifyTest, TcpAndUdpToPartitionPortsArePartition) {
  for (const int version : {4, 6}) {
    EXPECT_CLASS(tcp_frame(kHttpPort, version), CLASSIFY_PARTITION);
    EXPECT_CLASS(tcp_frame(kRpcPort, version), CLASSIFY_PARTITION);
    EXPECT_CLASS(tcp_frame(kRpcPort, version, 0), CLASSIFY_PARTITION);  // a bare SYN/ACK
  }
  EXPECT_CLASS(build_frame(udp_spec(kRpcPort, {1, 2, 3})), CLASSIFY_PARTITION);
}

TEST(ClassifyTest, EverythingElseIsOther) {
  EXPECT_CLASS(tcp_frame(22), CLASSIFY_OTHER);
  EXPECT_CLASS(build_frame(udp_spec(53, swim_datagram(10))), CLASSIFY_OTHER);  // SWIM bytes, wrong port
  // SWIM push-pull runs over TCP on the membership port: passed as other, never dropped.
  EXPECT_CLASS(tcp_frame(kMembershipPort), CLASSIFY_OTHER);
  FrameSpec icmp;
  icmp.protocol = 1;
  EXPECT_CLASS(build_frame(icmp), CLASSIFY_OTHER);
  Frame arp = membership_frame();
  put_be16(arp, 12, 0x0806);
  EXPECT_CLASS(arp, CLASSIFY_OTHER);
  // Port 0 never matches an unused slot.
  EXPECT_CLASS(tcp_frame(0), CLASSIFY_OTHER);
}

TEST(ClassifyTest, NoMembershipPortConfiguredMeansNoMembershipClass) {
  classify_config config = kConfig;
  config.membership_port = 0;
  EXPECT_EQ(classify(config, membership_frame()), CLASSIFY_OTHER);
  EXPECT_EQ(classify(config, with_header_byte(0, 'X')), CLASSIFY_OTHER);
  EXPECT_EQ(classify(config, tcp_frame(kHttpPort)), CLASSIFY_PARTITION);
}

TEST(ClassifyTest, SharedPortUdpIsMembershipTcpIsPartition) {
  classify_config config = kConfig;
  config.partition_ports[2] = kMembershipPort;
  EXPECT_EQ(classify(config, membership_frame()), CLASSIFY_MEMBERSHIP);
  EXPECT_EQ(classify(config, tcp_frame(kMembershipPort)), CLASSIFY_PARTITION);
  // UDP to the membership port is membership or malformed, whatever else shares the port: the
  // sk_lookup program steers all of it to the membership socket.
  EXPECT_EQ(classify(config, with_header_byte(0, 'X')), CLASSIFY_MEMBERSHIP_MALFORMED);
}

TEST(ClassifyTest, VlanTagsAreSkipped) {
  for (const std::vector<uint16_t>& tags : std::vector<std::vector<uint16_t>>{
           {0x8100}, {0x88a8}, {0x88a8, 0x8100}, {0x8100, 0x8100}}) {
    for (const int version : {4, 6}) {
      FrameSpec spec = udp_spec(kMembershipPort, swim_datagram(16));
      spec.vlan_tpids = tags;
      spec.ip_version = version;
      EXPECT_CLASS(build_frame(spec), CLASSIFY_MEMBERSHIP) << tags.size() << " tags, IPv" << version;
      spec.protocol = CLASSIFY_IPPROTO_TCP;
      spec.dest_port = kHttpPort;
      EXPECT_CLASS(build_frame(spec), CLASSIFY_PARTITION);
    }
  }
  FrameSpec three = udp_spec(kMembershipPort, swim_datagram(16));
  three.vlan_tpids = {0x88a8, 0x8100, 0x8100};
  EXPECT_CLASS(build_frame(three), CLASSIFY_OTHER);  // beyond CLASSIFY_VLAN_TAGS_MAX
}

TEST(ClassifyTest, Ipv4OptionsAreSkippedAndFragmentsPassed) {
  for (const size_t options : {4u, 12u, 40u}) {
    FrameSpec spec = udp_spec(kMembershipPort, swim_datagram(24));
    spec.ipv4_options_bytes = options;
    EXPECT_CLASS(build_frame(spec), CLASSIFY_MEMBERSHIP) << options << " option bytes";
    spec.payload[0] = 'X';
    EXPECT_CLASS(build_frame(spec), CLASSIFY_MEMBERSHIP_MALFORMED);
  }
  // Fragments go to the stack, which reassembles them; the membership decoder checks the whole.
  FrameSpec first = udp_spec(kMembershipPort, {'X', 'X', 'X', 'X', 'X', 'X', 'X', 'X'});
  first.ipv4_more_fragments = true;
  EXPECT_CLASS(build_frame(first), CLASSIFY_OTHER);
  Frame later = membership_frame();
  put_be16(later, kEthBytes + 6, 0x0010);  // offset 16 * 8 bytes, no MF
  EXPECT_CLASS(later, CLASSIFY_OTHER);
}

TEST(ClassifyTest, BrokenIpHeadersAreOther) {
  Frame version = membership_frame();
  version[kEthBytes] = 0x55;  // version 5 under the IPv4 ethertype
  EXPECT_CLASS(version, CLASSIFY_OTHER);
  Frame ihl = membership_frame();
  ihl[kEthBytes] = 0x44;  // header length 16 bytes < 20
  EXPECT_CLASS(ihl, CLASSIFY_OTHER);
  Frame total = membership_frame();
  put_be16(total, kEthBytes + 2, 19);  // total length below the header length
  EXPECT_CLASS(total, CLASSIFY_OTHER);
  Frame v6 = membership_frame(6);
  v6[kEthBytes] = 0x40;  // version 4 under the IPv6 ethertype
  EXPECT_CLASS(v6, CLASSIFY_OTHER);
  Frame extension = membership_frame(6);
  extension[kEthBytes + 6] = 0;  // a hop-by-hop header: extension headers are not parsed
  EXPECT_CLASS(extension, CLASSIFY_OTHER);
}

TEST(ClassifyTest, BadSwimHeaderFieldsAreMalformed) {
  for (const int version : {4, 6}) {
    for (size_t at = 0; at < 4; ++at) EXPECT_CLASS(with_header_byte(at, 'x', version), CLASSIFY_MEMBERSHIP_MALFORMED);
    EXPECT_CLASS(with_header_byte(4, 0, version), CLASSIFY_MEMBERSHIP_MALFORMED);  // version 0
    // Version 1 named members by address: dropped as malformed, as the decoder refuses them.
    EXPECT_CLASS(with_header_byte(4, SWIM_VERSION - 1, version), CLASSIFY_MEMBERSHIP_MALFORMED);
    EXPECT_CLASS(with_header_byte(4, SWIM_VERSION + 1, version), CLASSIFY_MEMBERSHIP_MALFORMED);
    EXPECT_CLASS(with_header_byte(5, 1, version), CLASSIFY_MEMBERSHIP_MALFORMED);  // a flag
    EXPECT_CLASS(with_header_byte(5, 0x80, version), CLASSIFY_MEMBERSHIP_MALFORMED);
    EXPECT_CLASS(with_header_byte(7, 19, version), CLASSIFY_MEMBERSHIP_MALFORMED);  // length 19, 20 sent
    EXPECT_CLASS(with_header_byte(7, 21, version), CLASSIFY_MEMBERSHIP_MALFORMED);
    EXPECT_CLASS(with_header_byte(6, 1, version), CLASSIFY_MEMBERSHIP_MALFORMED);  // length 276
  }
  // Consistent lengths, but above SWIM_DATAGRAM_BYTES_MAX.
  EXPECT_CLASS(membership_frame(4, SWIM_DATAGRAM_BYTES_MAX - SWIM_HEADER_BYTES + 1), CLASSIFY_MEMBERSHIP_MALFORMED);
  // Shorter than a SWIM header, or not SWIM at all.
  EXPECT_CLASS(build_frame(udp_spec(kMembershipPort, {'S', 'W', 'I', 'M', 1, 0, 0})), CLASSIFY_MEMBERSHIP_MALFORMED);
  EXPECT_CLASS(build_frame(udp_spec(kMembershipPort, {})), CLASSIFY_MEMBERSHIP_MALFORMED);
  EXPECT_CLASS(build_frame(udp_spec(kMembershipPort, std::vector<uint8_t>(64, 0))), CLASSIFY_MEMBERSHIP_MALFORMED);
}

TEST(ClassifyTest, UdpLengthMustFitTheIpPacketAndTheFrame) {
  const size_t udp_at = kEthBytes + kIpv4Bytes;
  Frame tiny = membership_frame();
  put_be16(tiny, udp_at + 4, 7);  // shorter than the UDP header itself
  EXPECT_CLASS(tiny, CLASSIFY_MEMBERSHIP_MALFORMED);
  Frame longer = membership_frame();
  put_be16(longer, udp_at + 4, static_cast<unsigned>(longer.size() - udp_at + 1));  // past the IP packet
  EXPECT_CLASS(longer, CLASSIFY_MEMBERSHIP_MALFORMED);
  Frame ip_longer = membership_frame();  // IP and UDP both claim one byte more than the frame has
  put_be16(ip_longer, kEthBytes + 2, static_cast<unsigned>(ip_longer.size() - kEthBytes + 1));
  put_be16(ip_longer, udp_at + 4, static_cast<unsigned>(ip_longer.size() - udp_at + 1));
  EXPECT_CLASS(ip_longer, CLASSIFY_MEMBERSHIP_MALFORMED);
  // Ethernet padding after the IP packet is not part of the datagram.
  Frame padded = membership_frame(4, 0);
  padded.resize(padded.size() + 12, 0);
  EXPECT_CLASS(padded, CLASSIFY_MEMBERSHIP);
  // Bytes inside the IP packet but after the UDP length are not part of the datagram either.
  Frame trailing = membership_frame(4, 8);
  put_be16(trailing, udp_at + 4, kUdpBytes + SWIM_HEADER_BYTES);
  EXPECT_CLASS(trailing, CLASSIFY_MEMBERSHIP_MALFORMED);  // its SWIM header still claims 8 bytes
  trailing[udp_at + kUdpBytes + 7] = 0;
  EXPECT_CLASS(trailing, CLASSIFY_MEMBERSHIP);
}

// Every prefix of a frame: too short to reach the transport header it is other (the stack drops
// what it cannot parse); once the UDP header to the membership port is there, anything short of
// the whole datagram is malformed; a TCP header is enough for partition.
void expect_every_truncation(const Frame& frame, size_t l4_at, int whole, int truncated_after_l4,
                             size_t l4_header_bytes) {
  for (size_t length = 0; length < frame.size(); ++length) {
    const Frame prefix(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(length));
    const int want = length < l4_at + l4_header_bytes ? CLASSIFY_OTHER : truncated_after_l4;
    EXPECT_EQ(describe(classify(kConfig, prefix)), describe(want)) << "first " << length << " of " << frame.size();
  }
  EXPECT_EQ(describe(classify(kConfig, frame)), describe(whole));
}

TEST(ClassifyTest, EveryTruncationOfAMembershipFrame) {
  expect_every_truncation(membership_frame(4), kEthBytes + kIpv4Bytes, CLASSIFY_MEMBERSHIP,
                          CLASSIFY_MEMBERSHIP_MALFORMED, kUdpBytes);
  expect_every_truncation(membership_frame(6), kEthBytes + kIpv6Bytes, CLASSIFY_MEMBERSHIP,
                          CLASSIFY_MEMBERSHIP_MALFORMED, kUdpBytes);
  FrameSpec tagged = udp_spec(kMembershipPort, swim_datagram(5));
  tagged.vlan_tpids = {0x88a8, 0x8100};
  tagged.ipv4_options_bytes = 8;
  expect_every_truncation(build_frame(tagged), kEthBytes + 8 + kIpv4Bytes + 8, CLASSIFY_MEMBERSHIP,
                          CLASSIFY_MEMBERSHIP_MALFORMED, kUdpBytes);
}

TEST(ClassifyTest, EveryTruncationOfAPartitionFrame) {
  expect_every_truncation(tcp_frame(kHttpPort, 4), kEthBytes + kIpv4Bytes, CLASSIFY_PARTITION, CLASSIFY_PARTITION,
                          CLASSIFY_TCP_HEADER_BYTES_MIN);
  expect_every_truncation(tcp_frame(kRpcPort, 6), kEthBytes + kIpv6Bytes, CLASSIFY_PARTITION, CLASSIFY_PARTITION,
                          CLASSIFY_TCP_HEADER_BYTES_MIN);
}

TEST(ClassifyTest, DatagramEntryPointForTheSimulator) {
  const std::vector<uint8_t> good = swim_datagram(12);
  EXPECT_EQ(classify_membership_payload(good.data(), good.data() + good.size(), good.size()), CLASSIFY_MEMBERSHIP);
  EXPECT_EQ(classify_membership_payload(good.data(), good.data() + good.size(), good.size() - 1),
            CLASSIFY_MEMBERSHIP_MALFORMED);
  EXPECT_EQ(classify_membership_payload(good.data(), good.data() + 7, 7), CLASSIFY_MEMBERSHIP_MALFORMED);
  EXPECT_EQ(classify_membership_payload(good.data(), good.data(), 0), CLASSIFY_MEMBERSHIP_MALFORMED);
}

}  // namespace
}  // namespace sluice::xdp_testing
