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

}  // namespace

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

__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(ByteSpan bytes, uint32_t crc) {
  uint64_t state = static_cast<uint32_t>(~crc);
  const std::byte* p = bytes.data();
  size_t left = bytes.size();
  while (left >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);  // unaligned load without undefined behaviour
    state = __builtin_ia32_crc32di(state, word);
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
