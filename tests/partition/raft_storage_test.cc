// LogRaftStorage on a simulated disk (no fibers): entries as batches, terms, limits, conflicts,
// log-start jumps, retention, the state file, reopen and crash (lost unsynced writes).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/log/crc32c.h"
#include "node/log/retention.h"
#include "node/log/segment_format.h"
#include "node/partition/raft_storage.h"
#include "tests/log/log_rig.h"

namespace sluice::partition {
namespace {

using log::testing::DiskRig;
using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::Errc;
using raft::HardState;
using raft::Index;
using raft::Term;

#define RS_ASSERT_OK(expression)                                              \
  do {                                                                        \
    const auto rs_status_ = (expression);                                     \
    ASSERT_TRUE(rs_status_.ok()) << #expression << ": " << rs_status_.to_string(); \
  } while (false)

Entry make_entry(Index index, Term term, EntryType type = EntryType::normal, size_t bytes = 16) {
  Entry entry{term, index, type, {}};
  if (type == EntryType::empty) return entry;
  std::string data = "e" + std::to_string(index) + "/t" + std::to_string(term) + "/";
  data.resize(std::max(bytes, data.size()), '.');
  entry.data = SharedBytes(as_bytes(data));
  return entry;
}

std::vector<Entry> make_entries(Index lo, Index hi, Term term, size_t bytes = 16) {
  std::vector<Entry> out;
  for (Index index = lo; index < hi; ++index) out.push_back(make_entry(index, term, EntryType::normal, bytes));
  return out;
}

RaftStorageOptions options(bool small = false) {
  RaftStorageOptions options;
  if (small) options.log = log::testing::small_options();
  options.bootstrap.voters = {1, 2, 3};
  return options;
}

std::unique_ptr<LogRaftStorage> open_ok(DiskRig& rig, bool small = false) {
  raft::Result<std::unique_ptr<LogRaftStorage>> storage = LogRaftStorage::open(*rig.fs, "p0", options(small));
  EXPECT_TRUE(storage.ok()) << storage.status().to_string();
  return storage.ok() ? std::move(*storage) : nullptr;
}

std::vector<Entry> all_entries(LogRaftStorage& storage) {
  raft::Result<std::vector<Entry>> entries = storage.entries(storage.first_index(), storage.last_index() + 1, UINT64_MAX);
  EXPECT_TRUE(entries.ok()) << entries.status().to_string();
  return entries.ok() ? *entries : std::vector<Entry>{};
}

TEST(RaftStorage, NewStorageIsEmptyWithTheBootstrapMembership) {
  DiskRig rig;
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->first_index(), 1u);
  EXPECT_EQ(storage->last_index(), 0u);
  EXPECT_EQ(*storage->term(0), 0u);
  EXPECT_EQ(storage->term(1).code(), Errc::unavailable);
  EXPECT_EQ(storage->initial_state().conf_state.voters, (std::set<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(storage->initial_state().hard_state, HardState{});
  EXPECT_TRUE(storage->entries(1, 1, 100)->empty());
}

TEST(RaftStorage, EntriesOfEveryTypeRoundTripAndSurviveReopen) {
  DiskRig rig;
  const std::vector<Entry> entries = {make_entry(1, 1, EntryType::empty), make_entry(2, 1),
                                      make_entry(3, 2, EntryType::conf_change, 40), make_entry(4, 2, EntryType::normal, 0),
                                      make_entry(5, 3, EntryType::normal, 1000)};
  const HardState hard{3, 2, 4};
  ConfState conf = options().bootstrap;
  conf.learners = {7};
  conf.index = 3;
  {
    auto storage = open_ok(rig);
    RS_ASSERT_OK(storage->append(entries));
    storage->save_state(hard, conf);
    RS_ASSERT_OK(storage->sync());
    EXPECT_EQ(all_entries(*storage), entries);
  }
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(all_entries(*storage), entries);
  EXPECT_EQ(storage->first_index(), 1u);
  EXPECT_EQ(storage->last_index(), 5u);
  EXPECT_EQ(storage->initial_state().hard_state, hard);
  EXPECT_EQ(storage->initial_state().conf_state, conf);
  for (const Entry& entry : entries) EXPECT_EQ(*storage->term(entry.index), entry.term);
}

// The in-memory tail serves exactly what the log holds: across its byte limit (older entries come
// from the log), after a conflicting suffix is replaced, and after retention; a reopen (empty tail)
// reads the same.
TEST(RaftStorage, TheInMemoryTailServesWhatTheLogHolds) {
  DiskRig rig;
  RaftStorageOptions small_tail = options(true);
  small_tail.tail_bytes_max = 100;  // two or three 40-byte entries
  std::vector<Entry> expected;
  {
    auto opened = LogRaftStorage::open(*rig.fs, "p0", small_tail);
    ASSERT_TRUE(opened.ok());
    auto& storage = *opened;
    expected = make_entries(1, 11, 1, 40);
    RS_ASSERT_OK(storage->append(expected));
    EXPECT_EQ(all_entries(*storage), expected);
    const std::vector<Entry> replaced = make_entries(9, 13, 2, 40);  // a new leader's suffix
    RS_ASSERT_OK(storage->append(replaced));
    expected.resize(8);
    expected.insert(expected.end(), replaced.begin(), replaced.end());
    EXPECT_EQ(all_entries(*storage), expected);
    auto tail_only = storage->entries(11, 13, UINT64_MAX);
    ASSERT_TRUE(tail_only.ok());
    EXPECT_EQ(*tail_only, std::vector<Entry>(expected.begin() + 10, expected.end()));
    auto one = storage->entries(11, 13, 1);  // the byte limit still returns one
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->size(), 1u);
    storage->save_state(HardState{2, 1, 12}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
  }
  auto storage = open_ok(rig, true);
  EXPECT_EQ(all_entries(*storage), expected);
}

// A new commit index alone is not written (no state file rewrite, no fsync, per produce); it goes
// to the file with the next change that must be durable, and a restart may find an older one.
TEST(RaftStorage, ACommitOnlyChangeWaitsForTheNextDurableChange) {
  DiskRig rig;
  {
    auto storage = open_ok(rig);
    RS_ASSERT_OK(storage->append(make_entries(1, 6, 1)));
    storage->save_state(HardState{1, 1, 2}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
    storage->save_state(HardState{1, 1, 5}, std::nullopt);  // commit only
    RS_ASSERT_OK(storage->sync());
  }
  {
    auto storage = open_ok(rig);
    EXPECT_EQ(storage->initial_state().hard_state, (HardState{1, 1, 2}));
    storage->save_state(HardState{1, 1, 4}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
    storage->save_state(HardState{2, 3, 5}, std::nullopt);  // a new term: written, with the commit
    RS_ASSERT_OK(storage->sync());
  }
  auto storage = open_ok(rig);
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{2, 3, 5}));
}

// A partition's storage keeps a normal entry's batch byte for byte; no-ops stay wrapped and take
// the newest time in the log; a batch not stamped for its place is refused.
TEST(RaftStorage, PartitionEntriesAreStoredAsTheirBatches) {
  DiskRig rig;
  RaftStorageOptions partition_options = options();
  partition_options.entries_are_batches = true;
  auto opened = LogRaftStorage::open(*rig.fs, "p0", partition_options);
  ASSERT_TRUE(opened.ok());
  LogRaftStorage& storage = **opened;
  auto batch_entry = [](Index index, Term term, uint64_t offset, int64_t timestamp_ms, size_t records) {
    std::vector<log::Record> list(records, log::Record{.timestamp_ms = timestamp_ms, .key = {}, .value = as_bytes("v"), .headers = {}});
    return Entry{term, index, EntryType::normal, log::encode_batch(offset, term, list).value()};
  };
  const std::vector<Entry> entries = {make_entry(1, 1, EntryType::empty), batch_entry(2, 1, 1, 500, 3),
                                      make_entry(3, 2, EntryType::empty), batch_entry(4, 2, 5, 600, 1)};
  RS_ASSERT_OK(storage.append(entries));
  EXPECT_EQ(all_entries(storage), entries);
  EXPECT_EQ(*storage.offset_of(4), 5u);
  EXPECT_EQ(storage.log().end_offset(), 6u);
  EXPECT_EQ(storage.log().last_timestamp_ms(), 600);
  // The second no-op (log offset 4) has no time (timestamp 0): see the next test.
  log::ReadResult read = const_cast<log::Log&>(storage.log()).read(4, 1 << 20).value();
  EXPECT_EQ(log::verify_batch(read.batches)->first_timestamp_ms, 0);
  EXPECT_EQ(storage.append(std::vector<Entry>{batch_entry(5, 2, 9, 700, 1)}).code(), Errc::invalid_argument);  // wrong offset
  Entry stamped_for_term_1 = batch_entry(5, 1, 6, 700, 1);
  stamped_for_term_1.term = 2;
  EXPECT_EQ(storage.append(std::vector<Entry>{stamped_for_term_1}).code(), Errc::invalid_argument);
  EXPECT_EQ(storage.append(std::vector<Entry>{make_entry(5, 2)}).code(), Errc::invalid_argument);  // not a batch
  EXPECT_EQ(storage.last_index(), 4u);
}

// Two replicas of one log, one of which jumped past its start: a no-op both append next is the
// same batch on both (cluster-move-after-retention seed 56: stamped with the newest time in each
// log, the jumped replica, whose log held no data, stamped it 0 and a sealed segment differed).
TEST(RaftStorage, ANoOpIsTheSameBatchOnAReplicaThatJumped) {
  DiskRig rig;
  RaftStorageOptions partition_options = options();
  partition_options.entries_are_batches = true;
  auto full = LogRaftStorage::open(*rig.fs, "full", partition_options);
  auto jumped = LogRaftStorage::open(*rig.fs, "jumped", partition_options);
  ASSERT_TRUE(full.ok() && jumped.ok());
  std::vector<log::Record> records(2, log::Record{.timestamp_ms = 900, .key = {}, .value = as_bytes("v"), .headers = {}});
  RS_ASSERT_OK((*full)->append(std::vector<Entry>{Entry{1, 1, EntryType::normal, log::encode_batch(0, 1, records).value()}}));
  RS_ASSERT_OK((*jumped)->apply_log_start_jump({1, 1}, 2));
  const std::vector<Entry> noop = {make_entry(2, 2, EntryType::empty)};
  RS_ASSERT_OK((*full)->append(noop));
  RS_ASSERT_OK((*jumped)->append(noop));
  RS_ASSERT_OK((*full)->sync());
  RS_ASSERT_OK((*jumped)->sync());
  const log::ReadResult a = const_cast<log::Log&>((*full)->log()).read(2, 1 << 20).value();
  const log::ReadResult b = const_cast<log::Log&>((*jumped)->log()).read(2, 1 << 20).value();
  EXPECT_EQ(a.batches, b.batches);
  EXPECT_EQ((*full)->log().last_timestamp_ms(), 900);  // the no-op leaves the newest time alone
}

TEST(RaftStorage, TermsAcrossSegmentsAndAtTheBase) {
  DiskRig rig;
  auto storage = open_ok(rig, true);
  for (Index index = 1; index <= 120; ++index) RS_ASSERT_OK(storage->append(std::vector<Entry>{make_entry(index, 1 + index / 10, EntryType::normal, 100)}));
  RS_ASSERT_OK(storage->sync());
  ASSERT_GT(storage->log().segments().size(), 3u);
  for (Index index = 1; index <= 120; ++index) EXPECT_EQ(*storage->term(index), 1 + index / 10) << index;
  EXPECT_EQ(*storage->term(0), 0u);
  EXPECT_EQ(storage->term(121).code(), Errc::unavailable);
  storage.reset();
  storage = open_ok(rig, true);
  for (Index index = 1; index <= 120; ++index) ASSERT_EQ(*storage->term(index), 1 + index / 10) << index;
  EXPECT_EQ(all_entries(*storage).size(), 120u);
}

TEST(RaftStorage, EntriesStopAtTheByteLimitButReturnOne) {
  DiskRig rig;
  auto storage = open_ok(rig);
  RS_ASSERT_OK(storage->append(make_entries(1, 11, 1, 100)));
  EXPECT_EQ(storage->entries(1, 11, 250)->size(), 2u);
  EXPECT_EQ(storage->entries(1, 11, 300)->size(), 3u);
  EXPECT_EQ(storage->entries(3, 11, 0)->size(), 1u);
  EXPECT_EQ(storage->entries(3, 5, UINT64_MAX)->size(), 2u);
  EXPECT_EQ(storage->entries(3, 5, UINT64_MAX)->front(), make_entry(3, 1, EntryType::normal, 100));
  EXPECT_EQ(storage->entries(0, 5, 100).code(), Errc::compacted);
  EXPECT_EQ(storage->entries(5, 12, 100).code(), Errc::unavailable);
  EXPECT_EQ(storage->entries(6, 5, 100).code(), Errc::unavailable);
}

TEST(RaftStorage, AppendReplacesAConflictingSuffix) {
  DiskRig rig;
  auto storage = open_ok(rig);
  RS_ASSERT_OK(storage->append(make_entries(1, 11, 1)));
  RS_ASSERT_OK(storage->sync());
  const std::vector<Entry> replacement = make_entries(6, 9, 2);
  RS_ASSERT_OK(storage->append(replacement));
  EXPECT_EQ(storage->last_index(), 8u);
  EXPECT_EQ(*storage->term(5), 1u);
  EXPECT_EQ(*storage->term(6), 2u);
  EXPECT_EQ(storage->append(make_entries(10, 11, 2)).code(), Errc::invalid_argument);  // gap
  EXPECT_EQ(storage->append(std::vector<Entry>{make_entry(1, 2), make_entry(3, 2)}).code(), Errc::invalid_argument);
  RS_ASSERT_OK(storage->sync());
  storage.reset();
  storage = open_ok(rig);
  std::vector<Entry> expected = make_entries(1, 6, 1);
  expected.insert(expected.end(), replacement.begin(), replacement.end());
  EXPECT_EQ(all_entries(*storage), expected);
  // Replacing from the first entry empties the log down to its base.
  RS_ASSERT_OK(storage->append(make_entries(1, 2, 3)));
  EXPECT_EQ(all_entries(*storage), make_entries(1, 2, 3));
}

TEST(RaftStorage, UnsyncedWritesMayBeLostButNeverHalfway) {
  DiskRig rig;
  {
    auto storage = open_ok(rig);
    RS_ASSERT_OK(storage->append(make_entries(1, 6, 1)));
    storage->save_state(HardState{1, 1, 3}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
    RS_ASSERT_OK(storage->append(make_entries(6, 9, 1)));
    storage->save_state(HardState{2, 0, 7}, std::nullopt);  // never synced
  }
  rig.crash(7);
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{1, 1, 3}));
  EXPECT_GE(storage->last_index(), 5u);
  const std::vector<Entry> recovered = all_entries(*storage);
  std::vector<Entry> appended = make_entries(1, 9, 1);
  appended.resize(recovered.size());
  EXPECT_EQ(recovered, appended);
}

TEST(RaftStorage, LogStartJumpRestartsTheLogAfterTheJumpPoint) {
  DiskRig rig;
  {
    auto storage = open_ok(rig);
    RS_ASSERT_OK(storage->append(make_entries(1, 11, 5)));
    RS_ASSERT_OK(storage->sync());
    RS_ASSERT_OK(storage->apply_log_start_jump({50, 3}, 7000));
    EXPECT_EQ(storage->first_index(), 51u);
    EXPECT_EQ(storage->last_index(), 50u);
    EXPECT_EQ(*storage->term(50), 3u);
    EXPECT_EQ(storage->term(49).code(), Errc::compacted);
    RS_ASSERT_OK(storage->append(make_entries(51, 54, 4)));
    storage->save_state(HardState{4, 0, 50}, std::nullopt);
    // Not synced: a crash brings back the old log and state.
  }
  rig.crash(3);
  {
    auto storage = open_ok(rig);
    EXPECT_EQ(storage->first_index(), 1u);
    EXPECT_EQ(all_entries(*storage), make_entries(1, 11, 5));
    EXPECT_EQ(storage->initial_state().hard_state, HardState{});
    RS_ASSERT_OK(storage->apply_log_start_jump({50, 3}, 7000));
    RS_ASSERT_OK(storage->append(make_entries(51, 54, 4)));
    storage->save_state(HardState{4, 0, 50}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
    EXPECT_EQ(storage->log().start_offset(), 7000u);
  }
  rig.crash(4);
  auto storage = open_ok(rig);
  EXPECT_EQ(storage->first_index(), 51u);
  EXPECT_EQ(*storage->term(50), 3u);
  EXPECT_EQ(all_entries(*storage), make_entries(51, 54, 4));
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{4, 0, 50}));
  EXPECT_EQ(*storage->offset_of(51), 7000u);
  // Only the current generation's log directory is left.
  std::vector<std::string> names = *rig.fs->list("p0");
  EXPECT_EQ(names, (std::vector<std::string>{"log-00000000000000000002", "raft-state"}));
}

TEST(RaftStorage, RetentionCutsWholeSegmentsAndKeepsTheBaseTerm) {
  DiskRig rig;
  auto storage = open_ok(rig, true);
  for (Index index = 1; index <= 120; ++index) RS_ASSERT_OK(storage->append(std::vector<Entry>{make_entry(index, 1 + index / 10, EntryType::normal, 100)}));
  RS_ASSERT_OK(storage->sync());
  const std::vector<log::SegmentInfo> segments = storage->log().segments();
  const std::optional<uint64_t> cut = log::retention_cut(segments, {.bytes_max = 8 * 1024}, 0);
  ASSERT_TRUE(cut.has_value());
  raft::Result<Index> base = storage->index_before_offset(*cut);
  RS_ASSERT_OK(base.status());
  ASSERT_GT(*base, 0u);
  EXPECT_EQ(storage->truncate_prefix_to(*base + 1).code(), Errc::invalid_argument);  // not a segment start
  RS_ASSERT_OK(storage->truncate_prefix_to(*base));
  EXPECT_EQ(storage->first_index(), *base + 1);
  EXPECT_EQ(*storage->term(*base), 1 + *base / 10);
  EXPECT_EQ(storage->term(*base - 1).code(), Errc::compacted);
  EXPECT_EQ(storage->log().start_offset(), *cut);
  storage.reset();
  rig.crash(9);
  storage = open_ok(rig, true);
  EXPECT_EQ(storage->first_index(), *base + 1);
  EXPECT_EQ(*storage->term(*base), 1 + *base / 10);
  EXPECT_EQ(all_entries(*storage).front(), make_entry(*base + 1, 1 + (*base + 1) / 10, EntryType::normal, 100));
  EXPECT_EQ(storage->last_index(), 120u);
}

// A state with every field set (a joint membership).
PersistedRaftState sample_state() {
  PersistedRaftState state;
  state.hard_state = {9, 3, 77};
  state.conf_state.voters = {1, 2, 3};
  state.conf_state.voters_outgoing = {1, 2, 4};
  state.conf_state.learners = {5};
  state.conf_state.learners_next = {4};
  state.conf_state.auto_leave = true;
  state.conf_state.index = 70;
  state.generation = 4;
  state.base_index = 60;
  state.base_term = 8;
  state.start_offset = 12345;
  return state;
}

TEST(RaftStorage, StateFileRoundTripsAndEveryBitFlipIsDetected) {
  const PersistedRaftState state = sample_state();
  const Bytes bytes = encode_raft_state(state);
  EXPECT_EQ(*decode_raft_state(bytes), state);
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    Bytes damaged = bytes;
    damaged[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
    EXPECT_EQ(decode_raft_state(damaged).code(), Errc::invalid_state) << "bit " << bit;
  }
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(decode_raft_state(ByteSpan(bytes).first(size)).code(), Errc::invalid_state) << size;
  }
}

