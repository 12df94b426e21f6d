// The seam between the multi-Raft host and a group's log: what the core reads
// (raft::RaftLogStorage) plus the writes the host makes, in the order of the Ready contract
// (node/raft/ready.h). The partition log implements it directly (partition::LogRaftStorage);
// MemoryGroupStorage serves tests and simulations that keep the log outside the node.
//
// Errors are raft::Status values of the storage kind (io_error, invalid_state, ...): the host
// stops a group whose storage failed and reports storage_error.
#pragma once

#include <optional>
#include <span>

#include "node/raft/memory_storage.h"
#include "node/raft/storage.h"

namespace sluice::multiraft {

class GroupStorage : public raft::RaftLogStorage {
 public:
  // Ready::log_start_jump: the log restarts empty after jump.index/jump.term, its base membership
  // jump.conf_state; a storage that keeps application state installs jump.app_state first.
  virtual raft::Status reset_to(const raft::LogStartJump& jump) = 0;
  // Ready::entries: appended, replacing any suffix from entries[0].index on.
  virtual raft::Status append(std::span<const raft::Entry> entries) = 0;
  // Ready::hard_state and conf_state, written together atomically at the next sync (either may
  // be absent: unchanged).
  virtual void save_state(const std::optional<raft::HardState>& hard, const std::optional<raft::ConfState>& conf) = 0;
  // Makes everything above durable. Nothing that depends on it may leave the node before.
  virtual raft::Status sync() = 0;
  // Sending side of a log-start jump to `index` (this log's base): the application's state the
  // follower installs with it (LogStartJump::app_state); empty when the application keeps none.
  // An error drops the jump (the core sends another once the follower answers a heartbeat).
  virtual raft::Result<SharedBytes> jump_app_state(raft::Index /*index*/) { return SharedBytes(); }
  // Verifies what the storage keeps on disk beside the log (its state file) against what it holds
  // in memory, and repairs it from memory; called now and then by the host, between Readies. An
  // error fails the group like a failed sync.
  virtual raft::Status scrub() { return raft::Status(); }
};

// GroupStorage over a raft::MemoryLogStorage owned elsewhere (by a simulation workload or a test,
// so that it outlives a simulated crash of the node): every write is durable at once.
class MemoryGroupStorage final : public GroupStorage {
 public:
  explicit MemoryGroupStorage(raft::MemoryLogStorage& log) : log_(log) {}
  raft::InitialState initial_state() override { return log_.initial_state(); }
  raft::Index first_index() override { return log_.first_index(); }
  raft::Index last_index() override { return log_.last_index(); }
  raft::Result<raft::Term> term(raft::Index index) override { return log_.term(index); }
  raft::Result<std::vector<raft::Entry>> entries(raft::Index lo, raft::Index hi, uint64_t bytes_max) override {
    return log_.entries(lo, hi, bytes_max);
  }
  raft::ConfState base_conf_state() override { return log_.base_conf_state(); }
  raft::Status reset_to(const raft::LogStartJump& jump) override {
    log_.reset_to(jump.index, jump.term, jump.conf_state);
    return raft::Status();
  }
  raft::Status append(std::span<const raft::Entry> entries) override { return log_.append(entries); }
  void save_state(const std::optional<raft::HardState>& hard, const std::optional<raft::ConfState>& conf) override {
    if (hard) log_.set_hard_state(*hard);
    if (conf) log_.set_conf_state(*conf);
  }
  raft::Status sync() override { return raft::Status(); }

 private:
  raft::MemoryLogStorage& log_;
};

}  // namespace sluice::multiraft
