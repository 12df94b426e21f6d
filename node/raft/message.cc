#include "node/raft/message.h"

#include "node/base/bytes.h"

namespace sluice::raft {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_config: return "invalid_config";
    case Errc::invalid_state: return "invalid_state";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_leader: return "not_leader";
    case Errc::leader_transfer_pending: return "leader_transfer_pending";
    case Errc::conf_change_pending: return "conf_change_pending";
    case Errc::invalid_conf_change: return "invalid_conf_change";
    case Errc::learner_not_caught_up: return "learner_not_caught_up";
    case Errc::uncommitted_too_large: return "uncommitted_too_large";
    case Errc::reads_pending_too_many: return "reads_pending_too_many";
    case Errc::compacted: return "compacted";
    case Errc::unavailable: return "unavailable";
    case Errc::io_error: return "io_error";
    case Errc::no_space: return "no_space";
    case Errc::malformed: return "malformed";
  }
  return "unknown";
}

std::string_view to_string(EntryType type) {
  switch (type) {
    case EntryType::normal: return "normal";
    case EntryType::conf_change: return "conf";
    case EntryType::empty: return "empty";
  }
  return "unknown";
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::follower: return "follower";
    case Role::pre_candidate: return "pre-candidate";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  return "unknown";
}

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::pre_vote_request: return "pre-vote";
    case MessageType::pre_vote_response: return "pre-vote-resp";
    case MessageType::vote_request: return "vote";
    case MessageType::vote_response: return "vote-resp";
    case MessageType::append: return "append";
    case MessageType::append_response: return "append-resp";
    case MessageType::heartbeat: return "heartbeat";
    case MessageType::heartbeat_response: return "heartbeat-resp";
    case MessageType::log_start_jump: return "log-start-jump";
    case MessageType::timeout_now: return "timeout-now";
  }
  return "unknown";
}

std::string to_string(const Entry& entry) {
  std::string text = std::to_string(entry.index) + "/" + std::to_string(entry.term);
  switch (entry.type) {
    case EntryType::empty:
      text += " empty";
      break;
    case EntryType::normal:
      text += " \"" + std::string(as_string_view(entry.data)) + "\"";
      break;
    case EntryType::conf_change: {
      Result<ConfChangeEntry> change = decode_conf_change_entry(entry.data);
      text += " conf(" + (change.ok() ? to_string(change->change) : std::string("malformed")) + ")";
      break;
    }
  }
  return text;
}

std::string to_string(const std::vector<Entry>& entries) {
  std::string text = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) text += ", ";
    text += to_string(entries[i]);
  }
  return text + "]";
}

std::string to_string(const Message& m) {
  std::string text = std::to_string(m.from) + "->" + std::to_string(m.to) + " " + std::string(to_string(m.type)) +
                     " t" + std::to_string(m.term);
  const std::string at = std::to_string(m.index) + "/" + std::to_string(m.log_term);
  switch (m.type) {
    case MessageType::pre_vote_request:
    case MessageType::vote_request:
      text += " last=" + at + " commit=" + std::to_string(m.commit) + "/" + std::to_string(m.commit_term);
      if (m.transfer) text += " transfer";
      break;
    case MessageType::pre_vote_response:
    case MessageType::vote_response:
      text += m.reject ? " rejected" : " granted";
      text += " commit=" + std::to_string(m.commit) + "/" + std::to_string(m.commit_term);
      break;
    case MessageType::append:
      text += " prev=" + at + " commit=" + std::to_string(m.commit);
      if (!m.entries.empty()) text += " " + to_string(m.entries);
      break;
    case MessageType::append_response:
      if (m.reject) {
        text += " rejected index=" + std::to_string(m.index) + " hint=" + std::to_string(m.reject_hint_index) + "/" +
                std::to_string(m.reject_hint_term);
      } else {
        text += " index=" + std::to_string(m.index);
      }
      break;
    case MessageType::heartbeat:
      text += " commit=" + std::to_string(m.commit) + "/" + std::to_string(m.commit_term);
      if (m.context != 0) text += " ctx=" + std::to_string(m.context);
      if (m.quiesce) text += " quiesce";
      break;
    case MessageType::heartbeat_response:
      if (m.reject) text += " rejected last=" + std::to_string(m.index);
      if (m.context != 0) text += " ctx=" + std::to_string(m.context);
      break;
    case MessageType::log_start_jump:
      text += " after=" + at + " commit=" + std::to_string(m.commit) + " " + to_string(m.conf_state);
      break;
    case MessageType::timeout_now:
      break;
  }
  return text;
}

}  // namespace sluice::raft
