// SWIM wire codec: round trips, every class of malformed input dropped with its code (never a
// crash), the size limit, and the plain-C header check agreeing with the C++ decoder.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "node/swim/codec.h"
#include "node/wire/swim_generated.h"

extern "C" int swim_header_check_from_c(const uint8_t* data, size_t size);

namespace sluice::swim {
namespace {

constexpr uint64_t kCluster = 42;

NamedAddresses sample_named(int host) {
  const std::string ip = "10.0.0." + std::to_string(host);
  return {NamedAddress{"api", ip + ":8080"}, NamedAddress{"raft", ip + ":7100"}};
}

Message sample_message() {
  Message message;
  message.kind = MessageKind::ping_req;
  message.cluster_id = kCluster;
  message.source = 1;
  message.source_address = "10.0.0.1:7946";
  message.source_named = sample_named(1);
  message.source_incarnation = 7;
  message.seq = 0xfedcba98;
  message.target = 2;
  message.target_address = "10.0.0.2:7946";
  message.updates = {
      Update{3, 1, MemberState::alive, kNoNode, "10.0.0.3:7946", sample_named(3)},
      Update{4, 2, MemberState::suspect, 1, "", {}},
      Update{UINT64_MAX, UINT64_MAX, MemberState::dead, 9, "", {}},
      Update{6, 0, MemberState::left, kNoNode, "", {}},
      Update{7, 0, MemberState::alive, kNoNode, "[::1]:7946", {}},
  };
  return message;
}

const uint8_t* raw(const Bytes& bytes) { return reinterpret_cast<const uint8_t*>(bytes.data()); }

Bytes encoded(const Message& message) {
  Result<Bytes> bytes = encode_datagram(message);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  return bytes.ok() ? std::move(bytes).value() : Bytes();
}

// A datagram with a correct header around an arbitrary payload.
Bytes with_header(const Bytes& payload) {
  Bytes out(SWIM_HEADER_BYTES + payload.size());
  swim_header_write(reinterpret_cast<uint8_t*>(out.data()), static_cast<uint16_t>(payload.size()));
  std::memcpy(out.data() + SWIM_HEADER_BYTES, payload.data(), payload.size());
  return out;
}

// What hand_built() puts in a SwimMessage; each field can be made wrong on purpose.
struct HandMade {
  uint8_t kind = 0;
  uint64_t source = 1;
  std::string source_address = "a:1";
  std::vector<std::pair<std::string, std::string>> source_named;
  // The one update: its member id, state, and address (alive claims need one).
  uint64_t member = 2;
  uint8_t state = 0;
  std::string address = "b:1";
  std::vector<std::pair<std::string, std::string>> named;
};

flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<wire::SwimAddress>>> hand_named(
    flatbuffers::FlatBufferBuilder& builder, const std::vector<std::pair<std::string, std::string>>& named) {
  if (named.empty()) return 0;
  std::vector<flatbuffers::Offset<wire::SwimAddress>> offsets;
  for (const auto& [name, address] : named) {
    offsets.push_back(wire::CreateSwimAddress(builder, builder.CreateString(name), builder.CreateString(address)));
  }
  return builder.CreateVector(offsets);
}

// A SwimMessage built by hand, to produce what our encoder never would.
Bytes hand_built(const HandMade& made) {
  flatbuffers::FlatBufferBuilder builder;
  const auto address = made.address.empty() ? 0 : builder.CreateString(made.address);
  const auto named = hand_named(builder, made.named);
  const auto update = wire::CreateSwimUpdate(builder, made.member, 0, static_cast<wire::SwimMemberState>(made.state), 0,
                                             address, named);
  std::vector<flatbuffers::Offset<wire::SwimUpdate>> updates{update};
  const auto updates_offset = builder.CreateVector(updates);
  const auto source_address = builder.CreateString(made.source_address);
  const auto source_named = hand_named(builder, made.source_named);
  builder.Finish(wire::CreateSwimMessage(builder, kCluster, static_cast<wire::SwimKind>(made.kind), made.source, 0,
                                         source_address, source_named, 1, 0, 0, updates_offset));
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  return with_header(Bytes(begin, begin + builder.GetSize()));
}

TEST(SwimWire, DatagramRoundTripsEveryKindAndState) {
  for (uint8_t kind = 0; kind <= static_cast<uint8_t>(MessageKind::gossip); ++kind) {
    Message message = sample_message();
    message.kind = static_cast<MessageKind>(kind);
    const Bytes bytes = encoded(message);
    ASSERT_LE(bytes.size(), kDatagramBytesMax);
    EXPECT_EQ(swim_header_check(raw(bytes), bytes.size()), SWIM_HEADER_OK);
    Result<Message> decoded = decode_datagram(bytes, kCluster);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, message);
  }
}

// The cluster secret's trailer (docs/formats/swim.md): counted in the header's payload length, so a
// sealed datagram passes the same header check (the XDP classifier's); it opens only with its
// key and untouched, back into exactly what was encoded.
TEST(SwimWire, SealedDatagramsKeepAValidHeaderAndOpenOnlyWithTheKeyUntouched) {
  const ClusterKey key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  const Bytes plain = encoded(sample_message());
  Bytes sealed = plain;
  seal_datagram(sealed, key);
  ASSERT_EQ(sealed.size(), plain.size() + ClusterKey::kTagBytes);
  EXPECT_EQ(swim_header_check(raw(sealed), sealed.size()), SWIM_HEADER_OK);
  EXPECT_EQ(swim_header_check_from_c(raw(sealed), sealed.size()), SWIM_HEADER_OK);
  Bytes opened = sealed;
  ASSERT_TRUE(open_datagram(opened, key).ok());
  EXPECT_EQ(opened, plain);
  Bytes unsealed = plain;
  EXPECT_EQ(open_datagram(unsealed, key).code(), Errc::unauthenticated);
  Bytes other = sealed;
  EXPECT_EQ(open_datagram(other, ClusterKey::derive(as_bytes("another secret, 16+ bytes"))).code(), Errc::unauthenticated);
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes flipped = sealed;
    flipped[i] ^= std::byte{0x01};
    EXPECT_FALSE(open_datagram(flipped, key).ok()) << "byte " << i;
  }
  // A keyed member encodes into datagram_bytes_max - kTagBytes: the sealed largest still fits.
  Bytes largest(kDatagramBytesMax - ClusterKey::kTagBytes);
  swim_header_write(reinterpret_cast<uint8_t*>(largest.data()), static_cast<uint16_t>(largest.size() - SWIM_HEADER_BYTES));
  seal_datagram(largest, key);
  EXPECT_EQ(largest.size(), kDatagramBytesMax);
  EXPECT_EQ(swim_header_check(raw(largest), largest.size()), SWIM_HEADER_OK);
}

