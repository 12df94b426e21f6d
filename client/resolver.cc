#include "client/resolver.h"

#include <algorithm>
#include <optional>

#include "client/client.h"

namespace sluice::client {

using Json = nlohmann::json;

Result<ResolvedRoute> TopicResolver::route(const std::string& topic, uint32_t partition, rt::Instant deadline) {
  Result<ResolverCore::Lookup> found = resolve(topic, partition, deadline);
  if (!found.ok()) return found.status();
  rt::Result<rt::Address> leader = rt::Address::parse(found->route.leader_api);
  if (!leader.ok()) return Status(Errc::protocol_error, "leader address " + found->route.leader_api + ": " + leader.status().message());
  return ResolvedRoute{found->route, *leader, found->generation};
}

Result<uint32_t> TopicResolver::partition_count(const std::string& topic, rt::Instant deadline) {
  Result<ResolverCore::Lookup> found = resolve(topic, std::nullopt, deadline);
  if (!found.ok()) return found.status();
  return static_cast<uint32_t>(core_.routes(topic)->partitions.size());
}

Result<ResolverCore::Lookup> TopicResolver::resolve(const std::string& topic, std::optional<uint32_t> partition, rt::Instant deadline) {
  rt::Runtime& runtime = client_.runtime();
  const rt::Instant patience_end = runtime.now() + kUnknownTopicPatience;
  while (true) {
    ResolverCore::Lookup lookup = core_.lookup(topic, partition, runtime.now());
    if (lookup.step == ResolverCore::Step::use_route) return lookup;
    if (lookup.step == ResolverCore::Step::request) {
      std::optional<PartitionRoute> was;
      if (const TopicRoutes* routes = core_.routes(topic); routes != nullptr && partition && *partition < routes->partitions.size()) {
        was = routes->partitions[*partition];
      }
      Result<TopicRoutes> answer = request_routes(topic, deadline);
      // An answer that names no reachable leader for the partition, or the route that just failed,
      // may be one node's stale view: a node holding no replica of the partition names its
      // preferred leader, also a gone one. The next request goes to another node; asking this one
      // again would get the same answer every refresh_interval_min until the leader came back.
      if (answer.ok() && partition && *partition < answer->partitions.size()) {
        const PartitionRoute& now = answer->partitions[*partition];
        if (now.leader_api.empty() || now == was) client_.skip_node();
      }
      core_.complete(topic, answer, runtime.now());
      waiters_.wake_all(runtime.scheduler());
      if (!answer.ok() && !retriable(answer.code()) &&
          !(answer.code() == Errc::unknown_topic && runtime.now() < patience_end)) {
        return answer.status();
      }
      if (answer.ok() && partition && *partition >= answer->partitions.size()) {
        return Status(Errc::unknown_partition, topic + " has " + std::to_string(answer->partitions.size()) + " partitions");
      }
      continue;
    }
    if (runtime.now() >= deadline) {
      return lookup.last_error ? lookup.last_error->with_context("resolving " + topic) : Status(Errc::timeout, "resolving " + topic);
    }
    rt::WaitNode node(waiters_, runtime.scheduler().current_token());
    runtime.scheduler().park_until(std::min(lookup.retry_at, deadline));
    if (runtime.scheduler().cancel_requested()) return Status(Errc::cancelled, "resolving " + topic);
  }
}

Result<TopicRoutes> TopicResolver::request_routes(const std::string& topic, rt::Instant deadline) {
  Result<Json> body = client_.call_json("GET", "/v1/topics/" + path_segment(topic) + "/metadata", nullptr, deadline);
  if (!body.ok()) return body.status();
  try {
    TopicRoutes routes;
    routes.topic_id = body->at("id").get<uint64_t>();
    for (const Json& partition : body->at("partitions")) {
      routes.partitions.push_back(PartitionRoute{partition.value("leader", NodeId{kNoNode}), partition.value("leader_api", std::string())});
    }
    for (const Json& node : body->value("nodes", Json::array())) {
      std::string api = node.at("api").get<std::string>();
      if (rt::Result<rt::Address> address = rt::Address::parse(api); address.ok()) client_.learn_node(*address);
      routes.node_apis.push_back(std::move(api));
    }
    return routes;
  } catch (const Json::exception& error) {
    return Status(Errc::protocol_error, std::string("topic metadata: ") + error.what());
  }
}

}  // namespace sluice::client
