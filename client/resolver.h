// The topic resolver's driver (client/resolver_core.h has the rules): a sender asks for its
// partition's route and gets it at once from the cache, or waits while exactly one metadata
// request per topic (GET /v1/topics/{topic}/metadata, to any node) is answered. Shared by every
// producer and consumer of a Client, on the runtime's fibers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "client/errors.h"
#include "client/resolver_core.h"
#include "runtime/runtime.h"

namespace sluice::client {

class Client;

struct ResolvedRoute {
  PartitionRoute route;
  rt::Address leader;       // route.leader_api parsed
  uint64_t generation = 0;  // pass back to report_stale()
};

class TopicResolver {
 public:
  // A topic unknown to the node asked may be one just created that the node has not applied yet:
  // unknown_topic is asked again for this long before it is an answer.
  static constexpr rt::Duration kUnknownTopicPatience = std::chrono::seconds(2);

  TopicResolver(Client& client, ResolverLimits limits) : client_(client), core_(limits) {}

  Result<ResolvedRoute> route(const std::string& topic, uint32_t partition, rt::Instant deadline);
  Result<uint32_t> partition_count(const std::string& topic, rt::Instant deadline);
  // A send with the route of `generation` found the leader elsewhere (client/errors.h
  // stale_route()): the partition is resolved again before its next send.
  void report_stale(const std::string& topic, uint32_t partition, uint64_t generation) {
    (void)core_.report_stale(topic, partition, generation);
  }
  const ResolverCore& core() const { return core_; }

 private:
  Result<ResolverCore::Lookup> resolve(const std::string& topic, std::optional<uint32_t> partition, rt::Instant deadline);
  Result<TopicRoutes> request_routes(const std::string& topic, rt::Instant deadline);

  Client& client_;
  ResolverCore core_;
  rt::WaitList waiters_;  // woken by every answer
};

}  // namespace sluice::client
