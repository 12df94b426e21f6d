// The stable log as the core sees it. The driver owns writing (it appends what Ready hands out,
// applies log-start jumps and retention); the core only reads through this interface, so the
// partition log can back it later and tests use MemoryLogStorage.
//
// The log holds entries [first_index, last_index]. Like a snapshot's metadata, the index just
// before the start (first_index - 1, "the log base") keeps its term: an empty new log has base
// 0/0; after retention removed everything up to k, the base is k with the term entry k had.
#pragma once

#include <cstdint>
#include <vector>

#include "node/raft/membership.h"
#include "node/raft/types.h"

namespace sluice::raft {

// A follower whose log ends before the leader's log start restarts its log after `index`
// (whose term is `term`): everything it had is discarded. This replaces snapshots, since
// retention, not compaction into a state machine image, is what shortens the log here.
// `index` is the leader's log base, so the follower's log starts where the leader's does (a
// partition keeps identical segments on every replica); `conf_state` is the membership in force
// there (later changes come as entries). `app_state` is opaque to the core: the driver attaches
// the application's state covering at least the entries up to `index` (a partition's offsets and
// producers), which the follower installs with the jump.
struct LogStartJump {
  Index index = 0;
  Term term = 0;
  ConfState conf_state;
  SharedBytes app_state;

  friend bool operator==(const LogStartJump&, const LogStartJump&) = default;
};

// What a node restarts from: persisted by the driver from Ready::hard_state / Ready::conf_state.
struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class RaftLogStorage {
 public:
  virtual ~RaftLogStorage() = default;

  virtual InitialState initial_state() = 0;
  // The first retained entry; last_index() + 1 when the log is empty.
  virtual Index first_index() = 0;
  virtual Index last_index() = 0;
  // Defined for [first_index - 1, last_index]; `compacted` below, `unavailable` above.
  virtual Result<Term> term(Index index) = 0;
  // Entries [lo, hi) within [first_index, last_index + 1], stopping before the payload exceeds
  // `bytes_max` but always returning at least one entry when lo < hi.
  virtual Result<std::vector<Entry>> entries(Index lo, Index hi, uint64_t bytes_max) = 0;
  // The membership in force at the log base (first_index - 1), as a snapshot's metadata would
  // hold it: the bootstrap membership for a new log, then what the last conf-change entry up to
  // the base resulted in (retention), or what a log-start jump brought.
  virtual ConfState base_conf_state() = 0;
};

}  // namespace sluice::raft
