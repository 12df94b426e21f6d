// Transcript ("data-driven") tests of the Raft core: the runner behind tests/raft/testdata/*.txt.
// The format (tests/testing/transcript_format.h) and the commands are described in docs/raft.md.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/raft/cluster.h"
#include "tests/testing/transcript_format.h"

namespace sluice::raft::testing {

using transcript::Command;

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
