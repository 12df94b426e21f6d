// The SWIM + Lifeguard membership core: a pure state machine. It owns no clock, socket or
// thread; time enters as `now_ms` (any monotonic millisecond clock, never going backwards) and
// randomness through the injected Prng, so a seed replays it exactly. The driver feeds it
// datagrams and ticks, runs push-pull exchanges it asks for, and drains take_ready(): datagrams
// to send, push-pull requests and membership events. The contract is in docs/swim.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/bytes.h"
#include "node/base/random.h"
#include "node/swim/broadcast_queue.h"
#include "node/swim/config.h"
#include "node/swim/message.h"

namespace sluice::swim {

// A member as this node holds it: keyed by its id; the addresses are those of its newest alive
// claim (they change only at a higher incarnation, see docs/swim.md "Identity").
struct Member {
  NodeId id = kNoNode;
  std::string address;   // membership address "host:port": where probes go
  NamedAddresses named;  // its other endpoints ("raft", "api")
  uint64_t incarnation = 0;
  MemberState state = MemberState::alive;
  uint64_t state_since_ms = 0;  // when this member entered `state`, on our clock
};

// updated: a live member's addresses changed (it moved, or restarted with other endpoints) at a
// higher incarnation. Every event carries the member's addresses as held at that moment.
enum class EventKind : uint8_t { joined, suspect, alive, dead, left, updated };

std::string_view to_string(EventKind kind);

struct Event {
  EventKind kind = EventKind::joined;
  NodeId id = kNoNode;
  std::string address;
  NamedAddresses named;
  uint64_t incarnation = 0;
  uint64_t at_ms = 0;

  friend bool operator==(const Event&, const Event&) = default;
};

struct OutDatagram {
  std::string to;  // "host:port": the datagram's destination (a member's membership address)
  Bytes bytes;     // a complete datagram: header + payload
};

// "Open a stream to `to` and exchange full state": send full_state(), receive the peer's,
// hand it to merge_remote_state(). The peer does the same with ours.
struct PushPullRequest {
  std::string to;
  bool join = false;
};

struct Ready {
  std::vector<OutDatagram> datagrams;
  std::vector<PushPullRequest> push_pulls;
  std::vector<Event> events;

  bool empty() const { return datagrams.empty() && push_pulls.empty() && events.empty(); }
};

// Why a claim about a member changed nothing although it differed from what we hold: cheap
// records for tests and debugging, kept between two calls of take_notes() (bounded, oldest
// dropped), never part of a Ready and never needed for correctness. Claims that merely repeat
// what we hold (gossip echoes) are not noted.
enum class NoteKind : uint8_t {
  stale_claim,       // its incarnation is below the one we hold: already refuted or superseded
  needs_refutation,  // alive at the incarnation we hold cannot clear a suspicion or a death
  unknown_member,    // suspect/dead/left about a member we never knew: nothing to act on
  table_full,        // a newcomer, and no tombstone to make room (members_max)
  hearsay,           // a suspicion without a witness (push-pull) is no confirmation
  confirmations_max, // a new witness beyond the K confirmations that count
  leaving,           // a suspicion of ourselves while we leave: not refuted
  address_conflict,  // alive at the incarnation we hold, with other addresses: ours kept
};

std::string_view to_string(NoteKind kind);

struct Note {
  NoteKind kind = NoteKind::stale_claim;
  Update claim;
  MemberState held_state = MemberState::alive;  // what we hold about claim.member
  uint64_t held_incarnation = 0;
  std::string held_address;  // address_conflict: the address we hold

