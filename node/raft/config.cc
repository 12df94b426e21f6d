#include "node/raft/config.h"

namespace sluice::raft {

Status validate(const RaftConfig& config) {
  if (config.id == kNoNode) return Status(Errc::invalid_config, "id must not be 0");
  if (config.heartbeat_interval_ticks == 0) return Status(Errc::invalid_config, "heartbeat_interval_ticks must be >= 1");
  if (config.election_timeout_ticks <= config.heartbeat_interval_ticks) {
    return Status(Errc::invalid_config, "election_timeout_ticks must be > heartbeat_interval_ticks");
  }
  if (config.election_timeout_ticks > kElectionTimeoutTicksLimit) {
    return Status(Errc::invalid_config, "election_timeout_ticks above the limit");
  }
  if (config.inflight_msgs_max == 0 || config.inflight_msgs_max > kInflightMsgsLimit) {
    return Status(Errc::invalid_config, "inflight_msgs_max must be in [1, 65536]");
  }
  if (config.inflight_bytes_max == 0) return Status(Errc::invalid_config, "inflight_bytes_max must be >= 1");
  if (config.append_bytes_max == 0) return Status(Errc::invalid_config, "append_bytes_max must be >= 1");
  if (config.uncommitted_bytes_max == 0) return Status(Errc::invalid_config, "uncommitted_bytes_max must be >= 1");
  if (config.apply_bytes_max == 0) return Status(Errc::invalid_config, "apply_bytes_max must be >= 1");
  if (config.read_index_pending_max == 0) return Status(Errc::invalid_config, "read_index_pending_max must be >= 1");
  return Status();
}

}  // namespace sluice::raft
