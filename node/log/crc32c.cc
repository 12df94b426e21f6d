#include "node/log/crc32c.h"

#include <array>
#include <cstring>

namespace sluice::log {
namespace {

constexpr uint32_t kPolynomialReflected = 0x82F63B78u;

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) != 0 ? kPolynomialReflected : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

// Polynomials over GF(2) modulo the CRC polynomial, in the CRC's reflected order: bit 31 is the
// coefficient of x^0, bit 0 that of x^31.
constexpr uint32_t kXPower0 = 1u << 31;

constexpr uint32_t multiply_mod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = kXPower0; bit != 0; bit >>= 1) {
    if ((a & bit) != 0) product ^= b;
    b = (b & 1u) != 0 ? (b >> 1) ^ kPolynomialReflected : b >> 1;  // b *= x
  }
  return product;
}

// kXToTwoToThe[k] = x^(2^k) mod P, for k up to 3 + 64 (8 * any 64-bit byte count).
constexpr std::array<uint32_t, 67> make_powers() {
  std::array<uint32_t, 67> powers{};
  powers[0] = kXPower0 >> 1;  // x^1
  for (size_t k = 1; k < powers.size(); ++k) powers[k] = multiply_mod(powers[k - 1], powers[k - 1]);
  return powers;
}

constexpr std::array<uint32_t, 67> kXToTwoToThe = make_powers();

// x^(8 * bytes) mod P.
constexpr uint32_t x_to_bits_of(uint64_t bytes) {
  uint32_t power = kXPower0;
  size_t k = 3;  // 8 * bytes = bytes * 2^3
  for (; bytes != 0; bytes >>= 1, ++k) {
    if ((bytes & 1u) != 0) power = multiply_mod(kXToTwoToThe[k], power);
  }
  return power;
}

}  // namespace

// The CRC is affine in its input: crc(a ++ b) = crc(a) * x^(8|b|) + crc(b) (the initial value and
// final xor cancel out), so shifting crc(a) past b's length and adding crc(b) gives it.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t b_bytes) {
  return multiply_mod(x_to_bits_of(b_bytes), crc_a) ^ crc_b;
}

uint32_t crc32c_table(ByteSpan bytes, uint32_t crc) {
  uint32_t state = ~crc;
  for (std::byte b : bytes) state = (state >> 8) ^ kTable[(state ^ static_cast<uint32_t>(b)) & 0xFFu];
  return ~state;
}

#if defined(__x86_64__)

bool crc32c_hardware_available() {
  // A property of the machine, not state: the answer never changes while the process runs.
  static const bool available = __builtin_cpu_supports("sse4.2");
  return available;
}

namespace {

// Three lanes of this many bytes at a time: the crc32 instruction takes 3 cycles and issues one
// per cycle, so three independent chains run about three times as fast as one.
constexpr size_t kLaneBytes = 4096;
constexpr uint32_t kLaneShift = x_to_bits_of(kLaneBytes);

__attribute__((target("sse4.2"))) inline uint64_t crc32c_word(uint64_t state, const std::byte* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);  // unaligned load without undefined behaviour
  return __builtin_ia32_crc32di(state, word);
}

}  // namespace

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(ByteSpan bytes, uint32_t crc) {
  uint64_t state = static_cast<uint32_t>(~crc);
  const std::byte* p = bytes.data();
  size_t left = bytes.size();
  // The register is linear in its start: the lanes after the first start from 0, and the state
  // after lane k is carried past the lanes behind it (a multiplication by x^(8 * kLaneBytes)).
  while (left >= 3 * kLaneBytes) {
    uint64_t a = state, b = 0, c = 0;
    for (size_t i = 0; i < kLaneBytes; i += 8) {
      a = crc32c_word(a, p + i);
      b = crc32c_word(b, p + kLaneBytes + i);
      c = crc32c_word(c, p + 2 * kLaneBytes + i);
    }
    const uint32_t ab = multiply_mod(kLaneShift, static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b);
    state = multiply_mod(kLaneShift, ab) ^ static_cast<uint32_t>(c);
    p += 3 * kLaneBytes;
    left -= 3 * kLaneBytes;
  }
  while (left >= 8) {
    state = crc32c_word(state, p);
    p += 8;
    left -= 8;
  }
  auto state32 = static_cast<uint32_t>(state);
  for (; left > 0; --left, ++p) state32 = __builtin_ia32_crc32qi(state32, static_cast<uint8_t>(*p));
  return ~state32;
}

#else

bool crc32c_hardware_available() { return false; }
uint32_t crc32c_hardware(ByteSpan bytes, uint32_t crc) { return crc32c_table(bytes, crc); }

#endif

uint32_t crc32c(ByteSpan bytes, uint32_t crc) {
  return crc32c_hardware_available() ? crc32c_hardware(bytes, crc) : crc32c_table(bytes, crc);
}

}  // namespace sluice::log
