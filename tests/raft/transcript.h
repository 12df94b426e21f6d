// Transcript ("data-driven") tests: a file is a list of commands, each followed by `----` and
// the output it must produce; the format and the commands are described in docs/raft.md.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tests/raft/cluster.h"

namespace sluice::raft::testing {

struct Command {
  int line = 0;          // 1-based line of the command in its file
  std::string text;      // the command line as written
  std::string name;
  std::vector<std::string> args;                              // positional
  std::vector<std::pair<std::string, std::string>> options;  // key=value, in order

  const std::string* option(std::string_view key) const;
};

struct TranscriptBlock {
  Command command;
  std::string expected;  // without the final newline
};

// Free text (comments, blank lines) is kept verbatim so a rewrite changes only outputs.
using TranscriptItem = std::variant<std::string, TranscriptBlock>;

Result<std::vector<TranscriptItem>> parse_transcript(std::string_view content);
// Renders items back; `outputs[i]` replaces the expected output of the i-th block.
std::string render_transcript(const std::vector<TranscriptItem>& items, const std::vector<std::string>& outputs);

// Runs commands against one cluster; the output of each is deterministic.
class TranscriptRunner {
 public:
  TranscriptRunner() : cluster_(/*seed=*/1) {}
  std::string run(const Command& command);

 private:
  std::string run_node_command(const Command& c);
  std::string add_nodes(const Command& c);
  std::string process_ready(const std::vector<NodeId>& ids);
  std::string deliver_or_drop(const Command& c, bool deliver);
  std::string duplicate(const Command& c);
  std::string stabilize(const Command& c);
  std::string partition(const Command& c);
  std::string change_membership(const Command& c);
  std::string status(NodeId id);
  std::string raft_state();
  std::string log(NodeId id);
  std::string trim(const Command& c);
  std::string describe_ready(NodeId id, const Ready& rd) const;
  std::vector<size_t> matching_messages(const Command& c) const;
  Result<std::vector<NodeId>> node_args(const Command& c, bool all_by_default);

  Cluster cluster_;
  NodeId next_id_ = 1;
};

}  // namespace sluice::raft::testing
