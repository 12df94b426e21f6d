// The SWIM driver: runs a swim::Core on a Runtime. One fiber owns the datagram socket: it
// receives until the core's next deadline, feeds the core, ticks it and sends what it produced.
// Push-pull full-state exchanges run over streams on the same port number (client fibers per
// request, a bounded number at once; a listener fiber serves peers). Membership events reach
// every subscriber's channel. The same code runs in the simulator and on the epoll runtime.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "node/swim/core.h"
#include "runtime/accept_loop.h"
#include "runtime/runtime.h"

namespace sluice::swim {

struct DriverConfig {
  // core.self_id: the node's id (server::Node sets it from its identity); core.self_address must
  // be "<runtime host>:<port>"; core.self_named: the node's other endpoints, for its peers.
  Config core;
  uint16_t port = 7946;              // UDP for datagrams, TCP for push-pull
  std::vector<std::string> seeds;    // "host:port"; empty for the first member
  size_t push_pulls_in_flight_max = 4;   // we started
  size_t push_pulls_served_max = 64;     // peers started (more at once are closed at once)
  runtime::Duration push_pull_timeout = std::chrono::seconds(3);
  size_t subscribers_max = 16;
};

struct DriverStats {
  uint64_t send_errors = 0;
  uint64_t push_pulls_skipped = 0;   // requested while push_pulls_in_flight_max were running
  uint64_t push_pull_failures = 0;   // connect, I/O, decode or merge failed
  uint64_t push_pulls_served = 0;
  uint64_t events_dropped = 0;       // a subscriber's channel was full
  // A cluster key is set and a push-pull frame had no valid MAC: the stream is closed at once
  // (also counted in push_pull_failures). Datagrams: Stats::dropped_unauthenticated of the core.
  uint64_t push_pulls_unauthenticated = 0;
};

class Driver {
 public:
  Driver(runtime::Runtime& runtime, DriverConfig config);
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Binds the datagram socket and the push-pull listener, joins the seeds, spawns the fibers.
  runtime::Status start();
  // Graceful leave: the core announces it, then the driver stops once the news has spread.
  void leave();
  // A channel that receives every membership event from now on (full: events are dropped and
  // counted). At most subscribers_max.
  std::shared_ptr<runtime::Channel<Event>> subscribe(size_t capacity);

  const Core& core() const { return core_; }
  const DriverStats& stats() const { return stats_; }

 private:
  uint64_t now_ms();
  void run_datagrams();
  void push_pull_with(std::string to, bool join);
  void serve_push_pull(runtime::Stream& stream);
  runtime::Status exchange(runtime::Stream& stream, bool send_first, bool join);
  void flush();

  runtime::Runtime& runtime_;
  DriverConfig config_;
  runtime::AcceptLoop push_pull_acceptor_;
  Core core_;
  DriverStats stats_;
  std::unique_ptr<runtime::DatagramSocket> socket_;
  std::vector<std::shared_ptr<runtime::Channel<Event>>> subscribers_;
  size_t push_pulls_in_flight_ = 0;
  bool leaving_ = false;
};

}  // namespace sluice::swim
