// The cluster secret on SWIM (docs/formats/swim.md, "Cluster secret"): swim::Driver on the
// simulated network. Members holding the same key converge; an outsider with no key or another
// key cannot join (its datagrams and push-pull frames are dropped and counted) and never appears
// in a member's table. Without a key on any member nothing changes on the wire.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/base/cluster_key.h"
#include "node/swim/driver.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/testing/sim_rig.h"
#include "tests/testing/world_config.h"

namespace sluice::swim {
namespace {

namespace rt = sluice::runtime;
using testing::kSimMsNs;

constexpr uint16_t kPort = 7946;
constexpr size_t kMembers = 3;  // nodes 0..2 hold the cluster's key; the others are outsiders

ClusterKey key_of(std::string_view secret) { return ClusterKey::derive(as_bytes(secret)); }

class DriverApp final : public sim::NodeApp {
 public:
  DriverApp(sim::SimRuntime& runtime, DriverConfig config) : driver(runtime, std::move(config)) {
    EXPECT_TRUE(driver.start().ok());
  }
  Driver driver;
};

struct Rig {
  // Node i runs a driver with keys[i], joining through node 0.
  Rig(uint64_t seed, std::vector<std::optional<ClusterKey>> keys) : world(testing::quiet_world(seed)) {
    for (size_t i = 0; i < keys.size(); ++i) world.add_node();
    world.set_app_factory([this, keys](sim::SimRuntime& runtime) -> std::unique_ptr<sim::NodeApp> {
      const size_t index = static_cast<size_t>(runtime.node());
      DriverConfig config;
      config.port = kPort;
      config.core.self_id = static_cast<NodeId>(index + 1);
      config.core.self_address = rt::Address{world.host(runtime.node()), kPort}.to_string();
      config.core.cluster_id = 7;
      config.core.cluster_key = keys[index];
      if (index > 0) config.seeds = {rt::Address{world.host(0), kPort}.to_string()};
      return std::make_unique<DriverApp>(runtime, std::move(config));
    });
    for (size_t i = 0; i < keys.size(); ++i) world.start(static_cast<sim::NodeIndex>(i));
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kSimMsNs); }
  Driver& driver(size_t index) { return dynamic_cast<DriverApp*>(world.app(static_cast<sim::NodeIndex>(index)))->driver; }

  sim::World world;
};

TEST(SwimClusterSecret, MembersWithTheKeyConvergeAndOutsidersAreRejectedAndCounted) {
  for (uint64_t seed : testing::sim_seeds(3)) {
    const ClusterKey key = key_of("the cluster's secret, 16+ bytes");
    // Node 3 knows no secret, node 4 another one.
    Rig rig(seed, {key, key, key, std::nullopt, key_of("someone else's secret bytes")});
    rig.run_ms(20'000);
    uint64_t datagrams_refused = 0;
    uint64_t push_pulls_refused = 0;
    for (size_t i = 0; i < kMembers; ++i) {
      const Core& core = rig.driver(i).core();
      EXPECT_EQ(core.live_members(), kMembers) << "member " << i << testing::replay_hint(seed);
      for (NodeId outsider : {NodeId{4}, NodeId{5}}) {
        EXPECT_EQ(core.member(outsider), nullptr) << "member " << i << " knows outsider " << outsider << testing::replay_hint(seed);
      }
      datagrams_refused += core.stats().dropped_unauthenticated;
      push_pulls_refused += rig.driver(i).stats().push_pulls_unauthenticated;
    }
    EXPECT_GT(datagrams_refused, 0u) << testing::replay_hint(seed);
    EXPECT_GT(push_pulls_refused, 0u) << "the outsider with another key tried to join by push-pull" << testing::replay_hint(seed);
    for (size_t outsider : {size_t{3}, size_t{4}}) {
      EXPECT_EQ(rig.driver(outsider).core().live_members(), 1u) << "outsider " << outsider << " sees members" << testing::replay_hint(seed);
    }
  }
}

TEST(SwimClusterSecret, WithoutAKeyEveryoneJoinsAsBefore) {
  Rig rig(1, {std::nullopt, std::nullopt, std::nullopt});
  rig.run_ms(10'000);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rig.driver(i).core().live_members(), 3u);
    EXPECT_EQ(rig.driver(i).core().stats().dropped_unauthenticated, 0u);
  }
}

}  // namespace
}  // namespace sluice::swim