TEST(SwimWire, EmptyTargetAndNoUpdatesRoundTrip) {
  Message message = sample_message();
  message.target = kNoNode;
  message.target_address.clear();
  message.source_named.clear();
  message.updates.clear();
  Result<Message> decoded = decode_datagram(encoded(message), kCluster);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, message);
}

TEST(SwimWire, HeaderLayoutIsFixed) {
  const Bytes bytes = encoded(sample_message());
  EXPECT_EQ(std::memcmp(bytes.data(), "SWIM", 4), 0);
  EXPECT_EQ(static_cast<int>(bytes[4]), SWIM_VERSION);
  EXPECT_EQ(static_cast<int>(bytes[5]), 0);
  const size_t length = (static_cast<size_t>(bytes[6]) << 8) | static_cast<size_t>(bytes[7]);
  EXPECT_EQ(length, bytes.size() - SWIM_HEADER_BYTES);
}

TEST(SwimWire, EachHeaderMalformationIsRejectedWithItsReason) {
  const Bytes good = encoded(sample_message());
  auto expect_bad = [](const Bytes& bytes, int reason) {
    EXPECT_EQ(swim_header_check(raw(bytes), bytes.size()), reason);
    EXPECT_EQ(swim_header_check_from_c(raw(bytes), bytes.size()), reason);
    EXPECT_EQ(swim_header_valid(raw(bytes), bytes.size()), 0);
    EXPECT_EQ(decode_datagram(bytes, kCluster).code(), Errc::bad_header);
  };
  for (size_t size = 0; size < SWIM_HEADER_BYTES; ++size) expect_bad(Bytes(good.begin(), good.begin() + size), SWIM_HEADER_SHORT);
  Bytes magic = good;
  magic[3] = std::byte{'X'};
  expect_bad(magic, SWIM_HEADER_BAD_MAGIC);
  // Version 1 named members by address: its payload must not be read as ours.
  for (uint8_t other : {0, 1, 3, 255}) {
    Bytes version = good;
    version[4] = std::byte{other};
    expect_bad(version, SWIM_HEADER_BAD_VERSION);
  }
  Bytes flags = good;
  flags[5] = std::byte{0x80};
  expect_bad(flags, SWIM_HEADER_BAD_FLAGS);
  Bytes truncated(good.begin(), good.end() - 1);
  expect_bad(truncated, SWIM_HEADER_BAD_LENGTH);
  Bytes padded = good;
  padded.push_back(std::byte{0});
  expect_bad(padded, SWIM_HEADER_BAD_LENGTH);
  EXPECT_EQ(swim_header_check_from_c(raw(good), good.size()), SWIM_HEADER_OK);
}

