// Log: appends, sync, roll, close, and what happens when a write fails.
#include "node/log/log.h"

#include <algorithm>

#include "node/base/coverage.h"
#include "node/base/hash.h"
#include "node/log/io_errors.h"
#include "node/log/segment_io.h"

namespace sluice::log {

Result<AppendResult> Log::append(uint64_t term, std::span<const Record> records) {
  SLUICE_TRY(check_usable());
  SLUICE_ASSIGN_OR_RETURN(Bytes batch, encode_batch(end_offset(), term, records, options_.batch_bytes_max));
  return append(batch);
}

Result<AppendResult> Log::append(ByteSpan batch) {
  SLUICE_TRY(check_usable());
  if (batch.empty()) return Status(Errc::empty_batch, "append of zero bytes");
  if (batch.size() > options_.batch_bytes_max) {
    return Status(Errc::batch_too_large, "batch of " + std::to_string(batch.size()) + " bytes above batch_bytes_max " +
                                             std::to_string(options_.batch_bytes_max));
  }
  SLUICE_ASSIGN_OR_RETURN(BatchHeader header, verify_batch(batch, options_.batch_bytes_max));
  if (header.batch_bytes != batch.size()) return Status(Errc::invalid_argument, "bytes after the batch");
  if (header.base_offset != end_offset()) {
    return Status(Errc::offset_mismatch, "batch base offset " + std::to_string(header.base_offset) + ", log end offset " +
                                             std::to_string(end_offset()));
  }
  if (header.term < last_term()) {
    return Status(Errc::term_regression, "batch term " + std::to_string(header.term) + " below the log's last term " +
                                             std::to_string(last_term()));
  }
  SLUICE_TRY(maybe_unroll(header));
  SLUICE_TRY(maybe_roll(header));
  roll_requested_ = false;
  Segment& active = segments_.back();
  SLUICE_ASSIGN_OR_RETURN(const uint64_t position, preallocate_for(active, batch.size()));  // the end
  SLUICE_ASSERT_LE(position + batch.size(), options_.segment_bytes_max);
  active_dirty_ = true;  // even a failed write may have changed the file
  const runtime::Status written = active.file->write_at(position, batch);
  if (!written.ok()) return undo_write(position, written);
  add_batch(active.index, header, position, options_.index_interval_bytes);
  return AppendResult{header.base_offset, header.last_offset()};
}

// Roll points depend only on the batches (sizes and leader-assigned timestamps) and the options,
// so replicas holding the same batches cut the same segments.
Status Log::maybe_roll(const BatchHeader& batch) {
  const SegmentIndex& active = segments_.back().index;
  if (active.empty()) return Status();
  return roll_due(active, batch) ? roll() : Status();
}

bool Log::roll_due(const SegmentIndex& active, const BatchHeader& batch) const {
  const bool too_big = active.data_bytes + batch.batch_bytes > options_.segment_bytes_max;
  int64_t age_ms = 0;
  // Untimed batches (timestamp 0) neither start nor end a segment's age.
  const bool timed = batch.first_timestamp_ms != 0 && active.first_timestamp_ms != 0;
  const bool too_old = timed && !__builtin_sub_overflow(batch.first_timestamp_ms, active.first_timestamp_ms, &age_ms) &&
                       age_ms >= options_.segment_age_ms_max;
  const bool early = options_.roll_early_one_in > 0 &&
                     hash_combine(hash_combine(hash_combine(batch.term, batch.batch_bytes), batch.first_timestamp_ms),
                                  static_cast<uint64_t>(batch.max_timestamp_ms)) % options_.roll_early_one_in == 0;
  if (too_big) SLUICE_COVER("log.roll_size");
  if (too_old) SLUICE_COVER("log.roll_age");
  if (early && !too_big && !too_old) SLUICE_COVER("log.roll_early");
  return too_big || too_old || early;
}

// A segment exists because of its first batch: the roll before it was decided from that batch.
// When the active segment is empty but follows another — the batch it was rolled for was cut off
// (a Raft conflict) or never became durable (a crash right after the roll) — and `batch` would
// not have rolled it, the empty segment goes and its predecessor grows again. So the layout stays
// a function of the batches alone and replicas cut identical segments whatever they lived through.
// An explicit roll() holds until the next append.
Status Log::maybe_unroll(const BatchHeader& batch) {
  if (roll_requested_ || segments_.size() < 2 || !segments_.back().index.empty()) return Status();
  const size_t previous = segments_.size() - 2;
  if (roll_due(segments_[previous].index, batch)) return Status();
  SLUICE_COVER("log.unroll");
  // Its entries load while it is not the last segment yet (the last one keeps them in memory).
  SLUICE_TRY(ensure_open(segments_[previous]));
  Segment& empty = segments_.back();
  if (empty.file) close_file(empty);
  if (Status removed = remove_segment_files(empty.index.base_offset, true); !removed.ok()) return fail(removed);
  segments_.pop_back();
  // Its index file described it as sealed; the active segment has none.
  if (Status removed = remove_segment_files(segments_.back().index.base_offset, false); !removed.ok()) return fail(removed);
  if (runtime::Status synced = fs_.sync_dir(dir_); !synced.ok()) return fail(from_runtime(synced, "sync_dir " + dir_));
  Segment& reopened = segments_.back();
  Located end;
  end.position = reopened.index.data_bytes;
  end.header.base_offset = reopened.index.end_offset;
  return reactivate(previous, end);
}

// A failed write may have left part of the batch in the file (a real disk can write some of it):
// cut it off so the next append lands where the index expects. If even that fails, the file's
// state is unknown and the log refuses further work until reopened (recovery then sorts it out).
Status Log::undo_write(uint64_t position, const runtime::Status& cause) {
  Segment& active = segments_.back();
  const std::string path = data_path(active.index.base_offset);
  const runtime::Status undone = truncate_active(active, position);
  if (!undone.ok()) return fail(from_runtime(cause, path));
  return from_runtime(cause, path);
}

Status Log::fail(const Status& cause) {
  SLUICE_COVER("log.failed");
  failed_ = true;
  return cause.with_context("log " + dir_ + " failed (reopen to recover)");
}

Status Log::sync() {
  SLUICE_TRY(check_usable());
  Segment& active = segments_.back();
  // Planted bug (tests only): claims durability without writing a mark or syncing.
  if (options_.planted_bug == PlantedBug::log_skip_sync) {
    durable_end_offset_ = end_offset();
    return Status();
  }
  // A truncate with no write after it (an undone append, a cut tail) needs the fsync too: a sealed
  // segment must never regain bytes after a crash.
  if (active_dirty_ || synced_bytes_ != active.index.data_bytes) {
    const std::string path = data_path(active.index.base_offset);
    // The mark goes first and the fsync covers it too: when sync returns, the mark is exact. A
    // crash before the fsync completes may keep the new mark without the data on a real disk;
    // recovery tells that apart (the data is cut short, not damaged) using the older mark.
    const SegmentMark mark{mark_sequence_ + 1, active.index.base_offset, active.prev_term, active.index.data_bytes};
    Status status;  // (the BUGGIFY site below stays on its line: sites are keyed by file and line)
    // BUGGIFY: the new mark is written, the fsync not started: a crash here keeps the mark or not,
    // with or without the data it covers (recovery tells these apart using the older mark).
    if (options_.buggify_runtime != nullptr && SLUICE_BUGGIFY(*options_.buggify_runtime)) {
      SLUICE_COVER("log.sync_paused");
      status = write_mark(*active.file, path, mark);
      if (status.ok()) {
        const runtime::Status slept = options_.buggify_runtime->sleep_for(std::chrono::milliseconds(2));
        if (!slept.ok()) return from_runtime(slept, path);
        status = timed_fsync(*active.file, path);
      }
    } else {
      // Mark and fsync in one step (one file-worker job in the epoll runtime).
      status = timed_write_and_fsync(*active.file, path, mark_slot_position(mark.sequence), encode_mark(mark));
    }
    // After a failed fsync the kernel may have dropped the dirty pages: nothing is known.
    if (!status.ok()) return fail(status);
    mark_sequence_ = mark.sequence;
    if (mark.synced_bytes > synced_bytes_) ++preallocation_.syncs;  // a sync of appended data
    synced_bytes_ = mark.synced_bytes;
    active_dirty_ = false;
  }
  durable_end_offset_ = end_offset();
  return Status();
}

// Runs `sync_fn` (an fsync, maybe with a write before it), timed for LogOptions::sync_stats (failed
// ones too: a disk in trouble shows in the latency before it fails).
template <typename SyncFn>
Status Log::timed(const std::string& path, SyncFn&& sync_fn) {
  if (options_.sync_stats == nullptr) return from_runtime(sync_fn(), path);
  const runtime::Instant started = options_.clock->now();
  const runtime::Status synced = sync_fn();
  options_.sync_stats->record(options_.clock->now() - started);
  return from_runtime(synced, path);
}

// The fsync appends wait on.
Status Log::timed_fsync(runtime::File& file, const std::string& path) {
  return timed(path, [&file] { return file.sync(); });
}

// The mark's write and the fsync as one step; the time recorded includes the write (a page-cache
// copy of a few dozen bytes next to the fsync).
Status Log::timed_write_and_fsync(runtime::File& file, const std::string& path, uint64_t offset, ByteSpan bytes) {
  return timed(path, [&file, offset, bytes] { return file.write_at_and_sync(offset, bytes); });
}

void SyncStats::record(runtime::Duration took) {
  const auto took_ns = static_cast<uint64_t>(std::max<int64_t>(0, runtime::to_ns(took)));
  ++syncs;
  sync_ns_total += took_ns;
  for (size_t i = 0; i < kSyncLatencyBuckets; ++i) {
    if (took_ns <= kSyncLatencyBoundsNs[i]) {
      ++syncs_by_bucket[i];
      break;
    }
  }
}

Status Log::roll() {
  SLUICE_TRY(check_usable());
  if (segments_.back().index.empty()) return Status();
  roll_requested_ = true;  // maybe_roll clears it again when it is the one rolling
  if (segments_.size() >= options_.segments_max) {
    return Status(Errc::limit_exceeded, "log " + dir_ + " has segments_max " + std::to_string(options_.segments_max) + " segments");
  }
  // The sealed segment is entirely durable before any later segment can exist: recovery relies
  // on it to treat every segment but the last as synced.
  SLUICE_TRY(sync());
  SLUICE_TRY(cut_preallocated(segments_.back()));
  const SegmentIndex& sealed = segments_.back().index;
  // The index file is a cache: if it cannot be written it is rebuilt from the data when needed.
  (void)write_index_file(fs_, dir_, sealed);
  const uint64_t base_offset = sealed.end_offset;
  const uint64_t prev_term = last_term();
  Result<std::unique_ptr<runtime::File>> created = create_data_file(fs_, dir_, base_offset, prev_term);
  if (!created.ok()) {
    // The old segment stays active and keeps growing: its new index file would go stale, and a
    // leftover empty file would claim offsets the old segment grows into. Either left behind is
    // an unknown state (open() cleans both up).
    const runtime::Status index_removed = fs_.remove(join_path(dir_, index_file_name(sealed.base_offset)));
    runtime::Result<bool> left = fs_.exists(data_path(base_offset));
    if ((!index_removed.ok() && index_removed.code() != runtime::Errc::not_found) || !left.ok() || *left) {
      return fail(created.status());
    }
    return created.status();
  }
  const runtime::Status dir_synced = fs_.sync_dir(dir_);
  if (!dir_synced.ok()) return fail(from_runtime(dir_synced, "sync_dir " + dir_));
  Segment segment;
  segment.index = empty_segment_index(base_offset);
  segment.prev_term = prev_term;
  segment.file = std::move(*created);
  segment.last_used = ++use_counter_;
  segments_.push_back(std::move(segment));
  ++open_files_;
  mark_sequence_ = 1;
  synced_bytes_ = kSegmentHeaderBytes;
  active_dirty_ = false;
  while (open_files_ > options_.open_files_max) close_least_recently_used();
  check_segments();
  return Status();
}

Status Log::close() {
  if (closed_) return Status();
  Status status = failed_ ? Status() : sync();
  if (status.ok() && !failed_ && !segments_.empty()) status = cut_preallocated(segments_.back());
  for (Segment& segment : segments_) {
    if (segment.file) close_file(segment);
  }
  closed_ = true;
  return status;
}

// (Below the sync() BUGGIFY site on purpose: sites are keyed by file and line.)
// Preallocates the active segment's data file a step ahead of the appends
// (LogOptions::preallocate_step_bytes) for a batch of `bytes` about to be written at its end, and
// returns that end. An append inside the preallocated zeros changes no metadata, so its fdatasync
// flushes the data and the sync mark alone (docs/log.md, "Space preallocated ahead"). Only while
// the syncs are small (preallocation_is_worth_it): otherwise the zeros' extra writes cost more
// than the journal commits they save. A full disk only ends the step early: the write itself says
// whether there is room. Any other failure is a failed write or fsync, after which the file's
// unsynced data is unknown: the log fails.
Result<uint64_t> Log::preallocate_for(Segment& active, uint64_t bytes) {
  const uint64_t position = active.index.data_bytes;
  preallocation_.appended_bytes += bytes;
  if (options_.preallocate_step_bytes == 0 || position + bytes <= active.preallocated_to) return position;
  if (!preallocation_is_worth_it()) return position;
  const uint64_t from = std::max(position, active.preallocated_to);
  const uint64_t to = std::min(options_.segment_bytes_max, position + std::max(bytes, options_.preallocate_step_bytes));
  active.preallocated_to = to;  // a failed step is not retried within it
  if (from >= to) return position;
  SLUICE_COVER("log.preallocated");
  const runtime::Status zeroed = active.file->preallocate(from, to - from);
  if (zeroed.code() == runtime::Errc::no_space) SLUICE_COVER("log.preallocate_no_space");
  if (!zeroed.ok() && zeroed.code() != runtime::Errc::no_space) {
    return fail(from_runtime(zeroed, data_path(active.index.base_offset)));
  }
  return position;
}

// Decided from the appends since the last decision: worth it while their syncs covered
// preallocate_sync_bytes_max each or less on average. Zeroing ahead writes every byte twice; each
// fsync it spares a metadata change saves a journal commit (three 4 KiB blocks on ext4) and its
// latency, so it pays for small synchronous appends and not for large batches. Without a sync yet
// there is no evidence: no zeros. Not worth it: the next decision comes after 1/16 of a step more.
bool Log::preallocation_is_worth_it() {
  Preallocation& p = preallocation_;
  if (p.appended_bytes < p.next_decision_bytes) return false;
  const uint64_t syncs = p.syncs - p.decided_at_syncs;
  const uint64_t appended = p.appended_bytes - p.decided_at_bytes;
  p.decided_at_syncs = p.syncs;
  p.decided_at_bytes = p.appended_bytes;
  const bool worth_it = syncs > 0 && appended / syncs <= options_.preallocate_sync_bytes_max;
  p.next_decision_bytes = worth_it ? 0 : p.appended_bytes + options_.preallocate_step_bytes / 16;
  if (!worth_it) SLUICE_COVER("log.preallocate_not_worth_it");
  return worth_it;
}

// A truncate cuts whatever was preallocated past the new end; the next append preallocates again.
runtime::Status Log::truncate_active(Segment& active, uint64_t size_bytes) {
  active.preallocated_to = 0;
  return active.file->truncate(size_bytes);
}

// Before a roll seals the active segment, and at close: the zeros past its data go, and the cut is
// synced, so a sealed segment (and a cleanly closed log) ends exactly where its data ends, the
// same on every replica. A failure leaves the file's length unknown: the log fails.
Status Log::cut_preallocated(Segment& active) {
  if (active.preallocated_to <= active.index.data_bytes) return Status();
  const std::string path = data_path(active.index.base_offset);
  runtime::Status cut = truncate_active(active, active.index.data_bytes);
  if (cut.ok()) cut = active.file->sync();
  if (!cut.ok()) return fail(from_runtime(cut, path));
  return Status();
}

}  // namespace sluice::log
