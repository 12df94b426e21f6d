// The topic resolver's pure core (seed 003, "Topic Resolver"): a cache of each topic's partition
// leaders, and the rule that decides, for a sender about to write to one partition, whether it
// may go ahead, must send a metadata request, or must wait for one already under way.
//
// - A partition whose route failed (not_leader, connection lost, ...) is marked stale: only its
//   senders stall; the topic's other partitions keep using their routes meanwhile.
// - However many partitions of a topic are stale, at most ONE metadata request for the topic is
//   in flight; everyone else waits for its answer.
// - Requests for one topic are spaced by at least refresh_interval_min (an answer that still
//   names no leader must not turn into a request loop).
// - A failure report carries the generation of the routes it used: a report about routes that
//   were already replaced does not mark the new ones stale.
// No I/O and no clock: time is an input. client/resolver.h drives it over HTTP.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/errors.h"
#include "node/base/ids.h"
#include "runtime/time.h"

namespace sluice::client {

namespace rt = sluice::runtime;

struct PartitionRoute {
  NodeId leader = kNoNode;
  std::string leader_api;  // "host:port" of the leader's HTTP API; empty: no leader known
  friend bool operator==(const PartitionRoute&, const PartitionRoute&) = default;
};

// A topic as one metadata answer showed it.
struct TopicRoutes {
  uint64_t topic_id = 0;
  std::vector<PartitionRoute> partitions;
  std::vector<std::string> node_apis;  // every replica's node: where to ask when a leader is gone
  friend bool operator==(const TopicRoutes&, const TopicRoutes&) = default;
};

struct ResolverLimits {
  rt::Duration refresh_interval_min = std::chrono::milliseconds(50);
  size_t topics_max = 10'000;  // cached topics; beyond it the least recently refreshed is dropped
};

class ResolverCore {
 public:
  enum class Step : uint8_t {
    use_route,  // `route` is good: send
    request,    // the caller sends THE metadata request for the topic now, then calls complete()
    wait,       // a request is under way, or the next may start only at `retry_at`: wait
  };
  struct Lookup {
    Step step = Step::wait;
    PartitionRoute route;              // use_route
    uint64_t generation = 0;           // use_route: pass it back to report_stale()
    rt::Instant retry_at{};            // wait: when to look again at the latest (if not woken)
    std::optional<Status> last_error;  // wait: the last request's error, if it failed
  };

  explicit ResolverCore(ResolverLimits limits = {}) : limits_(limits) {}

  // What a sender to `partition` of `topic` does at `now`; nullopt partition: it needs only the
  // topic's partition count (use_route then carries no route).
  Lookup lookup(const std::string& topic, std::optional<uint32_t> partition, rt::Instant now);
  // The answer to the request lookup() asked for: routes, or the error it failed with.
  void complete(const std::string& topic, const Result<TopicRoutes>& answer, rt::Instant now);
  // A send to `partition` with routes of `generation` failed in a way that says the route is
  // wrong. False when the report is about routes already replaced (nothing changes).
  bool report_stale(const std::string& topic, uint32_t partition, uint64_t generation);

  // The cached routes of `topic` (nullptr before the first answer).
  const TopicRoutes* routes(const std::string& topic) const;
  bool request_in_flight(const std::string& topic) const;
  // Metadata requests lookup() has asked for, per topic and in all.
  uint64_t requests_started(const std::string& topic) const;
  uint64_t requests_started_total() const { return requests_started_total_; }

 private:
  struct Topic {
    std::optional<TopicRoutes> routes;
    uint64_t generation = 0;  // bumped by every answer
    std::set<uint32_t> stale;
    bool in_flight = false;
    bool ever_requested = false;
    rt::Instant last_request_at{};
    std::optional<Status> last_error;
    uint64_t requests_started = 0;
  };
  bool usable(const Topic& topic, std::optional<uint32_t> partition) const;
  Lookup start_or_wait(Topic& topic, rt::Instant now);
  void evict_if_full(const std::string& keep);

  ResolverLimits limits_;
  std::map<std::string, Topic> topics_;
  uint64_t requests_started_total_ = 0;
};

}  // namespace sluice::client