  friend bool operator==(const Note&, const Note&) = default;
};

// "ignored 2 suspect 0 by 1: stale claim (holds alive 1)".
std::string to_string(const Note& note);

inline constexpr size_t kNotesPendingMax = 64;

struct Stats {
  uint64_t datagrams_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t dropped_bad_header = 0;
  uint64_t dropped_malformed = 0;
  uint64_t dropped_foreign_cluster = 0;
  uint64_t dropped_unauthenticated = 0;  // a cluster key is set and the MAC is missing or wrong
  uint64_t dropped_not_for_us = 0;      // pings for another target, ping-reqs we cannot serve
  uint64_t dropped_outbox_full = 0;     // datagrams and events the driver did not drain in time
  uint64_t dropped_members_full = 0;    // new members beyond members_max (no tombstone to evict)
  uint64_t broadcasts_evicted = 0;
  uint64_t pings_sent = 0;
  uint64_t acks_sent = 0;
  uint64_t ping_reqs_sent = 0;
  uint64_t nacks_sent = 0;
  uint64_t nacks_received = 0;
  uint64_t acks_forwarded = 0;
  uint64_t acks_unmatched = 0;  // late acks, and acks of pings nobody waits for (join)
  uint64_t probes = 0;
  uint64_t probes_failed = 0;
  uint64_t indirect_rounds = 0;
  uint64_t suspicions_started = 0;  // by us, after a failed probe
  uint64_t deaths_declared = 0;     // by us, after a suspicion timed out
  uint64_t refutations = 0;
  // Alive claims at an incarnation we hold but with other addresses: about another member (ours
  // kept, the member refutes when it hears), or about ourselves (refuted).
  uint64_t address_conflicts = 0;
  uint64_t updates_piggybacked = 0;
  uint64_t reconnect_pings = 0;
  uint64_t gossips_sent = 0;  // datagrams of the gossip tick
  uint64_t tombstones_evicted = 0;  // dead/left entries dropped early to make room
  uint64_t push_pull_requests = 0;
  uint64_t push_pull_merges = 0;
  uint64_t periods = 0;                    // protocol periods started
  uint64_t datagrams_sent_period_max = 0;  // most datagrams sent within one finished period
};

class Core {
 public:
  // Asserts validate(config).ok(): a bad configuration is a programmer error.
  Core(Config config, Prng prng, uint64_t now_ms);

  // Contacts the seeds (ping + push-pull request each) and repeats every join_retry_interval_ms
  // until another member is known. Self and duplicates are ignored; at most seeds_max are kept.
  void join(std::span<const std::string> seeds, uint64_t now_ms);
  // Announces a graceful leave. The core keeps answering (acks carry the news) but no longer
  // probes; the driver stops it once leave_done().
  void leave(uint64_t now_ms);
  bool leave_done(uint64_t now_ms) const;

  // Runs every timer due at `now_ms`: probe periods, ping-req, suspicion expiry, nacks, join
  // retries, push-pull scheduling, reconnect pings, tombstone reaping.
  void tick(uint64_t now_ms);
  // The earliest time tick() has something to do (the driver may sleep until then).
  uint64_t next_tick_ms() const;

  // One datagram as received from `from` ("host:port": acks go back there). Malformed, foreign or
  // misaddressed datagrams (a ping for another node id) are counted and reported, never trusted.
  Status on_datagram(std::string_view from, ByteSpan bytes, uint64_t now_ms);

  // Push-pull: this member's whole table, and merging a peer's (already decoded and checked).
  PushPullState full_state(bool join = false) const;
  Status merge_remote_state(const PushPullState& state, uint64_t now_ms);

  // Everything produced since the last call.
  Ready take_ready();
  // Why claims changed nothing since the last call (Note); not part of Ready.
  std::vector<Note> take_notes();

  const Config& config() const { return config_; }
  const Stats& stats() const { return stats_; }
  uint64_t incarnation() const { return incarnation_; }
  uint32_t awareness_score() const { return awareness_score_; }
  NodeId id() const { return config_.self_id; }
  const Member* member(NodeId id) const;
  std::vector<Member> members() const;  // by id, self excluded, tombstones included
  size_t live_members() const;          // alive + suspect, self included
  const BroadcastQueue& broadcasts() const { return broadcasts_; }
  // When the current suspicion of `id` turns into death, if it is suspected.
  std::optional<uint64_t> suspicion_deadline_ms(NodeId id) const;

  // A suspicion this member holds: when it started and turns into death, who accused first
  // (kNoNode: hearsay) and the independent confirmations counted so far (Lifeguard).
  struct Suspicion {
    uint64_t started_ms = 0;
    uint64_t deadline_ms = 0;
    NodeId first_origin = kNoNode;
    std::vector<NodeId> confirmers;  // distinct origins after the first
  };
  const Suspicion* suspicion(NodeId id) const;