// Flips one bit of the file at `at` (a byte position) in place.
void flip_bit_at(DiskRig& rig, const std::string& path, uint64_t at, std::byte mask = std::byte{0x10}) {
  runtime::Result<std::unique_ptr<runtime::File>> opened = rig.fs->open(path, runtime::OpenMode::read_write);
  ASSERT_TRUE(opened.ok());
  Bytes byte(1);
  ASSERT_TRUE((*opened)->read_at(at, byte).ok());
  byte[0] ^= mask;
  ASSERT_TRUE((*opened)->write_at(at, byte).ok());
}

// Entries 1..3 of term 1, a vote for 1 in term 1, commit `commit`: synced, the storage open.
std::unique_ptr<LogRaftStorage> open_voted(DiskRig& rig, Index commit = 2) {
  auto storage = open_ok(rig);
  if (storage == nullptr) return nullptr;
  EXPECT_TRUE(storage->append(make_entries(1, 4, 1)).ok());
  storage->save_state(HardState{1, 1, commit}, std::nullopt);
  EXPECT_TRUE(storage->sync().ok());
  return storage;
}

void write_voted_entries(DiskRig& rig) { ASSERT_NE(open_voted(rig), nullptr); }

TEST(RaftStorage, ADamagedOrMissingPieceIsAnErrorNeverAReset) {
  DiskRig rig;
  write_voted_entries(rig);
  // The same byte (the vote) of both copies of the state record.
  const uint64_t copy_bytes = *rig.fs->file_size("p0/raft-state") / 2;
  flip_bit_at(rig, "p0/raft-state", 20);
  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);
  EXPECT_EQ(LogRaftStorage::open(*rig.fs, "p0", options()).code(), Errc::invalid_state);
  flip_bit_at(rig, "p0/raft-state", 20);
  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);
  ASSERT_NE(open_ok(rig), nullptr);
  // The log directory the state file names is gone.
  const std::vector<std::string> names = *rig.fs->list("p0/log-00000000000000000001");
  for (const std::string& name : names) {
    ASSERT_TRUE(rig.fs->remove("p0/log-00000000000000000001/" + name).ok());
  }
  ASSERT_TRUE(rig.fs->remove("p0/log-00000000000000000001").ok());
  EXPECT_EQ(LogRaftStorage::open(*rig.fs, "p0", options()).code(), Errc::invalid_state);
}

