#include "node/server/config_file.h"

#include <toml++/toml.h>

#include <set>

#include "node/server/toml_reader.h"
#include "runtime/net.h"

namespace sluice::server {
namespace {

using Status = BasicStatus<ConfigErrc>;

void read_port(config::TableReader& reader, std::string_view key, uint16_t& out) {
  int64_t port = out;
  reader.integer(key, port, 1, 65535);
  out = static_cast<uint16_t>(port);
}

void read_membership(config::TableReader& reader, NodeSettings& settings) {
  reader.text("host", settings.host);
  read_port(reader, "port", settings.membership_port);
  reader.strings("seeds", settings.seeds, kSeedsMax);
  reader.text("xdp", settings.xdp);
  reader.text("interface", settings.interface);
  if (const toml::node* ports = reader.take("partition_ports")) {
    const toml::array* array = ports->as_array();
    if (array == nullptr || array->size() > kPartitionPortsMax) {
      return reader.context().fail(reader.node_line(ports), reader.field("partition_ports"),
                                   "expected a list of at most " + std::to_string(kPartitionPortsMax) + " ports");
    }
    settings.partition_ports.clear();
    for (const toml::node& element : *array) {
      const std::optional<int64_t> port = element.is_integer() ? element.value<int64_t>() : std::nullopt;
      if (!port || *port < 1 || *port > 65535) {
        return reader.context().fail(reader.node_line(&element), reader.field("partition_ports"), "ports are 1 to 65535");
      }
      settings.partition_ports.push_back(static_cast<uint16_t>(*port));
    }
  }
  reader.finish();
}

void read_voters(config::TableReader& reader, std::vector<NodeId>& out) {
  const toml::node* voters = reader.take("voters");
  if (voters == nullptr) return;
  const toml::array* array = voters->as_array();
  if (array == nullptr) return reader.context().fail(reader.node_line(voters), reader.field("voters"), "expected a list of node ids");
  out.clear();
  for (const toml::node& element : *array) {
    const std::optional<int64_t> id = element.is_integer() ? element.value<int64_t>() : std::nullopt;
    if (!id || *id < 1) return reader.context().fail(reader.node_line(&element), reader.field("voters"), "node ids are positive integers");
    out.push_back(static_cast<NodeId>(*id));
  }
}

}  // namespace

ConfigResult<NodeSettings> parse_node_config(std::string_view text, std::string_view source, NodeSettings settings) {
  config::ParseContext context{std::string(source), {}};
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    context.fail(static_cast<int>(error.source().begin.line), "toml", error.description());
    return ConfigResult<NodeSettings>(ConfigErrc::invalid_config, context.error);
  }
  config::TableReader top(root, "", context);
  int64_t node_id = static_cast<int64_t>(settings.node_id);
  top.integer("node_id", node_id, 0, INT64_MAX);
  settings.node_id = static_cast<NodeId>(node_id);
  int64_t cluster_id = static_cast<int64_t>(settings.cluster_id);
  top.integer("cluster_id", cluster_id, 0, INT64_MAX);
  settings.cluster_id = static_cast<uint64_t>(cluster_id);
  top.text("data_dir", settings.data_dir);
  if (const toml::table* membership = top.subtable("membership")) {
    config::TableReader reader(*membership, "membership", context);
    read_membership(reader, settings);
  }
  if (const toml::table* raft = top.subtable("raft")) {
    config::TableReader reader(*raft, "raft", context);
    read_port(reader, "port", settings.raft_port);
    reader.finish();
  }
  if (const toml::table* rpc = top.subtable("rpc")) {
    config::TableReader reader(*rpc, "rpc", context);
    read_port(reader, "port", settings.rpc_port);
    reader.finish();
  }
  if (const toml::table* controller = top.subtable("controller")) {
    config::TableReader reader(*controller, "controller", context);
    read_voters(reader, settings.controller_voters);
    reader.finish();
  }
  top.finish();
  if (!context.ok()) return ConfigResult<NodeSettings>(ConfigErrc::invalid_config, context.error);
  return settings;
}

Status validate_node_settings(const NodeSettings& settings) {
  if (settings.data_dir.empty()) return Status(ConfigErrc::invalid_config, "data_dir is empty");
  if (settings.xdp != "auto" && settings.xdp != "on" && settings.xdp != "off") {
    return Status(ConfigErrc::invalid_config, "xdp is auto, on or off, not '" + settings.xdp + "'");
  }
  if (auto host = runtime::Address::parse(runtime::Address{settings.host, settings.membership_port}.to_string()); !host.ok()) {
    return Status(ConfigErrc::invalid_config, "host " + settings.host + ": " + host.status().to_string());
  }
  if (settings.seeds.size() > kSeedsMax) return Status(ConfigErrc::invalid_config, "more than 64 seeds");
  for (const std::string& seed : settings.seeds) {
    if (auto parsed = runtime::Address::parse(seed); !parsed.ok()) {
      return Status(ConfigErrc::invalid_config, "seed " + seed + ": " + parsed.status().to_string());
    }
  }
  if (!settings.controller_voters.empty()) {
    const std::set<NodeId> distinct(settings.controller_voters.begin(), settings.controller_voters.end());
    const size_t n = settings.controller_voters.size();
    if (distinct.size() != n || (n != 1 && n != 3 && n != 5)) {
      return Status(ConfigErrc::invalid_config, "controller voters are 1, 3 or 5 distinct node ids");
    }
  }
  if (settings.raft_port == settings.membership_port) return Status(ConfigErrc::invalid_config, "raft port and membership port are the same");
  if (settings.rpc_port == settings.membership_port || settings.rpc_port == settings.raft_port) {
    return Status(ConfigErrc::invalid_config, "the rpc port must differ from the membership and raft ports");
  }
  if (settings.partition_ports.size() > kPartitionPortsMax) {
    return Status(ConfigErrc::invalid_config, "more than " + std::to_string(kPartitionPortsMax) + " partition ports");
  }
  return Status();
}

}  // namespace sluice::server
