// Linearizable reads by read index: the leader confirms with a heartbeat round that it still
// leads, then the read may be served at the commit index it recorded.
#include "node/raft/quorum.h"
#include "node/raft/raft.h"

namespace sluice::raft {

Status Raft::read_index(uint64_t context) {
  wake();
  if (role_ != Role::leader) return Status(Errc::not_leader, "leader is " + std::to_string(lead_));
  if (context == 0) return Status(Errc::invalid_argument, "context 0 is reserved for heartbeats without a read");
  if (reads_.size() >= config_.read_index_pending_max) {
    return Status(Errc::reads_pending_too_many, std::to_string(reads_.size()) + " reads pending");
  }
  if (reads_.contains(context)) return Status(Errc::invalid_argument, "context already pending");
  std::map<NodeId, bool> self_only{{config_.id, true}};
  if (!committed_in_current_term()) {
    reads_.add_awaiting_commit(context);
    return Status();
  }
  if (vote_result(conf_, self_only) == VoteResult::won) {
    // Sole voter: nobody else can lead, no round needed.
    read_states_.push_back(ReadState{context, log_.committed(), false});
    return Status();
  }
  reads_.add(context, log_.committed(), config_.id);
  broadcast_heartbeat(context);
  return Status();
}

bool Raft::committed_in_current_term() const {
  Result<Term> term = log_.term(log_.committed());
  return term.ok() && *term == term_;
}

void Raft::on_first_commit_of_term() {
  if (!reads_.start_awaiting(log_.committed(), config_.id)) return;
  std::map<NodeId, bool> self_only{{config_.id, true}};
  if (vote_result(conf_, self_only) == VoteResult::won) {
    for (ReadState& read : reads_.acknowledge(reads_.last_context(), config_.id, conf_)) read_states_.push_back(read);
    return;
  }
  broadcast_heartbeat(reads_.last_context());
}

void Raft::handle_read_ack(const Message& m) {
  for (ReadState& read : reads_.acknowledge(m.context, m.from, conf_)) read_states_.push_back(read);
}

}  // namespace sluice::raft