// The file holds the record twice: any one flipped bit leaves a good copy, which is the state.
// Found by cluster-corruption-minority seeds 5 and 20: a bit flipped in a replica's raft-state
// while its node was down kept that replica from ever opening again.
TEST(RaftStorage, StateFileSurvivesAnyOneFlippedBit) {
  PersistedRaftState state = sample_state();
  state.hard_state.vote_withheld = true;
  const Bytes file = encode_raft_state_file(state);
  const Bytes record = encode_raft_state(state);
  ASSERT_EQ(file.size(), 2 * record.size());
  raft::Result<RaftStateFile> clean = decode_raft_state_file(file);
  ASSERT_TRUE(clean.ok()) << clean.status().to_string();
  EXPECT_EQ(clean->state, state);
  EXPECT_FALSE(clean->copy_damaged);
  for (size_t bit = 0; bit < file.size() * 8; ++bit) {
    Bytes damaged = file;
    damaged[bit / 8] ^= std::byte{static_cast<uint8_t>(1u << (bit % 8))};
    raft::Result<RaftStateFile> decoded = decode_raft_state_file(damaged);
    ASSERT_TRUE(decoded.ok()) << "bit " << bit << ": " << decoded.status().to_string();
    EXPECT_EQ(decoded->state, state) << "bit " << bit;
    EXPECT_TRUE(decoded->copy_damaged) << "bit " << bit;
  }
  // A file of one record (written before the copies) reads as it is.
  raft::Result<RaftStateFile> single = decode_raft_state_file(record);
  ASSERT_TRUE(single.ok()) << single.status().to_string();
  EXPECT_EQ(single->state, state);
  EXPECT_FALSE(single->copy_damaged);
  // Two valid copies that differ were not written by one rename: damage, not a choice to make.
  PersistedRaftState other = state;
  other.hard_state.vote = 2;
  Bytes mixed = record;
  const Bytes other_record = encode_raft_state(other);
  mixed.insert(mixed.end(), other_record.begin(), other_record.end());
  EXPECT_EQ(decode_raft_state_file(mixed).code(), Errc::invalid_state);
  // Both copies damaged: an error, never a reset.
  Bytes both = file;
  both[20] ^= std::byte{1};
  both[record.size() + 30] ^= std::byte{1};
  EXPECT_EQ(decode_raft_state_file(both).code(), Errc::invalid_state);
  for (size_t size = 0; size < record.size(); ++size) {
    EXPECT_EQ(decode_raft_state_file(ByteSpan(file).first(size)).code(), Errc::invalid_state) << size;
  }
}

