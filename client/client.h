// The client library's entry point: a connection to a sluice cluster through any of its nodes'
// HTTP APIs (docs/formats/http-api.md), on the runtime seam so the simulator runs it unchanged.
// It owns the HTTP connection pool and the topic resolver that producers and consumers share, and
// offers the admin calls (topics, cluster, producer ids). Errors are values (client/errors.h):
// the server's code when it answered with one, a client code otherwise.
//
// Brokers: calls that may go to any node try the configured brokers (and, once known, every node
// the cluster reported) in turn, starting at a seeded random one, moving on only when a node
// could not be reached or answered unavailable.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/errors.h"
#include "client/http/client.h"
#include "client/resolver_core.h"
#include "runtime/runtime.h"

namespace sluice::client {

class TopicResolver;

struct ClientConfig {
  std::vector<rt::Address> brokers;  // at least one: where to start
  std::string token;                 // bearer token; empty: anonymous
  rt::Duration request_timeout = std::chrono::seconds(30);  // one call, all attempts
  HttpClientConfig http;
  ResolverLimits resolver;
};

struct TopicConfigValues {
  std::optional<int64_t> retention_ms;     // -1: forever
  std::optional<int64_t> retention_bytes;  // -1: unbounded
  std::optional<int64_t> segment_bytes;
};

struct TopicSpec {
  std::string name;
  uint32_t partitions = 1;
  uint32_t replication = 1;
  TopicConfigValues config;
};

struct PartitionInfo {
  uint32_t partition = 0;
  std::vector<NodeId> replicas;
  NodeId leader = kNoNode;
  std::string leader_api;
  std::optional<uint64_t> end_offset;
};

struct TopicInfo {
  std::string name;
  uint64_t id = 0;
  uint32_t replication = 0;
  int64_t retention_ms = -1;
  int64_t retention_bytes = -1;
  int64_t segment_bytes = 0;
  std::vector<PartitionInfo> partitions;
  nlohmann::json raw;  // the answer as the server sent it (for --json output)
};

struct MemberInfo {
  NodeId id = kNoNode;
  std::string address;  // membership (SWIM)
  std::string state;    // alive, suspect, dead, left
  std::string api;      // HTTP API "host:port"
  std::string node_state;  // as the metadata has it: alive, dead, decommissioning, removed ("": unknown there)
  std::string controller;  // in the metadata group: voter, learner ("": not a member)
};

struct ClusterInfo {
  NodeId node = kNoNode;               // the node that answered
  NodeId controller_leader = kNoNode;  // 0: unknown
  std::vector<MemberInfo> members;
  nlohmann::json raw;
};

struct TopicSummary {
  std::string name;
  uint64_t id = 0;
  uint32_t partitions = 0;
  uint32_t replication = 0;
};

class Client {
 public:
  Client(rt::Runtime& runtime, ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<TopicInfo> create_topic(const TopicSpec& spec);
  Result<std::vector<TopicSummary>> list_topics();
  Result<TopicInfo> describe_topic(const std::string& name);
  Result<TopicInfo> alter_topic(const std::string& name, const TopicConfigValues& config);
  Status delete_topic(const std::string& name);
  Result<ClusterInfo> cluster();
  // Drains a node (POST /v1/cluster/nodes/{node}/decommission): its replicas move away, then it is
  // removed. Asking again is harmless.
  Status decommission_node(NodeId node);
  // A fresh idempotent producer id from the controller (POST /v1/producers).
  Result<uint64_t> allocate_producer_id();

  // A JSON call to any node (see "Brokers" above): the decoded body of a 2xx answer, else the
  // error it carried. `body` null: no body.
  Result<nlohmann::json> call_json(std::string_view method, const std::string& target, const nlohmann::json& body,
                                   rt::Instant deadline = rt::kInstantMax);
  // One request to one node; a non-2xx answer becomes the error it carries (see error_of()).
  Result<HttpClientResponse> call_at(const rt::Address& node, const HttpClientRequest& request, rt::Instant deadline);

  TopicResolver& resolver() { return *resolver_; }
  HttpClient& http() { return http_; }
  rt::Runtime& runtime() { return runtime_; }
  const ClientConfig& config() const { return config_; }
  // The nodes to try for calls that may go anywhere: brokers first, then nodes learned since.
  const std::vector<rt::Address>& nodes() const { return nodes_; }
  void learn_node(const rt::Address& node);
  // Calls that may go to any node start at the next one from now on (the topic resolver moves on
  // when a metadata answer did not help, so one node's stale view cannot pin a partition to a gone
  // leader).
  void skip_node() { next_node_ = (next_node_ + 1) % nodes_.size(); }
  // Closes every connection; later calls fail with `closed`.
  void close();

 private:
  rt::Runtime& runtime_;
  ClientConfig config_;
  HttpClient http_;
  std::vector<rt::Address> nodes_;
  size_t next_node_ = 0;
  std::unique_ptr<TopicResolver> resolver_;
};

// The error a non-2xx answer carries: its JSON "error" object's code and message (a body that is
// not one gets the status's text), with leader hints in the message.
Status error_of(const HttpClientResponse& response);
// A transport error (runtime::Errc) as the client reports it.
Status error_of(const rt::Status& transport);
// "/v1/topics/a%20b": a path segment percent-encoded.
std::string path_segment(std::string_view text);

TopicInfo topic_info_of(const nlohmann::json& body);

}  // namespace sluice::client
