// The RPC frame codec (node/rpc/frame.h, docs/formats/rpc.md): the exact bytes of a request and a
// response, round trips, every decode error, every truncation and bit flip refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "node/base/byte_io.h"
#include "node/log/crc32c.h"
#include "node/rpc/frame.h"

namespace sluice::rpc {
namespace {

constexpr size_t kMax = kFrameBytesMaxDefault;

Bytes hex(std::string_view text) {
  Bytes out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::byte>(std::stoul(std::string(text.substr(i, 2)), nullptr, 16)));
  return out;
}

// A frame with `body` and its right header, however wrong the body is.
Bytes sealed(const Bytes& body) {
  Bytes frame(kFrameHeaderBytes);
  put_le<uint32_t>(frame.data(), static_cast<uint32_t>(body.size()));
  put_le<uint32_t>(frame.data() + 4, log::crc32c(body));
  append_bytes(frame, body);
  return frame;
}

Frame request(uint64_t call_id, uint16_t method, uint32_t timeout_ms, std::string_view payload) {
  Frame frame;
  frame.kind = FrameKind::request;
  frame.call_id = call_id;
  frame.method = method;
  frame.timeout_ms = timeout_ms;
  frame.payload = to_bytes(payload);
  return frame;
}

Frame response(uint64_t call_id, RpcStatus status, std::string_view payload) {
  Frame frame;
  frame.kind = FrameKind::response;
  frame.call_id = call_id;
  frame.status = status;
  frame.payload = to_bytes(payload);
  return frame;
}

FrameErrc decode_error(const Bytes& frame, size_t frame_bytes_max = kMax) { return decode_frame(frame, frame_bytes_max).code(); }

// The layout of docs/formats/rpc.md, byte for byte: a change here breaks every peer.
TEST(RpcFrame, RequestBytesAreTheDocumentedLayout) {
  const Bytes body = hex("01" "0807060504030201" "3412" "e8030000" "6869");
  const Bytes frame = encode_request(0x0102030405060708, 0x1234, 1000, as_bytes("hi"));
  ASSERT_EQ(frame.size(), kFrameHeaderBytes + body.size());
  EXPECT_EQ(frame, sealed(body));
  EXPECT_EQ(get_le<uint32_t>(frame.data()), 17u);
  EXPECT_EQ(get_le<uint32_t>(frame.data() + 4), log::crc32c(body));
}

TEST(RpcFrame, ResponseBytesAreTheDocumentedLayout) {
  const Bytes body = hex("02" "2a00000000000000" "0200");
  EXPECT_EQ(encode_response(42, RpcStatus::overloaded, {}), sealed(body));
}

TEST(RpcFrame, RoundTrips) {
  const std::vector<Frame> frames = {
      request(1, 7, 250, "payload"),
      request(UINT64_MAX, UINT16_MAX, UINT32_MAX, ""),
      response(1, RpcStatus::ok, "answer"),
      response(2, RpcStatus::unknown_method, ""),
      response(3, static_cast<RpcStatus>(999), "from a newer server"),  // unknown statuses decode as they are
      request(5, 1, 1, std::string(100'000, 'x')),
  };
  for (const Frame& frame : frames) {
    const Bytes bytes = encode_frame(frame);
    FrameResult<Frame> decoded = decode_frame(bytes, kMax);
    ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, frame);
    EXPECT_EQ(encode_frame(*decoded), bytes);
  }
  EXPECT_EQ(encode_frame(request(9, 3, 4, "x")), encode_request(9, 3, 4, as_bytes("x")));
  EXPECT_EQ(encode_frame(response(9, RpcStatus::timeout, "x")), encode_response(9, RpcStatus::timeout, as_bytes("x")));
}

TEST(RpcFrame, ShortHeader) {
  const Bytes frame = encode_request(1, 1, 1, {});
  for (size_t size = 0; size < kFrameHeaderBytes; ++size) {
    EXPECT_EQ(decode_header(ByteSpan(frame).first(size), kMax).code(), FrameErrc::short_header) << size;
    EXPECT_EQ(decode_error(Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(size))), FrameErrc::short_header);
  }
}

// The length is judged from the header alone, before any body byte is read.
TEST(RpcFrame, TooLongHeaderIsRefusedBeforeTheBody) {
  Bytes header(kFrameHeaderBytes);
  put_le<uint32_t>(header.data(), 1025);
  EXPECT_EQ(decode_header(header, 1024).code(), FrameErrc::too_long);
  EXPECT_TRUE(decode_header(header, 1025).ok());
  put_le<uint32_t>(header.data(), UINT32_MAX);
  EXPECT_EQ(decode_header(header, kMax).code(), FrameErrc::too_long);
  const Bytes frame = encode_request(1, 1, 1, Bytes(100));
  EXPECT_EQ(decode_error(frame, 100), FrameErrc::too_long);
  EXPECT_TRUE(decode_frame(frame, frame.size() - kFrameHeaderBytes).ok()) << "the limit is on the body";
}

TEST(RpcFrame, LengthMismatch) {
  Bytes frame = encode_response(1, RpcStatus::ok, as_bytes("abc"));
  Bytes longer = frame;
  longer.push_back(std::byte{0});
  EXPECT_EQ(decode_error(longer), FrameErrc::length_mismatch);
  frame.pop_back();
  EXPECT_EQ(decode_error(frame), FrameErrc::length_mismatch);
}

TEST(RpcFrame, CrcMismatch) {
  Bytes frame = encode_request(1, 2, 3, as_bytes("payload"));
  frame.back() ^= std::byte{0x01};
  EXPECT_EQ(decode_error(frame), FrameErrc::crc_mismatch);
  Bytes header_crc = encode_request(1, 2, 3, as_bytes("payload"));
  header_crc[4] ^= std::byte{0x80};
  EXPECT_EQ(decode_error(header_crc), FrameErrc::crc_mismatch);
  FrameHeader header{0, 0};
  EXPECT_TRUE(verify_body(header, {}).ok()) << "the CRC32C of nothing is 0";
}

TEST(RpcFrame, ShortBody) {
  EXPECT_EQ(decode_body({}).code(), FrameErrc::short_body);
  EXPECT_EQ(decode_error(sealed(hex("01"))), FrameErrc::short_body);
  EXPECT_EQ(decode_error(sealed(hex("0201000000000000"))), FrameErrc::short_body) << "call id cut";
  const Bytes request_body = hex("01" "0100000000000000" "0100" "010000");  // timeout cut
  EXPECT_EQ(decode_error(sealed(request_body)), FrameErrc::short_body);
  const Bytes response_body = hex("02" "0100000000000000" "00");  // status cut
  EXPECT_EQ(decode_error(sealed(response_body)), FrameErrc::short_body);
  // Exactly the fixed fields: an empty payload.
  EXPECT_TRUE(decode_frame(sealed(hex("01" "0100000000000000" "0100" "01000000")), kMax).ok());
  EXPECT_TRUE(decode_frame(sealed(hex("02" "0100000000000000" "0000")), kMax).ok());
}

TEST(RpcFrame, BadKind) {
  for (const char* kind : {"00", "03", "ff"}) {
    const Bytes body = hex(std::string(kind) + "0100000000000000" "0000" "00000000");
    EXPECT_EQ(decode_error(sealed(body)), FrameErrc::bad_kind) << kind;
  }
}

// Whatever is cut off or flipped, the frame is refused (never decoded into something else).
TEST(RpcFrame, EveryTruncationAndBitFlipIsRefused) {
  for (const Bytes& frame : {encode_request(77, 5, 100, as_bytes("some payload")), encode_response(77, RpcStatus::ok, as_bytes("x"))}) {
    for (size_t size = 0; size < frame.size(); ++size) {
      EXPECT_FALSE(decode_frame(ByteSpan(frame).first(size), kMax).ok()) << size;
    }
    for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
      Bytes flipped = frame;
      flipped[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      EXPECT_FALSE(decode_frame(flipped, kMax).ok()) << "bit " << bit;
    }
  }
}

// The cluster key's MAC is HMAC-SHA-512-256: RFC 4231 test case 2 (HMAC pads the key "Jefe" with
// zeros, as a 32-byte key of "Jefe" and 28 zeros is), truncated to 32 bytes.
TEST(ClusterKey, MacIsHmacSha512Truncated) {
  ClusterKey::Key raw{};
  const Bytes jefe = to_bytes("Jefe");
  std::copy(jefe.begin(), jefe.end(), raw.begin());
  const ClusterKey key(raw);
  const ClusterKey::Tag tag = key.mac(as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(Bytes(tag.begin(), tag.end()), hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"));
  EXPECT_TRUE(key.verify(as_bytes("what do ya want for nothing?"), tag));
  EXPECT_FALSE(key.verify(as_bytes("what do ya want for nothing!"), tag));
  EXPECT_FALSE(key.verify(as_bytes("what do ya want for nothing?"), ByteSpan(tag).first(31)));
  EXPECT_EQ(ClusterKey::derive(as_bytes("secret")), ClusterKey::derive(as_bytes("secret")));
  EXPECT_FALSE(ClusterKey::derive(as_bytes("secret")) == ClusterKey::derive(as_bytes("secreT")));
}

// With a key a frame is followed by its MAC; it decodes only with that key, and any flipped byte,
// a missing or cut trailer, or another key is refused.
TEST(RpcFrame, SealedFramesOpenOnlyWithTheKeyAndUntouched) {
  const ClusterKey key = ClusterKey::derive(as_bytes("the cluster's secret, 16+ bytes"));
  const Frame frame = request(7, 3, 250, "payload");
  const Bytes plain = encode_frame(frame);
  Bytes sealed_frame = plain;
  seal_frame(sealed_frame, key);
  ASSERT_EQ(sealed_frame.size(), plain.size() + ClusterKey::kTagBytes);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), sealed_frame.begin())) << "the frame itself is unchanged";
  FrameResult<Frame> opened = decode_sealed_frame(sealed_frame, kMax, key);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(*opened, frame);
  EXPECT_EQ(decode_sealed_frame(plain, kMax, key).code(), FrameErrc::unauthenticated);
  EXPECT_EQ(decode_sealed_frame(sealed_frame, kMax, ClusterKey::derive(as_bytes("another secret, 16+ bytes"))).code(),
            FrameErrc::unauthenticated);
  for (size_t i = 0; i < sealed_frame.size(); ++i) {
    for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
      Bytes flipped = sealed_frame;
      flipped[i] ^= std::byte{bit};
      EXPECT_EQ(decode_sealed_frame(flipped, kMax, key).code(), FrameErrc::unauthenticated) << "byte " << i;
    }
  }
  for (size_t size = 0; size < sealed_frame.size(); ++size) {
    EXPECT_FALSE(decode_sealed_frame(ByteSpan(sealed_frame).first(size), kMax, key).ok()) << size << " bytes";
  }
}

TEST(RpcFrame, StatusNames) {
  EXPECT_EQ(to_string(RpcStatus::ok), "ok");
  EXPECT_EQ(to_string(RpcStatus::overloaded), "overloaded");
  EXPECT_EQ(to_string(RpcStatus::too_large), "too_large");
  EXPECT_EQ(to_string(static_cast<RpcStatus>(999)), "unknown");
}

}  // namespace
}  // namespace sluice::rpc
