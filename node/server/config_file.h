// sluice-node's configuration file (docs/formats/node-config.md): TOML, one section per part of
// the node, every key optional (the defaults are sluice-node's), unknown keys refused with their
// file:line. sluice-node reads it with --config; a flag given on the command line overrides the
// file's value for that one field. Sections are added as the parts they configure land.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/ids.h"
#include "node/base/planted_bug.h"
#include "node/base/status.h"
#include "node/http/auth.h"

namespace sluice::server {

enum class ConfigErrc { ok = 0, invalid_config };
constexpr std::string_view to_string(ConfigErrc code) { return code == ConfigErrc::ok ? "ok" : "invalid_config"; }
template <typename T>
using ConfigResult = BasicResult<T, ConfigErrc>;

inline constexpr size_t kSeedsMax = 64;
inline constexpr size_t kPartitionPortsMax = 4;  // what the XDP classifier counts (CLASSIFY_PARTITION_PORTS_MAX)
// Every request with a token hashes it once per entry (the comparison must not say which entry
// matched), so the list is short.
inline constexpr size_t kHttpTokensMax = 64;
inline constexpr size_t kTokenGrantsMax = 64;  // topic grants of one token

// One grant of [[http.tokens]] topics (http::TopicGrant): `topic` is a name, a prefix ending in
// '*' ("orders-*"), or "*".
struct TopicGrantSettings {
  std::string topic;
  bool read = false;
  bool write = false;
  bool admin = false;

  friend bool operator==(const TopicGrantSettings&, const TopicGrantSettings&) = default;
};

// One [[http.tokens]] table: the entry line `sluice-node hash-token NAME` printed
// ("name:<salt hex>:<hash hex>", http::token_entry_line) and what the token may do.
struct TokenSettings {
  std::string entry;
  bool cluster_admin = false;
  std::vector<TopicGrantSettings> topics;

  friend bool operator==(const TokenSettings&, const TokenSettings&) = default;
};

struct NodeSettings {
  NodeId node_id = kNoNode;       // 0: the id recorded in the data directory, or a new random one
  uint64_t cluster_id = 0;        // datagrams of another cluster are dropped; another cluster's data dir is refused
  std::string data_dir = "sluice-data";
  // A file holding the cluster secret (docs/formats/rpc.md, "Cluster secret"): its bytes, at least
  // ClusterKey::kSecretBytesMin, derive the key every inter-node frame and datagram is MACed
  // with. "": no secret (no MAC on the wire). sluice-node reads the file; parsing only names it.
  std::string cluster_secret_file;
  // [membership]
  std::string host = "127.0.0.1";  // numeric address the node binds to and is reached at
  uint16_t membership_port = 7946;
  std::vector<std::string> seeds;  // host:port of members to join through
  std::string xdp = "auto";        // auto | on | off (docs/xdp.md)
  std::string interface;           // for the XDP classifier; "": the one holding `host`
  std::vector<uint16_t> partition_ports;  // ports the classifier counts as partition traffic
  // [raft]
  uint16_t raft_port = 7947;  // the inter-node Raft transport (TCP); announced to members via SWIM
  // [rpc]
  uint16_t rpc_port = 7948;   // the inter-node RPC (TCP; docs/formats/rpc.md); announced via SWIM
  // [controller]
  std::vector<NodeId> controller_voters;  // the metadata group's members (1, 3 or 5 node ids); empty: none here
  // [http]: the HTTP API (docs/http.md)
  uint16_t http_port = 8080;
  std::string anonymous = "off";  // off | read (every topic) | admin (everything): a request without a token
  std::vector<TokenSettings> tokens;
  // Test only, and only as a flag (--test-planted-bug; no config key): a known bug planted in the
  // node (node/base/planted_bug.h), so a real-fault run can show its checkers catch it.
  PlantedBug test_planted_bug = PlantedBug::none;

  friend bool operator==(const NodeSettings&, const NodeSettings&) = default;
};

// Reads `text` over `defaults`. `source` names the file in messages ("node.toml:7: membership.port:
// must be between 1 and 65535").
ConfigResult<NodeSettings> parse_node_config(std::string_view text, std::string_view source, NodeSettings defaults = {});
// Checks what the file and the flags together say (seeds are host:port, xdp a known mode, the
// ports distinct, token entries well-formed, ...).
BasicStatus<ConfigErrc> validate_node_settings(const NodeSettings& settings);
// The HTTP API's auth (the node's NodeConfig::auth) from settings validate_node_settings accepted.
http::AuthConfig auth_config(const NodeSettings& settings);

}  // namespace sluice::server
