// sluice-node's configuration file (node/server/config_file.h, docs/formats/node-config.md).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "node/http/auth.h"
#include "node/server/config_file.h"

namespace sluice::server {
namespace {

TEST(NodeConfigFile, EveryKeyIsReadAndAbsentKeysKeepTheirDefaults) {
  const auto settings = parse_node_config(R"(
node_id = 3
cluster_id = 42
data_dir = "/var/lib/sluice-3"
cluster_secret_file = "/etc/sluice/cluster.secret"
[membership]
host = "10.0.0.3"
port = 7000
seeds = ["10.0.0.1:7000", "10.0.0.2:7000"]
xdp = "off"
interface = "eth1"
partition_ports = [8080, 9000]
[raft]
port = 7001
[rpc]
port = 7002
[controller]
voters = [1, 2, 3]
[http]
port = 7003
anonymous = "read"
[[http.tokens]]
entry = "writer:000102030405060708090a0b0c0d0e0f:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
topics = [ { topic = "orders-*", read = true, write = true }, { topic = "audit", admin = true } ]
[[http.tokens]]
entry = "root:0f0e0d0c0b0a09080706050403020100:1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
cluster_admin = true
)",
                                          "node.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  EXPECT_EQ(settings->node_id, 3u);
  EXPECT_EQ(settings->cluster_id, 42u);
  EXPECT_EQ(settings->data_dir, "/var/lib/sluice-3");
  EXPECT_EQ(settings->cluster_secret_file, "/etc/sluice/cluster.secret");
  EXPECT_EQ(NodeSettings{}.cluster_secret_file, "") << "no secret unless configured";
  EXPECT_EQ(settings->host, "10.0.0.3");
  EXPECT_EQ(settings->membership_port, 7000);
  EXPECT_EQ(settings->seeds, (std::vector<std::string>{"10.0.0.1:7000", "10.0.0.2:7000"}));
  EXPECT_EQ(settings->xdp, "off");
  EXPECT_EQ(settings->interface, "eth1");
  EXPECT_EQ(settings->partition_ports, (std::vector<uint16_t>{8080, 9000}));
  EXPECT_EQ(settings->raft_port, 7001);
  EXPECT_EQ(settings->rpc_port, 7002);
  EXPECT_EQ(settings->controller_voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(settings->http_port, 7003);
  EXPECT_EQ(settings->anonymous, "read");
  ASSERT_EQ(settings->tokens.size(), 2u);
  EXPECT_EQ(settings->tokens[0].entry.substr(0, 39), "writer:000102030405060708090a0b0c0d0e0f");
  EXPECT_FALSE(settings->tokens[0].cluster_admin);
  EXPECT_EQ(settings->tokens[0].topics,
            (std::vector<TopicGrantSettings>{{"orders-*", true, true, false}, {"audit", false, false, true}}));
  EXPECT_TRUE(settings->tokens[1].cluster_admin);
  EXPECT_TRUE(settings->tokens[1].topics.empty());
  const auto status = validate_node_settings(*settings);
  EXPECT_TRUE(status.ok()) << status.to_string();

  const auto empty = parse_node_config("", "empty.toml");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, NodeSettings{});
}

TEST(NodeConfigFile, MistakesNameTheFileLineAndKey) {
  auto error_of = [](const std::string& text) {
    const auto parsed = parse_node_config(text, "node.toml");
    EXPECT_FALSE(parsed.ok()) << text;
    return parsed.ok() ? std::string() : parsed.status().message();
  };
  EXPECT_EQ(error_of("node_id = 1\n[membership]\nport = 0\n"), "node.toml:3: membership.port: must be between 1 and 65535");
  EXPECT_EQ(error_of("nodeid = 1\n"), "node.toml:1: nodeid: unknown key");
  EXPECT_EQ(error_of("[membership]\nseeds = \"a:1\"\n"), "node.toml:2: membership.seeds: expected a list of at most 64 strings");
  EXPECT_EQ(error_of("[membership]\npartition_ports = [1, 2, 3, 4, 5]\n"),
            "node.toml:2: membership.partition_ports: expected a list of at most 4 ports");
  EXPECT_EQ(error_of("[controller]\nvoters = [1, 0]\n"), "node.toml:2: controller.voters: node ids are positive integers");
  EXPECT_EQ(error_of("[raft]\nport = 70000\n"), "node.toml:2: raft.port: must be between 1 and 65535");
  EXPECT_EQ(error_of("cluster_id = -1\n"), "node.toml:1: cluster_id: must be between 0 and 9223372036854775807");
  EXPECT_NE(error_of("data_dir = \n").find("node.toml:1"), std::string::npos);  // TOML syntax
}

constexpr const char* kEntry =
    "writer:000102030405060708090a0b0c0d0e0f:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(NodeConfigFile, HttpMistakesNameTheLineAndTheToken) {
  auto error_of = [](const std::string& text) {
    const auto parsed = parse_node_config(text, "node.toml");
    EXPECT_FALSE(parsed.ok()) << text;
    return parsed.ok() ? std::string() : parsed.status().message();
  };
  const std::string shape = "expected name:<salt hex>:<hash hex>, as `sluice-node hash-token NAME` prints it";
  EXPECT_EQ(error_of("[http]\nport = 0\n"), "node.toml:2: http.port: must be between 1 and 65535");
  EXPECT_EQ(error_of("[http]\nanonymous = \"sometimes\"\n"), "node.toml:2: http.anonymous: off, read or admin, not 'sometimes'");
  EXPECT_EQ(error_of("[http]\nanonymous = true\n"), "node.toml:2: http.anonymous: expected a string");
  EXPECT_EQ(error_of("[http]\ntoken = 1\n"), "node.toml:2: http.token: unknown key");
  // The hash is one hex digit short; then a salt that is not hex; then no name.
  const std::string entry = kEntry;
  EXPECT_EQ(error_of("[http]\n[[http.tokens]]\nentry = \"" + entry.substr(0, entry.size() - 1) + "\"\n"),
            "node.toml:3: http.tokens[0].entry: " + shape);
  EXPECT_EQ(error_of("[[http.tokens]]\nentry = \"" + entry + "\"\n[[http.tokens]]\nentry = \"w:zz:00\"\n"),
            "node.toml:4: http.tokens[1].entry: " + shape);
  EXPECT_EQ(error_of("[[http.tokens]]\nentry = \"" + entry.substr(6) + "\"\n"), "node.toml:2: http.tokens[0].entry: " + shape);
  EXPECT_EQ(error_of("[[http.tokens]]\ncluster_admin = true\n"),
            "node.toml:1: http.tokens[0].entry: missing; " + shape);
  EXPECT_EQ(error_of("[[http.tokens]]\nentry = \"" + entry + "\"\n[[http.tokens]]\nentry = \"" + entry + "\"\n"),
            "node.toml:4: http.tokens[1].entry: a token named 'writer' is listed already (line 2)");
  EXPECT_EQ(error_of("[[http.tokens]]\nentry = \"" + entry + "\"\ncluster_admin = \"yes\"\n"),
            "node.toml:3: http.tokens[0].cluster_admin: expected true or false");
  EXPECT_EQ(error_of("[[http.tokens]]\nentry = \"" + entry + "\"\ngrants = []\n"), "node.toml:3: http.tokens[0].grants: unknown key");
  // Grants.
  const std::string token = "[[http.tokens]]\nentry = \"" + entry + "\"\n";
  EXPECT_EQ(error_of(token + "topics = \"orders\"\n"),
            "node.toml:3: http.tokens[0].topics: expected a list of at most 64 grants; expected a table { topic = \"orders-*\", read = "
            "true, write = false, admin = false }");
  EXPECT_EQ(error_of(token + "topics = [ \"orders\" ]\n"),
            "node.toml:3: http.tokens[0].topics[0]: expected a table { topic = \"orders-*\", read = true, write = false, admin = false }");
  EXPECT_EQ(error_of(token + "topics = [ { topic = \"a\", read = true },\n  { topic = \"b\", reed = true } ]\n"),
            "node.toml:4: http.tokens[0].topics[1].reed: unknown key");
  EXPECT_EQ(error_of(token + "topics = [ { topic = \"or*ders\", read = true } ]\n"),
            "node.toml:3: http.tokens[0].topics[0].topic: topic is a name, a prefix ending in '*' (\"orders-*\"), or \"*\"; not 'or*ders'");
  EXPECT_EQ(error_of(token + "topics = [ { topic = \"orders\" } ]\n"),
            "node.toml:3: http.tokens[0].topics[0].topic: grants nothing on 'orders': set read, write or admin");
  EXPECT_EQ(error_of(token + "topics = [ { read = true } ]\n"),
            "node.toml:3: http.tokens[0].topics[0].topic: missing; expected a table { topic = \"orders-*\", read = true, write = false, "
            "admin = false }");
  EXPECT_EQ(error_of(token + "topics = [ { topic = \"a\", write = 1 } ]\n"), "node.toml:3: http.tokens[0].topics[0].write: expected true or false");
  std::string many;
  for (size_t i = 0; i <= kHttpTokensMax; ++i) many += "[[http.tokens]]\nentry = \"w" + std::to_string(i) + entry.substr(6) + "\"\n";
  EXPECT_EQ(error_of(many), "node.toml:1: http.tokens: at most 64 tokens (each request is hashed once per token)");
}

TEST(NodeConfigFile, HttpTokensAndAnonymousBecomeTheAuthConfig) {
  const Bytes salt(http::kTokenSaltBytes, std::byte{7});
  NodeSettings settings;
  settings.tokens.push_back(TokenSettings{http::token_entry_line("writer", "s3cret", salt), false, {{"orders-*", false, true, false}}});
  settings.tokens.push_back(TokenSettings{http::token_entry_line("root", "r00t", salt), true, {}});
  ASSERT_TRUE(validate_node_settings(settings).ok());
  const http::AuthConfig auth = auth_config(settings);
  EXPECT_FALSE(auth.anonymous_allowed);  // off by default
  ASSERT_EQ(auth.tokens.size(), 2u);
  EXPECT_EQ(auth.tokens[0].name, "writer");
  EXPECT_EQ(auth.tokens[0].hash, http::hash_token("s3cret", salt));
  const http::Caller writer{http::Caller::Kind::token, &auth.tokens[0]};
  EXPECT_EQ(http::decide(auth, writer, http::Permission::write, "orders-eu"), http::Decision::allow);
  EXPECT_EQ(http::decide(auth, writer, http::Permission::read, "orders-eu"), http::Decision::forbidden);
  EXPECT_EQ(http::decide(auth, writer, http::Permission::write, "audit"), http::Decision::forbidden);
  const http::Caller root{http::Caller::Kind::token, &auth.tokens[1]};
  EXPECT_EQ(http::decide(auth, root, http::Permission::admin, ""), http::Decision::allow);
  const http::Caller anonymous;
  EXPECT_EQ(http::decide(auth, anonymous, http::Permission::read, "orders"), http::Decision::unauthenticated);

  settings.anonymous = "read";
  const http::AuthConfig read = auth_config(settings);
  EXPECT_EQ(http::decide(read, anonymous, http::Permission::read, "orders"), http::Decision::allow);
  EXPECT_EQ(http::decide(read, anonymous, http::Permission::read, ""), http::Decision::allow);  // the topic list, the cluster
  EXPECT_EQ(http::decide(read, anonymous, http::Permission::write, "orders"), http::Decision::forbidden);
  EXPECT_EQ(http::decide(read, anonymous, http::Permission::admin, "orders"), http::Decision::forbidden);
  settings.anonymous = "admin";
  const http::AuthConfig admin = auth_config(settings);
  EXPECT_EQ(http::decide(admin, anonymous, http::Permission::admin, "orders"), http::Decision::allow);
  EXPECT_EQ(http::decide(admin, anonymous, http::Permission::admin, ""), http::Decision::allow);
}

TEST(NodeConfigFile, ValidationRefusesBadSeedsAndModes) {
  NodeSettings settings;
  settings.seeds = {"no-port"};
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings.seeds.clear();
  settings.xdp = "sometimes";
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings.xdp = "on";
  settings.data_dir.clear();
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings = NodeSettings{};
  settings.controller_voters = {1, 2};  // an even group
  settings.node_id = 1;
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings.controller_voters = {1, 2, 3};
  EXPECT_TRUE(validate_node_settings(settings).ok());
  settings.node_id = 0;  // a node with a drawn id is no voter: it follows as a learner
  EXPECT_TRUE(validate_node_settings(settings).ok());
  settings = NodeSettings{};
  settings.raft_port = settings.membership_port;
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings = NodeSettings{};
  settings.rpc_port = settings.raft_port;
  EXPECT_FALSE(validate_node_settings(settings).ok());
  for (uint16_t taken : {settings.membership_port, settings.raft_port, settings.rpc_port}) {
    settings = NodeSettings{};
    settings.http_port = taken;
    const auto status = validate_node_settings(settings);
    EXPECT_FALSE(status.ok()) << taken;
    EXPECT_EQ(status.message(), "the http port (" + std::to_string(taken) + ") must differ from the membership, raft and rpc ports");
  }
  settings = NodeSettings{};
  settings.anonymous = "write";  // read and admin are the modes beside off
  EXPECT_EQ(validate_node_settings(settings).message(), "anonymous is off, read or admin, not 'write'");
  settings = NodeSettings{};
  settings.tokens.push_back(TokenSettings{"writer:00:00", false, {}});
  EXPECT_FALSE(validate_node_settings(settings).ok());
  settings.tokens[0].entry = kEntry;
  EXPECT_TRUE(validate_node_settings(settings).ok());
  settings.tokens[0].topics.push_back(TopicGrantSettings{"*", false, false, false});
  EXPECT_EQ(validate_node_settings(settings).message(), "http token 0 (writer): grants nothing on '*': set read, write or admin");
  settings.tokens[0].topics[0].read = true;
  settings.tokens.push_back(settings.tokens[0]);
  EXPECT_EQ(validate_node_settings(settings).message(), "http token 1: another token is named 'writer'");
}

// A file of the source tree, "" when it cannot be read.
std::string source_file(const std::string& path) {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/" + path);
  std::stringstream text;
  text << file.rdbuf();
  return file ? text.str() : std::string();
}

TEST(NodeConfigFile, TheExampleInDeployParses) {
  const std::string text = source_file("deploy/node.toml");
  ASSERT_FALSE(text.empty()) << "deploy/node.toml";
  const auto settings = parse_node_config(text, "deploy/node.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  EXPECT_TRUE(validate_node_settings(*settings).ok());
  EXPECT_EQ(settings->cluster_id, 7u);
  EXPECT_EQ(settings->cluster_secret_file, "") << "commented out: the README runs this file";
  EXPECT_EQ(settings->http_port, 8080);
  EXPECT_EQ(settings->anonymous, "off");
  ASSERT_EQ(settings->tokens.size(), 1u);  // the example token's entry
  EXPECT_EQ(settings->tokens[0].topics.size(), 1u);
}

// The production example the systemd unit's docs start from (docs/operations.md): it parses and is
// valid, with a cluster secret, no anonymous access and a cluster-admin token.
TEST(NodeConfigFile, TheSystemdExampleInDeployParses) {
  const std::string text = source_file("deploy/sluice-node.conf.example");
  ASSERT_FALSE(text.empty()) << "deploy/sluice-node.conf.example";
  const auto settings = parse_node_config(text, "deploy/sluice-node.conf.example");
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  EXPECT_TRUE(validate_node_settings(*settings).ok()) << validate_node_settings(*settings).message();
  EXPECT_EQ(settings->data_dir, "/var/lib/sluice") << "the unit's StateDirectory";
  EXPECT_EQ(settings->cluster_secret_file, "/etc/sluice/cluster.secret");
  EXPECT_EQ(settings->anonymous, "off");
  EXPECT_EQ(settings->controller_voters, (std::vector<NodeId>{1, 2, 3}));
  ASSERT_EQ(settings->tokens.size(), 1u);
  EXPECT_TRUE(settings->tokens[0].cluster_admin);
}

}  // namespace
}  // namespace sluice::server
