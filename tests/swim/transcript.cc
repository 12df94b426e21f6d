#include "tests/swim/transcript.h"

#include <algorithm>
#include <functional>

#include "node/base/hash.h"
#include "node/swim/codec.h"
#include "tests/swim/swim_testing.h"

namespace sluice::swim::testing {

namespace {

using transcript::parse_u64;

constexpr uint64_t kStepsMax = 100000;        // timer firings or deliveries in one command
constexpr int kStabilizeRoundsMax = 1000;
constexpr uint32_t kRelativeSeqMax = 1000000;  // seqs shown relative to their issuer's first
constexpr NodeId kMisaddressedTarget = 999;    // inject flaw=misaddressed: a ping for this id

std::string error(std::string_view what) { return "error: " + std::string(what); }

std::string at(uint64_t ms) { return ms == UINT64_MAX ? "never" : "@" + std::to_string(ms); }

// Where member `id` is unless a file says otherwise (addr=); outputs show addresses only where
// they differ from this.
std::string default_address(NodeId id) { return "h" + std::to_string(id) + ":7946"; }

// A member's name is its node id in decimal.
std::optional<NodeId> id_of_name(const std::string& name) {
  std::optional<uint64_t> id = parse_u64(name);
  if (!id || *id == kNoNode || std::to_string(*id) != name) return std::nullopt;
  return *id;
}

// " at ADDR" where `address` is not the default for `id`, and " {name=addr,...}" when named.
std::string where_text(NodeId id, const std::string& address, const NamedAddresses& named) {
  std::string text;
  if (!address.empty() && address != default_address(id)) text += " at " + address;
  if (!named.empty()) text += " {" + to_string(named) + "}";
  return text;
}

// Transcripts start from these, not from Config's defaults, so a change of the core's defaults
// does not rewrite every file; push-pull timers and reconnect pings are off unless asked for.
Config base_config(NodeId id) {
  Config config;
  config.self_id = id;
  config.self_address = default_address(id);
  config.cluster_id = kCluster;
  config.lifeguard = true;
  config.probe_interval_ms = 1000;
  config.probe_timeout_ms = 500;
  config.indirect_probes = 3;
  config.nack_timeout_ms = 400;
  config.retransmit_mult = 4;
  config.suspicion_mult = 4;
  config.suspicion_mult_max = 6;
  config.suspicion_confirmations_expected = 3;
  config.awareness_score_max = 7;
  config.push_pull_interval_ms = 0;
  config.join_retry_interval_ms = 2000;
  config.reconnect_interval_ms = 0;
  config.dead_retention_ms = 3600000;
  config.leave_linger_ms = 1000;
  config.gossip_interval_ms = 0;  // news rides on probe traffic unless a file asks for the tick
  return config;
}

using Setter = std::function<void(Config&, uint64_t)>;

const std::map<std::string, Setter>& numeric_options() {
  static const std::map<std::string, Setter> options{
      {"probe-interval", [](Config& c, uint64_t v) { c.probe_interval_ms = v; }},
      {"probe-timeout", [](Config& c, uint64_t v) { c.probe_timeout_ms = v; }},
      {"indirect-probes", [](Config& c, uint64_t v) { c.indirect_probes = static_cast<uint32_t>(v); }},
      {"nack-timeout", [](Config& c, uint64_t v) { c.nack_timeout_ms = v; }},
      {"retransmit-mult", [](Config& c, uint64_t v) { c.retransmit_mult = static_cast<uint32_t>(v); }},
      {"suspicion-mult", [](Config& c, uint64_t v) { c.suspicion_mult = static_cast<uint32_t>(v); }},
      {"suspicion-mult-max", [](Config& c, uint64_t v) { c.suspicion_mult_max = static_cast<uint32_t>(v); }},
      {"confirmations", [](Config& c, uint64_t v) { c.suspicion_confirmations_expected = static_cast<uint32_t>(v); }},
      {"awareness-max", [](Config& c, uint64_t v) { c.awareness_score_max = static_cast<uint32_t>(v); }},
      {"push-pull-interval", [](Config& c, uint64_t v) { c.push_pull_interval_ms = v; }},
      {"join-retry", [](Config& c, uint64_t v) { c.join_retry_interval_ms = v; }},
      {"reconnect-interval", [](Config& c, uint64_t v) { c.reconnect_interval_ms = v; }},
      {"dead-retention", [](Config& c, uint64_t v) { c.dead_retention_ms = v; }},
      {"leave-linger", [](Config& c, uint64_t v) { c.leave_linger_ms = v; }},
      {"cluster", [](Config& c, uint64_t v) { c.cluster_id = v; }},
      {"probe-deadline", [](Config& c, uint64_t v) { c.probe_deadline_ms = v; }},
      {"gossip-interval", [](Config& c, uint64_t v) { c.gossip_interval_ms = v; }},
      {"gossip-nodes", [](Config& c, uint64_t v) { c.gossip_nodes = static_cast<uint32_t>(v); }},
      {"gossip-load-max", [](Config& c, uint64_t v) { c.gossip_load_datagrams_max = static_cast<uint32_t>(v); }},
      {"members-max", [](Config& c, uint64_t v) { c.members_max = static_cast<size_t>(v); }},
  };
  return options;
}


// The counters of Stats by name, in declaration order.
std::vector<std::pair<std::string, uint64_t>> stats_table(const Stats& s) {
  return {{"datagrams_sent", s.datagrams_sent},
          {"datagrams_received", s.datagrams_received},
          {"dropped_bad_header", s.dropped_bad_header},
          {"dropped_malformed", s.dropped_malformed},
          {"dropped_foreign_cluster", s.dropped_foreign_cluster},
          {"dropped_not_for_us", s.dropped_not_for_us},
          {"dropped_outbox_full", s.dropped_outbox_full},
          {"dropped_members_full", s.dropped_members_full},
          {"broadcasts_evicted", s.broadcasts_evicted},
          {"pings_sent", s.pings_sent},
          {"acks_sent", s.acks_sent},
          {"ping_reqs_sent", s.ping_reqs_sent},
          {"nacks_sent", s.nacks_sent},
          {"nacks_received", s.nacks_received},
          {"acks_forwarded", s.acks_forwarded},
          {"acks_unmatched", s.acks_unmatched},
          {"probes", s.probes},
          {"probes_failed", s.probes_failed},
          {"indirect_rounds", s.indirect_rounds},
          {"suspicions_started", s.suspicions_started},
          {"deaths_declared", s.deaths_declared},
          {"refutations", s.refutations},
          {"address_conflicts", s.address_conflicts},
          {"updates_piggybacked", s.updates_piggybacked},
          {"reconnect_pings", s.reconnect_pings},
          {"tombstones_evicted", s.tombstones_evicted},
          {"push_pull_requests", s.push_pull_requests},
          {"push_pull_merges", s.push_pull_merges},
          {"periods", s.periods},
          {"datagrams_sent_period_max", s.datagrams_sent_period_max}};
}

// "id:state:incarnation[:origin][@address]", as in inject's and merge-state's update= options.
// An alive claim without @address says the member is where the runner has it (`address_of`).
std::optional<Update> parse_update(const std::string& value, const std::function<std::string(NodeId)>& address_of) {
  static const std::map<std::string, MemberState> states{{"alive", MemberState::alive},
      {"suspect", MemberState::suspect}, {"dead", MemberState::dead}, {"left", MemberState::left}};
  const size_t at_sign = value.find('@');
  std::vector<std::string> parts = transcript::split(value.substr(0, at_sign), ':');
  if (parts.size() < 3 || parts.size() > 4 || states.count(parts[1]) == 0 || !parse_u64(parts[2])) return std::nullopt;
  std::optional<NodeId> member = id_of_name(parts[0]);
  std::optional<NodeId> origin = parts.size() == 4 ? id_of_name(parts[3]) : kNoNode;
  if (!member || !origin) return std::nullopt;
  Update update{*member, *parse_u64(parts[2]), states.at(parts[1]), *origin, "", {}};
  if (update.state == MemberState::alive) {
    update.address = at_sign == std::string::npos ? address_of(*member) : value.substr(at_sign + 1);
  }
  return update;
}

// Options that set where a member is, not how its core behaves.
bool is_address_option(const std::string& key) { return key == "addr" || key == "named" || key == "seeds"; }

Result<Config> make_config(NodeId id, const Command& c) {
  Config config = base_config(id);
  for (const auto& [key, value] : c.options) {
    if (is_address_option(key)) continue;
    if (key == "lifeguard") {
      if (value != "on" && value != "off") return Status(Errc::invalid_config, "lifeguard=on|off");
      config.lifeguard = value == "on";
      continue;
    }
    auto setter = numeric_options().find(key);
    std::optional<uint64_t> number = parse_u64(value);
    if (!number) return Status(Errc::invalid_config, "bad value for " + key);
    if (setter == numeric_options().end()) return Status(Errc::invalid_config, "unknown option " + key);
    setter->second(config, *number);
  }
  // Unless a file sets it, suspicion comes at the end of the period, whatever the period is.
  if (!c.option("probe-deadline")) config.probe_deadline_ms = config.probe_interval_ms;
  Status valid = validate(config);
  if (!valid.ok()) return valid;
  return config;
}

}  // namespace

// How a member's entry may change between two looks at a view (several changes may lie between
// them): its incarnation never goes down; at the same incarnation the state only moves forward
// (alive, suspect, then dead or left: only a refutation, at a higher incarnation, brings a member
// back), and dead and left never turn into each other.
std::optional<std::string> illegal_change(ViewEntry before, ViewEntry after) {
  const auto text = [](ViewEntry entry) {
    return std::string(to_string(entry.first)) + " " + std::to_string(entry.second);
  };
  const auto rank = [](MemberState state) { return state == MemberState::alive ? 0 : state == MemberState::suspect ? 1 : 2; };
  const std::string change = "from " + text(before) + " to " + text(after);
  if (after.second < before.second) return "incarnation went down: " + change;
  if (after.second > before.second) return std::nullopt;
  if (rank(after.first) < rank(before.first)) return "back without a higher incarnation: " + change;
  if (rank(before.first) == 2 && after.first != before.first) return "dead and left swapped: " + change;
  return std::nullopt;
}

std::string TranscriptRunner::run(const Command& c) {
  out_.clear();
  indent_.clear();
  timed_ = false;
  quiet_ = false;
  show_.clear();
  std::string result = dispatch(c);
  return transcript::finish_output(out_ + result);
}

std::string TranscriptRunner::dispatch(const Command& c) {
  if (c.name == "add-members") return add_members(c);
  if (c.name == "advance") {
    const bool once = std::find(c.args.begin(), c.args.end(), "next") != c.args.end();
    std::optional<uint64_t> ms = once ? UINT64_MAX / 2 : parse_u64(c.option("ms") ? *c.option("ms") : "");
    if (!ms) return error("advance ms=N | advance next");
    std::vector<std::string> names;
    for (const auto& [name, member] : members_) names.push_back(name);
    return advance(names, *ms, once);
  }
  if (c.name == "run") return run_network(c);
  if (c.name == "deliver" || c.name == "drop") return deliver_or_drop(c, c.name == "deliver");
  if (c.name == "stabilize") return stabilize(c);
  if (c.name == "msgs") return msgs(c);
  if (c.name == "partition") return partition(c);
  if (c.name == "block" || c.name == "unblock") return block(c, c.name == "block");
  if (c.name == "heal") {
    groups_.clear();
    rules_.restore_all();
    return "";
  }
  if (transcript::NetworkRules::handles(c.name)) {
    return rules_.run(
        c, [this](const std::string& name) { return members_.count(name) != 0; },
        [](const std::string& kind) {
          static const std::set<std::string> kinds{"ping", "ack", "ping_req", "nack", "gossip", "push-pull", "raw"};
          return kinds.count(kind) != 0;
        });
  }
  if (c.name == "inject") return inject(c);
  if (c.name == "merge-state") return merge_state(c);
  return member_command(c);
}

std::string TranscriptRunner::add_members(const Command& c) {
  if (c.args.empty()) return error("add-members ID... [addr=A] [named=NAME=A]... [option=value...]");
  if (c.args.size() > 1 && c.option("addr")) return error("addr= names one member's address");
  for (const std::string& name : c.args) {
    std::optional<NodeId> id = id_of_name(name);
    if (!id || members_.count(name) != 0) return error("bad or duplicate member id " + name);
    Result<Config> config = make_config(*id, c);
    if (!config.ok()) return error(config.status().to_string());
    Node& member = members_[name];
    member.id = *id;
    member.config = *config;
    if (std::optional<std::string> bad = set_addresses(member, c)) {
      members_.erase(name);
      return error(*bad);
    }
    start(name);
    say(name + " up inc=0 next-tick=" + at(member.core->next_tick_ms()) +
        where_text(member.id, member.config.self_address, member.config.self_named));
  }
  return "";
}

// addr=A and named=NAME=A (repeated; named=none clears them): where the member is from now on.
// Like a socket bind, an address is refused while another up member holds it.
std::optional<std::string> TranscriptRunner::set_addresses(Node& member, const Command& c) {
  NamedAddresses named;
  bool named_given = false;
  for (const auto& [key, value] : c.options) {
    if (key != "named") continue;
    named_given = true;
    const size_t equals = value.find('=');
    if (value == "none") continue;
    if (equals == std::string::npos) return "named=NAME=ADDRESS or named=none";
    named.push_back(NamedAddress{value.substr(0, equals), value.substr(equals + 1)});
  }
  Config config = member.config;
  if (const std::string* address = c.option("addr")) config.self_address = *address;
  if (named_given) config.self_named = named;
  sort_named_addresses(config.self_named);
  if (Status valid = validate(config); !valid.ok()) return valid.to_string();
  for (const auto& [name, other] : members_) {
    if (&other != &member && other.core && other.config.self_address == config.self_address) {
      return config.self_address + " is in use by " + name;
    }
  }
  member.config = config;
  return std::nullopt;
}

void TranscriptRunner::start(const std::string& name) {
  Node& member = members_.at(name);
  // Seeded by "n<id>", the names these files used before members were ids: their random draws,
  // and so their probe orders and timings, stayed as they were.
  const uint64_t seed = hash_combine(hash_combine(seed_, hash_bytes("n" + name)), member.boots++);
  member.core = std::make_unique<Core>(member.config, Prng(seed), now_ms_);
  member.leaving = false;
  member.seq_base.reset();
  member.events.clear();
  member.incarnation_seen = 0;
  member.view_seen.clear();
}

TranscriptRunner::Node* TranscriptRunner::up(const std::string& name) {
  auto it = members_.find(name);
  return it == members_.end() || !it->second.core ? nullptr : &it->second;
}

std::optional<std::vector<std::string>> TranscriptRunner::names_of(const Command& c, bool all_by_default) const {
  std::vector<std::string> names;
  if ((c.args.empty() && all_by_default) || (c.args.size() == 1 && c.args[0] == "all")) {
    for (const auto& [name, member] : members_) names.push_back(name);
    return names;
  }
  for (const std::string& arg : c.args) {
    if (members_.count(arg) == 0) return std::nullopt;
    names.push_back(arg);
  }
  if (names.empty()) return std::nullopt;
  return names;
}

// Commands acting on the members named as positional arguments.
std::string TranscriptRunner::member_command(const Command& c) {
  Command named = c;
  const bool once = std::erase(named.args, "next") > 0;
  if (c.name == "full-state") std::erase(named.args, "join");
  std::optional<std::vector<std::string>> names = names_of(named, c.name == "status");
  if (!names) return error(c.name + ": unknown or missing member names");
  if (c.name == "tick" && (c.option("ms") || once)) {
    std::optional<uint64_t> ms = once ? UINT64_MAX / 2 : parse_u64(*c.option("ms"));
    return ms ? advance(*names, *ms, once) : error("tick NAMES ms=N | tick NAMES next");
  }
  std::string out;
  for (const std::string& name : *names) {
    Node& member = members_.at(name);
    if (c.name == "status") {
      out += status(name);
    } else if (c.name == "stats") {
      out += stats(name, c);
    } else if (c.name == "gossip") {
      out += gossip(name);
    } else if (c.name == "events") {
      out += events(name);
    } else if (c.name == "suspicions") {
      out += suspicions(name);
    } else if (c.name == "full-state") {
      if (!member.core) return error(name + " is down");
      const PushPullState state = member.core->full_state(std::find(c.args.begin(), c.args.end(), "join") != c.args.end());
      out += name + " full state" + (state.join ? " (join):" : ":");
      for (const Update& update : state.members) out += " [" + update_text(update) + "]";
      out += "\n";
    } else if (c.name == "restart") {
      const std::string restarted = restart(name, c);
      if (!restarted.empty()) return restarted;
    } else if (!member.core) {
      return error(name + " is down");
    } else if (c.name == "crash") {
      member.core.reset();
    } else if (c.name == "tick") {
      member.core->tick(now_ms_);
      collect(name);
    } else if (c.name == "join") {
      const std::vector<std::string> seeds = seeds_of(c);
      if (seeds.empty()) return error("join NAME seeds=a,b");
      member.core->join(seeds, now_ms_);
      collect(name);
    } else if (c.name == "leave") {
      member.leaving = true;
      member.core->leave(now_ms_);
      collect(name);
    } else {
      return error("unknown command " + c.name);
    }
  }
  return out;
}

// A fresh core for a crashed member (same id, incarnation 0, empty table), at a new address or
// with other named addresses if addr= / named= say so, joining the seeds.
std::string TranscriptRunner::restart(const std::string& name, const Command& c) {
  Node& member = members_.at(name);
  if (member.core) return error(name + " is up");
  if (std::optional<std::string> bad = set_addresses(member, c)) return error(*bad);
  start(name);
  say(name + " up inc=0 next-tick=" + at(member.core->next_tick_ms()) +
      where_text(member.id, member.config.self_address, member.config.self_named));
  const std::vector<std::string> seeds = seeds_of(c);
  if (!seeds.empty()) member.core->join(seeds, now_ms_);
  collect(name);
  return "";
}

// Time passes: each of `names` that is up is ticked whenever it has a timer due, the others not
// at all (as if stalled). Nothing is delivered. `once`: only up to the first time a timer fires.
std::string TranscriptRunner::advance(const std::vector<std::string>& names, uint64_t duration_ms, bool once) {
  const uint64_t end_ms = now_ms_ + duration_ms;
  timed_ = true;
  for (uint64_t step = 0; step < kStepsMax; ++step) {
    uint64_t next_ms = UINT64_MAX;
    for (const std::string& name : names) {
      if (Node* member = up(name)) next_ms = std::min(next_ms, member->core->next_tick_ms());
    }
    if (next_ms > end_ms) {
      if (once) return error("no timer due");
      now_ms_ = end_ms;
      return "";
    }
    now_ms_ = std::max(now_ms_, next_ms);
    for (const std::string& name : names) {
      Node* member = up(name);
      if (member == nullptr || member->core->next_tick_ms() > now_ms_) continue;
      member->core->tick(now_ms_);
      collect(name);
    }
    if (once) return "";
  }
  return error("timers did not settle");
}

// Time passes with the network running: datagrams arrive `latency` ms after they were sent (or
// at once if they waited longer), members tick when due. Prints only events unless `verbose`;
// nothing if `silent`; `show=NAME` adds what NAME sends.
std::string TranscriptRunner::run_network(const Command& c) {
  std::optional<uint64_t> duration_ms = parse_u64(c.option("ms") ? *c.option("ms") : "");
  std::optional<uint64_t> latency_ms = parse_u64(c.option("latency") ? *c.option("latency") : "1");
  if (!duration_ms || !latency_ms || *latency_ms == 0) return error("run ms=N [latency=L>0] [verbose|silent] [show=NAME]");
  quiet_ = std::find(c.args.begin(), c.args.end(), "verbose") == c.args.end();
  const bool silent = std::find(c.args.begin(), c.args.end(), "silent") != c.args.end();
  show_ = c.option("show") ? *c.option("show") : "";
  timed_ = true;
  const uint64_t end_ms = now_ms_ + *duration_ms;
  for (uint64_t step = 0; step < kStepsMax; ++step) {
    uint64_t next_ms = UINT64_MAX;
    for (const InFlight& flight : network_) next_ms = std::min(next_ms, flight.sent_ms + *latency_ms);
    for (auto& [name, member] : members_) {
      if (member.core) next_ms = std::min(next_ms, member.core->next_tick_ms());
    }
    if (next_ms > end_ms) {
      now_ms_ = end_ms;
      if (silent) out_.clear();
      return "";
    }
    now_ms_ = std::max(now_ms_, next_ms);
    std::deque<InFlight> later;
    std::deque<InFlight> due;
    for (InFlight& flight : network_) (flight.sent_ms + *latency_ms <= now_ms_ ? due : later).push_back(std::move(flight));
    network_ = std::move(later);
    for (const InFlight& flight : due) deliver_one(flight);
    for (auto& [name, member] : members_) {
      if (!member.core || member.core->next_tick_ms() > now_ms_) continue;
      member.core->tick(now_ms_);
      collect(name);
    }
  }
  return error("run did not settle");
}

void TranscriptRunner::say(const std::string& line, bool event) {
  if (quiet_ && !event) return;
  out_ += (timed_ ? at(now_ms_) + " " : "") + (quiet_ || !show_.empty() ? "" : indent_) + line + "\n";
}

// Drains a member's Ready: datagrams and push-pull requests go on the network, events are kept.
void TranscriptRunner::collect(const std::string& name) {
  Node& member = members_.at(name);
  Ready ready = member.core->take_ready();
  const bool quiet = quiet_;
  if (name == show_) quiet_ = false;
  for (OutDatagram& datagram : ready.datagrams) {
    InFlight flight{name, member.config.self_address, datagram.to, now_ms_, false, false, std::move(datagram.bytes), ""};
    if (!member.seq_base) {
      Result<Message> message = decode_datagram(flight.bytes, member.config.cluster_id);
      const bool issues_seq = message.ok() && (message->kind == MessageKind::ping || message->kind == MessageKind::ping_req);
      if (issues_seq) member.seq_base = message->seq;
    }
    say(describe(flight));
    network_.push_back(std::move(flight));
  }
  for (const PushPullRequest& request : ready.push_pulls) {
    InFlight flight{name, member.config.self_address, request.to, now_ms_, true, request.join, {}, ""};
    say(describe(flight));
    network_.push_back(std::move(flight));
  }
  for (const Event& event : ready.events) {
    member.events.push_back(event);
    say(event_text(name, event), true);
  }
  for (const Note& note : member.core->take_notes()) say("note: " + name + " " + to_string(note));
  quiet_ = quiet;
  observe(name);
}

std::optional<std::string> TranscriptRunner::lost_because(const std::string& from, const std::string& to,
                                                          const std::string& kind) const {
  auto it = members_.find(to);
  if (to.empty() || it == members_.end()) return "nobody there";
  if (!it->second.core) return "down";
  if (std::optional<std::string> rule = rules_.lost_because(from, to, kind)) return rule;
  auto a = groups_.find(from);
  auto b = groups_.find(to);
  if (a != groups_.end() && b != groups_.end() && a->second != b->second) return "partitioned";
  return std::nullopt;
}

void TranscriptRunner::deliver_one(const InFlight& flight) {
  const std::string kind = kind_of(flight);
  const std::string to = holder_of(flight.to);
  std::optional<std::string> lost = lost_because(flight.from, to, kind);
  if (!lost && flight.push_pull) lost = lost_because(to, flight.from, kind);
  if (lost) {
    say(describe(flight) + "  (lost: " + *lost + ")");
    return;
  }
  say(describe(flight));
  const std::string saved_indent = indent_;
  indent_ += "  ";
  if (flight.push_pull) {
    exchange_push_pull(flight);
  } else {
    Status status = members_.at(to).core->on_datagram(flight.from_address, flight.bytes, now_ms_);
    if (!status.ok()) say("dropped by " + to + ": " + status.to_string());
    collect(to);
  }
  indent_ = saved_indent;
}

// Both directions through the codec, as the driver does over a stream.
void TranscriptRunner::exchange_push_pull(const InFlight& flight) {
  const std::string to = holder_of(flight.to);
  Node& initiator = members_.at(flight.from);
  Node& peer = members_.at(to);
  Result<Bytes> ours = encode_push_pull(initiator.core->full_state(flight.join));
  Result<Bytes> theirs = encode_push_pull(peer.core->full_state());
  SLUICE_ASSERT(ours.ok() && theirs.ok());
  for (auto [receiver, bytes] : {std::pair{&peer, &*ours}, std::pair{&initiator, &*theirs}}) {
    const std::string& name = receiver == &peer ? to : flight.from;
    Result<PushPullState> state = decode_push_pull(*bytes, receiver->config.cluster_id);
    Status merged = state.ok() ? receiver->core->merge_remote_state(*state, now_ms_) : state.status();
    if (!merged.ok()) say("rejected by " + name + ": " + merged.to_string());
  }
  collect(to);
  collect(flight.from);
}

std::string TranscriptRunner::holder_of(const std::string& address) const {
  std::string down;
  for (const auto& [name, member] : members_) {
    if (member.config.self_address != address) continue;
    if (member.core) return name;
    if (down.empty()) down = name;
  }
  return down;
}

std::string TranscriptRunner::address_of(const std::string& name) const {
  auto it = members_.find(name);
  if (it != members_.end()) return it->second.config.self_address;
  std::optional<NodeId> id = id_of_name(name);
  return id ? default_address(*id) : name;
}

// seeds=a,b: members' names stand for their addresses; anything else is an address.
std::vector<std::string> TranscriptRunner::seeds_of(const Command& c) const {
  const std::string* seeds = c.option("seeds");
  std::vector<std::string> out;
  if (seeds == nullptr) return out;
  for (const std::string& seed : transcript::split(*seeds, ',')) out.push_back(members_.count(seed) ? address_of(seed) : seed);
  return out;
}

std::string TranscriptRunner::update_text(const Update& update) const {
  std::string text = std::to_string(update.member) + " " + std::string(to_string(update.state)) + " " +
                     std::to_string(update.incarnation);
  if (update.origin != kNoNode) text += " by " + std::to_string(update.origin);
  return text + where_text(update.member, update.address, update.named);
}

std::string TranscriptRunner::event_text(const std::string& observer, const Event& event) const {
  return observer + " event " + std::string(to_string(event.kind)) + " " + std::to_string(event.id) +
         " inc=" + std::to_string(event.incarnation) + where_text(event.id, event.address, event.named);
}

// "push-pull", the datagram's message kind, or "raw" when it does not decode.
std::string TranscriptRunner::kind_of(const InFlight& flight) const {
  if (flight.push_pull) return "push-pull";
  Result<Message> message = decode_datagram(flight.bytes, cluster_of(flight.from));
  return message.ok() ? std::string(to_string(message->kind)) : "raw";
}

std::vector<size_t> TranscriptRunner::matching(const Command& c) const {
  const std::string* from = c.option("from");
  const std::string* to = c.option("to");
  const std::string* kind = c.option("kind");
  std::vector<size_t> positions;
  for (size_t i = 0; i < network_.size(); ++i) {
    const InFlight& flight = network_[i];
    if (from && flight.from != *from) continue;
    if (to && holder_of(flight.to) != *to && flight.to != *to) continue;
    if (kind && kind_of(flight) != *kind) continue;
    positions.push_back(i);
  }
  if (const std::string* count = c.option("count")) {
    positions.resize(std::min<size_t>(positions.size(), parse_u64(*count).value_or(0)));
  }
  return positions;
}

// Delivers (or loses) the matching datagrams, oldest first, at the current time; what they cause
// is queued, not delivered.
std::string TranscriptRunner::deliver_or_drop(const Command& c, bool deliver) {
  std::vector<InFlight> taken;
  size_t removed = 0;  // positions shift down as datagrams leave the network
  for (size_t position : matching(c)) {
    auto it = network_.begin() + static_cast<std::ptrdiff_t>(position - removed++);
    taken.push_back(std::move(*it));
    network_.erase(it);
  }
  for (const InFlight& flight : taken) {
    if (deliver) {
      deliver_one(flight);
    } else {
      say("dropped: " + describe(flight));
    }
  }
  return taken.empty() ? "nothing matched" : "";
}

// Delivers everything, including what the deliveries cause, until the network is empty; no time
// passes. `quiet` prints only events.
std::string TranscriptRunner::stabilize(const Command& c) {
  quiet_ = std::find(c.args.begin(), c.args.end(), "quiet") != c.args.end();
  for (int round = 0; round < kStabilizeRoundsMax; ++round) {
    if (network_.empty()) return "";
    std::deque<InFlight> batch = std::move(network_);
    network_.clear();
    for (const InFlight& flight : batch) deliver_one(flight);
  }
  return error("the network did not settle");
}

std::string TranscriptRunner::partition(const Command& c) {
  groups_.clear();
  size_t group = 0;
  std::string out;
  for (const std::string& arg : c.args) {
    if (arg == "|") {
      ++group;
      out += " |";
      continue;
    }
    if (members_.count(arg) == 0) return error("unknown member " + arg);
    groups_[arg] = group;
    out += " " + arg;
  }
  return "partitioned:" + out;
}

// block/unblock: one direction, as a cut of the shared network rules.
std::string TranscriptRunner::block(const Command& c, bool blocked) {
  const std::string* from = c.option("from");
  const std::string* to = c.option("to");
  if (!from || !to) return error(c.name + " from=A to=B");
  blocked ? rules_.cut(*from, *to) : rules_.restore(*from, *to);
  return "";
}

// Queues a hand-made datagram from member id `from` (at its address, or addr=) to member `to`: a
// well-formed one (kind=ping|ack|ping_req|nack|gossip, seq=, target=ID|any, inc=,
// update=id:state:incarnation[:origin][@address] repeated), or with flaw=bad-magic|bad-version|
// truncated|garbage|foreign|misaddressed a bad one.
std::string TranscriptRunner::inject(const Command& c) {
  const std::string* from = c.option("from");
  const std::string* to = c.option("to");
  if (!from || !to || members_.count(*to) == 0 || !id_of_name(*from)) {
    return error("inject from=ID to=MEMBER [kind=..] [addr=..] [flaw=..]");
  }
  const auto address = [this](NodeId id) { return address_of(std::to_string(id)); };
  Message message = make_message(MessageKind::ping, *id_of_name(*from), 0, members_.at(*to).id);
  message.source_address = address_of(*from);
  if (members_.count(*from)) message.source_named = members_.at(*from).config.self_named;
  for (const auto& [key, value] : c.options) {
    if (key == "kind") {
      static const std::map<std::string, MessageKind> kinds{{"ping", MessageKind::ping}, {"ack", MessageKind::ack},
          {"ping_req", MessageKind::ping_req}, {"nack", MessageKind::nack}, {"gossip", MessageKind::gossip}};
      if (kinds.count(value) == 0) return error("unknown kind " + value);
      message.kind = kinds.at(value);
    } else if (key == "seq" || key == "inc") {
      std::optional<uint64_t> number = parse_u64(value);
      if (!number) return error("bad " + key);
      if (key == "seq") message.seq = static_cast<uint32_t>(*number);
      if (key == "inc") message.source_incarnation = *number;
    } else if (key == "target") {
      std::optional<NodeId> target = value == "any" ? kNoNode : id_of_name(value);
      if (!target) return error("target=ID|any");
      message.target = *target;
    } else if (key == "addr") {
      message.source_address = value;
    } else if (key == "update") {
      std::optional<Update> update = parse_update(value, address);
      if (!update) return error("update=id:state:incarnation[:origin][@address]");
      message.updates.push_back(*update);
    }
  }
  if (message.kind == MessageKind::ping_req && message.target != kNoNode) message.target_address = address(message.target);
  const std::string* flaw = c.option("flaw");
  if (flaw && *flaw == "foreign") message.cluster_id = kCluster + 1;
  if (flaw && *flaw == "misaddressed") message.target = kMisaddressedTarget;
  Bytes bytes = encode_or_die(message);
  const bool encodable = !flaw || *flaw == "foreign" || *flaw == "misaddressed";
  if (encodable) {
    // The message is well-formed for the wire; only the header or payload flaws below break it.
  } else if (*flaw == "bad-magic") {
    bytes[0] = std::byte{'X'};
  } else if (*flaw == "bad-version") {
    bytes[4] = std::byte{9};
  } else if (*flaw == "truncated") {
    bytes.resize(bytes.size() - 3);
  } else if (*flaw == "garbage") {
    std::fill(bytes.begin() + 8, bytes.end(), std::byte{0xA5});
  } else {
    return error("unknown flaw " + *flaw);
  }
  const std::string flaw_text = flaw ? *flaw : "";
  network_.push_back(InFlight{*from, message.source_address, address_of(*to), now_ms_, false, false, std::move(bytes), flaw_text});
  return "queued: " + describe(network_.back());
}

// A hand-made full state of `from`, merged by N as if a push-pull had brought it (through the
// codec, as the driver does): update= options as for inject, join=true, cluster=K.
std::string TranscriptRunner::merge_state(const Command& c) {
  const std::string* from = c.option("from");
  Node* receiver = c.args.size() == 1 ? up(c.args[0]) : nullptr;
  if (!from || receiver == nullptr || !id_of_name(*from)) {
    return error("merge-state MEMBER from=ID [update=id:state:inc[:origin][@address]]... [join=true] [cluster=K]");
  }
  const auto address = [this](NodeId id) { return address_of(std::to_string(id)); };
  PushPullState state;
  state.cluster_id = receiver->config.cluster_id;
  state.source = *id_of_name(*from);
  for (const auto& [key, value] : c.options) {
    if (key == "update") {
      std::optional<Update> update = parse_update(value, address);
      if (!update) return error("update=id:state:incarnation[:origin][@address]");
      state.members.push_back(*update);
    } else if (key == "join") {
      state.join = value == "true";
    } else if (key == "cluster") {
      std::optional<uint64_t> cluster = parse_u64(value);
      if (!cluster) return error("bad cluster");
      state.cluster_id = *cluster;
    } else if (key != "from") {
      return error("unknown option " + key);
    }
  }
  Result<Bytes> bytes = encode_push_pull(state);
  if (!bytes.ok()) return error(bytes.status().to_string());
  Result<PushPullState> decoded = decode_push_pull(*bytes, receiver->config.cluster_id);
  Status merged = decoded.ok() ? receiver->core->merge_remote_state(*decoded, now_ms_) : decoded.status();
  if (!merged.ok()) say("rejected by " + c.args[0] + ": " + merged.to_string());
  collect(c.args[0]);
  return "";
}

std::string TranscriptRunner::discard() {
  std::string out;
  for (const InFlight& flight : network_) out += "discarded: " + describe(flight) + "\n";
  return out;
}

void TranscriptRunner::observe(const std::string& name) {
  Node& node = members_.at(name);
  if (violation_ || !node.core) return;
  const Core& core = *node.core;
  if (core.incarnation() < node.incarnation_seen) {
    violation_ = name + ": own incarnation went down from " + std::to_string(node.incarnation_seen) + " to " +
                 std::to_string(core.incarnation());
    return;
  }
  node.incarnation_seen = core.incarnation();
  std::map<NodeId, ViewEntry> view;
  for (const swim::Member& member : core.members()) view[member.id] = {member.state, member.incarnation};
  for (const auto& [id, before] : node.view_seen) {
    auto now = view.find(id);
    std::optional<std::string> illegal;
    if (now == view.end()) {
      // Only tombstones are reaped or evicted.
      if (before.first == MemberState::alive || before.first == MemberState::suspect) illegal = "a live entry vanished";
    } else {
      illegal = illegal_change(before, now->second);
    }
    if (illegal) {
      violation_ = name + "'s view of " + std::to_string(id) + ": " + *illegal;
      return;
    }
  }
  node.view_seen = std::move(view);
}

uint64_t TranscriptRunner::cluster_of(const std::string& name) const {
  auto it = members_.find(name);
  return it == members_.end() ? kCluster : it->second.config.cluster_id;
}

std::string TranscriptRunner::seq_text(const std::string& owner, uint32_t seq) const {
  auto it = members_.find(owner);
  // A seq far from the owner's own was not issued by this life of it (hand-made, or an earlier life).
  const uint32_t relative = it == members_.end() || !it->second.seq_base ? UINT32_MAX : seq - *it->second.seq_base;
  return relative < kRelativeSeqMax ? std::to_string(relative) : "raw" + std::to_string(seq);
}

// "1->2 ...": the sender's name and the name of whoever holds the destination address now (the
// address itself when nobody does).
std::string TranscriptRunner::describe(const InFlight& flight) const {
  const std::string holder = holder_of(flight.to);
  const std::string to = holder.empty() ? flight.to : holder;
  if (flight.push_pull) return flight.from + "=>" + to + " push-pull" + (flight.join ? " join" : "");
  std::string text = flight.from + "->" + to + " ";
  if (!flight.flaw.empty()) return text + "injected " + flight.flaw + " (" + std::to_string(flight.bytes.size()) + " bytes)";
  const uint64_t cluster = cluster_of(flight.from);
  Result<Message> decoded = decode_datagram(flight.bytes, cluster);
  if (!decoded.ok()) return text + "undecodable: " + decoded.status().to_string();
  const Message& m = *decoded;
  text += std::string(to_string(m.kind));
  if (m.kind != MessageKind::gossip) {
    const bool ours = m.kind == MessageKind::ping || m.kind == MessageKind::ping_req;
    text += " seq=" + seq_text(ours ? flight.from : to, m.seq);
  }
  if (m.kind == MessageKind::ping || m.kind == MessageKind::ping_req) {
    text += " target=" + (m.target == kNoNode ? "any" : std::to_string(m.target));
    if (m.kind == MessageKind::ping_req) text += where_text(m.target, m.target_address, {});
  }
  text += " inc=" + std::to_string(m.source_incarnation);
  if (std::to_string(m.source) != flight.from) text += " source=" + std::to_string(m.source);
  text += where_text(m.source, m.source_address, m.source_named);
  if (cluster != kCluster) text += " cluster=" + std::to_string(cluster);
  if (!m.updates.empty()) {
    text += " [";
    for (size_t i = 0; i < m.updates.size(); ++i) text += (i > 0 ? ", " : "") + update_text(m.updates[i]);
    text += "]";
  }
  return text;
}

std::string TranscriptRunner::msgs(const Command& c) {
  std::string out;
  for (size_t position : matching(c)) out += describe(network_[position]) + "\n";
  return out.empty() ? "no datagrams in flight" : out;
}

std::string TranscriptRunner::status(const std::string& name) {
  const Node& m = members_.at(name);
  if (!m.core) return name + " down\n";
  const Core& core = *m.core;
  std::string out = name + " inc=" + std::to_string(core.incarnation()) + " awareness=" +
                    std::to_string(core.awareness_score()) + " live=" + std::to_string(core.live_members()) +
                    " next-tick=" + at(core.next_tick_ms());
  if (m.leaving) out += core.leave_done(now_ms_) ? " leave-done" : " leaving";
  out += "\n";
  for (const swim::Member& member : core.members()) {
    out += "  " + std::to_string(member.id) + " " + std::string(to_string(member.state)) + " inc=" +
           std::to_string(member.incarnation) + " since=" + at(member.state_since_ms);
    if (std::optional<uint64_t> deadline = core.suspicion_deadline_ms(member.id)) {
      out += " deadline=" + at(*deadline);
    }
    out += where_text(member.id, member.address, member.named) + "\n";
  }
  return out;
}

// Non-zero counters; `only=word` keeps those whose name contains it.
std::string TranscriptRunner::stats(const std::string& name, const Command& c) {
  const Node& m = members_.at(name);
  if (!m.core) return name + " down\n";
  const std::string* only = c.option("only");
  std::string out = name;
  for (const auto& [counter, value] : stats_table(m.core->stats())) {
    if (value == 0 || (only && counter.find(*only) == std::string::npos)) continue;
    out += " " + counter + "=" + std::to_string(value);
  }
  return out + (out == name ? " (all zero)\n" : "\n");
}

// The gossip queue: every queued update with how often it was sent, against the current limit.
std::string TranscriptRunner::gossip(const std::string& name) {
  const Node& m = members_.at(name);
  if (!m.core) return name + " down\n";
  const BroadcastQueue& queue = m.core->broadcasts();
  std::string out = name + " gossip: " + std::to_string(queue.size()) + " queued, limit " +
                    std::to_string(retransmit_limit(m.config, m.core->live_members())) + "\n";
  std::vector<NodeId> ids{m.id};
  for (const swim::Member& member : m.core->members()) ids.push_back(member.id);
  std::sort(ids.begin(), ids.end());
  for (NodeId id : ids) {
    if (const Update* update = queue.find(id)) {
      out += "  " + update_text(*update) + " sent=" + std::to_string(queue.transmits(id)) + "\n";
    }
  }
  return out;
}

// The suspicions a member holds: since when, until when, who accused first and who confirmed.
std::string TranscriptRunner::suspicions(const std::string& name) {
  const Node& m = members_.at(name);
  if (!m.core) return name + " down\n";
  std::string out;
  for (const swim::Member& member : m.core->members()) {
    const Core::Suspicion* suspicion = m.core->suspicion(member.id);
    if (suspicion == nullptr) continue;
    out += name + " suspects " + std::to_string(member.id) + " inc=" + std::to_string(member.incarnation) + " since=" +
           at(suspicion->started_ms) + " deadline=" + at(suspicion->deadline_ms) + " by " +
           (suspicion->first_origin == kNoNode ? "hearsay" : std::to_string(suspicion->first_origin));
    for (size_t i = 0; i < suspicion->confirmers.size(); ++i) {
      out += (i == 0 ? ", confirmed by " : ",") + std::to_string(suspicion->confirmers[i]);
    }
    out += "\n";
  }
  return out.empty() ? name + ": no suspicions\n" : out;
}

std::string TranscriptRunner::events(const std::string& name) {
  std::string out;
  for (const Event& event : members_.at(name).events) out += at(event.at_ms) + " " + event_text(name, event) + "\n";
  return out.empty() ? name + ": no events\n" : out;
}

}  // namespace sluice::swim::testing
