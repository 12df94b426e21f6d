// RuntimeHarness over the real runtime: a fresh EpollRuntime on a fresh temporary data directory
// (mkdtemp under $TMPDIR or /tmp) per run, removed afterwards.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/epoll/epoll_runtime.h"
#include "tests/runtime/harness.h"

namespace sluice::runtime::testing {
namespace {

class EpollHarness final : public RuntimeHarness {
 public:
  std::string name() const override { return "epoll"; }

  void run(std::function<void(Runtime&)> body) override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-epoll-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
      return;
    }
    {
      auto runtime = epoll::EpollRuntime::create(epoll::EpollOptions{.data_dir = pattern});
      if (!runtime.ok()) {
        ADD_FAILURE() << "EpollRuntime::create: " << runtime.status().to_string();
      } else {
        Runtime& rt = **runtime;
        Status status = (*runtime)->run([&] { body(rt); });
        EXPECT_TRUE(status.ok()) << status.to_string();
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(pattern, ignored);
  }
};

}  // namespace

std::unique_ptr<RuntimeHarness> make_epoll_harness() { return std::make_unique<EpollHarness>(); }

}  // namespace sluice::runtime::testing