// On open, a damaged copy is rewritten from the good one, so a later flip in the other copy is
// survived too; the state is what was synced.
TEST(RaftStorage, OpenRewritesADamagedStateCopy) {
  DiskRig rig;
  write_voted_entries(rig);
  const uint64_t copy_bytes = *rig.fs->file_size("p0/raft-state") / 2;
  flip_bit_at(rig, "p0/raft-state", 20);  // the first copy's vote
  {
    auto storage = open_ok(rig);
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->initial_state().hard_state.vote, 1u);
    EXPECT_EQ(storage->last_index(), 3u);
  }
  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);  // now the second copy's
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->initial_state().hard_state.vote, 1u);
  EXPECT_EQ(storage->initial_state().hard_state.term, 1u);
  EXPECT_EQ(all_entries(*storage).size(), 3u);
}

// While the storage is open, memory holds what the file should: a scrub rewrites a damaged copy,
// and even both copies damaged (two flips before any restart, cluster-corruption-minority seed 4
// with the copies: the node could never open its controller replica again), so the replica opens.
TEST(RaftStorage, ScrubRewritesTheStateFileFromMemory) {
  DiskRig rig;
  auto storage = open_voted(rig);
  ASSERT_NE(storage, nullptr);
  const Bytes written = *rig.disk.peek_file("p0/raft-state");
  const uint64_t copy_bytes = written.size() / 2;
  RS_ASSERT_OK(storage->scrub());
  EXPECT_EQ(storage->state_file_repairs(), 0u);  // a clean file is left as it is

  flip_bit_at(rig, "p0/raft-state", 20);
  RS_ASSERT_OK(storage->scrub());
  EXPECT_EQ(storage->state_file_repairs(), 1u);
  EXPECT_EQ(*rig.disk.peek_file("p0/raft-state"), written);

  flip_bit_at(rig, "p0/raft-state", 20);
  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);
  RS_ASSERT_OK(storage->scrub());
  EXPECT_EQ(storage->state_file_repairs(), 2u);
  EXPECT_EQ(*rig.disk.peek_file("p0/raft-state"), written);
  storage.reset();
  auto reopened = open_ok(rig);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->initial_state().hard_state.vote, 1u);
  EXPECT_EQ(all_entries(*reopened).size(), 3u);
}