 private:
  struct Probe {
    bool active = false;
    NodeId target = kNoNode;
    uint32_t seq = 0;
    uint64_t indirect_at_ms = 0;
    uint64_t end_at_ms = 0;
    bool indirect_sent = false;
    uint32_t nacks_expected = 0;
    uint32_t nacks_received = 0;
  };
  // A ping-req this member serves as helper, keyed by the seq of its own ping to the target.
  struct IndirectProbe {
    std::string requester;  // the address the ping-req came from: where acks and nacks go
    uint32_t requester_seq = 0;
    uint64_t nack_at_ms = 0;
    uint64_t expire_at_ms = 0;
    bool nack_sent = false;
  };
  // Probing (core_probe.cc).
  void start_probe(uint64_t now_ms);
  void advance_probe(uint64_t now_ms);
  void send_ping_reqs();
  void finish_failed_probe(uint64_t now_ms);
  void serve_indirect(uint64_t now_ms);
  std::optional<NodeId> next_probe_target();
  void insert_probe_order(NodeId id);
  std::vector<NodeId> random_alive_members(size_t count, NodeId exclude, bool with_suspects = false);
  uint64_t awareness_multiplier() const;
  void adjust_awareness(int64_t delta);
  void close_period();

  // Datagram handling (core_io.cc).
  void handle_ping(std::string_view from, const Message& message);
  void handle_ack(const Message& message);
  void handle_ping_req(std::string_view from, const Message& message, uint64_t now_ms);
  void handle_nack(const Message& message);
  // `target`: the ping's addressee or the member a ping-req asks to probe (at target_address).
  void send(std::string_view to, MessageKind kind, uint32_t seq, NodeId target, std::string_view target_address,
            std::vector<Update> forced_updates);
  const std::string& address_of(NodeId id) const;  // of a member we hold
  void push_event(EventKind kind, const Member& member, uint64_t now_ms);
  void send_join(uint64_t now_ms);
  void maybe_gossip(uint64_t now_ms);
  bool gossip_due() const;
  size_t datagrams_sent_last_period(uint64_t now_ms);
  void maybe_push_pull(uint64_t now_ms);
  void maybe_reconnect(uint64_t now_ms);
  bool make_room();
  void reap_tombstones(uint64_t now_ms);

  // Membership rules (core_membership.cc).
  void apply_update(const Update& update, uint64_t now_ms);
  void apply_alive(const Update& update, uint64_t now_ms);
  void apply_suspect(const Update& update, uint64_t now_ms);
  void apply_gone(const Update& update, uint64_t now_ms);  // dead or left
  void apply_about_self(const Update& update);
  void add_member(const Update& update, uint64_t now_ms);
  void enqueue(Update update);
  void confirm_suspicion(Member& member, const Update& update);
  void expire_suspicions(uint64_t now_ms);
  bool suspects_have_timers() const;
  void set_state(Member& member, MemberState state, uint64_t incarnation, uint64_t now_ms);
  void note(NoteKind kind, const Update& claim, const Member* held);
  Update self_update() const;
  Update update_of(const Member& member, NodeId origin) const;
  NodeId suspicion_origin(NodeId id) const;

  Config config_;
  Prng prng_;
  uint64_t incarnation_ = 0;
  bool leaving_ = false;
  uint64_t leave_started_ms_ = 0;
  bool leave_reported_ = false;  // a tick saw leave_done(): stop offering its deadline
  uint32_t awareness_score_ = 0;
  uint32_t next_seq_ = 0;

  std::map<NodeId, Member> members_;  // self excluded
  std::map<NodeId, Suspicion> suspicions_;
  std::map<uint32_t, IndirectProbe> indirect_;
  BroadcastQueue broadcasts_;

  std::vector<NodeId> probe_order_;
  size_t probe_index_ = 0;
  Probe probe_;
  uint64_t next_probe_ms_ = 0;
  uint64_t period_datagrams_ = 0;
  uint64_t next_gossip_ms_ = 0;
  uint64_t now_ms_ = 0;  // the latest time any call brought: send() stamps datagrams with it
  std::deque<uint64_t> recent_sends_ms_;  // send times within the last T, for the gossip budget

  std::vector<std::string> seeds_;
  uint64_t next_join_ms_ = 0;
  uint64_t next_push_pull_ms_ = 0;
  uint64_t next_reconnect_ms_ = 0;

  Ready ready_;
  Stats stats_;
  std::deque<Note> notes_;  // at most kNotesPendingMax, oldest dropped
};

}  // namespace sluice::swim
