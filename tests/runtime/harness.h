// A way to run a test body inside a fresh runtime, so one conformance suite covers both
// implementations (the simulator and the epoll runtime).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "runtime/runtime.h"

namespace sluice::runtime::testing {

class RuntimeHarness {
 public:
  virtual ~RuntimeHarness() = default;
  virtual std::string name() const = 0;
  // Runs `body` as a fiber of a fresh runtime (with an empty data directory) until it returns,
  // then shuts the runtime down. Fibers the body spawned and left running are cancelled.
  virtual void run(std::function<void(Runtime&)> body) = 0;
};

std::unique_ptr<RuntimeHarness> make_epoll_harness();  // tests/runtime/epoll_harness.cc
std::unique_ptr<RuntimeHarness> make_sim_harness();    // tests/runtime/sim_harness.cc

}  // namespace sluice::runtime::testing