// A closed replica's state file (a node restarting opens its replicas only once the metadata
// names them): a damaged copy is rewritten from the other, byte for byte what was written; a clean
// file and a missing one are left alone; both copies damaged stay an error that says the state is
// lost (cluster-swarm-leaders seeds 168 and 391).
TEST(RaftStorage, ScrubAtRestRewritesADamagedCopyOfAClosedReplica) {
  DiskRig rig;
  write_voted_entries(rig);
  const Bytes written = *rig.disk.peek_file("p0/raft-state");
  const uint64_t copy_bytes = written.size() / 2;
  raft::Result<bool> clean = LogRaftStorage::scrub_at_rest(*rig.fs, "p0");
  ASSERT_TRUE(clean.ok()) << clean.status().to_string();
  EXPECT_FALSE(*clean);
  EXPECT_FALSE(*LogRaftStorage::scrub_at_rest(*rig.fs, "p1"));  // no such replica

  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);
  raft::Result<bool> repaired = LogRaftStorage::scrub_at_rest(*rig.fs, "p0");
  ASSERT_TRUE(repaired.ok()) << repaired.status().to_string();
  EXPECT_TRUE(*repaired);
  EXPECT_EQ(*rig.disk.peek_file("p0/raft-state"), written);
  flip_bit_at(rig, "p0/raft-state", 20);  // the other copy now: survived, thanks to the scrub
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->initial_state().hard_state.vote, 1u);
  storage.reset();

  flip_bit_at(rig, "p0/raft-state", 20);
  flip_bit_at(rig, "p0/raft-state", copy_bytes + 20);
  raft::Result<bool> lost = LogRaftStorage::scrub_at_rest(*rig.fs, "p0");
  ASSERT_FALSE(lost.ok());
  EXPECT_TRUE(LogRaftStorage::state_lost(lost.status().message())) << lost.status().to_string();
  raft::Result<std::unique_ptr<LogRaftStorage>> opened = LogRaftStorage::open(*rig.fs, "p0", options());
  ASSERT_FALSE(opened.ok());
  EXPECT_TRUE(LogRaftStorage::state_lost(opened.status().message())) << opened.status().to_string();
}

