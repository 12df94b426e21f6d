// Transcript ("data-driven") tests of the SWIM core: the runner behind tests/swim/testdata/*.txt.
// Several swim::Core instances share one manual clock and an in-test network queue that the file
// drives by hand (deliver, drop, partition, cut, filters, crash) or lets run. Members are named
// by their node id ("1", "2", ...) and reached at an address (h<id>:7946 unless a file moves
// them); the network routes by address, so a datagram for an address reaches whoever holds it
// now. Every output is deterministic: seeds derive from member names. After every step the runner checks invariants
// of every member's view (incarnations never decrease, state changes are legal); a violation
// fails the file whatever its expected output. The commands are described in docs/swim.md
// ("Transcript tests"); the file format is tests/testing/transcript_format.h.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node/swim/core.h"
#include "tests/testing/transcript_format.h"

namespace sluice::swim::testing {

using transcript::Command;

// A member's entry in some member's view: its state and incarnation.
using ViewEntry = std::pair<MemberState, uint64_t>;
// Why an entry may not change from `before` to `after` between two looks at a view (several
// changes may lie between them), or nullopt: the runner's invariant on every view.
std::optional<std::string> illegal_change(ViewEntry before, ViewEntry after);

class TranscriptRunner : public transcript::Runner {
 public:
  explicit TranscriptRunner(uint64_t seed = 1) : seed_(seed) {}
  std::string run(const Command& command) override;
  std::optional<std::string> check() override { return violation_; }
  std::string discard() override;

 private:
  struct Node {
    NodeId id = kNoNode;
    Config config;  // self_address and self_named: where it is now (restart may move it)
    std::unique_ptr<Core> core;  // null while crashed
    uint32_t boots = 0;
    bool leaving = false;
    std::optional<uint32_t> seq_base;  // the first seq this life of the member used
    std::vector<Event> events;         // since the last (re)start
    // The invariant checks' memory of this life: own incarnation and the view of each member.
    uint64_t incarnation_seen = 0;
    std::map<NodeId, ViewEntry> view_seen;
  };
  // A datagram or a push-pull request on its way.
  struct InFlight {
    std::string from;          // the sender's name (a member's, or the id an inject names)
    std::string from_address;  // where it was sent from: acks go back there
    std::string to;            // the destination address
    uint64_t sent_ms = 0;
    bool push_pull = false;
    bool join = false;   // push-pull on join
    Bytes bytes;         // the datagram
    std::string flaw;    // injected: what is wrong with it
  };

  std::string dispatch(const Command& c);
  std::string add_members(const Command& c);
  std::string member_command(const Command& c);
  std::string restart(const std::string& name, const Command& c);
  std::optional<std::string> set_addresses(Node& member, const Command& c);
  std::string advance(const std::vector<std::string>& names, uint64_t duration_ms, bool once);
  std::string run_network(const Command& c);
  std::string deliver_or_drop(const Command& c, bool deliver);
  std::string stabilize(const Command& c);
  std::string partition(const Command& c);
  std::string block(const Command& c, bool blocked);
  std::string inject(const Command& c);
  std::string merge_state(const Command& c);
  std::string suspicions(const std::string& name);
  std::string status(const std::string& name);
  std::string stats(const std::string& name, const Command& c);
  std::string gossip(const std::string& name);
  std::string events(const std::string& name);
  std::string msgs(const Command& c);

  void start(const std::string& name);
  void collect(const std::string& name);
  void deliver_one(const InFlight& flight);
  void exchange_push_pull(const InFlight& flight);
  void say(const std::string& line, bool event = false);
  std::optional<std::string> lost_because(const std::string& from, const std::string& to, const std::string& kind) const;
  std::string kind_of(const InFlight& flight) const;
  // The up member at `address`, else a down one, else nobody ("").
  std::string holder_of(const std::string& address) const;
  std::string address_of(const std::string& name) const;  // a member's, or the default for an id
  std::vector<std::string> seeds_of(const Command& c) const;
  std::string update_text(const Update& update) const;
  std::string event_text(const std::string& observer, const Event& event) const;
  // Invariants of `name`'s view after a step; the first violation is kept for check().
  void observe(const std::string& name);
  std::vector<size_t> matching(const Command& c) const;
  std::string describe(const InFlight& flight) const;
  uint64_t cluster_of(const std::string& name) const;
  std::string seq_text(const std::string& owner, uint32_t seq) const;
  std::optional<std::vector<std::string>> names_of(const Command& c, bool all_by_default) const;
  Node* up(const std::string& name);

  uint64_t seed_;
  uint64_t now_ms_ = 0;
  std::map<std::string, Node> members_;  // by name: the node id in decimal
  std::deque<InFlight> network_;
  std::map<std::string, size_t> groups_;  // partition: member -> group
  transcript::NetworkRules rules_{"kind"};  // cuts (block is a one-way cut) and filters
  std::optional<std::string> violation_;

  // Output of the command being run: lines are prefixed with the time while time passes, and
  // indented under the delivery that caused them; `quiet_` keeps only events.
  std::string out_;
  std::string indent_;
  bool timed_ = false;
  bool quiet_ = false;
  std::string show_;  // run show=NAME: what this member sends is printed even when quiet
};

}  // namespace sluice::swim::testing
