// The project's own PRNG and distributions. std::*_distribution differs between standard
// libraries, so a seed would not replay across machines; these are fixed algorithms.
#pragma once

#include <cmath>
#include <cstdint>

#include "node/base/assert.h"
#include "node/base/hash.h"

namespace sluice {

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : state_) {
      x += 0x9e3779b97f4a7c15ULL;
      word = mix64(x);
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // A child generator with its own stream: same parent state and salt give the same child.
  Prng fork(uint64_t salt) { return Prng(hash_combine(next(), salt)); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Uniform in [0, bound), unbiased (Lemire's multiply-and-reject). `next` yields 64 random bits.
template <typename Next>
uint64_t random_below(Next&& next, uint64_t bound) {
  SLUICE_ASSERT_GT(bound, 0u);
  unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
  auto low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(next()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

// Uniform in [0, 1) with 53 bits of precision.
template <typename Next>
double random_unit(Next&& next) {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

// Uniform in [low, high] inclusive.
template <typename Next>
int64_t random_range(Next&& next, int64_t low, int64_t high) {
  SLUICE_ASSERT_LE(low, high);
  const uint64_t span = static_cast<uint64_t>(high - low);
  if (span == UINT64_MAX) return static_cast<int64_t>(next());
  return low + static_cast<int64_t>(random_below(next, span + 1));
}

template <typename Next>
bool random_chance(Next&& next, double probability) {
  if (probability <= 0) return false;
  if (probability >= 1) return true;
  return random_unit(next) < probability;
}

// Exponential with the given mean (inverse transform; log from <cmath> is correctly rounded
// enough on every platform we target, and only feeds simulated delays).
template <typename Next>
double random_exponential(Next&& next, double mean) {
  return -mean * std::log1p(-random_unit(next));
}

}  // namespace sluice