// A commit-only change is not written (ACommitOnlyChangeWaitsForTheNextDurableChange): the file
// still holds the older commit, which is no damage.
TEST(RaftStorage, ScrubLeavesAFileWithAnUnwrittenCommitAlone) {
  DiskRig rig;
  auto storage = open_voted(rig, 1);
  ASSERT_NE(storage, nullptr);
  storage->save_state(HardState{1, 1, 3}, std::nullopt);
  RS_ASSERT_OK(storage->sync());
  RS_ASSERT_OK(storage->scrub());
  EXPECT_EQ(storage->state_file_repairs(), 0u);
}

// Version 1 (no flags byte) still reads, as "vote not withheld"; version 2 stores the flag.
// A version 3 file rewritten as an older version: the base membership block (before the CRC)
// dropped, the length, version and CRC fixed.
Bytes as_version(Bytes bytes, const PersistedRaftState& state, uint8_t version) {
  const size_t base_conf_bytes = 12 + 4 * 4 + 8 * (state.base_conf_state.voters.size() + state.base_conf_state.voters_outgoing.size() +
                                                   state.base_conf_state.learners.size() + state.base_conf_state.learners_next.size());
  bytes.erase(bytes.end() - 4 - static_cast<std::ptrdiff_t>(base_conf_bytes), bytes.end() - 4);
  bytes[4] = std::byte{version};
  for (size_t i = 0; i < 4; ++i) bytes[8 + i] = std::byte{static_cast<uint8_t>(bytes.size() >> (8 * i))};
  const size_t crc_at = bytes.size() - 4;
  const uint32_t crc = log::crc32c(ByteSpan(bytes).first(crc_at));
  for (size_t i = 0; i < 4; ++i) bytes[crc_at + i] = std::byte{static_cast<uint8_t>(crc >> (8 * i))};
  return bytes;
}

TEST(RaftStorage, StateFileKeepsTheBaseMembership) {
  PersistedRaftState state;
  state.hard_state = {5, 2, 40, false};
  state.base_index = 30;
  state.conf_state.voters = {1, 2, 4};
  state.conf_state.learners = {5};
  state.conf_state.index = 35;
  state.base_conf_state.voters = {1, 2, 3};
  state.base_conf_state.index = 12;
  raft::Result<PersistedRaftState> decoded = decode_raft_state(encode_raft_state(state));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, state);
  state.base_conf_state.index = 31;  // after the base: damaged
  EXPECT_EQ(decode_raft_state(encode_raft_state(state)).code(), Errc::invalid_state);
}

