// The packet delayer's core (delay_queue.h): delays inside their bounds, reordering with jitter
// or reorder_percent and none without, the held-packet bound, and a seed's decisions replayed.
#include "tests/e2e/realfault/delay_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

namespace sluice::realfault {
namespace {

// Packets 0..count-1 arriving `gap_us` apart; returns each one's release time (µs), releasing
// by polling at every microsecond step the queue names.
std::map<uint32_t, int64_t> run(DelayQueue& queue, uint32_t count, int64_t gap_us, std::vector<uint32_t>* order = nullptr) {
  std::map<uint32_t, int64_t> released;
  std::vector<uint32_t> out;
  auto take = [&](int64_t now) {
    for (uint32_t id : out) {
      released[id] = now;
      if (order != nullptr) order->push_back(id);
    }
    out.clear();
  };
  for (uint32_t id = 0; id < count; ++id) {
    const int64_t now = static_cast<int64_t>(id) * gap_us;
    while (queue.next_due_us() && *queue.next_due_us() <= now) {
      const int64_t at = *queue.next_due_us();
      queue.due(at, out);
      take(at);
    }
    if (!queue.arrive(id, now)) {
      out.push_back(id);
      take(now);
    }
  }
  while (queue.next_due_us()) {
    const int64_t at = *queue.next_due_us();
    queue.due(at, out);
    take(at);
  }
  return released;
}

TEST(DelayQueue, EveryPacketIsReleasedWithinItsDelayBounds) {
  DelayQueue queue(DelayConfig{50'000, 20'000, 0, 4096}, 7);
  const auto released = run(queue, 500, 1'000);
  ASSERT_EQ(released.size(), 500u);
  int64_t shortest = INT64_MAX, longest = 0;
  for (const auto& [id, at] : released) {
    const int64_t delay = at - static_cast<int64_t>(id) * 1'000;
    shortest = std::min(shortest, delay);
    longest = std::max(longest, delay);
  }
  EXPECT_GE(shortest, 30'000);
  EXPECT_LE(longest, 70'000);
  EXPECT_LT(shortest, 35'000);  // the whole range is used
  EXPECT_GT(longest, 65'000);
  EXPECT_EQ(queue.stats().delayed, 500u);
  EXPECT_EQ(queue.held(), 0u);
}

TEST(DelayQueue, WithoutJitterOrderIsKept) {
  DelayQueue queue(DelayConfig{20'000, 0, 0, 4096}, 3);
  std::vector<uint32_t> order;
  run(queue, 300, 500, &order);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(queue.stats().reordered, 0u);
}

TEST(DelayQueue, JitterWiderThanTheGapReorders) {
  DelayQueue queue(DelayConfig{20'000, 10'000, 0, 4096}, 3);
  std::vector<uint32_t> order;
  run(queue, 300, 500, &order);
  ASSERT_EQ(order.size(), 300u);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  EXPECT_GT(queue.stats().reordered, 30u);
}

// netem's "reorder": a share of the packets goes at once, ahead of the held ones.
TEST(DelayQueue, ReorderPercentSendsPacketsAhead) {
  DelayQueue queue(DelayConfig{20'000, 0, 30, 4096}, 11);
  std::vector<uint32_t> order;
  run(queue, 1000, 500, &order);
  EXPECT_GT(queue.stats().sent_at_once, 200u);
  EXPECT_LT(queue.stats().sent_at_once, 400u);
  EXPECT_EQ(queue.stats().sent_at_once + queue.stats().delayed, 1000u);
  EXPECT_GT(queue.stats().reordered, 200u);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(DelayQueue, HoldsAtMostItsLimitAndSendsTheRestAtOnce) {
  DelayQueue queue(DelayConfig{1'000'000, 0, 0, 10}, 5);
  std::vector<uint32_t> out;
  size_t at_once = 0;
  for (uint32_t id = 0; id < 25; ++id) at_once += queue.arrive(id, id) ? 0 : 1;
  EXPECT_EQ(queue.held(), 10u);
  EXPECT_EQ(at_once, 15u);
  EXPECT_EQ(queue.stats().over_limit, 15u);
  queue.drain(out);
  EXPECT_EQ(out, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(queue.held(), 0u);
  EXPECT_FALSE(queue.next_due_us().has_value());
}

TEST(DelayQueue, TheSameSeedMakesTheSameDecisions) {
  std::vector<uint32_t> a, b, c;
  DelayQueue first(DelayConfig{20'000, 15'000, 10, 4096}, 42), second(DelayConfig{20'000, 15'000, 10, 4096}, 42),
      other(DelayConfig{20'000, 15'000, 10, 4096}, 43);
  EXPECT_EQ(run(first, 200, 700, &a), run(second, 200, 700, &b));
  EXPECT_EQ(a, b);
  run(other, 200, 700, &c);
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace sluice::realfault
