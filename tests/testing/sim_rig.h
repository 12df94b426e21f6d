// The simulation test rig shared by every test that runs code on a simulated world: seeds taken
// from the environment, a replay hint naming the exact command, a one-node world running one app,
// and a bare simulated disk for code that needs no fibers.
//
//   SLUICE_SEED=N   runs seed N alone (replaying a failure)
//   SLUICE_SEEDS=N  runs seeds 1..N instead of the test's default count (a longer sweep)
#pragma once

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/base/random.h"
#include "sim/disk.h"
#include "sim/sim_runtime.h"
#include "sim/world.h"

namespace sluice::testing {

inline constexpr int64_t kSimMsNs = 1'000'000;

// The seeds a simulation test runs (see the top of this file).
inline std::vector<uint64_t> sim_seeds(uint64_t default_count) {
  if (const char* one = std::getenv("SLUICE_SEED"); one != nullptr) return {std::stoull(one)};
  uint64_t count = default_count;
  if (const char* many = std::getenv("SLUICE_SEEDS"); many != nullptr) count = std::stoull(many);
  std::vector<uint64_t> all;
  for (uint64_t seed = 1; seed <= count; ++seed) all.push_back(seed);
  return all;
}

// " (seed S; replay: SLUICE_SEED=S <binary> --gtest_filter=<this test>)", for failure messages.
inline std::string replay_hint(uint64_t seed) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter = test == nullptr ? "" : std::string(" --gtest_filter=") + test->test_suite_name() + "." + test->name();
  return " (seed " + std::to_string(seed) + "; replay: SLUICE_SEED=" + std::to_string(seed) + " build/bin/" +
         program_invocation_short_name + filter + ")";
}

// A world of one node whose app, built by `make_app` at every start, reports to an Oracle that
// outlives every incarnation (it is declared before the world). Sectors are 64 bytes, so torn
// writes land inside the small records tests write.
template <typename Oracle>
struct OneNodeWorld {
  using MakeApp = std::function<std::unique_ptr<sim::NodeApp>(sim::SimRuntime&, Oracle&)>;

  OneNodeWorld(uint64_t seed, MakeApp make_app, sim::DiskConfig disk = {}) : world(world_config(seed, disk)) {
    node = world.add_node();
    world.set_app_factory([this, make_app = std::move(make_app)](sim::SimRuntime& runtime) { return make_app(runtime, oracle); });
  }
  static sim::WorldConfig world_config(uint64_t seed, sim::DiskConfig disk) {
    sim::WorldConfig config;
    config.seed = seed;
    config.disk = disk;
    config.disk.sector_bytes = 64;
    return config;
  }
  void run_ms(int64_t ms) { world.run_until(world.now_ns() + ms * kSimMsNs); }

  Oracle oracle;
  sim::World world;
  sim::NodeIndex node = 0;
};

// A simulated disk whose environment never parks, so code runs on it straight from a test (no
// fibers): crash() is a power loss and a fresh Filesystem view.
class NoWaitEnvironment final : public sim::DiskEnvironment {
 public:
  explicit NoWaitEnvironment(uint64_t seed) : prng_(seed) {}
  Prng& disk_prng() override { return prng_; }
  runtime::Status disk_delay(runtime::Duration /*latency*/) override { return runtime::Status(); }
  void disk_trace(std::string_view /*operation*/, uint64_t /*detail*/) override {}

 private:
  Prng prng_;
};

struct DiskRig {
  explicit DiskRig(sim::DiskConfig config = {}, uint64_t seed = 1)
      : disk(config), environment(seed), fs(sim::make_sim_filesystem(disk, environment)) {}

  // Every open file on this disk must be closed first.
  void crash(uint64_t seed) {
    fs.reset();
    Prng prng(seed);
    disk.crash(prng);
    fs = sim::make_sim_filesystem(disk, environment);
  }

  sim::SimDisk disk;
  NoWaitEnvironment environment;
  std::unique_ptr<runtime::Filesystem> fs;
};

}  // namespace sluice::testing
