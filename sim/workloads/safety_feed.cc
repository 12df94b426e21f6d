#include "sim/workloads/safety_feed.h"

#include "sim/sim_node.h"

namespace sluice::sim {
namespace {

// The checker reads a restarted replica's whole log through this: injected read errors (the
// scenario's disk faults) are retried, since what the checker must see is what the disk keeps,
// not whether one read of it failed.
class RetryingReads final : public raft::RaftLogStorage {
 public:
  static constexpr int kAttemptsMax = 1000;
  explicit RetryingReads(raft::RaftLogStorage& storage) : storage_(storage) {}
  raft::InitialState initial_state() override { return storage_.initial_state(); }
  raft::Index first_index() override { return storage_.first_index(); }
  raft::Index last_index() override { return storage_.last_index(); }
  raft::ConfState base_conf_state() override { return storage_.base_conf_state(); }
  raft::Result<raft::Term> term(raft::Index index) override {
    return retry<raft::Term>([&] { return storage_.term(index); });
  }
  raft::Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi, uint64_t bytes_max) override {
    return retry<std::vector<raft::Entry>>([&] { return storage_.entries(lo, hi, bytes_max); });
  }

 private:
  template <typename T, typename Read>
  static raft::Result<T> retry(Read read) {
    raft::Result<T> result = read();
    for (int attempt = 1; attempt < kAttemptsMax && !result.ok() && result.code() == raft::Errc::io_error; ++attempt) {
      result = read();
    }
    return result;
  }
  raft::RaftLogStorage& storage_;
};

}  // namespace

void SafetyFeed::started(GroupId group, raft::RaftLogStorage& storage) {
  RetryingReads reads(storage);
  safety_.started(group, id_, reads);
}

std::vector<std::unique_ptr<SafetyFeed>> make_safety_feeds(sluice::checkers::RaftSafety& safety, size_t nodes,
                                                           const std::function<void(NodeIndex)>& on_group_failed,
                                                           const World* world) {
  std::vector<std::unique_ptr<SafetyFeed>> feeds;
  for (size_t i = 0; i < nodes; ++i) {
    const auto node = static_cast<NodeIndex>(i);
    feeds.push_back(std::make_unique<SafetyFeed>(safety, node_id_of(node), [on_group_failed, node] { on_group_failed(node); }, world, node));
  }
  return feeds;
}

}  // namespace sluice::sim
