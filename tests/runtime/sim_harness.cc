// Runs conformance bodies on one node of a simulated world (seed fixed), stepping virtual time
// until the body's fiber returns.
#include <gtest/gtest.h>

#include "sim/sim_runtime.h"
#include "sim/world.h"
#include "tests/runtime/harness.h"

namespace sluice::runtime::testing {
namespace {

constexpr int64_t kVirtualNsMax = 3600LL * 1'000'000'000;  // a body still blocked after an hour is stuck

class SimHarness final : public RuntimeHarness {
 public:
  std::string name() const override { return "sim"; }

  void run(std::function<void(Runtime&)> body) override {
    sim::WorldConfig config;
    config.seed = 42;
    sim::World world(config);
    const sim::NodeIndex node = world.add_node();
    bool finished = false;
    world.set_app_factory([&](sim::SimRuntime& runtime) {
      runtime.spawn("test-body", [&] {
        body(runtime);
        finished = true;
      });
      return std::make_unique<sim::NodeApp>();
    });
    world.start(node);
    while (!finished && world.now_ns() < kVirtualNsMax && world.step()) {
    }
    EXPECT_TRUE(finished) << "the test body never returned: it is blocked with "
                          << world.pending_events() << " events pending at t=" << world.now_ns() << "ns";
  }
};

}  // namespace

std::unique_ptr<RuntimeHarness> make_sim_harness() { return std::make_unique<SimHarness>(); }

}  // namespace sluice::runtime::testing
