#include "client/cli/commands.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "client/cli/command_context.h"

namespace sluice::client::cli {

namespace {

using Json = nlohmann::json;

// How often the progress line is rewritten.
constexpr rt::Duration kProgressInterval = std::chrono::seconds(1);

using Table = std::vector<std::vector<std::string>>;

// Columns padded to their widest cell, two spaces apart.
void print_table(std::ostream& out, const Table& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string node_text(NodeId node) { return node == kNoNode ? "-" : std::to_string(node); }

std::string joined(const std::vector<NodeId>& nodes) {
  std::string out;
  for (NodeId node : nodes) out += (out.empty() ? "" : ",") + std::to_string(node);
  return out;
}

void print_topic(std::ostream& out, const TopicInfo& topic) {
  out << "topic " << topic.name << " id=" << topic.id << " partitions=" << topic.partitions.size()
      << " replication=" << topic.replication << " retention_ms=" << topic.retention_ms
      << " retention_bytes=" << topic.retention_bytes << " segment_bytes=" << topic.segment_bytes << "\n";
  Table rows = {{"PARTITION", "LEADER", "REPLICAS", "END_OFFSET"}};
  for (const PartitionInfo& partition : topic.partitions) {
    rows.push_back({std::to_string(partition.partition), node_text(partition.leader), joined(partition.replicas),
                    partition.end_offset ? std::to_string(*partition.end_offset) : "-"});
  }
  print_table(out, rows);
}

void print_members(std::ostream& out, const ClusterInfo& cluster) {
  Table rows = {{"ID", "STATE", "NODE STATE", "API", "MEMBERSHIP", "CONTROLLER"}};
  for (const MemberInfo& member : cluster.members) {
    std::string controller = member.controller.empty() ? "-" : member.controller;
    if (member.id == cluster.controller_leader) controller = "leader";
    rows.push_back({node_text(member.id), member.state, member.node_state.empty() ? "-" : member.node_state,
                    member.api.empty() ? "-" : member.api, member.address, controller});
  }
  print_table(out, rows);
}

int topic_create(Context& context) {
  const TopicCreateArgs& args = context.command.topic_create;
  Result<TopicInfo> topic = context.client.create_topic({args.name, args.partitions, args.replication, args.config});
  if (!topic.ok()) return context.fail("topic create " + args.name, topic.status());
  if (context.json()) {
    context.out() << topic->raw.dump() << "\n";
  } else {
    context.out() << "created topic " << topic->name << " partitions=" << topic->partitions.size()
                  << " replication=" << topic->replication << "\n";
  }
  return kExitOk;
}

int topic_list(Context& context) {
  Result<std::vector<TopicSummary>> topics = context.client.list_topics();
  if (!topics.ok()) return context.fail("topic list", topics.status());
  if (context.json()) {
    Json list = Json::array();
    for (const TopicSummary& topic : *topics) {
      list.push_back({{"name", topic.name}, {"id", topic.id}, {"partitions", topic.partitions}, {"replication", topic.replication}});
    }
    context.out() << Json{{"topics", list}}.dump() << "\n";
    return kExitOk;
  }
  Table rows = {{"NAME", "PARTITIONS", "REPLICATION"}};
  for (const TopicSummary& topic : *topics) {
    rows.push_back({topic.name, std::to_string(topic.partitions), std::to_string(topic.replication)});
  }
  print_table(context.out(), rows);
  return kExitOk;
}

int topic_show(Context& context, const Result<TopicInfo>& topic, std::string_view what) {
  if (!topic.ok()) return context.fail(std::string(what) + " " + context.command.topic, topic.status());
  if (context.json()) {
    context.out() << topic->raw.dump() << "\n";
  } else {
    print_topic(context.out(), *topic);
  }
  return kExitOk;
}

int topic_delete(Context& context) {
  const std::string& name = context.command.topic;
  if (Status deleted = context.client.delete_topic(name); !deleted.ok()) return context.fail("topic delete " + name, deleted);
  if (context.json()) {
    context.out() << Json{{"deleted", name}}.dump() << "\n";
  } else {
    context.out() << "deleted topic " << name << "\n";
  }
  return kExitOk;
}

int cluster_members(Context& context) {
  Result<ClusterInfo> cluster = context.client.cluster();
  if (!cluster.ok()) return context.fail("cluster members", cluster.status());
  if (context.json()) {
    context.out() << cluster->raw.dump() << "\n";
  } else {
    print_members(context.out(), *cluster);
  }
  return kExitOk;
}

int cluster_decommission(Context& context) {
  const NodeId node = context.command.node;
  const std::string what = "cluster decommission " + std::to_string(node);
  if (Status started = context.client.decommission_node(node); !started.ok()) return context.fail(what, started);
  if (context.json()) {
    context.out() << Json{{"node", node}, {"decommissioning", true}}.dump() << "\n";
  } else {
    context.out() << "node " << node << " is decommissioning: its replicas move away, then it is removed\n";
  }
  return kExitOk;
}

Result<TopicInfo> topic_metadata(Client& client, const std::string& name) {
  Result<Json> answer = client.call_json("GET", "/v1/topics/" + path_segment(name) + "/metadata", nullptr);
  if (!answer.ok()) return answer.status();
  return topic_info_of(*answer);
}

// The members, then every topic's partitions and leaders (or the one asked for): kcat -L.
int cluster_metadata(Context& context) {
  Result<ClusterInfo> cluster = context.client.cluster();
  if (!cluster.ok()) return context.fail("cluster metadata", cluster.status());
  std::vector<std::string> names;
  if (!context.command.topic.empty()) {
    names.push_back(context.command.topic);
  } else {
    Result<std::vector<TopicSummary>> topics = context.client.list_topics();
    if (!topics.ok()) return context.fail("cluster metadata", topics.status());
    for (const TopicSummary& topic : *topics) names.push_back(topic.name);
  }
  std::vector<TopicInfo> topics;
  for (const std::string& name : names) {
    Result<TopicInfo> topic = topic_metadata(context.client, name);
    if (!topic.ok()) return context.fail("cluster metadata " + name, topic.status());
    topics.push_back(std::move(*topic));
  }
  if (context.json()) {
    Json list = Json::array();
    for (const TopicInfo& topic : topics) list.push_back(topic.raw);
    context.out() << Json{{"cluster", cluster->raw}, {"topics", list}}.dump() << "\n";
    return kExitOk;
  }
  print_members(context.out(), *cluster);
  for (const TopicInfo& topic : topics) {
    context.out() << "\n";
    print_topic(context.out(), topic);
  }
  return kExitOk;
}

int dispatch(Context& context) {
  switch (context.command.kind) {
    case CommandKind::topic_create: return topic_create(context);
    case CommandKind::topic_list: return topic_list(context);
    case CommandKind::topic_describe:
      return topic_show(context, context.client.describe_topic(context.command.topic), "topic describe");
    case CommandKind::topic_alter:
      return topic_show(context, context.client.alter_topic(context.command.topic, context.command.topic_config), "topic alter");
    case CommandKind::topic_delete: return topic_delete(context);
    case CommandKind::produce: return run_produce(context);
    case CommandKind::consume: return run_consume(context);
    case CommandKind::cluster_members: return cluster_members(context);
    case CommandKind::cluster_metadata: return cluster_metadata(context);
    case CommandKind::cluster_decommission: return cluster_decommission(context);
    case CommandKind::bench_produce: return run_bench_produce(context);
    case CommandKind::bench_consume: return run_bench_consume(context);
  }
  SLUICE_ASSERT(false);
  return kExitFailed;
}

}  // namespace

std::string error_line(std::string_view what, const Status& status) {
  return "sluice: " + std::string(what) + ": " + status.to_string() + "\n";
}

ProgressLine::ProgressLine(Context& context, std::function<std::string()> render) : context_(context), render_(std::move(render)) {
  if (!context_.io.err_is_terminal) return;
  task_ = context_.runtime().spawn("cli-progress", [this] {
    while (context_.runtime().sleep_for(kProgressInterval).ok()) {
      // \r and erase-to-end-of-line: the line is rewritten in place.
      context_.err() << "\r" << render_() << "\x1b[K" << std::flush;
      shown_ = true;
    }
  });
}

void ProgressLine::stop() {
  if (!task_.valid()) return;
  task_.cancel();
  (void)task_.join();
  task_ = rt::Task();
  if (shown_) context_.err() << "\r\x1b[K" << std::flush;
}

int run_command_with(Client& client, const Command& command, const CommandIo& io) {
  SLUICE_ASSERT(io.out != nullptr && io.err != nullptr);
  Context context{client, command, io};
  const int code = dispatch(context);
  io.out->flush();
  return code;
}

int run_command(rt::Runtime& runtime, const Command& command, const CommandIo& io) {
  ClientConfig config;
  config.brokers = command.global.brokers;
  config.token = command.global.token;
  config.request_timeout = command.global.timeout;
  Client client(runtime, std::move(config));
  const int code = run_command_with(client, command, io);
  client.close();
  return code;
}

}  // namespace sluice::client::cli
