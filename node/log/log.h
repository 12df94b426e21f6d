// A partition's log: a directory of segments, each a data file of record batches (codec.h) with a
// sparse offset/time index. Appends go to the last (active) segment; a segment rolls at a size or
// age limit decided from the batches themselves, so every replica that holds the same batches
// has the same segment layout. Everything goes through runtime::Filesystem.
//
// Durability: sync() makes every append so far durable. Each data file carries a sync mark (see
// segment_format.h) saying how much of it is durable; open() cuts a torn or unsynced tail off the
// active segment, but damage inside data a mark or a later segment proves durable is reported as
// corruption, never cut off and never served. Every segment but the active one is fully synced
// before the next is created. Directory entries are synced on create, delete and rename.
//
// A Log is driven by one fiber at a time (the partition's); it is not safe to call from several
// fibers concurrently. Docs: docs/log.md (guide), docs/formats/log.md (bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "node/base/planted_bug.h"
#include "node/log/codec.h"
#include "node/log/errors.h"
#include "node/log/segment_format.h"
#include "runtime/fs.h"
#include "runtime/runtime.h"

namespace sluice::log {

// Upper bounds of the fsync latency buckets of SyncStats, in nanoseconds (above the last one: the
// overflow bucket). From 100 µs (a fast NVMe) to 2.5 s (a disk in trouble): fsync latency spans
// four orders of magnitude, and its tail is what an operator looks for.
inline constexpr uint64_t kSyncLatencyBoundsNs[] = {
    100'000,    250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,     10'000'000,
    25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};
inline constexpr size_t kSyncLatencyBuckets = std::size(kSyncLatencyBoundsNs);

// The fsyncs of data files Log::sync made (the ones appends wait on) and how long they took,
// failed ones included. Plain numbers, only ever growing: a monitoring endpoint mirrors them as
// counters and a histogram. Shared by every log given the same LogOptions::sync_stats, so a
// node's total does not go back when one of its logs is closed or replaced.
struct SyncStats {
  uint64_t syncs = 0;
  uint64_t sync_ns_total = 0;
  // syncs_by_bucket[i]: syncs that took at most kSyncLatencyBoundsNs[i] and more than the bound
  // before (not cumulative); the rest are above the last bound (syncs minus the sum of these).
  std::array<uint64_t, kSyncLatencyBuckets> syncs_by_bucket{};

  void record(runtime::Duration took);
};

struct LogOptions {
  uint64_t segment_bytes_max = 128ULL << 20;  // a segment never grows past this: a roll comes first
  int64_t segment_age_ms_max = INT64_MAX;     // roll when a batch is this much newer than the segment's first
  // The active segment's data file is written with zeros and synced this far ahead of the appends
  // (File::preallocate, at most to segment_bytes_max), a step at a time, so an append's fsync
  // flushes its data alone: no size, block or extent change to journal (docs/log.md, "Space
  // preallocated ahead"). 0: never. A roll and a close cut the zeros off again.
  uint64_t preallocate_step_bytes = 1 << 20;
  // ... only while the appends' syncs have covered at most this many bytes each, on average (small
  // synchronous appends): above it the zeros' extra writes cost more than the journal commits they
  // save (docs/log.md).
  uint64_t preallocate_sync_bytes_max = 16 << 10;
  size_t batch_bytes_max = 4 << 20;           // appends above it are batch_too_large
  size_t read_bytes_max = 16 << 20;           // one read() returns at most this (or its first batch)
  size_t open_files_max = 64;                 // data files open at once, the active one included (>= 2)
  uint32_t index_interval_bytes = 4096;       // data bytes between offset index entries
  size_t segments_max = 100'000;              // a roll beyond it is limit_exceeded
  uint64_t initial_offset = 0;                // base offset of a new log's first segment
  // Repair mode (off: damage inside synced data fails open() with `corruption`). On: every sealed
  // segment is verified at open (its index is not trusted), and the first damaged batch of synced
  // data ends the log: the batches before it stay, that segment is cut there and every later
  // segment removed, durably, and RecoveryReport::tail_cut says what was lost. For a replica that
  // can re-learn the lost records elsewhere (a Raft follower) and knows it lost them.
  bool cut_corrupt_tail = false;
  // Verify every batch of every sealed segment at open instead of trusting a valid index (repair
  // mode always does): damage is then found at open, as corruption, rather than when the batch is
  // read. Costs a read of the whole log per open.
  bool verify_sealed_segments = false;

