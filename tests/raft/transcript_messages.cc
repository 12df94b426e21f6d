// Hand-written log entries, messages and storage for the Raft transcripts (docs/raft.md).
#include <tuple>
#include <utility>

#include "tests/raft/transcript.h"

namespace sluice::raft::testing {

namespace {

using transcript::parse_u64;
using transcript::split;

constexpr MessageType kMessageTypes[] = {
    MessageType::pre_vote_request, MessageType::pre_vote_response, MessageType::vote_request,
    MessageType::vote_response,    MessageType::append,            MessageType::append_response,
    MessageType::heartbeat,        MessageType::heartbeat_response, MessageType::log_start_jump,
    MessageType::timeout_now,
};

// "I/T" as an index and a term.
std::optional<std::pair<Index, Term>> parse_position(std::string_view text) {
  const std::vector<std::string> parts = split(text, '/');
  if (parts.size() != 2) return std::nullopt;
  std::optional<uint64_t> index = parse_u64(parts[0]);
  std::optional<uint64_t> term = parse_u64(parts[1]);
  if (!index || !term) return std::nullopt;
  return std::pair<Index, Term>{*index, *term};
}

// "conf+4-1~5": the items of a conf change (automatic transition); "conf" leaves joint.
Result<ConfChange> parse_conf_change(std::string_view text) {
  ConfChange change;
  size_t at = 4;  // after "conf"
  while (at < text.size()) {
    const char sign = text[at];
    size_t end = at + 1;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    std::optional<uint64_t> node = parse_u64(text.substr(at + 1, end - at - 1));
    if (!node || (sign != '+' && sign != '-' && sign != '~')) {
      return Status(Errc::invalid_argument, "conf change items are +N (voter), -N (remove), ~N (learner)");
    }
    const ConfChangeType type = sign == '+'   ? ConfChangeType::add_voter
                                : sign == '-' ? ConfChangeType::remove_node
                                              : ConfChangeType::add_learner;
    change.items.push_back({type, *node});
    at = end;
  }
  return change;
}

Result<Entry> parse_entry(std::string_view text, ConfState* conf) {
  const size_t colon = text.find(':');
  std::optional<std::pair<Index, Term>> position = parse_position(text.substr(0, colon));
  if (!position || position->first == 0) return Status(Errc::invalid_argument, "bad entry " + std::string(text));
  Entry entry;
  entry.index = position->first;
  entry.term = position->second;
  if (colon == std::string_view::npos) return entry;
  const std::string_view payload = text.substr(colon + 1);
  if (payload == "(empty)") {
    entry.type = EntryType::empty;
  } else if (payload.size() >= 6 && payload.substr(0, 5) == "(conf" && payload.back() == ')') {
    SLUICE_ASSIGN_OR_RETURN(ConfChange change, parse_conf_change(payload.substr(1, payload.size() - 2)));
    ConfChangeEntry conf_entry;
    conf_entry.change = change;
    SLUICE_ASSIGN_OR_RETURN(conf_entry.result, apply_conf_change(*conf, change));
    *conf = conf_entry.result;
    entry.type = EntryType::conf_change;
    entry.data = encode_conf_change_entry(conf_entry);
  } else {
    entry.data = SharedBytes(as_bytes(payload));
  }
  return entry;
}

}  // namespace

std::optional<std::set<NodeId>> parse_ids(std::string_view text) {
  std::set<NodeId> ids;
  if (text == "none") return ids;
  for (const std::string& part : split(text, ',')) {
    std::optional<uint64_t> id = parse_u64(part);
    if (!id || *id == 0) return std::nullopt;
    ids.insert(*id);
  }
  return ids;
}

std::optional<MessageType> parse_message_type(std::string_view name) {
  for (MessageType type : kMessageTypes) {
    if (to_string(type) == name) return type;
  }
  return std::nullopt;
}

Result<std::vector<Entry>> parse_entries(std::string_view text, ConfState* conf) {
  std::vector<Entry> entries;
  if (text.empty()) return entries;
  for (const std::string& part : split(text, ',')) {
    SLUICE_ASSIGN_OR_RETURN(Entry entry, parse_entry(part, conf));
    if (!entries.empty() && entry.index != entries.back().index + 1) {
      return Status(Errc::invalid_argument, "entry indexes must be consecutive");
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<Message> parse_message(const Command& c, Term term) {
  Message m;
  m.term = term;
  const std::string* type = c.option("type");
  std::optional<MessageType> parsed = type ? parse_message_type(*type) : std::nullopt;
  if (!parsed) return Status(Errc::invalid_argument, "inject needs type=<message type>");
  m.type = *parsed;
  ConfState conf;
  for (const auto& [key, value] : c.options) {
    if (key == "type") continue;
    if (key == "entries") {
      SLUICE_ASSIGN_OR_RETURN(m.entries, parse_entries(value, &conf));
      continue;
    }
    if (key == "hint") {
      std::optional<std::pair<Index, Term>> hint = parse_position(value);
      if (!hint) return Status(Errc::invalid_argument, "hint=I/T");
      m.reject_hint_index = hint->first;
      m.reject_hint_term = hint->second;
      continue;
    }
    if (key == "reject" || key == "transfer") {
      (key == "reject" ? m.reject : m.transfer) = value == "true";
      continue;
    }
    if (key == "voters" || key == "learners") {
      std::optional<std::set<NodeId>> ids = parse_ids(value);
      if (!ids) return Status(Errc::invalid_argument, "bad id list " + value);
      (key == "voters" ? m.conf_state.voters : m.conf_state.learners) = *ids;
      continue;
    }
    std::optional<uint64_t> number = parse_u64(value);
    if (!number) return Status(Errc::invalid_argument, "bad value for " + key);
    if (key == "from") {
      m.from = *number;
    } else if (key == "to") {
      m.to = *number;
    } else if (key == "term") {
      m.term = *number;
    } else if (key == "index") {
      m.index = *number;
    } else if (key == "log-term") {
      m.log_term = *number;
    } else if (key == "commit") {
      m.commit = *number;
    } else if (key == "commit-term") {
      m.commit_term = *number;
    } else if (key == "ctx") {
      m.context = *number;
    } else {
      return Status(Errc::invalid_argument, "unknown option " + key);
    }
  }
  return m;
}

bool is_storage_option(std::string_view key) {
  return key == "log" || key == "base" || key == "term" || key == "vote" || key == "commit" || key == "vote-withheld";
}

// The log is replaced (after `base`, or after the current base) when log= or base= is given;
// hard state fields are replaced one by one; voters= / learners= replace the membership.
Result<MemoryLogStorage> edit_storage(MemoryLogStorage storage, const Command& c) {
  InitialState state = storage.initial_state();
  Index base_index = storage.base_index();
  Term base_term = storage.base_term();
  const std::string* log = c.option("log");
  if (const std::string* base = c.option("base")) {
    std::optional<std::pair<Index, Term>> position = parse_position(*base);
    if (!position) return Status(Errc::invalid_argument, "base=I/T");
    std::tie(base_index, base_term) = *position;
  }
  const bool replace_log = log || c.option("base");
  std::vector<Entry> entries;
  if (replace_log) {
    ConfState conf = state.conf_state;
    SLUICE_ASSIGN_OR_RETURN(entries, parse_entries(log ? *log : "", &conf));
    if (!entries.empty() && entries.front().index != base_index + 1) {
      return Status(Errc::invalid_argument, "the log must start right after its base (base=I/T)");
    }
  }
  for (const auto& [key, value] : c.options) {
    if (key == "voters" || key == "learners") {
      std::optional<std::set<NodeId>> ids = parse_ids(value);
      if (!ids) return Status(Errc::invalid_argument, "bad id list " + value);
      (key == "voters" ? state.conf_state.voters : state.conf_state.learners) = *ids;
      state.conf_state.index = 0;
      continue;
    }
    if (key == "vote-withheld") {
      if (value != "true" && value != "false") return Status(Errc::invalid_argument, "vote-withheld=true|false");
      state.hard_state.vote_withheld = value == "true";
      continue;
    }
    if (key != "term" && key != "vote" && key != "commit") continue;
    std::optional<uint64_t> number = parse_u64(value);
    if (!number) return Status(Errc::invalid_argument, "bad value for " + key);
    (key == "term" ? state.hard_state.term : key == "vote" ? state.hard_state.vote : state.hard_state.commit) = *number;
  }
  if (replace_log) {
    // The membership given (or kept) is the one in force at the base.
    storage.reset_to(base_index, base_term, state.conf_state);
    SLUICE_TRY(storage.append(entries));
  }
  storage.set_hard_state(state.hard_state);
  storage.set_conf_state(state.conf_state);
  return storage;
}

}  // namespace sluice::raft::testing
