#include "client/resolver_core.h"

#include <algorithm>

#include "node/base/assert.h"

namespace sluice::client {

ResolverCore::Lookup ResolverCore::lookup(const std::string& topic_name, std::optional<uint32_t> partition, rt::Instant now) {
  auto [it, inserted] = topics_.try_emplace(topic_name);
  if (inserted) evict_if_full(topic_name);
  Topic& topic = topics_.at(topic_name);
  if (usable(topic, partition)) {
    Lookup found;
    found.step = Step::use_route;
    found.generation = topic.generation;
    if (partition) found.route = topic.routes->partitions[*partition];
    return found;
  }
  return start_or_wait(topic, now);
}

// A route is usable when the last answer named a leader for it and no send has failed on it
// since. A partition beyond the cached count is unusable: the topic may have grown.
bool ResolverCore::usable(const Topic& topic, std::optional<uint32_t> partition) const {
  if (!topic.routes) return false;
  if (!partition) return !topic.routes->partitions.empty();
  if (*partition >= topic.routes->partitions.size() || topic.stale.contains(*partition)) return false;
  return !topic.routes->partitions[*partition].leader_api.empty();
}

ResolverCore::Lookup ResolverCore::start_or_wait(Topic& topic, rt::Instant now) {
  Lookup lookup;
  lookup.last_error = topic.last_error;
  const rt::Instant allowed_at = topic.ever_requested ? topic.last_request_at + limits_.refresh_interval_min : now;
  if (topic.in_flight || now < allowed_at) {
    lookup.step = Step::wait;
    lookup.retry_at = topic.in_flight ? now + limits_.refresh_interval_min : allowed_at;
    return lookup;
  }
  topic.in_flight = true;
  topic.ever_requested = true;
  topic.last_request_at = now;
  ++topic.requests_started;
  ++requests_started_total_;
  lookup.step = Step::request;
  return lookup;
}

void ResolverCore::complete(const std::string& topic_name, const Result<TopicRoutes>& answer, rt::Instant /*now*/) {
  auto it = topics_.find(topic_name);
  if (it == topics_.end()) return;  // evicted meanwhile
  Topic& topic = it->second;
  SLUICE_ASSERT(topic.in_flight);
  topic.in_flight = false;
  if (!answer.ok()) {
    topic.last_error = answer.status();
    return;
  }
  topic.last_error.reset();
  topic.routes = *answer;
  topic.stale.clear();
  ++topic.generation;
}

bool ResolverCore::report_stale(const std::string& topic_name, uint32_t partition, uint64_t generation) {
  auto it = topics_.find(topic_name);
  if (it == topics_.end() || it->second.generation != generation) return false;
  return it->second.stale.insert(partition).second;
}

const TopicRoutes* ResolverCore::routes(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() || !it->second.routes ? nullptr : &*it->second.routes;
}

bool ResolverCore::request_in_flight(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it != topics_.end() && it->second.in_flight;
}

uint64_t ResolverCore::requests_started(const std::string& topic) const {
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.requests_started;
}

// Drops the topic refreshed longest ago (never one with a request in flight, never `keep`).
void ResolverCore::evict_if_full(const std::string& keep) {
  if (topics_.size() <= limits_.topics_max) return;
  auto victim = topics_.end();
  for (auto it = topics_.begin(); it != topics_.end(); ++it) {
    if (it->first == keep || it->second.in_flight) continue;
    if (victim == topics_.end() || it->second.last_request_at < victim->second.last_request_at) victim = it;
  }
  if (victim != topics_.end()) topics_.erase(victim);
}

}  // namespace sluice::client
