// Errors of the controller (docs/controller.md, "Errors"): every command the metadata state
// machine refuses says why with one of these.
#pragma once

#include <string_view>

#include "node/base/status.h"

namespace sluice::controller {

enum class Errc {
  ok = 0,
  invalid_request,   // a malformed command or argument (name charset, counts out of range)
  topic_exists,      // create_topic of a name in use
  unknown_topic,     // no topic of that name or id
  unknown_node,      // no node of that id
  not_enough_nodes,  // the replication factor exceeds the nodes that can take replicas
  limit_reached,     // a configured limit (topics, partitions, nodes, producer ids) is reached
  conflict,          // the partition is moving already, or the move no longer applies
  // The driver (controller.h):
  not_leader,        // this node does not lead the metadata group; the message names the leader if known
  timeout,           // not committed within the deadline (the command may still commit later)
  unavailable,       // the metadata group cannot take commands here (storage failed, queue full, closed)
};

constexpr std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_request: return "invalid_request";
    case Errc::topic_exists: return "topic_exists";
    case Errc::unknown_topic: return "unknown_topic";
    case Errc::unknown_node: return "unknown_node";
    case Errc::not_enough_nodes: return "not_enough_nodes";
    case Errc::limit_reached: return "limit_reached";
    case Errc::conflict: return "conflict";
    case Errc::not_leader: return "not_leader";
    case Errc::timeout: return "timeout";
    case Errc::unavailable: return "unavailable";
  }
  return "unknown";
}

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

}  // namespace sluice::controller
