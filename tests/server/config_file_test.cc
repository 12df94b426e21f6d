// sluice-node's configuration file (node/server/config_file.h, docs/formats/node-config.md).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "node/server/config_file.h"

namespace sluice::server {
namespace {

TEST(NodeConfigFile, EveryKeyIsReadAndAbsentKeysKeepTheirDefaults) {
  const auto settings = parse_node_config(R"(
node_id = 3
cluster_id = 42
data_dir = "/var/lib/sluice-3"
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
)",
                                          "node.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  EXPECT_EQ(settings->node_id, 3u);
  EXPECT_EQ(settings->cluster_id, 42u);
  EXPECT_EQ(settings->data_dir, "/var/lib/sluice-3");
  EXPECT_EQ(settings->host, "10.0.0.3");
  EXPECT_EQ(settings->membership_port, 7000);
  EXPECT_EQ(settings->seeds, (std::vector<std::string>{"10.0.0.1:7000", "10.0.0.2:7000"}));
  EXPECT_EQ(settings->xdp, "off");
  EXPECT_EQ(settings->interface, "eth1");
  EXPECT_EQ(settings->partition_ports, (std::vector<uint16_t>{8080, 9000}));
  EXPECT_EQ(settings->raft_port, 7001);
  EXPECT_EQ(settings->rpc_port, 7002);
  EXPECT_EQ(settings->controller_voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_TRUE(validate_node_settings(*settings).ok());

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
}

TEST(NodeConfigFile, TheExampleInDeployParses) {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/deploy/node.toml");
  ASSERT_TRUE(file) << "deploy/node.toml";
  std::stringstream text;
  text << file.rdbuf();
  const auto settings = parse_node_config(text.str(), "deploy/node.toml");
  ASSERT_TRUE(settings.ok()) << settings.status().to_string();
  EXPECT_TRUE(validate_node_settings(*settings).ok());
  EXPECT_EQ(settings->cluster_id, 7u);
}

}  // namespace
}  // namespace sluice::server
