// The runtime seam: everything a node's logic may use from the world. Two implementations: the
// deterministic simulator (sim/) and the epoll reactor with Boost.Context fibers
// (runtime/epoll/). One Runtime per node; never a global.
//
// Logic is straight-line fiber code: blocking calls suspend the calling fiber only. Every fiber a
// node spawns belongs to its Runtime; destroying the Runtime (or a simulated crash) unwinds them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "runtime/errors.h"
#include "runtime/fs.h"
#include "runtime/net.h"
#include "runtime/scheduler.h"
#include "runtime/sync.h"
#include "runtime/time.h"

namespace sluice::runtime {

// A BUGGIFY fault point. File is the base name (__FILE_NAME__) so site identities, and hence
// per-seed decisions, do not depend on where the source tree was checked out.
struct SiteId {
  std::string_view file;
  int line = 0;
};

#define SLUICE_BUGGIFY(rt) ((rt).buggify(::sluice::runtime::SiteId{__FILE_NAME__, __LINE__}))

class Runtime : public TimerSource {
 public:
  ~Runtime() override = default;

  // Monotonic nanoseconds since this runtime started (virtual, drifting per node, in the sim).
  Instant now() override = 0;
  // Wall clock; may be skewed or jump (per node in the sim).
  virtual WallTime wall_now() = 0;
  // Seeded per node in the sim; from the OS on the real runtime.
  virtual uint64_t random() = 0;

  virtual Result<std::unique_ptr<DatagramSocket>> bind_datagram(uint16_t port) = 0;
  // Port 0 picks a free port; Listener::local_address() tells which.
  virtual Result<std::unique_ptr<Listener>> listen(uint16_t port) = 0;
  virtual Result<std::unique_ptr<Stream>> connect(const Address& to, Duration timeout) = 0;
  // The host name or address this node is reached at.
  virtual std::string_view host() const = 0;

  virtual Filesystem& fs() = 0;

  // True when this fault point should misbehave now. Always false on the real runtime.
  virtual bool buggify(SiteId site) = 0;

  virtual Scheduler& scheduler() = 0;

  // --- written once over the scheduler ---
  // The body may own move-only things (a stream, a reply sender).
  Task spawn(std::string_view name, UniqueFunction<void()> body) {
    return Task(&scheduler(), scheduler().spawn(name, std::move(body)));
  }
  Status sleep_until(Instant deadline) { return scheduler().sleep_until(deadline); }
  Status sleep_for(Duration duration) { return sleep_until(now() + duration); }
  // True once the calling fiber is cancelled or the node is shutting down.
  bool cancelled() { return scheduler().cancel_requested(); }
  // Uniform in [0, bound) without modulo bias. bound > 0.
  uint64_t random_below(uint64_t bound);
};

}  // namespace sluice::runtime
