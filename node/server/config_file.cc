#include "node/server/config_file.h"

#include <toml++/toml.h>

#include <map>
#include <set>

#include "node/base/assert.h"
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

constexpr std::string_view kEntryShape = "expected name:<salt hex>:<hash hex>, as `sluice-node hash-token NAME` prints it";
constexpr std::string_view kGrantShape = "expected a table { topic = \"orders-*\", read = true, write = false, admin = false }";

// What is wrong with a grant ("" when nothing): the config's own mistakes, beyond types.
std::string grant_problem(const TopicGrantSettings& grant) {
  const size_t star = grant.topic.find('*');
  if (grant.topic.empty() || (star != std::string::npos && star + 1 != grant.topic.size())) {
    return "topic is a name, a prefix ending in '*' (\"orders-*\"), or \"*\"; not '" + grant.topic + "'";
  }
  if (!grant.read && !grant.write && !grant.admin) return "grants nothing on '" + grant.topic + "': set read, write or admin";
  return "";
}

bool valid_anonymous(std::string_view mode) { return mode == "off" || mode == "read" || mode == "admin"; }

void read_grant(const toml::table& table, const std::string& section, config::ParseContext& context, TopicGrantSettings& grant) {
  config::TableReader reader(table, section, context);
  if (table.get("topic") == nullptr) return context.fail(reader.line(), reader.field("topic"), "missing; " + std::string(kGrantShape));
  reader.text("topic", grant.topic);
  reader.boolean("read", grant.read);
  reader.boolean("write", grant.write);
  reader.boolean("admin", grant.admin);
  reader.finish();
  if (const std::string problem = grant_problem(grant); reader.ok() && !problem.empty()) reader.fail("topic", problem);
}

void read_grants(config::TableReader& reader, const std::string& section, std::vector<TopicGrantSettings>& out) {
  const toml::node* topics = reader.take("topics");
  if (topics == nullptr) return;
  const toml::array* array = topics->as_array();
  if (array == nullptr || array->size() > kTokenGrantsMax) {
    return reader.context().fail(reader.node_line(topics), reader.field("topics"),
                                 "expected a list of at most " + std::to_string(kTokenGrantsMax) + " grants; " + std::string(kGrantShape));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string field = section + ".topics[" + std::to_string(i) + "]";
    if (!element.is_table()) return reader.context().fail(reader.node_line(&element), field, kGrantShape);
    TopicGrantSettings grant;
    read_grant(*element.as_table(), field, reader.context(), grant);
    out.push_back(std::move(grant));
  }
}

// [[http.tokens]]: each an entry line and its grants; names are distinct.
void read_tokens(config::TableReader& reader, std::vector<TokenSettings>& out) {
  const std::vector<const toml::table*> tables = reader.tables("tokens");
  if (tables.size() > kHttpTokensMax) {
    return reader.fail("tokens", "at most " + std::to_string(kHttpTokensMax) + " tokens (each request is hashed once per token)");
  }
  if (!tables.empty()) out.clear();
  std::map<std::string, int> name_lines;
  for (size_t i = 0; i < tables.size() && reader.ok(); ++i) {
    const std::string section = reader.field("tokens") + "[" + std::to_string(i) + "]";
    config::TableReader token(*tables[i], section, reader.context());
    TokenSettings settings;
    if (tables[i]->get("entry") == nullptr) return reader.context().fail(token.line(), token.field("entry"), "missing; " + std::string(kEntryShape));
    token.text("entry", settings.entry);
    if (!token.ok()) return;
    const std::optional<http::TokenEntry> entry = http::parse_token_entry_line(settings.entry);
    if (!entry) return token.fail("entry", kEntryShape);
    if (auto [at, added] = name_lines.emplace(entry->name, token.key_line("entry")); !added) {
      return token.fail("entry", "a token named '" + entry->name + "' is listed already (line " + std::to_string(at->second) + ")");
    }
    token.boolean("cluster_admin", settings.cluster_admin);
    read_grants(token, section, settings.topics);
    token.finish();
    out.push_back(std::move(settings));
  }
}

void read_http(config::TableReader& reader, NodeSettings& settings) {
  read_port(reader, "port", settings.http_port);
  reader.text("anonymous", settings.anonymous);
  if (reader.ok() && !valid_anonymous(settings.anonymous)) {
    return reader.fail("anonymous", "off, read or admin, not '" + settings.anonymous + "'");
  }
  read_tokens(reader, settings.tokens);
  reader.finish();
}

// What validate_node_settings finds wrong with the tokens ("" when nothing).
std::string tokens_problem(const std::vector<TokenSettings>& tokens) {
  if (tokens.size() > kHttpTokensMax) return "more than " + std::to_string(kHttpTokensMax) + " http tokens";
  std::set<std::string> names;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string which = "http token " + std::to_string(i);
    const std::optional<http::TokenEntry> entry = http::parse_token_entry_line(tokens[i].entry);
    if (!entry) return which + ": " + std::string(kEntryShape);
    if (!names.insert(entry->name).second) return which + ": another token is named '" + entry->name + "'";
    if (tokens[i].topics.size() > kTokenGrantsMax) return which + ": more than " + std::to_string(kTokenGrantsMax) + " grants";
    for (const TopicGrantSettings& grant : tokens[i].topics) {
      if (const std::string problem = grant_problem(grant); !problem.empty()) return which + " (" + entry->name + "): " + problem;
    }
  }
  return "";
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
  top.text("cluster_secret_file", settings.cluster_secret_file);
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
  if (const toml::table* http = top.subtable("http")) {
    config::TableReader reader(*http, "http", context);
    read_http(reader, settings);
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
  if (settings.http_port == settings.membership_port || settings.http_port == settings.raft_port || settings.http_port == settings.rpc_port) {
    return Status(ConfigErrc::invalid_config,
                  "the http port (" + std::to_string(settings.http_port) + ") must differ from the membership, raft and rpc ports");
  }
  if (settings.partition_ports.size() > kPartitionPortsMax) {
    return Status(ConfigErrc::invalid_config, "more than " + std::to_string(kPartitionPortsMax) + " partition ports");
  }
  if (!valid_anonymous(settings.anonymous)) {
    return Status(ConfigErrc::invalid_config, "anonymous is off, read or admin, not '" + settings.anonymous + "'");
  }
  if (const std::string problem = tokens_problem(settings.tokens); !problem.empty()) return Status(ConfigErrc::invalid_config, problem);
  return Status();
}

http::AuthConfig auth_config(const NodeSettings& settings) {
  http::AuthConfig auth;
  auth.anonymous_allowed = settings.anonymous != "off";
  if (settings.anonymous == "read") auth.anonymous.topics.push_back(http::TopicGrant{"*", true, false, false});
  if (settings.anonymous == "admin") auth.anonymous.cluster_admin = true;
  for (const TokenSettings& token : settings.tokens) {
    std::optional<http::TokenEntry> entry = http::parse_token_entry_line(token.entry);
    SLUICE_ASSERT(entry.has_value());  // validate_node_settings accepted it
    entry->grants.cluster_admin = token.cluster_admin;
    for (const TopicGrantSettings& grant : token.topics) {
      entry->grants.topics.push_back(http::TopicGrant{grant.topic, grant.read, grant.write, grant.admin});
    }
    auth.tokens.push_back(std::move(*entry));
  }
  return auth;
}

}  // namespace sluice::server
