// The accept loop written once above the seam: a fiber accepts connections on a listener and
// runs `serve(stream)` on a fiber of its own for each, at most `connections_max` at once (a
// connection beyond that is closed at once and counted). SWIM push-pull, the Raft transport and
// the HTTP server all use it.
//
// The loop ends when the listener is closed or fails, or its fiber is cancelled; connection
// fibers end when `serve` returns. The AcceptLoop must outlive every fiber it spawned (owners
// are node objects, destroyed after the runtime unwound their fibers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "node/base/unique_function.h"
#include "runtime/runtime.h"

namespace sluice::runtime {

struct AcceptStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;  // above connections_max
  size_t open = 0;       // connections being served now
};

class AcceptLoop {
 public:
  using Serve = UniqueFunction<void(std::unique_ptr<Stream> stream)>;

  // `name` names the fibers ("<name>-accept", "<name>-conn").
  AcceptLoop(Runtime& runtime, std::string name, size_t connections_max);
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;

  // Listens on `port` (0: any free port) and spawns the accept fiber.
  Status start(uint16_t port, Serve serve);
  // The same with a listener made elsewhere.
  void start(std::unique_ptr<Listener> listener, Serve serve);
  // Stops accepting (connections being served go on).
  void close();

  Address local_address() const;
  const AcceptStats& stats() const { return stats_; }

 private:
  void run();

  Runtime& runtime_;
  std::string name_;
  size_t connections_max_;
  std::unique_ptr<Listener> listener_;
  Serve serve_;
  AcceptStats stats_;
};

}  // namespace sluice::runtime