TEST(RaftStorage, StateFileVersionTwoReadsTheMembershipAsTheBases) {
  PersistedRaftState state;
  state.hard_state = {5, 2, 40, true};
  state.base_index = 30;
  state.conf_state.voters = {1, 2, 3};
  state.conf_state.index = 12;
  state.base_conf_state = state.conf_state;
  raft::Result<PersistedRaftState> decoded = decode_raft_state(as_version(encode_raft_state(state), state, 2));
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, state);
}

TEST(RaftStorage, StateFileVersionOneReadsAsVoteNotWithheld) {
  PersistedRaftState state;
  state.hard_state = {5, 2, 7, true};
  state.conf_state.voters = {1, 2, 3};
  state.base_conf_state = state.conf_state;
  Bytes bytes = encode_raft_state(state);
  EXPECT_EQ(decode_raft_state(bytes)->hard_state.vote_withheld, true);
  state.hard_state.vote_withheld = false;
  // Version 1: byte 77 reserved, 0.
  bytes = as_version(encode_raft_state(state), state, 1);
  raft::Result<PersistedRaftState> decoded = decode_raft_state(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, state);
  bytes[77] = std::byte{1};  // a version 1 file with the flag set is damaged
  const size_t crc_at = bytes.size() - 4;
  const uint32_t crc2 = log::crc32c(ByteSpan(bytes).first(crc_at));
  for (size_t i = 0; i < 4; ++i) bytes[crc_at + i] = std::byte{static_cast<uint8_t>(crc2 >> (8 * i))};
  EXPECT_EQ(decode_raft_state(bytes).code(), Errc::invalid_state);
}

// The data file of the second segment of generation 1 ("" when there are not three).
std::string second_segment(DiskRig& rig) {
  std::vector<uint64_t> bases;
  const std::vector<std::string> names = rig.fs->list("p0/log-00000000000000000001").value();
  for (const std::string& name : names) {
    if (auto parsed = log::parse_segment_file_name(name); parsed && parsed->kind == log::SegmentFileKind::data) bases.push_back(parsed->base_offset);
  }
  return bases.size() > 2 ? "p0/log-00000000000000000001/" + log::data_file_name(bases[1]) : "";
}

// Entries 1..59 of term 1 (small segments), commit 50, synced; then a bit flipped in the second
// segment's data (sealed: a strict open would trust its index).
void write_damaged_log(DiskRig& rig) {
  {
    auto storage = open_ok(rig, true);
    ASSERT_NE(storage, nullptr);
    RS_ASSERT_OK(storage->append(make_entries(1, 60, 1, 200)));
    storage->save_state(HardState{1, 1, 50}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
  }
  ASSERT_TRUE(rig.disk.flip_bit(second_segment(rig), 1500, 4));
}

// Damaged synced log data no longer fails open: the vote is withheld (durably), the log is cut at
// the damage, commit and membership index come down to what is left, and a reopen is clean.
TEST(RaftStorage, DamagedLogDataIsCutWithTheVoteWithheld) {
  DiskRig rig;
  write_damaged_log(rig);
  auto storage = open_ok(rig, true);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->repaired_damage().has_value());
  EXPECT_NE(storage->repaired_damage()->find("crc_mismatch"), std::string::npos) << *storage->repaired_damage();
  const Index last = storage->last_index();
  EXPECT_LT(last, 59u);
  EXPECT_GT(last, 1u);
  EXPECT_TRUE(storage->initial_state().hard_state.vote_withheld);
  EXPECT_EQ(storage->initial_state().hard_state.commit, std::min<Index>(50, last));
  EXPECT_EQ(storage->durable_state().hard_state.vote_withheld, true);
  const std::vector<Entry> kept = all_entries(*storage);
  EXPECT_EQ(kept, make_entries(1, last + 1, 1, 200));
  storage.reset();
  auto reopened = open_ok(rig, true);
  ASSERT_NE(reopened, nullptr);
  EXPECT_FALSE(reopened->repaired_damage().has_value());
  EXPECT_EQ(reopened->last_index(), last);
  EXPECT_TRUE(reopened->initial_state().hard_state.vote_withheld);
}

// Damage repair mode cannot cut (here the second segment's files are gone: a gap between sealed
// segments) fails every open with an error that says the replica is lost for good, so its node
// reports it and the controller moves it away (cluster-swarm-leaders seed 1692: such a replica,
// its partition's preferred leader, never opened again and nothing moved it). The vote stays
// withheld: the replica may have acknowledged what is gone.
TEST(RaftStorage, LogDamageBeyondRepairSaysTheReplicaIsLost) {
  DiskRig rig;
  {
    auto storage = open_ok(rig, true);
    ASSERT_NE(storage, nullptr);
    RS_ASSERT_OK(storage->append(make_entries(1, 60, 1, 200)));
    storage->save_state(HardState{1, 1, 50}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
  }
  const std::string second = second_segment(rig);
  ASSERT_FALSE(second.empty());
  const std::string dir = "p0/log-00000000000000000001/";
  const uint64_t base = log::parse_segment_file_name(second.substr(dir.size()))->base_offset;
  ASSERT_TRUE(rig.fs->remove(second).ok());
  (void)rig.fs->remove(dir + log::index_file_name(base));  // there may be none
  for (int attempt = 0; attempt < 2; ++attempt) {
    raft::Result<std::unique_ptr<LogRaftStorage>> opened = LogRaftStorage::open(*rig.fs, "p0", options(true));
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.code(), Errc::invalid_state);
    EXPECT_TRUE(LogRaftStorage::state_lost(opened.status().message())) << opened.status().to_string();
  }
  const raft::Result<RaftStateFile> file = decode_raft_state_file(*rig.disk.peek_file("p0/raft-state"));
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  EXPECT_TRUE(file->state.hard_state.vote_withheld);
}

