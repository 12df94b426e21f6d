// Error codes of the multi-Raft host (host.h) and its transport and frame codec.
#pragma once

#include <string_view>

#include "node/base/status.h"

namespace sluice::multiraft {

enum class HostErrc {
  ok = 0,
  malformed,         // an inbound frame failed verification (the connection is closed)
  unknown_group,     // no such group on this node
  group_exists,      // add_group for an id already hosted
  group_failed,      // the group's storage failed; it no longer runs
  storage_full,      // the group's storage ran out of space; it no longer runs (reopen it once space frees)
  not_leader,        // the message names the known leader, if any
  leadership_lost,   // the proposal's leader lost its term before the entry committed (it may still commit)
  timeout,           // the proposal (read) did not complete within proposal_timeout (read_timeout)
  queue_full,        // a named _max was reached
  storage_error,     // persisting to the group's storage failed
  stopped,           // the host is shutting down
  invalid_argument,
};

constexpr std::string_view to_string(HostErrc code) {
  switch (code) {
    case HostErrc::ok: return "ok";
    case HostErrc::malformed: return "malformed";
    case HostErrc::unknown_group: return "unknown_group";
    case HostErrc::group_exists: return "group_exists";
    case HostErrc::group_failed: return "group_failed";
    case HostErrc::storage_full: return "storage_full";
    case HostErrc::not_leader: return "not_leader";
    case HostErrc::leadership_lost: return "leadership_lost";
    case HostErrc::timeout: return "timeout";
    case HostErrc::queue_full: return "queue_full";
    case HostErrc::storage_error: return "storage_error";
    case HostErrc::stopped: return "stopped";
    case HostErrc::invalid_argument: return "invalid_argument";
  }
  return "unknown";
}

using HostStatus = BasicStatus<HostErrc>;
template <typename T>
using HostResult = BasicResult<T, HostErrc>;

}  // namespace sluice::multiraft
