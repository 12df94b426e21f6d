// RapidCheck: LogRaftStorage behaves like raft::MemoryLogStorage (the reference semantics of the
// core's storage) under random appends with conflicts, log-start jumps, retention at segment
// starts, hard state saves, syncs, reopens and crashes after a sync; the membership at the log
// base included.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "node/partition/raft_storage.h"
#include "node/raft/memory_storage.h"
#include "tests/log/log_rig.h"

namespace sluice::partition {
namespace {

using raft::Entry;
using raft::EntryType;
using raft::Index;

RaftStorageOptions model_options() {
  RaftStorageOptions options;
  options.log = log::testing::small_options();
  options.bootstrap.voters = {1};
  return options;
}

// Same answers as the model for every read the core makes.
void check_same(LogRaftStorage& storage, raft::MemoryLogStorage& model) {
  RC_ASSERT(storage.first_index() == model.first_index());
  RC_ASSERT(storage.last_index() == model.last_index());
  RC_ASSERT(storage.initial_state().hard_state == model.initial_state().hard_state);
  RC_ASSERT(storage.base_conf_state() == model.base_conf_state());
  for (Index index = model.base_index(); index <= model.last_index(); ++index) {
    raft::Result<raft::Term> term = storage.term(index);
    RC_ASSERT(term.ok());
    RC_ASSERT(*term == *model.term(index));
  }
  if (model.base_index() > 0) RC_ASSERT(storage.term(model.base_index() - 1).code() == raft::Errc::compacted);
  RC_ASSERT(storage.term(model.last_index() + 1).code() == raft::Errc::unavailable);
  const uint64_t bytes_max = *rc::gen::inRange<uint64_t>(0, 3000);
  raft::Result<std::vector<Entry>> got = storage.entries(model.first_index(), model.last_index() + 1, bytes_max);
  RC_ASSERT(got.ok());
  RC_ASSERT(*got == *model.entries(model.first_index(), model.last_index() + 1, bytes_max));
}

raft::ConfState gen_conf() {
  raft::ConfState conf;
  conf.voters = {1};
  for (raft::NodeId id = 2; id <= 5; ++id) {
    const int role = *rc::gen::inRange(0, 3);
    if (role == 1) conf.voters.insert(id);
    if (role == 2) conf.learners.insert(id);
  }
  return conf;
}

// Conf-change entries carry a decodable change most of the time: retention must find the
// membership at its new base from them (and skip the undecodable ones, as the core does).
Entry gen_entry(Index index, raft::Term term) {
  Entry entry{term, index, static_cast<EntryType>(*rc::gen::inRange(0, 3)), {}};
  if (entry.type == EntryType::conf_change && *rc::gen::inRange(0, 4) != 0) {
    entry.data = raft::encode_conf_change_entry(raft::ConfChangeEntry{raft::ConfChange{}, gen_conf()});
  } else if (entry.type != EntryType::empty) {
    const size_t size = *rc::gen::inRange<size_t>(0, 300);
    entry.data = Bytes(size, std::byte{static_cast<uint8_t>(index * 31 + term)});
  }
  return entry;
}

RC_GTEST_PROP(RaftStorageModel, BehavesLikeMemoryLogStorage, ()) {
  log::testing::DiskRig rig;
  raft::MemoryLogStorage model(model_options().bootstrap);
  auto opened = LogRaftStorage::open(*rig.fs, "p0", model_options());
  RC_ASSERT(opened.ok());
  std::unique_ptr<LogRaftStorage> storage = std::move(*opened);
  raft::Term term = 1;
  const int steps = *rc::gen::inRange(1, 60);
  for (int step = 0; step < steps; ++step) {
    const int choice = *rc::gen::inRange(0, 100);
    if (choice < 50) {  // append at the end or over a suffix
      const Index first = *rc::gen::inRange<Index>(model.first_index(), model.last_index() + 2);
      if (first <= model.last_index()) ++term;
      std::vector<Entry> entries;
      for (int i = 0, n = *rc::gen::inRange(1, 6); i < n; ++i) entries.push_back(gen_entry(first + i, term));
      RC_ASSERT(storage->append(entries).ok());
      RC_ASSERT(model.append(entries).ok());
    } else if (choice < 60) {  // hard state
      const raft::HardState hard{term, *rc::gen::inRange<uint64_t>(0, 4), model.last_index()};
      storage->save_state(hard, std::nullopt);
      model.set_hard_state(hard);
    } else if (choice < 75) {
      RC_ASSERT(storage->sync().ok());
    } else if (choice < 80) {  // log-start jump
      const Index index = model.last_index() + *rc::gen::inRange<Index>(0, 10);
      raft::ConfState conf = gen_conf();
      conf.index = index - std::min<Index>(index, *rc::gen::inRange<Index>(0, 3));
      RC_ASSERT(storage->apply_log_start_jump({index, term, conf, {}}).ok());
      model.reset_to(index, term, conf);
    } else if (choice < 88) {  // retention at a random segment start
      RC_ASSERT(storage->sync().ok());
      const std::vector<log::SegmentInfo> segments = storage->log().segments();
      const log::SegmentInfo& segment = segments[*rc::gen::inRange<size_t>(0, segments.size())];
      raft::Result<Index> base = storage->index_before_offset(segment.base_offset);
      RC_ASSERT(base.ok());
      RC_ASSERT(storage->truncate_prefix_to(*base).ok());
      RC_ASSERT(model.trim_to(*base).ok());
    } else {  // reopen after a sync, sometimes with a power loss in between
      RC_ASSERT(storage->sync().ok());
      storage.reset();
      if (*rc::gen::arbitrary<bool>()) rig.crash(static_cast<uint64_t>(step));
      auto reopened = LogRaftStorage::open(*rig.fs, "p0", model_options());
      RC_ASSERT(reopened.ok());
      storage = std::move(*reopened);
      // A sync that changed only the commit index does not write the state file (Raft keeps the
      // commit volatile; docs/formats/raft-state.md): a reopen may find an older one, never a
      // newer one, with term and vote as saved.
      const raft::HardState found = storage->initial_state().hard_state;
      const raft::HardState saved = model.initial_state().hard_state;
      RC_ASSERT(found.term == saved.term);
      RC_ASSERT(found.vote == saved.vote);
      RC_ASSERT(found.commit <= saved.commit);
      model.set_hard_state(found);
    }
    check_same(*storage, model);
  }
}

}  // namespace
}  // namespace sluice::partition