TEST(SwimWire, HeaderAcceptsExactlyTheMaximumSize) {
  Bytes largest = with_header(Bytes(kDatagramBytesMax - SWIM_HEADER_BYTES));
  EXPECT_EQ(swim_header_check(raw(largest), largest.size()), SWIM_HEADER_OK);
  Bytes over = with_header(Bytes(kDatagramBytesMax - SWIM_HEADER_BYTES + 1));
  EXPECT_EQ(swim_header_check(raw(over), over.size()), SWIM_HEADER_BAD_LENGTH);
  EXPECT_EQ(decode_datagram(over, kCluster).code(), Errc::bad_header);
}

TEST(SwimWire, PayloadThatFailsTheVerifierIsMalformed) {
  EXPECT_EQ(decode_datagram(with_header(Bytes()), kCluster).code(), Errc::malformed);
  EXPECT_EQ(decode_datagram(with_header(Bytes(64, std::byte{0xff})), kCluster).code(), Errc::malformed);
  // A valid message cut short, with the header's length fixed up to match.
  const Bytes good = encoded(sample_message());
  const Bytes payload(good.begin() + SWIM_HEADER_BYTES, good.end() - 12);
  EXPECT_EQ(decode_datagram(with_header(payload), kCluster).code(), Errc::malformed);
}

Errc decode_code(const HandMade& made) { return decode_datagram(hand_built(made), kCluster).code(); }

TEST(SwimWire, OutOfRangeEnumsAndBadAddressesAreMalformed) {
  EXPECT_EQ(decode_code(HandMade{}), Errc::ok);
  auto with = [](auto change) {
    HandMade made;
    change(made);
    return decode_code(made);
  };
  EXPECT_EQ(with([](HandMade& m) { m.kind = 5; }), Errc::malformed);  // unknown kind
  EXPECT_EQ(with([](HandMade& m) { m.state = 4; }), Errc::malformed);  // unknown state
  EXPECT_EQ(with([](HandMade& m) { m.source = 0; }), Errc::malformed);  // no source id
  EXPECT_EQ(with([](HandMade& m) { m.member = 0; }), Errc::malformed);  // an update about nobody
  EXPECT_EQ(with([](HandMade& m) { m.source_address = ""; }), Errc::malformed);
  EXPECT_EQ(with([](HandMade& m) { m.source_address = std::string(kAddressBytesMax + 1, 'a'); }), Errc::malformed);
  EXPECT_EQ(with([](HandMade& m) { m.address = ""; }), Errc::malformed);  // alive, but where?
  EXPECT_EQ(with([](HandMade& m) { m.address = std::string(kAddressBytesMax + 1, 'a'); }), Errc::malformed);
  // Only alive claims carry addresses.
  EXPECT_EQ(with([](HandMade& m) { m.state = 1; }), Errc::malformed);
  EXPECT_EQ(with([](HandMade& m) { m.state = 2, m.address = ""; }), Errc::ok);
  EXPECT_EQ(with([](HandMade& m) { m.state = 3, m.address = "", m.named = {{"raft", "b:2"}}; }), Errc::malformed);
  Message long_target = sample_message();
  long_target.target_address = std::string(kAddressBytesMax + 1, 'a');
  EXPECT_EQ(encode_datagram(long_target).code(), Errc::malformed);
}

