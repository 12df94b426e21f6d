#include "client/client.h"

#include <algorithm>

#include "client/resolver.h"
#include "node/base/assert.h"

namespace sluice::client {

using Json = nlohmann::json;

namespace {

bool is_success(int status) { return status >= 200 && status < 300; }

// Worth trying another node: this one could not be reached, or cannot serve the call now.
bool try_elsewhere(Errc code) { return code == Errc::connection_failed || code == Errc::unavailable || code == Errc::not_leader; }

Json topic_config_json(const TopicConfigValues& config) {
  Json out = Json::object();
  if (config.retention_ms) out["retention_ms"] = *config.retention_ms;
  if (config.retention_bytes) out["retention_bytes"] = *config.retention_bytes;
  if (config.segment_bytes) out["segment_bytes"] = *config.segment_bytes;
  return out;
}

}  // namespace

std::string path_segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

Status error_of(const rt::Status& transport) {
  switch (transport.code()) {
    case rt::Errc::timeout: return Status(Errc::timeout, transport.message());
    case rt::Errc::closed: return Status(Errc::closed, transport.message());
    case rt::Errc::cancelled: return Status(Errc::cancelled, transport.message());
    case rt::Errc::io_error:
    case rt::Errc::limit_exceeded:
    case rt::Errc::invalid_argument: return Status(Errc::protocol_error, transport.to_string());
    default: return Status(Errc::connection_failed, transport.to_string());
  }
}

Status error_of(const HttpClientResponse& response) {
  const std::string fallback = "HTTP " + std::to_string(response.status);
  try {
    const Json body = Json::parse(as_string_view(response.body));
    const Json& error = body.at("error");
    std::string message = error.value("message", fallback);
    if (error.contains("leader")) message += " (leader " + std::to_string(error["leader"].get<uint64_t>()) + ")";
    return Status(errc_from_server(error.value("code", std::string())), message);
  } catch (const Json::exception&) {
    if (response.status == 503) return Status(Errc::unavailable, fallback);
    if (response.status == 504) return Status(Errc::timeout, fallback);
    return Status(Errc::server_error, fallback);
  }
}

Client::Client(rt::Runtime& runtime, ClientConfig config)
    : runtime_(runtime), config_(std::move(config)), http_(runtime, [&] {
        HttpClientConfig http = config_.http;
        http.bearer_token = config_.token;
        return http;
      }()) {
  SLUICE_ASSERT(!config_.brokers.empty());
  nodes_ = config_.brokers;
  next_node_ = static_cast<size_t>(runtime_.random_below(nodes_.size()));
  resolver_ = std::make_unique<TopicResolver>(*this, config_.resolver);
}

Client::~Client() { close(); }

void Client::close() { http_.close(); }

void Client::learn_node(const rt::Address& node) {
  if (std::find(nodes_.begin(), nodes_.end(), node) == nodes_.end()) nodes_.push_back(node);
}

Result<HttpClientResponse> Client::call_at(const rt::Address& node, const HttpClientRequest& request, rt::Instant deadline) {
  rt::Result<HttpClientResponse> response = http_.call(node, request, deadline);
  if (!response.ok()) return error_of(response.status()).with_context(node.to_string());
  if (!is_success(response->status)) return error_of(*response);
  return std::move(response).value();
}

Result<Json> Client::call_json(std::string_view method, const std::string& target, const Json& body, rt::Instant deadline_max) {
  HttpClientRequest request;
  request.method = std::string(method);
  request.target = target;
  if (!body.is_null()) {
    request.headers.push_back(http::HttpHeader{"content-type", "application/json"});
    request.body = to_bytes(body.dump());
  }
  request.headers.push_back(http::HttpHeader{"accept", "application/json"});
  const rt::Instant deadline = std::min(deadline_max, runtime_.now() + config_.request_timeout);
  Status last(Errc::connection_failed, "no node to ask");
  // Each node once, from a rotating start: a dead broker costs one attempt, not every call.
  const size_t count = nodes_.size();
  for (size_t tried = 0; tried < count && runtime_.now() < deadline; ++tried) {
    const rt::Address node = nodes_[next_node_ % nodes_.size()];
    Result<HttpClientResponse> response = call_at(node, request, deadline);
    if (response.ok()) {
      if (response->body.empty()) return Json::object();
      try {
        return Json::parse(as_string_view(response->body));
      } catch (const Json::exception& error) {
        return Status(Errc::protocol_error, std::string("answer is not JSON: ") + error.what());
      }
    }
    last = response.status();
    if (!try_elsewhere(last.code())) return last;
    next_node_ = (next_node_ + 1) % nodes_.size();
  }
  return last;
}

TopicInfo topic_info_of(const Json& body) {
  TopicInfo info;
  info.name = body.value("name", std::string());
  info.id = body.value("id", uint64_t{0});
  info.replication = body.value("replication", 0u);
  const Json config = body.value("config", Json::object());
  info.retention_ms = config.value("retention_ms", int64_t{-1});
  info.retention_bytes = config.value("retention_bytes", int64_t{-1});
  info.segment_bytes = config.value("segment_bytes", int64_t{0});
  for (const Json& entry : body.value("partitions", Json::array())) {
    PartitionInfo partition;
    partition.partition = entry.value("partition", 0u);
    partition.replicas = entry.value("replicas", std::vector<NodeId>{});
    partition.leader = entry.value("leader", NodeId{kNoNode});
    partition.leader_api = entry.value("leader_api", std::string());
    if (entry.contains("end_offset")) partition.end_offset = entry["end_offset"].get<uint64_t>();
    info.partitions.push_back(std::move(partition));
  }
  info.raw = body;
  return info;
}

Result<TopicInfo> Client::create_topic(const TopicSpec& spec) {
  Json body{{"name", spec.name}, {"partitions", spec.partitions}, {"replication", spec.replication}};
  if (Json config = topic_config_json(spec.config); !config.empty()) body["config"] = config;
  Result<Json> answer = call_json("POST", "/v1/topics", body);
  if (!answer.ok()) return answer.status();
  return topic_info_of(*answer);
}

Result<std::vector<TopicSummary>> Client::list_topics() {
  Result<Json> answer = call_json("GET", "/v1/topics", nullptr);
  if (!answer.ok()) return answer.status();
  std::vector<TopicSummary> topics;
  try {
    for (const Json& topic : answer->at("topics")) {
      topics.push_back(TopicSummary{topic.at("name").get<std::string>(), topic.at("id").get<uint64_t>(),
                                    topic.at("partitions").get<uint32_t>(), topic.at("replication").get<uint32_t>()});
    }
  } catch (const Json::exception& error) {
    return Status(Errc::protocol_error, std::string("topic list: ") + error.what());
  }
  return topics;
}

Result<TopicInfo> Client::describe_topic(const std::string& name) {
  Result<Json> answer = call_json("GET", "/v1/topics/" + path_segment(name), nullptr);
  if (!answer.ok()) return answer.status();
  return topic_info_of(*answer);
}

Result<TopicInfo> Client::alter_topic(const std::string& name, const TopicConfigValues& config) {
  Result<Json> answer = call_json("PUT", "/v1/topics/" + path_segment(name) + "/config", topic_config_json(config));
  if (!answer.ok()) return answer.status();
  return topic_info_of(*answer);
}

Status Client::delete_topic(const std::string& name) {
  Result<Json> answer = call_json("DELETE", "/v1/topics/" + path_segment(name), nullptr);
  return answer.ok() ? Status() : answer.status();
}

Status Client::decommission_node(NodeId node) {
  return call_json("POST", "/v1/cluster/nodes/" + std::to_string(node) + "/decommission", nullptr).status();
}

Result<ClusterInfo> Client::cluster() {
  Result<Json> answer = call_json("GET", "/v1/cluster", nullptr);
  if (!answer.ok()) return answer.status();
  ClusterInfo info;
  info.node = answer->value("node", NodeId{kNoNode});
  info.controller_leader = answer->value("controller_leader", NodeId{kNoNode});
  for (const Json& member : answer->value("members", Json::array())) {
    info.members.push_back(MemberInfo{member.value("id", NodeId{kNoNode}), member.value("address", std::string()),
                                      member.value("state", std::string()), member.value("api", std::string()),
                                      member.value("node_state", std::string()), member.value("controller", std::string())});
  }
  info.raw = *answer;
  return info;
}

Result<uint64_t> Client::allocate_producer_id() {
  Result<Json> answer = call_json("POST", "/v1/producers", Json::object());
  if (!answer.ok()) return answer.status();
  const uint64_t id = answer->value("producer_id", uint64_t{0});
  if (id == 0) return Status(Errc::protocol_error, "the answer names no producer id");
  return id;
}

}  // namespace sluice::client