  // Monitoring (both or neither; by default neither). Every fsync sync() makes of a data file is
  // timed on `clock` (the node's runtime: virtual time in the simulator), recorded in `sync_stats`.
  runtime::Runtime* clock = nullptr;
  std::shared_ptr<SyncStats> sync_stats;

  // --- test-only fault injection (production leaves these alone) ---
  // BUGGIFY fault points (pauses inside durability windows) fire through this runtime; null: none.
  runtime::Runtime* buggify_runtime = nullptr;
  // Also roll before a batch whose term, size and timestamps hash to 0 modulo this (0: never):
  // rolls at odd points and many small segments. Derived from the batch alone (not its offset,
  // which a log-start jump may shift), so replicas holding the same batches still roll alike.
  uint32_t roll_early_one_in = 0;
  PlantedBug planted_bug = PlantedBug::none;  // log_skip_sync: sync() returns without syncing
};
Status validate(const LogOptions& options);

struct AppendResult {
  uint64_t base_offset = 0;
  uint64_t last_offset = 0;
};

struct ReadResult {
  Bytes batches;             // whole, verified batches back to back (split_batches() parses them)
  uint64_t next_offset = 0;  // where the next read should start
};

// Synced data that open() cut off in repair mode (LogOptions::cut_corrupt_tail).
struct TailCut {
  uint64_t offset = 0;            // the first record lost: the log now ends here
  uint64_t segment_base = 0;      // the segment where the damage was found (now the active one)
  uint64_t position = 0;          // byte of that data file where the first bad batch starts
  uint64_t segments_removed = 0;  // later segments removed whole
  std::string what;               // the damage found

  friend bool operator==(const TailCut&, const TailCut&) = default;
};

// What open() found and repaired.
struct RecoveryReport {
  uint64_t segments = 0;
  uint64_t truncated_bytes = 0;  // torn or unsynced tail cut off the active segment
  uint64_t indexes_rebuilt = 0;  // from the data, at open or when a segment was first read
  uint64_t files_removed = 0;    // temporary files, orphaned or stale indexes
  std::optional<TailCut> tail_cut;  // repair mode only: synced data was damaged and cut off
};

class Log {
 public:
  // Opens (recovering) or creates the log in `dir` ("" is the data directory itself). A missing
  // `dir` is created; its parent must already be durable.
  static Result<std::unique_ptr<Log>> open(runtime::Filesystem& fs, std::string dir, LogOptions options);
  // Closes files without syncing: like a process exit, unsynced appends may be lost.
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends an encoded batch whose base offset must be end_offset() and whose term must not be
  // below last_term(). Not durable until sync().
  Result<AppendResult> append(ByteSpan batch);
  // Encodes `records` at end_offset() and appends them.
  Result<AppendResult> append(uint64_t term, std::span<const Record> records);
  // Whole batches from the one holding `from_offset` (which may start before it), at most
  // bytes_max bytes but always at least one batch when from_offset < end_offset(). Every batch is
  // CRC-checked first; damage is `corruption`.
  Result<ReadResult> read(uint64_t from_offset, size_t bytes_max);
  // Everything appended so far is durable when this returns ok.
  Status sync();
  // Seals the active segment and starts a new one (no-op if the active segment is empty).
  Status roll();
  // Removes every record at or after `from_offset`, which must start a batch (or be the end);
  // durable when it returns. For Raft log conflicts.
  Status truncate_suffix(uint64_t from_offset);
  // Removes every segment before the one based at `new_start_offset`; durable when it returns.
  // For retention: see retention_cut().
  Status truncate_prefix(uint64_t new_start_offset);
  // Syncs and closes. Later calls return `closed`.
  Status close();

  uint64_t start_offset() const { return segments_.front().index.base_offset; }
  uint64_t end_offset() const { return segments_.back().index.end_offset; }
  std::optional<uint64_t> last_offset() const;
  uint64_t last_term() const;
  // The term of the record at `offset`, for start_offset() - 1 <= offset < end_offset(); at
  // start_offset() - 1 it is the term of the record before the log (0 if there was none).
  Result<uint64_t> term_at(uint64_t offset) const;
  // Base offset of the first batch whose max timestamp is >= timestamp_ms (end_offset() if none).
  Result<uint64_t> offset_for_timestamp(int64_t timestamp_ms);
  uint64_t durable_end_offset() const { return durable_end_offset_; }
  // The newest timed batch's max timestamp (0 for a log without one; batches with timestamp 0 have
  // no time): the floor a partition leader stamps new batches above.
  int64_t last_timestamp_ms() const;
  std::vector<SegmentInfo> segments() const;
  const RecoveryReport& recovery() const { return recovery_; }
  const LogOptions& options() const { return options_; }
  const std::string& dir() const { return dir_; }