// A member's named addresses: at most 4, names 1..16 bytes, unique and ascending, addresses
// 1..64 bytes; in the sender's own and in every alive claim alike.
TEST(SwimWire, NamedAddressesAreLimited) {
  using Named = std::vector<std::pair<std::string, std::string>>;
  const Named four{{"a", "h:1"}, {"b", "h:2"}, {"c", "h:3"}, {"d", "h:4"}};
  const std::string name_max(kAddressNameBytesMax, 'n');
  const std::string address_max(kNamedAddressBytesMax, 'h');
  const std::vector<std::pair<Named, Errc>> cases{
      {four, Errc::ok},
      {{{name_max, address_max}}, Errc::ok},
      {{{"a", "h:1"}, {"b", "h:2"}, {"c", "h:3"}, {"d", "h:4"}, {"e", "h:5"}}, Errc::malformed},  // five
      {{{name_max + "n", "h:1"}}, Errc::malformed},
      {{{"raft", address_max + "h"}}, Errc::malformed},
      {{{"", "h:1"}}, Errc::malformed},
      {{{"raft", ""}}, Errc::malformed},
      {{{"raft", "h:1"}, {"api", "h:2"}}, Errc::malformed},  // out of order
      {{{"raft", "h:1"}, {"raft", "h:2"}}, Errc::malformed},  // twice
  };
  for (const auto& [named, code] : cases) {
    HandMade in_source;
    in_source.source_named = named;
    EXPECT_EQ(decode_code(in_source), code) << named.size() << " in the source";
    HandMade in_update;
    in_update.named = named;
    EXPECT_EQ(decode_code(in_update), code) << named.size() << " in an update";
  }
  Message message = sample_message();
  message.source_named = {NamedAddress{"raft", "h:1"}, NamedAddress{"api", "h:2"}};
  EXPECT_EQ(encode_datagram(message).code(), Errc::malformed);  // the encoder keeps the same rules
  sort_named_addresses(message.source_named);
  EXPECT_TRUE(encode_datagram(message).ok());
  EXPECT_EQ(find_address(message.source_named, "raft"), "h:1");
  EXPECT_EQ(find_address(message.source_named, "http"), "");
}

TEST(SwimWire, ForeignClusterIsRejected) {
  EXPECT_EQ(decode_datagram(encoded(sample_message()), kCluster + 1).code(), Errc::foreign_cluster);
}

TEST(SwimWire, DecodesFromAnyAlignment) {
  const Bytes good = encoded(sample_message());
  Bytes shifted(good.size() + 3);
  std::memcpy(shifted.data() + 3, good.data(), good.size());
  Result<Message> decoded = decode_datagram(ByteSpan(shifted).subspan(3), kCluster);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, sample_message());
}

TEST(SwimWire, EncodingRefusesToExceedTheLimit) {
  Message message = sample_message();
  message.updates.clear();
  for (int i = 0; i < 40; ++i) {
    message.updates.push_back(Update{static_cast<NodeId>(i + 10), 1, MemberState::alive, kNoNode,
                                     std::string(40, 'm') + std::to_string(i), {}});
  }
  EXPECT_EQ(encode_datagram(message).code(), Errc::too_large);
  EXPECT_EQ(encode_datagram(sample_message(), 64 + SWIM_HEADER_BYTES).code(), Errc::too_large);
}

// The core fills datagrams by these bounds; they must never underestimate the real size.
// Up to kNamedAddressesMax named addresses of random lengths within the limits.
NamedAddresses arbitrary_named() {
  NamedAddresses named;
  const size_t count = *rc::gen::inRange<size_t>(0, kNamedAddressesMax + 1);
  for (size_t i = 0; i < count; ++i) {
    // Distinct ascending names: a unique first letter, then padding.
    std::string name(1, static_cast<char>('a' + i));
    name += std::string(*rc::gen::inRange<size_t>(0, kAddressNameBytesMax), 'n');
    named.push_back(NamedAddress{name, std::string(*rc::gen::inRange<size_t>(1, kNamedAddressBytesMax + 1), 'h')});
  }
  return named;
}

RC_GTEST_PROP(SwimWire, SizeBoundsNeverUnderestimate, ()) {
  Message message;
  message.kind = static_cast<MessageKind>(*rc::gen::inRange(0, 5));
  message.cluster_id = *rc::gen::arbitrary<uint64_t>();
  message.source = *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
  message.source_address = std::string(*rc::gen::inRange<size_t>(1, kAddressBytesMax + 1), 's');
  message.source_named = arbitrary_named();
  message.target = *rc::gen::arbitrary<uint64_t>();
  message.target_address = std::string(*rc::gen::inRange<size_t>(0, kAddressBytesMax + 1), 't');
  message.source_incarnation = *rc::gen::arbitrary<uint64_t>();
  message.seq = *rc::gen::arbitrary<uint32_t>();
  size_t bound = datagram_base_bytes_bound(message);
  const size_t count = *rc::gen::inRange<size_t>(0, 24);
  for (size_t i = 0; i < count; ++i) {
    Update update;
    update.member = *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
    update.origin = *rc::gen::arbitrary<uint64_t>();
    update.incarnation = *rc::gen::arbitrary<uint64_t>();
    update.state = static_cast<MemberState>(*rc::gen::inRange(0, 4));
    if (update.state == MemberState::alive) {
      update.address = std::string(*rc::gen::inRange<size_t>(1, kAddressBytesMax + 1), 'm');
      update.named = arbitrary_named();
    }
    bound += update_bytes_bound(update);
    message.updates.push_back(update);
  }
  Result<Bytes> bytes = encode_datagram(message, kDatagramBytesMax);
  if (bound <= kDatagramBytesMax) RC_ASSERT(bytes.ok());
  if (bytes.ok()) RC_ASSERT(bytes->size() <= bound);
}

