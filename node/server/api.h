// The node's HTTP API (docs/http.md, docs/formats/http-api.md): the routes under /v1 and the
// health and metrics endpoints, executed on this node (the partition router, the controller) with
// partition requests forwarded to their leader (Node::route_anywhere) and controller commands to
// the controller leader (Node::submit_to_controller). The pipeline's execute layer calls
// execute(); every outcome is a reply or a typed ApiError, never an exception.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>

#include "node/base/ids.h"
#include "node/controller/errors.h"
#include "node/controller/metadata.h"
#include "node/http/pipeline.h"
#include "node/http/routes.h"
#include "node/partition/errors.h"
#include "node/partition/router.h"
#include "node/server/api_codec.h"

namespace sluice::server {

class Node;


struct ApiLimits {
  size_t produce_records_max = 10'000;       // records in one produce request
  size_t fetch_bytes_max = 8 << 20;          // a fetch's max_bytes is capped here
  runtime::Duration fetch_wait_max = std::chrono::seconds(30);
  runtime::Duration produce_timeout = std::chrono::seconds(10);
  runtime::Duration admin_timeout = std::chrono::seconds(10);
};

class Api {
 public:
  // `auth` outlives the Api (the node's config).
  Api(Node& node, const http::AuthConfig& auth, ApiLimits limits = {});
  const http::RouteTable& routes() const { return routes_; }
  void execute(http::Exchange& exchange);
  // What the route needs (the authorize layer): health and metrics are open; reads of a topic
  // need read on it, produce write, create/alter/delete admin; cluster reads any caller.
  http::Requirement requirement(const http::Exchange& exchange) const;
  http::Metrics& metrics() { return metrics_; }

 private:
  void cluster(http::Exchange& exchange);
  void readyz(http::Exchange& exchange);
  void metrics_text(http::Exchange& exchange);
  void producer_ids(http::Exchange& exchange);
  std::map<NodeId, std::string> api_addresses() const;
  http::ApiError no_such_topic(const std::string& name) const;
  void topics_list(http::Exchange& exchange);
  void topic_create(http::Exchange& exchange);
  void topic_describe(http::Exchange& exchange);
  void topic_describe_named(http::Exchange& exchange, const std::string& name, int status);
  void topic_delete(http::Exchange& exchange);
  void topic_alter(http::Exchange& exchange);
  void produce(http::Exchange& exchange);
  void fetch(http::Exchange& exchange);
  void list_offsets(http::Exchange& exchange);
  void decommission(http::Exchange& exchange);
  void produce_batch(http::Exchange& exchange, const controller::TopicRecord& topic);
  void reply_batches(http::Exchange& exchange, const partition::FetchReply& fetched);
  std::optional<TextEncoding> query_encoding(http::Exchange& exchange);
  std::optional<controller::Applied> submit(http::Exchange& exchange, const controller::Command& command);
  bool wait_for_metadata(http::Exchange& exchange, const std::function<bool(const controller::Metadata&)>& shows);
  static constexpr runtime::Duration kMetadataPollInterval = std::chrono::milliseconds(10);
  static constexpr runtime::Duration kElectionRetryInterval = std::chrono::milliseconds(50);
  static constexpr size_t kElectionRetriesMax = 100;
  // The topic the route names and the partition index (fetch, offsets); null and a 404/400 if not.
  const controller::TopicRecord* route_topic(http::Exchange& exchange);
  std::optional<PartitionId> route_partition(http::Exchange& exchange);
  // Routes `request` to the partition's leader (one hop); the reply, or an error set on exchange.
  std::optional<partition::Reply> call_partition(http::Exchange& exchange, PartitionId partition, partition::Request request);
  void update_gauges();
  void update_unauthenticated();
  void update_log(const partition::PartitionRouter& router);

  Node& node_;
  const http::AuthConfig& auth_;
  ApiLimits limits_;
  http::RouteTable routes_;
  http::Metrics metrics_;
  uint64_t unkeyed_records_ = 0;  // spreads records without key or partition round-robin
};

// The one status each error code answers with (docs/formats/http-api.md, "Errors").
http::ApiError api_error(const partition::Status& status, NodeId leader = kNoNode, std::string leader_address = {});
http::ApiError api_error(const controller::Status& status);

}  // namespace sluice::server