 private:
  struct Segment {
    SegmentIndex index;  // entries are loaded only while `file` is open (sealed segments)
    uint64_t prev_term = 0;
    std::unique_ptr<runtime::File> file;
    uint64_t last_used = 0;  // for closing the least recently used file
    uint64_t preallocated_to = 0;  // the active segment: zeros written and synced up to here
  };
  struct Located {  // a batch found in a segment
    uint64_t position = 0;
    BatchHeader header;
  };

  Log(runtime::Filesystem& fs, std::string dir, LogOptions options);

  // log_open.cc
  Status recover();
  Status recover_sealed(uint64_t base_offset, bool has_index);
  Status recover_active(uint64_t base_offset, bool all_synced);
  Status remove_segments_after(const std::vector<uint64_t>& bases, uint64_t keep_through);
  Status rebuild_sealed_index(Segment& segment, runtime::File& file, const std::string& path, uint64_t size_bytes);

  // log.cc
  Status check_usable() const;
  void check_segments() const;  // simulation-only: the segments tile the offsets, terms ascend
  size_t segment_for(uint64_t offset) const;  // last segment with base_offset <= offset
  std::string data_path(uint64_t base_offset) const;
  Status ensure_open(Segment& segment);
  Status load_entries(Segment& segment);
  void close_least_recently_used();
  void close_file(Segment& segment);
  Result<Located> locate(Segment& segment, uint64_t offset, uint64_t scan_from);
  Status read_segment(Segment& segment, uint64_t from_offset, size_t bytes_max, ReadResult& result, bool& full);

  // log_write.cc
  Status maybe_roll(const BatchHeader& batch);
  bool roll_due(const SegmentIndex& active, const BatchHeader& batch) const;
  Status maybe_unroll(const BatchHeader& batch);
  Status undo_write(uint64_t position, const runtime::Status& cause);
  Result<uint64_t> preallocate_for(Segment& active, uint64_t bytes);
  bool preallocation_is_worth_it();
  runtime::Status truncate_active(Segment& active, uint64_t size_bytes);
  Status cut_preallocated(Segment& active);
  Status fail(const Status& cause);
  Status timed_fsync(runtime::File& file, const std::string& path);
  Status timed_write_and_fsync(runtime::File& file, const std::string& path, uint64_t offset, ByteSpan bytes);
  template <typename SyncFn>
  Status timed(const std::string& path, SyncFn&& sync_fn);

  // log_truncate.cc
  Status remove_segment_files(uint64_t base_offset, bool data_too);
  Status reactivate(size_t segment_index, const Located& cut);
  Status cut_active_index(uint64_t from_offset, uint64_t position);

  runtime::Filesystem& fs_;
  std::string dir_;
  LogOptions options_;
  std::deque<Segment> segments_;  // ascending base offsets; back() is the active segment
  // What preallocation_is_worth_it decides from: totals, and their values at the last decision.
  struct Preallocation {
    uint64_t appended_bytes = 0;
    uint64_t syncs = 0;  // fsyncs that made appended data durable
    uint64_t decided_at_bytes = 0;
    uint64_t decided_at_syncs = 0;
    uint64_t next_decision_bytes = 0;  // none before appended_bytes reaches it
  };
  Preallocation preallocation_;
  uint64_t mark_sequence_ = 0;    // of the active segment's newest mark
  uint64_t synced_bytes_ = 0;     // of the active segment's data file, as its newest mark says
  bool active_dirty_ = false;     // the active data file changed (write, truncate) since its last fsync
  uint64_t durable_end_offset_ = 0;
  size_t open_files_ = 0;
  uint64_t use_counter_ = 0;
  bool failed_ = false;
  bool roll_requested_ = false;   // an explicit roll() not yet followed by an append
  bool closed_ = false;
  RecoveryReport recovery_;
};

}  // namespace sluice::log