// Whatever arrives, decoding returns a value or one of the drop codes, never crashes.
TEST(SwimWire, CorruptedDatagramsNeverCrash) {
  const Bytes good = encoded(sample_message());
  Prng prng(7);
  auto next = [&prng] { return prng.next(); };
  size_t rejected = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes bytes = good;
    const uint64_t flips = 1 + random_below(next, 4);
    for (uint64_t i = 0; i < flips; ++i) {
      // Mostly the payload, so the Verifier is exercised rather than the header check.
      const size_t at = SWIM_HEADER_BYTES + random_below(next, bytes.size() - SWIM_HEADER_BYTES);
      bytes[at] = static_cast<std::byte>(next());
    }
    Result<Message> decoded = decode_datagram(bytes, kCluster);
    if (!decoded.ok()) {
      const Errc code = decoded.code();
      EXPECT_TRUE(code == Errc::malformed || code == Errc::foreign_cluster) << to_string(code);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000u);
}

TEST(SwimWire, PushPullRoundTripsAndIsChecked) {
  PushPullState state;
  state.cluster_id = kCluster;
  state.source = 1;
  state.join = true;
  for (int i = 0; i < 500; ++i) {
    const auto member_state = static_cast<MemberState>(i % 4);
    const bool alive = member_state == MemberState::alive;
    state.members.push_back(Update{static_cast<NodeId>(i + 1), static_cast<uint64_t>(i), member_state,
                                   member_state == MemberState::suspect ? NodeId{7} : kNoNode,
                                   alive ? "m" + std::to_string(i) + ":1" : "", alive ? sample_named(i % 200) : NamedAddresses{}});
  }
  Result<Bytes> bytes = encode_push_pull(state);
  ASSERT_TRUE(bytes.ok());
  Result<PushPullState> decoded = decode_push_pull(*bytes, kCluster);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, state);
  EXPECT_EQ(decode_push_pull(*bytes, kCluster + 1).code(), Errc::foreign_cluster);
  Bytes cut(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(bytes->size() / 2));
  EXPECT_EQ(decode_push_pull(cut, kCluster).code(), Errc::malformed);
  EXPECT_EQ(decode_push_pull(Bytes(), kCluster).code(), Errc::malformed);
  // Push-pull state has no header: its FlatBuffers identifier says which version it is.
  EXPECT_EQ(std::memcmp(bytes->data() + 4, kPushPullIdentifier, 4), 0);
  Bytes other_version = *bytes;
  other_version[7] = std::byte{'1'};
  EXPECT_EQ(decode_push_pull(other_version, kCluster).code(), Errc::malformed);
  state.source = kNoNode;
  EXPECT_EQ(encode_push_pull(state).code(), Errc::malformed);
}

TEST(SwimWire, PushPullMemberCountIsLimited) {
  flatbuffers::FlatBufferBuilder builder;
  std::vector<flatbuffers::Offset<wire::SwimUpdate>> members;
  for (size_t i = 0; i <= kPushPullMembersMax; ++i) {
    members.push_back(wire::CreateSwimUpdate(builder, i + 1, 0, wire::SwimMemberState::Dead));
  }
  const auto vector = builder.CreateVector(members);
  builder.Finish(wire::CreateSwimPushPull(builder, kCluster, 1, false, vector), kPushPullIdentifier);
  const auto* begin = reinterpret_cast<const std::byte*>(builder.GetBufferPointer());
  EXPECT_EQ(decode_push_pull(Bytes(begin, begin + builder.GetSize()), kCluster).code(), Errc::malformed);
  PushPullState state;
  state.source = 1;
  state.members.resize(kPushPullMembersMax + 1, Update{2, 0, MemberState::dead, kNoNode, "", {}});
  EXPECT_EQ(encode_push_pull(state).code(), Errc::too_large);
}

}  // namespace
}  // namespace sluice::swim
