#include "node/server/api.h"

#include "node/server/api_codec.h"
#include "node/server/console.h"

#include <array>
#include <charconv>
#include <set>
#include <nlohmann/json.hpp>
#include <utility>

#include "node/log/codec.h"
#include "node/server/node.h"

namespace sluice::server {
namespace {

namespace rt = runtime;
using Json = nlohmann::json;
using http::ApiError;
using http::Exchange;

void reply_json(Exchange& exchange, const Json& body, int status = 200) {
  exchange.reply.status = status;
  exchange.reply.content_type = "application/json";
  exchange.reply.body = to_bytes(body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// A query parameter as a number in [0, max]; `fallback` when absent. Sets a 400 otherwise.
std::optional<uint64_t> query_number(Exchange& exchange, const std::string& name, uint64_t fallback, uint64_t max) {
  auto found = exchange.target.query.find(name);
  if (found == exchange.target.query.end()) return fallback;
  std::optional<uint64_t> value = parse_u64(found->second);
  if (!value || *value > max) {
    exchange.error = http::bad_request("query parameter " + name + " must be a number from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

Json config_json(const controller::TopicConfig& config) {
  return Json{{"retention_ms", config.retention_ms}, {"retention_bytes", config.retention_bytes}, {"segment_bytes", config.segment_bytes}};
}

}  // namespace

http::ApiError api_error(const partition::Status& status, NodeId leader, std::string leader_address) {
  using partition::Errc;
  int http_status = 500;
  switch (status.code()) {
    case Errc::ok: http_status = 200; break;
    case Errc::invalid_request:
    case Errc::record_too_large: http_status = status.code() == Errc::record_too_large ? 413 : 400; break;
    case Errc::unknown_partition: http_status = 404; break;
    case Errc::offset_out_of_range: http_status = 416; break;
    case Errc::out_of_order_sequence:
    case Errc::producer_fenced: http_status = 409; break;
    case Errc::overloaded: http_status = 429; break;
    case Errc::not_leader:
    case Errc::storage_error:
    case Errc::storage_full: http_status = 503; break;
    case Errc::timeout: http_status = 504; break;
  }
  ApiError error = http::make_error(http_status, std::string(partition::to_string(status.code())), status.message());
  error.leader = leader;
  error.leader_address = std::move(leader_address);
  return error;
}

http::ApiError api_error(const controller::Status& status) {
  using controller::Errc;
  int http_status = 500;
  switch (status.code()) {
    case Errc::ok: http_status = 200; break;
    case Errc::invalid_request: http_status = 400; break;
    case Errc::topic_exists:
    case Errc::conflict: http_status = 409; break;
    case Errc::unknown_topic:
    case Errc::unknown_node: http_status = 404; break;
    case Errc::not_enough_nodes:
    case Errc::limit_reached: http_status = 422; break;
    case Errc::not_leader:
    case Errc::unavailable: http_status = 503; break;
    case Errc::timeout: http_status = 504; break;
  }
  return http::make_error(http_status, std::string(controller::to_string(status.code())), status.message());
}

Api::Api(Node& node, const http::AuthConfig& auth, ApiLimits limits) : node_(node), auth_(auth), limits_(limits) {
  routes_ = api_routes();
  std::array<double, log::kSyncLatencyBuckets> fsync_bounds_seconds{};  // the log counts in ns
  for (size_t i = 0; i < log::kSyncLatencyBuckets; ++i) fsync_bounds_seconds[i] = static_cast<double>(log::kSyncLatencyBoundsNs[i]) / 1e9;
  metrics_.describe("sluice_identity_copies_repaired_total", http::MetricType::counter,
                    "Identity file copies rewritten by the scrub while the node runs (docs/formats/data-dir.md).");
  metrics_.describe("sluice_raft_groups", http::MetricType::gauge, "Raft groups hosted on this node.");
  metrics_.describe("sluice_raft_leaders", http::MetricType::gauge, "Raft groups this node leads.");
  metrics_.describe("sluice_raft_groups_quiesced", http::MetricType::gauge, "Raft groups hosted here that are quiet (idle: no heartbeats, no ticks).");
  metrics_.describe("sluice_raft_groups_woken_total", http::MetricType::counter, "Quiet groups woken because SWIM suspected one of their members.");
  metrics_.describe("sluice_raft_ticks_total", http::MetricType::counter, "Raft host ticks.");
  metrics_.describe("sluice_raft_heartbeat_msgs_sent_total", http::MetricType::counter,
                    "Coalesced heartbeat messages (frames carrying any group's heartbeat) sent to a peer.");
  metrics_.describe("sluice_raft_heartbeat_response_msgs_sent_total", http::MetricType::counter,
                    "Coalesced heartbeat response messages sent to a peer.");
  metrics_.describe("sluice_raft_group_heartbeats_sent_total", http::MetricType::counter,
                    "Per-group heartbeats inside the coalesced messages sent to a peer.");
  metrics_.describe("sluice_raft_frames_sent_total", http::MetricType::counter, "Raft transport frames sent to a peer.");
  metrics_.describe("sluice_swim_members", http::MetricType::gauge, "Members as this node's SWIM sees them, by state.");
  metrics_.describe("sluice_partition_replicas", http::MetricType::gauge, "Partition replicas open on this node.");
  metrics_.describe("sluice_raft_proposals_committed_total", http::MetricType::counter, "Proposals committed through this node's Raft host.");
  metrics_.describe("sluice_raft_proposals_failed_total", http::MetricType::counter, "Proposals that failed (not leader, timeout, ...).");
  metrics_.describe("sluice_raft_groups_failed_total", http::MetricType::counter, "Groups stopped here by a storage failure.");
  metrics_.describe("sluice_raft_ticks_skipped_total", http::MetricType::counter, "Ticks the host fiber missed (it was starved).");
  metrics_.describe("sluice_raft_leaderships_won_total", http::MetricType::counter, "Times a group's leadership came to this node (elections, transfers).");
  metrics_.describe("sluice_raft_leaderships_lost_total", http::MetricType::counter, "Times a group led here stepped down.");
  metrics_.describe("sluice_raft_commit_lag_entries_max", http::MetricType::gauge, "Over the groups led here: entries appended and not yet committed, the largest.");
  metrics_.describe("sluice_swim_events_total", http::MetricType::counter, "SWIM protocol events on this node, by kind.");
  metrics_.describe("sluice_unauthenticated_total", http::MetricType::counter,
                    "Inter-node frames and datagrams refused for a missing or wrong cluster-secret MAC, by protocol.");
  metrics_.describe("sluice_controller_metadata_applied_index", http::MetricType::gauge, "The metadata log index this node has applied.");
  metrics_.describe("sluice_controller_is_leader", http::MetricType::gauge, "1 while this node leads the metadata group.");
  metrics_.describe("sluice_produce_bytes_total", http::MetricType::counter, "Record batch bytes produced through this node's API.");
  metrics_.describe("sluice_fetch_bytes_total", http::MetricType::counter, "Record batch bytes fetched through this node's API.");
  metrics_.describe("sluice_log_segments", http::MetricType::gauge, "Segments of the partition logs of the replicas open on this node.");
  metrics_.describe("sluice_log_bytes", http::MetricType::gauge,
                    "Bytes of those logs' segment data files (segment headers and record batches; index files not counted).");
  metrics_.describe("sluice_log_fsync_seconds", http::MetricType::histogram,
                    "Time the fsyncs of partition log data files took (the ones appends wait on; failed ones too).",
                    fsync_bounds_seconds);
}


http::Requirement Api::requirement(const Exchange& exchange) const {
  using http::Permission;
  auto topic_param = [&]() {
    auto found = exchange.route.params.find("topic");
    return found == exchange.route.params.end() ? std::string() : found->second;
  };
  switch (static_cast<Route>(exchange.route.id)) {
    case Route::healthz:
    case Route::readyz:
    case Route::metrics:
    case Route::console: return http::Requirement{true, Permission::read, {}};  // the page asks the API with the user's token
    case Route::cluster:
    case Route::producer_ids:  // an id alone writes nothing: producing needs write on the topic
    case Route::topics_list: return http::Requirement{false, Permission::read, {}};
    case Route::topic_create: {
      // The name is in the body: admin on it is checked when the body is read (execute).
      return http::Requirement{false, Permission::read, {}};
    }
    case Route::topic_describe:
    case Route::topic_metadata:
    case Route::fetch:
    case Route::list_offsets: return http::Requirement{false, Permission::read, topic_param()};
    case Route::produce: return http::Requirement{false, Permission::write, topic_param()};
    case Route::topic_delete:
    case Route::topic_alter: return http::Requirement{false, Permission::admin, topic_param()};
    case Route::node_decommission: return http::Requirement{false, Permission::admin, {}};  // cluster admin
  }
  return http::Requirement{false, Permission::admin, {}};
}

void Api::execute(Exchange& exchange) {
  switch (static_cast<Route>(exchange.route.id)) {
    case Route::healthz: {
      // The liveness probe answers the same bytes every time: built once, not per request.
      static const Bytes kHealthyBody = to_bytes(std::string_view("{\"status\":\"ok\"}\n"));
      exchange.reply.content_type = "application/json";
      exchange.reply.body = kHealthyBody;
      return;
    }
    case Route::readyz: return readyz(exchange);
    case Route::metrics: return metrics_text(exchange);
    case Route::cluster: return cluster(exchange);
    case Route::topics_list: return topics_list(exchange);
    case Route::topic_create: return topic_create(exchange);
    case Route::topic_describe:
    case Route::topic_metadata: return topic_describe(exchange);
    case Route::topic_delete: return topic_delete(exchange);
    case Route::topic_alter: return topic_alter(exchange);
    case Route::produce: return produce(exchange);
    case Route::fetch: return fetch(exchange);
    case Route::list_offsets: return list_offsets(exchange);
    case Route::node_decommission: return decommission(exchange);
    case Route::producer_ids: return producer_ids(exchange);
    case Route::console:
      exchange.reply.content_type = "text/html; charset=utf-8";
      exchange.reply.body = to_bytes(console_page());
      return;
  }
  exchange.error = http::make_error(500, "internal", "route without a handler");
}

// Ready: membership runs, the controller's leader is known and this node's copy is current, the
// metadata lists this node (registered: replicas can be placed on it, so a topic spanning every
// ready node can be created), and every replica the metadata places here is open.
void Api::readyz(Exchange& exchange) {
  std::vector<std::string> waiting;
  const controller::Controller* controller = node_.controller();
  if (node_.membership() == nullptr) waiting.emplace_back("membership");
  if (controller == nullptr || !controller->metadata_current()) waiting.emplace_back("controller");
  if (controller != nullptr && controller->metadata_current() && controller->metadata().nodes().count(node_.id()) == 0) {
    waiting.emplace_back("registration");
  }
  if (controller != nullptr && node_.partitions() != nullptr) {
    for (const auto& [name, topic] : controller->metadata().topics()) {
      for (uint32_t p = 0; p < topic.partitions.size(); ++p) {
        const std::vector<NodeId>& replicas = topic.partitions[p].replicas;
        const bool here = std::find(replicas.begin(), replicas.end(), node_.id()) != replicas.end();
        if (here && node_.partitions()->replica(PartitionId{topic.id, p}) == nullptr) {
          waiting.push_back("replica " + name + "/" + std::to_string(p));
          break;
        }
      }
    }
  }
  if (waiting.empty()) return reply_json(exchange, Json{{"status", "ready"}});
  reply_json(exchange, Json{{"status", "not_ready"}, {"waiting_for", waiting}}, 503);
}

void Api::update_gauges() {
  metrics_.set("sluice_identity_copies_repaired_total", {}, static_cast<double>(node_.identity_copies_repaired()));
  if (const multiraft::RaftHost* raft = node_.raft()) {
    metrics_.set("sluice_raft_groups", {}, static_cast<double>(raft->group_count()));
    metrics_.set("sluice_raft_leaders", {}, static_cast<double>(raft->leaders_here()));
    metrics_.set("sluice_raft_groups_quiesced", {}, static_cast<double>(raft->groups_quiesced()));
    const multiraft::HostStats& stats = raft->stats();
    metrics_.set("sluice_raft_groups_woken_total", {}, static_cast<double>(stats.groups_woken));
    metrics_.set("sluice_raft_ticks_total", {}, static_cast<double>(stats.ticks));
    for (const raft::NodeId peer : raft->transport().peer_ids()) {
      const multiraft::PeerStats sent = raft->transport().peer_stats(peer);
      const std::string id = std::to_string(peer);
      metrics_.set("sluice_raft_heartbeat_msgs_sent_total", {{"peer", id}}, static_cast<double>(sent.heartbeat_msgs_sent));
      metrics_.set("sluice_raft_heartbeat_response_msgs_sent_total", {{"peer", id}}, static_cast<double>(sent.heartbeat_response_msgs_sent));
      metrics_.set("sluice_raft_group_heartbeats_sent_total", {{"peer", id}}, static_cast<double>(sent.heartbeats_sent));
      metrics_.set("sluice_raft_frames_sent_total", {{"peer", id}}, static_cast<double>(sent.frames_sent));
    }
    metrics_.set("sluice_raft_proposals_committed_total", {}, static_cast<double>(stats.proposals_committed));
    metrics_.set("sluice_raft_proposals_failed_total", {}, static_cast<double>(stats.proposals_failed));
    metrics_.set("sluice_raft_groups_failed_total", {}, static_cast<double>(stats.groups_failed));
    metrics_.set("sluice_raft_ticks_skipped_total", {}, static_cast<double>(stats.ticks_skipped));
    metrics_.set("sluice_raft_leaderships_won_total", {}, static_cast<double>(stats.leaderships_won));
    metrics_.set("sluice_raft_leaderships_lost_total", {}, static_cast<double>(stats.leaderships_lost));
    metrics_.set("sluice_raft_commit_lag_entries_max", {}, static_cast<double>(raft->commit_lag_max()));
  }
  update_unauthenticated();
  if (const controller::Controller* controller = node_.controller()) {
    metrics_.set("sluice_controller_metadata_applied_index", {}, static_cast<double>(controller->applied_index()));
    metrics_.set("sluice_controller_is_leader", {}, controller->is_leader() ? 1 : 0);
  }
  if (const swim::Driver* membership = node_.membership()) {
    std::map<std::string, double> by_state;
    for (const swim::Member& member : membership->core().members()) by_state[std::string(swim::to_string(member.state))] += 1;
    for (const auto& [state, count] : by_state) metrics_.set("sluice_swim_members", {{"state", state}}, count);
    const swim::Stats& stats = membership->core().stats();
    for (auto [kind, count] : {std::pair{"probe", stats.probes}, std::pair{"probe_failed", stats.probes_failed},
                               std::pair{"indirect_round", stats.indirect_rounds}, std::pair{"suspicion", stats.suspicions_started},
                               std::pair{"death_declared", stats.deaths_declared}, std::pair{"refutation", stats.refutations},
                               std::pair{"datagram_received", stats.datagrams_received}, std::pair{"datagram_sent", stats.datagrams_sent},
                               std::pair{"dropped_malformed", stats.dropped_malformed}, std::pair{"dropped_foreign_cluster", stats.dropped_foreign_cluster}}) {
      metrics_.set("sluice_swim_events_total", {{"kind", kind}}, static_cast<double>(count));
    }
  }
  if (const partition::PartitionRouter* router = node_.partitions()) {
    metrics_.set("sluice_partition_replicas", {}, static_cast<double>(router->replica_count()));
    update_log(*router);
  }
  if (node_.config().extra_metrics) node_.config().extra_metrics(metrics_);
}

void Api::update_log(const partition::PartitionRouter& router) {
  const partition::LogTotals totals = router.log_totals();
  metrics_.set("sluice_log_segments", {}, static_cast<double>(totals.segments));
  metrics_.set("sluice_log_bytes", {}, static_cast<double>(totals.data_bytes));
  const log::SyncStats& syncs = router.log_syncs();
  metrics_.set_histogram("sluice_log_fsync_seconds", {}, syncs.syncs_by_bucket, syncs.syncs,
                         static_cast<double>(syncs.sync_ns_total) / 1e9);
}

void Api::update_unauthenticated() {
  const auto set = [this](const char* protocol, uint64_t count) {
    metrics_.set("sluice_unauthenticated_total", {{"protocol", protocol}}, static_cast<double>(count));
  };
  if (const multiraft::RaftHost* raft = node_.raft()) set("raft", raft->transport().stats().frames_unauthenticated);
  uint64_t rpc = 0;
  if (const rpc::RpcServer* server = node_.rpc_server()) rpc += server->stats().frames_unauthenticated;
  if (const rpc::RpcClient* client = node_.rpc_client()) rpc += client->stats().frames_unauthenticated;
  set("rpc", rpc);
  if (const swim::Driver* membership = node_.membership()) {
    set("swim", membership->core().stats().dropped_unauthenticated + membership->stats().push_pulls_unauthenticated);
  }
}

void Api::metrics_text(Exchange& exchange) {
  update_gauges();
  exchange.reply.content_type = "text/plain; version=0.0.4";
  exchange.reply.body = to_bytes(metrics_.exposition());
}

// Every node's HTTP API address ("host:port") as this node's SWIM knows it, this node included;
// dead and left members are left out.
std::map<NodeId, std::string> Api::api_addresses() const {
  std::map<NodeId, std::string> addresses;
  const swim::Driver* membership = node_.membership();
  if (membership == nullptr) return addresses;
  addresses[node_.id()] = std::string(swim::find_address(membership->core().config().self_named, "api"));
  for (const swim::Member& member : membership->core().members()) {
    if (member.state == swim::MemberState::dead || member.state == swim::MemberState::left) continue;
    addresses[member.id] = std::string(swim::find_address(member.named, "api"));
  }
  std::erase_if(addresses, [](const auto& entry) { return entry.second.empty(); });
  return addresses;
}

// A topic this node's metadata does not hold. While the copy is not current (a node that just
// restarted and has not replayed the controller's log yet) that proves nothing: 503, ask again or
// elsewhere, never a 404 a client would take as final.
http::ApiError Api::no_such_topic(const std::string& name) const {
  const controller::Controller* controller = node_.controller();
  if (controller == nullptr || !controller->metadata_current()) {
    return http::make_error(503, "unavailable", "this node's metadata is not current yet (topic " + name + ")");
  }
  return http::make_error(404, "unknown_topic", "no topic " + name);
}

// The members as SWIM sees them, each with what the metadata says of it (`node_state`: alive,
// dead, decommissioning, removed) and its part in the metadata group as this node knows the
// group's membership (`controller`: voter or learner), and the group's voters.
void Api::cluster(Exchange& exchange) {
  const controller::Controller* controller = node_.controller();
  const raft::RawNode* group = node_.raft() == nullptr ? nullptr : node_.raft()->group(kControllerGroup);
  auto annotate = [&](Json member, NodeId id) {
    if (controller != nullptr) {
      auto known = controller->metadata().nodes().find(id);
      if (known != controller->metadata().nodes().end()) member["node_state"] = std::string(controller::to_string(known->second.state));
    }
    if (group != nullptr) {
      const raft::ConfState& conf = group->raft().conf_state();
      if (conf.voters.count(id) > 0 || conf.voters_outgoing.count(id) > 0) {
        member["controller"] = "voter";
      } else if (conf.learners.count(id) > 0 || conf.learners_next.count(id) > 0) {
        member["controller"] = "learner";
      }
    }
    return member;
  };
  Json members = Json::array();
  if (const swim::Driver* membership = node_.membership()) {
    members.push_back(annotate(
        Json{{"id", node_.id()},
             {"address", membership->core().config().self_address},
             {"state", "alive"},
             {"self", true},
             {"api", swim::find_address(membership->core().config().self_named, "api")}},
        node_.id()));
    for (const swim::Member& member : membership->core().members()) {
      members.push_back(annotate(Json{{"id", member.id},
                                      {"address", member.address},
                                      {"state", swim::to_string(member.state)},
                                      {"api", swim::find_address(member.named, "api")}},
                                 member.id));
    }
  }
  Json voters = Json::array();
  if (group != nullptr) {
    for (NodeId id : group->raft().conf_state().voters) voters.push_back(id);
  }
  reply_json(exchange, Json{{"node", node_.id()},
                            {"controller_leader", controller == nullptr ? 0 : controller->leader()},
                            {"controller_voters", voters},
                            {"members", members}});
}

void Api::topics_list(Exchange& exchange) {
  if (node_.controller() == nullptr) return void(exchange.error = http::make_error(503, "unavailable", "no controller on this node"));
  Json topics = Json::array();
  for (const auto& [name, topic] : node_.controller()->metadata().topics()) {
    topics.push_back(Json{{"name", name}, {"id", topic.id}, {"partitions", topic.partitions.size()}, {"replication", topic.replication}});
  }
  reply_json(exchange, Json{{"topics", topics}});
}

std::optional<controller::Applied> Api::submit(Exchange& exchange, const controller::Command& command) {
  const rt::Instant deadline = std::min(exchange.deadline, node_.runtime().now() + limits_.admin_timeout);
  controller::Result<controller::Applied> applied = node_.submit_to_controller(command, deadline);
  if (!applied.ok()) {
    exchange.error = api_error(applied.status());
    return std::nullopt;
  }
  return *applied;
}

// Read-your-writes on the node asked: a command applied on the controller leader reaches this
// node's copy a little later; the answer waits (bounded) until the copy shows it.
bool Api::wait_for_metadata(Exchange& exchange, const std::function<bool(const controller::Metadata&)>& shows) {
  const rt::Instant deadline = std::min(exchange.deadline, node_.runtime().now() + limits_.admin_timeout);
  while (!shows(node_.controller()->metadata())) {
    if (node_.runtime().now() + kMetadataPollInterval >= deadline || !node_.runtime().sleep_for(kMetadataPollInterval).ok()) {
      exchange.error = http::make_error(504, "timeout", "applied by the controller, not seen on this node yet");
      return false;
    }
  }
  return true;
}

void Api::topic_create(Exchange& exchange) {
  auto decoded = decode_topic_create(exchange.request->body);
  if (auto* error = std::get_if<ApiError>(&decoded)) return void(exchange.error = std::move(*error));
  const controller::CreateTopic create = std::get<controller::CreateTopic>(std::move(decoded));
  if (http::decide(auth_, exchange.caller, http::Permission::admin, create.name) != http::Decision::allow) {
    return void(exchange.error = http::make_error(403, "forbidden", exchange.caller.name() + " may not create topic " + create.name));
  }
  std::optional<controller::Applied> applied = submit(exchange, create);
  if (!applied) return;
  const TopicId id = applied->topic;
  auto shows = [&](const controller::Metadata& metadata) {
    const controller::TopicRecord* topic = metadata.topic(create.name);
    return topic != nullptr && topic->id == id;
  };
  if (wait_for_metadata(exchange, shows)) topic_describe_named(exchange, create.name, 201);
}

void Api::topic_describe(Exchange& exchange) { topic_describe_named(exchange, exchange.route.params["topic"], 200); }

// A topic as this node's metadata holds it: its partitions with replicas, preferred leader and
// the leader this node knows (from its own replica; the preferred one otherwise).
void Api::topic_describe_named(Exchange& exchange, const std::string& name, int status) {
  const controller::TopicRecord* topic = node_.controller() == nullptr ? nullptr : node_.controller()->metadata().topic(name);
  if (topic == nullptr) return void(exchange.error = no_such_topic(name));
  const std::map<NodeId, std::string> api = api_addresses();
  auto api_of = [&api](NodeId id) {
    auto found = api.find(id);
    return found == api.end() ? std::string() : found->second;
  };
  Json partitions = Json::array();
  std::set<NodeId> replica_nodes;
  for (uint32_t p = 0; p < topic->partitions.size(); ++p) {
    const controller::PartitionRecord& record = topic->partitions[p];
    const partition::Replica* replica = node_.partitions() == nullptr ? nullptr : node_.partitions()->replica(PartitionId{topic->id, p});
    NodeId leader = record.preferred_leader;
    if (replica != nullptr && replica->leader().leader != kNoNode) leader = replica->leader().leader;
    if (replica != nullptr && replica->is_leader()) leader = node_.id();
    Json entry{{"partition", p}, {"replicas", record.replicas}, {"preferred_leader", record.preferred_leader}, {"leader", leader}};
    if (std::string address = api_of(leader); !address.empty()) entry["leader_api"] = std::move(address);
    replica_nodes.insert(record.replicas.begin(), record.replicas.end());
    if (replica != nullptr) entry["end_offset"] = replica->state().end_offset();
    if (record.move) {
      entry["moving"] = Json{{"adding", record.move->adding}, {"removing", record.move->removing}, {"rolling_back", record.move_rolling_back},
                              {"generation", record.move->generation}};
      if (!record.move_replaced_targets.empty()) {
        entry["moving"]["replaced_targets"] = std::vector<NodeId>(record.move_replaced_targets.begin(), record.move_replaced_targets.end());
      }
    }
    // Nodes whose replica lost its Raft state (docs/controller.md, "Lost replicas"): an operator
    // sees why a partition runs short of replicas, or why it never returns to a node.
    if (!record.lost_on.empty()) entry["lost_on"] = std::vector<NodeId>(record.lost_on.begin(), record.lost_on.end());
    partitions.push_back(std::move(entry));
  }
  // Where to reach every replica's node: a client whose leader went away tries the others.
  Json nodes = Json::array();
  for (NodeId id : replica_nodes) {
    if (std::string address = api_of(id); !address.empty()) nodes.push_back(Json{{"id", id}, {"api", std::move(address)}});
  }
  reply_json(exchange,
             Json{{"name", topic->name}, {"id", topic->id}, {"replication", topic->replication}, {"config", config_json(topic->config)},
                  {"partitions", partitions}, {"nodes", nodes}},
             status);
}

void Api::topic_delete(Exchange& exchange) {
  const std::string name = exchange.route.params["topic"];
  if (!submit(exchange, controller::DeleteTopic{name})) return;
  if (wait_for_metadata(exchange, [&](const controller::Metadata& metadata) { return metadata.topic(name) == nullptr; })) {
    reply_json(exchange, Json{{"deleted", name}});
  }
}

void Api::topic_alter(Exchange& exchange) {
  const std::string name = exchange.route.params["topic"];
  const controller::TopicRecord* topic = node_.controller() == nullptr ? nullptr : node_.controller()->metadata().topic(name);
  if (topic == nullptr) return void(exchange.error = no_such_topic(name));
  auto decoded = decode_topic_config(exchange.request->body, topic->config);
  if (auto* error = std::get_if<ApiError>(&decoded)) return void(exchange.error = std::move(*error));
  const controller::TopicConfig config = std::get<controller::TopicConfig>(decoded);
  if (!submit(exchange, controller::AlterTopicConfig{name, config})) return;
  auto shows = [&](const controller::Metadata& metadata) {
    const controller::TopicRecord* altered = metadata.topic(name);
    return altered == nullptr || altered->config == config;
  };
  if (wait_for_metadata(exchange, shows)) topic_describe_named(exchange, name, 200);
}

const controller::TopicRecord* Api::route_topic(Exchange& exchange) {
  const std::string& name = exchange.route.params["topic"];
  const controller::TopicRecord* topic = node_.controller() == nullptr ? nullptr : node_.controller()->metadata().topic(name);
  if (topic == nullptr) exchange.error = no_such_topic(name);
  return topic;
}

std::optional<PartitionId> Api::route_partition(Exchange& exchange) {
  const controller::TopicRecord* topic = route_topic(exchange);
  if (topic == nullptr) return std::nullopt;
  std::optional<uint64_t> index = parse_u64(exchange.route.params["partition"]);
  if (!index || *index >= topic->partitions.size()) {
    exchange.error = http::make_error(404, "unknown_partition", "topic " + topic->name + " has " + std::to_string(topic->partitions.size()) + " partitions");
    return std::nullopt;
  }
  return PartitionId{topic->id, static_cast<uint32_t>(*index)};
}

// A partition changing leaders (an election, a leader transfer: not_leader) is asked again every
// kElectionRetryInterval, up to the deadline: each attempt goes to the leader as now known, so a
// client sees the move only when it outlasts the request.
std::optional<partition::Reply> Api::call_partition(Exchange& exchange, PartitionId partition, partition::Request request) {
  partition::Reply reply;
  for (size_t attempt = 0;; ++attempt) {
    reply = node_.route_anywhere(PartitionCall{partition, {}, request}, exchange.deadline);
    // not_leader: an election or transfer; unknown_partition: the metadata has the partition (the
    // route checked) but its replicas are still being opened.
    const bool electing = reply.status.code() == partition::Errc::not_leader || reply.status.code() == partition::Errc::unknown_partition;
    if (!electing || attempt >= kElectionRetriesMax || node_.runtime().now() + kElectionRetryInterval >= exchange.deadline) break;
    if (!node_.runtime().sleep_for(kElectionRetryInterval).ok()) break;
  }
  if (reply.status.ok()) return reply;
  exchange.error = api_error(reply.status, reply.leader, reply.leader_address);
  return std::nullopt;
}

// One batch per partition, sent in partition order; the answer lists every record's partition and
// offset in request order, once all are committed. A failure answers with its error (the
// partitions before it were appended: retry with an idempotent producer, or one partition a request).
void Api::produce(Exchange& exchange) {
  const controller::TopicRecord* topic = route_topic(exchange);
  if (topic == nullptr) return;
  const http::HttpHeader* content_type = exchange.request->find_header("content-type");
  const std::optional<BodyFormat> format = format_of(content_type == nullptr ? "" : content_type->value);
  if (!format) return void(exchange.error = http::make_error(415, "unsupported_media_type", "send application/json, application/x-ndjson or " + std::string(kBatch)));
  if (*format == BodyFormat::batch) return produce_batch(exchange, *topic);
  const auto partitions = static_cast<uint32_t>(topic->partitions.size());
  const TopicId topic_id = topic->id;
  const ProduceDecodeContext context{partitions, limits_.produce_records_max, &unkeyed_records_};
  std::optional<TextEncoding> encoding = query_encoding(exchange);
  if (!encoding) return;
  std::optional<log::ProducerStamp> producer;
  ApiOutcome decoded = *format == BodyFormat::json ? decode_produce_json(exchange.request->body, context, &producer)
                                                   : decode_produce_ndjson(exchange.request->body, *encoding, context);
  if (auto* error = std::get_if<ApiError>(&decoded)) return void(exchange.error = std::move(*error));
  const auto* records = &std::get<std::vector<ProducedRecord>>(decoded);
  std::map<uint32_t, std::vector<size_t>> by_partition;
  for (size_t i = 0; i < records->size(); ++i) by_partition[(*records)[i].partition].push_back(i);
  std::vector<uint64_t> offsets(records->size());
  for (const auto& [p, indexes] : by_partition) {
    std::vector<log::Record> batch;
    for (size_t i : indexes) batch.push_back(log::Record{.timestamp_ms = 0, .key = (*records)[i].key, .value = (*records)[i].value, .headers = {}});
    log::Result<Bytes> encoded = log::encode_batch(0, 0, batch, log::kBatchBytesLimit, 0, producer);
    if (!encoded.ok()) return void(exchange.error = http::make_error(413, "record_too_large", encoded.status().to_string()));
    metrics_.add("sluice_produce_bytes_total", {}, static_cast<double>(encoded->size()));
    std::optional<partition::Reply> reply =
        call_partition(exchange, PartitionId{topic_id, p}, partition::ProduceRequest{std::move(encoded).value(), limits_.produce_timeout});
    if (!reply) return;
    const auto& produced = std::get<partition::ProduceReply>(reply->value);
    for (size_t k = 0; k < indexes.size(); ++k) offsets[indexes[k]] = produced.base_offset + k;
  }
  Json answer = Json::array();
  for (size_t i = 0; i < records->size(); ++i) answer.push_back(Json{{"partition", (*records)[i].partition}, {"offset", offsets[i]}});
  reply_json(exchange, Json{{"records", answer}});
}

// Records from `offset` on, at most max_bytes (whole batches; at least one), waiting up to
// wait_ms at the end of the log; confirm_high_watermark=1 confirms the end with a read-index round.
void Api::fetch(Exchange& exchange) {
  std::optional<PartitionId> id = route_partition(exchange);
  if (!id) return;
  const http::HttpHeader* accept = exchange.request->find_header("accept");
  const std::optional<BodyFormat> format = format_of(accept == nullptr ? "" : accept->value);
  if (!format) return void(exchange.error = http::make_error(406, "not_acceptable", "accept application/json, application/x-ndjson or " + std::string(kBatch)));
  std::optional<TextEncoding> encoding = query_encoding(exchange);
  if (!encoding) return;
  std::optional<uint64_t> offset = query_number(exchange, "offset", 0, UINT64_MAX);
  std::optional<uint64_t> bytes_max = offset ? query_number(exchange, "max_bytes", 1 << 20, limits_.fetch_bytes_max) : std::nullopt;
  const auto wait_max_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(limits_.fetch_wait_max).count());
  std::optional<uint64_t> wait_ms = bytes_max ? query_number(exchange, "wait_ms", 0, wait_max_ms) : std::nullopt;
  std::optional<uint64_t> confirm = wait_ms ? query_number(exchange, "confirm_high_watermark", 0, 1) : std::nullopt;
  if (!confirm) return;
  std::optional<partition::Reply> reply = call_partition(
      exchange, *id, partition::FetchRequest{*offset, static_cast<size_t>(*bytes_max), std::chrono::milliseconds(*wait_ms), *confirm == 1});
  if (!reply) return;
  const auto& fetched = std::get<partition::FetchReply>(reply->value);
  metrics_.add("sluice_fetch_bytes_total", {}, static_cast<double>(fetched.batches.size()));
  if (*format == BodyFormat::batch) return reply_batches(exchange, fetched);
  auto records = fetched_records(fetched, *offset);
  if (auto* error = std::get_if<ApiError>(&records)) return void(exchange.error = std::move(*error));
  const auto& list = std::get<std::vector<FetchedRecord>>(records);
  exchange.reply.content_type = *format == BodyFormat::json ? kJson : kNdjson;
  exchange.reply.body = *format == BodyFormat::json
                            ? encode_fetch_json(list, list.empty() ? *offset : list.back().offset + 1, fetched, *encoding)
                            : encode_fetch_ndjson(list, *encoding);
}

// The batches as the log stores them, back to back; each one's partition offset in a header.
void Api::reply_batches(Exchange& exchange, const partition::FetchReply& fetched) {
  std::string offsets;
  for (uint64_t base : fetched.base_offsets) offsets += (offsets.empty() ? "" : ",") + std::to_string(base);
  exchange.reply.content_type = kBatch;
  exchange.reply.headers.push_back(http::HttpHeader{"x-sluice-base-offsets", offsets});
  if (fetched.high_watermark) {
    exchange.reply.headers.push_back(http::HttpHeader{"x-sluice-high-watermark", std::to_string(*fetched.high_watermark)});
  }
  exchange.reply.headers.push_back(http::HttpHeader{"x-sluice-start-offset", std::to_string(fetched.start_offset)});
  exchange.reply.body = fetched.batches;
}

// A binary batch (docs/formats/log.md) for the partition the query names, as the client library
// encoded it (with its producer block when idempotent): appended as is.
void Api::produce_batch(Exchange& exchange, const controller::TopicRecord& topic) {
  std::optional<uint64_t> index = query_number(exchange, "partition", UINT64_MAX, UINT32_MAX);
  if (!index) return;
  if (*index >= topic.partitions.size()) {
    return void(exchange.error = http::make_error(404, "unknown_partition", "name a partition below " + std::to_string(topic.partitions.size()) + " with ?partition="));
  }
  metrics_.add("sluice_produce_bytes_total", {}, static_cast<double>(exchange.request->body.size()));
  std::optional<partition::Reply> reply = call_partition(
      exchange, PartitionId{topic.id, static_cast<uint32_t>(*index)}, partition::ProduceRequest{exchange.request->body, limits_.produce_timeout});
  if (!reply) return;
  const auto& produced = std::get<partition::ProduceReply>(reply->value);
  reply_json(exchange, Json{{"partition", *index}, {"base_offset", produced.base_offset}, {"last_offset", produced.last_offset},
                            {"duplicate", produced.duplicate}});
}

std::optional<TextEncoding> Api::query_encoding(Exchange& exchange) {
  auto found = exchange.target.query.find("encoding");
  std::optional<TextEncoding> encoding = found == exchange.target.query.end() ? TextEncoding::utf8 : encoding_of(found->second);
  if (!encoding) exchange.error = http::bad_request("encoding is utf8 or base64");
  return encoding;
}

// The node's replicas move away (docs/controller.md, "Moves"); it is removed once it holds none.
// One producer id for an idempotent producer (the client library asks once per producer): a
// block of one from the controller's counter, so ids are never reused, even across a controller
// failover. Epochs start at 0; the client moves a partition to the next epoch itself.
void Api::producer_ids(Exchange& exchange) {
  std::optional<controller::Applied> applied = submit(exchange, controller::AllocateProducerIds{1});
  if (!applied) return;
  reply_json(exchange, Json{{"producer_id", applied->first_producer_id}, {"epoch", 0}}, 201);
}

void Api::decommission(Exchange& exchange) {
  std::optional<uint64_t> node = parse_u64(exchange.route.params["node"]);
  if (!node || *node == 0) return void(exchange.error = http::bad_request("a node id is a positive integer"));
  if (!submit(exchange, controller::DecommissionNode{*node})) return;
  reply_json(exchange, Json{{"node", *node}, {"decommissioning", true}}, 202);
}

void Api::list_offsets(Exchange& exchange) {
  std::optional<PartitionId> id = route_partition(exchange);
  if (!id) return;
  const std::string at = exchange.target.query.count("at") ? exchange.target.query["at"] : "latest";
  partition::ListOffsetsRequest request;
  if (at == "earliest") {
    request.query = partition::OffsetQuery::earliest;
  } else if (at == "latest") {
    request.query = partition::OffsetQuery::latest;
  } else if (std::optional<uint64_t> timestamp = parse_u64(at); timestamp && *timestamp <= INT64_MAX) {
    request.query = partition::OffsetQuery::timestamp;
    request.timestamp_ms = static_cast<int64_t>(*timestamp);
  } else {
    return void(exchange.error = http::bad_request("at is earliest, latest or a timestamp in ms"));
  }
  std::optional<partition::Reply> reply = call_partition(exchange, *id, request);
  if (!reply) return;
  reply_json(exchange, Json{{"offset", std::get<uint64_t>(reply->value)}});
}

}  // namespace sluice::server
