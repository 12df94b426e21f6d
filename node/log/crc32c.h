// CRC32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF), as
// used by iSCSI, ext4 and Kafka. crc32c() uses the SSE4.2 crc32 instruction when the CPU has it and
// a table otherwise; both give identical results, and both are exposed so tests cover each.
#pragma once

#include <cstdint>

#include "node/base/bytes.h"

namespace sluice::log {

// The CRC of `bytes` continued from `crc` (the CRC of the bytes before them; 0 to start), so
// crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(ByteSpan bytes, uint32_t crc = 0);

// The CRC of a ++ b from crc32c(a), crc32c(b) and b's length, without reading either: a
// multiplication by x^(8 * b_bytes) modulo the polynomial, O(log b_bytes). Lets a writer change a
// batch's header and update its CRC without another pass over the records (restamp_batch).
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t b_bytes);

uint32_t crc32c_table(ByteSpan bytes, uint32_t crc = 0);
// Only callable when crc32c_hardware_available().
uint32_t crc32c_hardware(ByteSpan bytes, uint32_t crc = 0);
bool crc32c_hardware_available();

}  // namespace sluice::log