// A repair cuts the log (durably) before it lowers the commit index; when it stops in between (a
// full disk failed the state write: cluster-swarm-faults seed 463), the state file still names
// the old commit, beyond the log's new end, and the Raft core refuses that at every open. The next
// open finishes the repair: the commit comes down to the log's end, the vote stays withheld.
TEST(RaftStorage, ARepairThatStoppedBeforeLoweringTheCommitIsFinishedAtTheNextOpen) {
  DiskRig rig;
  write_damaged_log(rig);
  Index last = 0;
  {
    auto storage = open_ok(rig, true);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->repaired_damage().has_value());
    last = storage->last_index();
    ASSERT_LT(last, 50u);
  }
  {
    // What the state file held when the repair stopped after the cut: the flag, the old commit.
    raft::Result<RaftStateFile> state = decode_raft_state_file(rig.disk.peek_file("p0/raft-state").value());
    ASSERT_TRUE(state.ok());
    ASSERT_EQ(state->state.hard_state, (HardState{1, 1, last, true}));
    state->state.hard_state.commit = 50;
    const Bytes bytes = encode_raft_state_file(state->state);
    auto file = rig.fs->open("p0/raft-state", runtime::OpenMode::read_write);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->write_at(0, bytes).ok());
    ASSERT_TRUE((*file)->sync().ok());
  }
  auto storage = open_ok(rig, true);
  ASSERT_NE(storage, nullptr);
  EXPECT_TRUE(storage->repaired_damage().has_value());
  EXPECT_EQ(storage->last_index(), last);
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{1, 1, last, true}));
  EXPECT_EQ(storage->durable_state().hard_state, (HardState{1, 1, last, true}));
}

// LogRaftStorage::bury: a replica deleted while its group goes on leaves its state file as a
// tombstone; storage created afresh in its place starts in that term with the vote withheld.
TEST(RaftStorage, StorageCreatedOverATombstoneStartsInItsTermWithTheVoteWithheld) {
  DiskRig rig;
  {
    auto storage = open_voted(rig);
    ASSERT_NE(storage, nullptr);
    storage->save_state(HardState{5, 2, 2}, std::nullopt);
    RS_ASSERT_OK(storage->sync());
  }
  RS_ASSERT_OK(LogRaftStorage::bury(*rig.fs, "p0"));
  EXPECT_FALSE(rig.fs->exists("p0/raft-state").value());
  ASSERT_TRUE(runtime::remove_tree(*rig.fs, "p0").ok());
  RS_ASSERT_OK(LogRaftStorage::bury(*rig.fs, "p0"));  // nothing left to bury: the tombstone stays
  ASSERT_TRUE(rig.fs->exists("p0.tombstone").value());
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{5, 0, 0, true}));
  EXPECT_EQ(storage->last_index(), 0u);
  EXPECT_EQ(storage->initial_state().conf_state.voters, (std::set<raft::NodeId>{1, 2, 3}));
  EXPECT_FALSE(rig.fs->exists("p0.tombstone").value());  // the state file holds the term now
  storage.reset();
  auto reopened = open_ok(rig);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->initial_state().hard_state, (HardState{5, 0, 0, true}));
}

TEST(RaftStorage, ADamagedTombstoneStillWithholdsTheVote) {
  DiskRig rig;
  ASSERT_NE(open_voted(rig), nullptr);
  RS_ASSERT_OK(LogRaftStorage::bury(*rig.fs, "p0"));
  ASSERT_TRUE(runtime::remove_tree(*rig.fs, "p0").ok());
  flip_bit_at(rig, "p0.tombstone", 14);  // the term, in the first copy
  flip_bit_at(rig, "p0.tombstone", rig.fs->file_size("p0.tombstone").value() / 2 + 14);  // and the second
  auto storage = open_ok(rig);
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->initial_state().hard_state, (HardState{0, 0, 0, true}));
}

TEST(RaftStorage, RemovedTombstoneAndPlantedBugStartFromNothing) {
  for (bool planted : {false, true}) {
    DiskRig rig;
    ASSERT_NE(open_voted(rig), nullptr);
    RS_ASSERT_OK(LogRaftStorage::bury(*rig.fs, "p0"));
    ASSERT_TRUE(runtime::remove_tree(*rig.fs, "p0").ok());
    if (!planted) RS_ASSERT_OK(LogRaftStorage::remove_tombstone(*rig.fs, "p0"));  // the group ended
    RaftStorageOptions opts = options();
    if (planted) opts.planted_bug = PlantedBug::replica_forgets_deleted_term;
    auto storage = LogRaftStorage::open(*rig.fs, "p0", opts);
    ASSERT_TRUE(storage.ok()) << storage.status().to_string();
    EXPECT_EQ((*storage)->initial_state().hard_state, HardState{}) << "planted=" << planted;
  }
}

}  // namespace
}  // namespace sluice::partition
