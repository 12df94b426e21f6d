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
#include "node/base/status.h"

namespace sluice::server {

enum class ConfigErrc { ok = 0, invalid_config };
constexpr std::string_view to_string(ConfigErrc code) { return code == ConfigErrc::ok ? "ok" : "invalid_config"; }
template <typename T>
using ConfigResult = BasicResult<T, ConfigErrc>;

inline constexpr size_t kSeedsMax = 64;
inline constexpr size_t kPartitionPortsMax = 4;  // what the XDP classifier counts (CLASSIFY_PARTITION_PORTS_MAX)

struct NodeSettings {
  NodeId node_id = kNoNode;       // 0: the id recorded in the data directory, or a new random one
  uint64_t cluster_id = 0;        // datagrams of another cluster are dropped; another cluster's data dir is refused
  std::string data_dir = "sluice-data";
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

  friend bool operator==(const NodeSettings&, const NodeSettings&) = default;
};

// Reads `text` over `defaults`. `source` names the file in messages ("node.toml:7: membership.port:
// must be between 1 and 65535").
ConfigResult<NodeSettings> parse_node_config(std::string_view text, std::string_view source, NodeSettings defaults = {});
// Checks what the file and the flags together say (seeds are host:port, xdp a known mode, ...).
BasicStatus<ConfigErrc> validate_node_settings(const NodeSettings& settings);

}  // namespace sluice::server
