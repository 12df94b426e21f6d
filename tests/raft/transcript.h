// Transcript ("data-driven") tests of the Raft core: the runner behind tests/raft/testdata/*.txt.
// The format (tests/testing/transcript_format.h) and the commands are described in docs/raft.md.
// After every step (a Ready handled, a message delivered, a tick, a crash...) the runner runs the
// SafetyChecker; its first violation fails the file whatever the expected output says.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "node/base/planted_bug.h"
#include "tests/raft/cluster.h"
#include "tests/raft/safety_checker.h"
#include "tests/testing/transcript_format.h"

namespace sluice::raft::testing {

using transcript::Command;

// Parsers for hand-written log entries and messages (transcript_messages.cc).
//   entries: I/T[:payload],...  payload: text (a normal entry), (empty) (a leader's empty entry),
//   (conf+4-1~5) (a conf change: + add voter, - remove, ~ add learner; (conf) leaves joint).
// A conf change's result is computed from `conf`, which follows the entries.
Result<std::vector<Entry>> parse_entries(std::string_view text, ConfState* conf);
// A message of `type` from `c`'s options (docs/raft.md, `inject`); `term` when it names none.
Result<Message> parse_message(const Command& c, Term term);
// A storage with `c`'s storage options (log=, base=, term=, vote=, commit=, voters=, learners=)
// applied to `storage`; options it does not know are left to the caller.
Result<MemoryLogStorage> edit_storage(MemoryLogStorage storage, const Command& c);
bool is_storage_option(std::string_view key);
// "1,2,3" or "none".
std::optional<std::set<NodeId>> parse_ids(std::string_view text);
std::optional<MessageType> parse_message_type(std::string_view name);

// Runs the commands of one case against one cluster; the output of each is deterministic.
class TranscriptRunner : public transcript::Runner {
 public:
  // `planted_bug` goes into every node's config: a test shows the checker catches it.
  explicit TranscriptRunner(PlantedBug planted_bug = PlantedBug::none) : cluster_(/*seed=*/1), planted_bug_(planted_bug) {}
  std::string run(const Command& command) override;
  std::optional<std::string> check() override { return violation_; }
  std::string discard() override;

 private:
  std::string dispatch(const Command& c);
  std::string run_node_command(const Command& c);
  std::string run_on_up_node(const Command& c, NodeId id);
  std::string add_nodes(const Command& c);
  std::string restart(const Command& c, NodeId id);
  std::string set_storage(const Command& c);
  std::string inject(const Command& c);
  std::string tick_until(const Command& c, NodeId id);
  std::string timers(NodeId id);
  std::string process_ready(const std::vector<NodeId>& ids);
  std::string deliver_at(size_t position, const std::string& prefix);
  std::string deliver_or_drop(const Command& c, bool deliver);
  std::string duplicate(const Command& c);
  std::string stabilize(const Command& c);
  std::string partition(const Command& c);
  std::string change_membership(const Command& c);
  std::string status(NodeId id);
  std::string raft_state();
  std::string log(NodeId id);
  std::string trim(const Command& c);
  std::string notes(NodeId id, const std::string& indent);
  std::string describe_ready(NodeId id, const Ready& rd) const;
  std::vector<size_t> matching_messages(const Command& c) const;
  Result<std::vector<NodeId>> node_args(const Command& c, bool all_by_default);
  // The safety checker after one step; the first violation is kept for check().
  void observe();

  Cluster cluster_;
  SafetyChecker checker_;
  std::optional<std::string> violation_;
  transcript::NetworkRules rules_{"type"};
  PlantedBug planted_bug_;
  NodeId next_id_ = 1;
};

}  // namespace sluice::raft::testing
