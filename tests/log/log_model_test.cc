// Model-based property test: random sequences of appends (good and bad), reads, suffix and
// prefix truncation, rolls, retention, syncs, clean close + reopen and crash + reopen, run against
// the Log on a simulated disk and against an in-memory model (a list of batches). After a crash
// the log must be a prefix of the model that keeps everything synced; the model then adopts it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>
#include <tuple>

#include "node/log/retention.h"
#include "tests/log/log_rig.h"
#include "tests/testing/rapidcheck_floor.h"

namespace sluice::log::testing {
namespace {

using sluice::testing::check_at_least;

constexpr int kCasesMin = 300;  // per default run; RC_PARAMS=max_success=N asks for more

struct ModelBatch {
  uint64_t base_offset = 0;
  uint64_t next_offset = 0;
  uint64_t term = 0;
  Bytes bytes;
};

struct Model {
  std::vector<ModelBatch> batches;
  uint64_t start_offset = 0;
  uint64_t end_offset = 0;
  uint64_t durable_end_offset = 0;  // everything before it was synced
  uint64_t prev_term = 0;           // term before start_offset
  int64_t clock_ms = 1'700'000'000'000;

  uint64_t last_term() const { return batches.empty() ? prev_term : batches.back().term; }
  // Drops batches at or after `offset` (a batch boundary or the end).
  void cut_suffix(uint64_t offset) {
    while (!batches.empty() && batches.back().base_offset >= offset) batches.pop_back();
    end_offset = offset;
    durable_end_offset = std::min(durable_end_offset, offset);
  }
  void cut_prefix(uint64_t offset) {
    while (!batches.empty() && batches.front().base_offset < offset) {
      prev_term = batches.front().term;
      batches.erase(batches.begin());
    }
    start_offset = offset;
  }
  size_t batch_holding(uint64_t offset) const {
    return static_cast<size_t>(std::upper_bound(batches.begin(), batches.end(), offset,
                                                [](uint64_t o, const ModelBatch& b) { return o < b.base_offset; }) -
                               batches.begin()) - 1;
  }
};

using Op = std::tuple<uint8_t, uint64_t, uint64_t>;  // kind, two parameters

LogOptions model_options() {
  LogOptions options = small_options();
  options.open_files_max = 3;  // fewer than the segments: exercises closing and reloading
  return options;
}

class Harness {
 public:
  explicit Harness(uint64_t seed) : rig(disk_config(), seed), seed_(seed) { reopen(); }

  void run(const Op& op) {
    const auto [kind, a, b] = op;
    switch (kind % 20) {
      case 0: case 1: case 2: case 3: case 4: case 5: case 6: append(a, b); break;
      case 7: case 8: case 9: read(a, b); break;
      case 10: truncate_suffix(a); break;
      case 11: truncate_prefix(a); break;
      case 12: RC_ASSERT(log->roll().ok()); break;
      case 13: retention(a, b); break;
      case 14: sync(); break;
      case 15: close_and_reopen(); break;
      case 16: crash_and_reopen(a); break;
      case 17: bad_append(a); break;
      default: lookups(a); break;
    }
    check_shape();
  }

  // Reads the whole log back and compares it with the model.
  void check_contents() {
    uint64_t offset = model.start_offset;
    size_t next = 0;
    while (offset < model.end_offset) {
      Result<ReadResult> read = log->read(offset, 1500);
      RC_ASSERT(read.ok());
      Result<std::vector<ByteSpan>> split = split_batches(read->batches);
      RC_ASSERT(split.ok());
      for (ByteSpan batch : *split) {
        RC_ASSERT(next < model.batches.size());
        RC_ASSERT(Bytes(batch.begin(), batch.end()) == model.batches[next++].bytes);
      }
      offset = read->next_offset;
    }
    RC_ASSERT(next == model.batches.size());
  }

  DiskRig rig;
  std::unique_ptr<Log> log;
  Model model;
  // What the case reached, so the printed distribution shows the ops got somewhere.
  size_t segments_max_seen = 0;
  bool tail_cut = false;
  bool prefix_cut = false;

 private:
  static sim::DiskConfig disk_config() {
    sim::DiskConfig config;
    config.sector_bytes = 64;  // tears inside batches
    return config;
  }

  void reopen() {
    Result<std::unique_ptr<Log>> opened = Log::open(*rig.fs, "p", model_options());
    if (!opened.ok()) RC_FAIL("open: " + opened.status().to_string());
    log = std::move(*opened);
  }

  void append(uint64_t a, uint64_t b) {
    const uint64_t term = std::max<uint64_t>(1, model.last_term() + (a % 9 == 0 ? 1 : 0));
    model.clock_ms += static_cast<int64_t>(b % 400);
    Bytes batch = make_batch(model.end_offset, term, 1 + static_cast<uint32_t>(a % 5), model.clock_ms, (b >> 16) % 300, a);
    Result<AppendResult> appended = log->append(batch);
    if (!appended.ok()) RC_FAIL("append: " + appended.status().to_string());
    RC_ASSERT(appended->base_offset == model.end_offset);
    const BatchHeader header = *verify_batch(batch);
    model.batches.push_back({header.base_offset, header.next_offset(), term, std::move(batch)});
    model.end_offset = header.next_offset();
  }

  void bad_append(uint64_t a) {
    Bytes batch;
    Errc expected = Errc::offset_mismatch;
    switch (a % 3) {
      case 0: batch = make_batch(model.end_offset + 1 + a % 3, model.last_term() + 1, 1, model.clock_ms); break;
      case 1:
        if (model.last_term() < 2) return;
        batch = make_batch(model.end_offset, model.last_term() - 1, 1, model.clock_ms);
        expected = Errc::term_regression;
        break;
      default:
        batch = make_batch(model.end_offset, model.last_term() + 1, 40, model.clock_ms, 100);
        expected = Errc::batch_too_large;
    }
    RC_ASSERT(log->append(batch).code() == expected);
  }

  void read(uint64_t a, uint64_t b) {
    const uint64_t span = model.end_offset - model.start_offset;
    if (a % 10 == 0) {  // outside the log
      const uint64_t outside = a % 20 == 0 ? model.end_offset + 1 : model.start_offset - 1;
      RC_ASSERT(log->read(outside, 100).code() == Errc::offset_out_of_range);
      return;
    }
    const uint64_t from = model.start_offset + a % (span + 1);
    const size_t bytes_max = 1 + b % 3000;
    Result<ReadResult> read = log->read(from, bytes_max);
    if (!read.ok()) RC_FAIL("read: " + read.status().to_string());
    Bytes expected;
    uint64_t next = from;
    if (from < model.end_offset) {
      for (size_t i = model.batch_holding(from); i < model.batches.size(); ++i) {
        const Bytes& batch = model.batches[i].bytes;
        if (!expected.empty() && expected.size() + batch.size() > bytes_max) break;
        expected.insert(expected.end(), batch.begin(), batch.end());
        next = model.batches[i].next_offset;
      }
    }
    RC_ASSERT(read->batches == expected);
    RC_ASSERT(read->next_offset == next);
  }

  void truncate_suffix(uint64_t a) {
    if (model.batches.empty()) return;
    const ModelBatch& batch = model.batches[a % model.batches.size()];
    if (a % 4 == 0 && batch.next_offset - batch.base_offset > 1) {
      RC_ASSERT(log->truncate_suffix(batch.base_offset + 1).code() == Errc::invalid_argument);
      return;
    }
    const uint64_t cut = batch.base_offset;
    const Status status = log->truncate_suffix(cut);
    if (!status.ok()) RC_FAIL("truncate_suffix: " + status.to_string());
    model.cut_suffix(cut);
    model.durable_end_offset = cut;  // durable when it returns
  }

  void truncate_prefix(uint64_t a) {
    const std::vector<SegmentInfo> segments = log->segments();
    const uint64_t cut = segments[a % segments.size()].base_offset;
    const bool boundary = std::any_of(segments.begin(), segments.end(), [&](const SegmentInfo& s) { return s.base_offset == cut + 1; });
    if (a % 5 == 0 && cut + 1 < model.end_offset && !boundary) {
      RC_ASSERT(log->truncate_prefix(cut + 1).code() == Errc::invalid_argument);
      return;
    }
    const Status status = log->truncate_prefix(cut);
    if (!status.ok()) RC_FAIL("truncate_prefix: " + status.to_string());
    prefix_cut = prefix_cut || cut > model.start_offset;
    model.cut_prefix(cut);
  }

  void retention(uint64_t a, uint64_t b) {
    const RetentionPolicy policy{static_cast<int64_t>(a % 20'000), 2'000 + b % 30'000};
    const std::vector<SegmentInfo> segments = log->segments();
    const std::optional<uint64_t> cut = retention_cut(segments, policy, model.clock_ms);
    if (!cut) return;
    RC_ASSERT(log->truncate_prefix(*cut).ok());
    prefix_cut = true;
    model.cut_prefix(*cut);
  }

  void sync() {
    RC_ASSERT(log->sync().ok());
    model.durable_end_offset = model.end_offset;
    RC_ASSERT(log->durable_end_offset() == model.end_offset);
  }

  void close_and_reopen() {
    RC_ASSERT(log->close().ok());
    log.reset();
    model.durable_end_offset = model.end_offset;
    reopen();
    RC_ASSERT(log->recovery().truncated_bytes == 0u);
  }

  // Power loss: anything after the last sync may be lost, as a suffix of whole batches.
  void crash_and_reopen(uint64_t a) {
    log.reset();
    rig.crash(hash_combine(seed_, a));
    reopen();
    tail_cut = tail_cut || log->recovery().truncated_bytes > 0;
    const uint64_t end = log->end_offset();
    RC_ASSERT(end >= model.durable_end_offset);
    RC_ASSERT(end <= model.end_offset);
    // (RC_ASSERT decomposes its expression: || would not short-circuit inside it.)
    const bool on_batch_boundary = end == model.start_offset || end == model.end_offset ||
                                   model.batches[model.batch_holding(end)].base_offset == end;
    RC_ASSERT(on_batch_boundary);
    model.cut_suffix(end);
    model.durable_end_offset = end;  // open() syncs what it recovered
    check_contents();
  }

  void lookups(uint64_t a) {
    if (model.start_offset > 0) RC_ASSERT(*log->term_at(model.start_offset - 1) == model.prev_term);
    RC_ASSERT(log->term_at(model.end_offset).code() == Errc::offset_out_of_range);
    if (model.batches.empty()) return;
    const ModelBatch& batch = model.batches[a % model.batches.size()];
    RC_ASSERT(*log->term_at(batch.next_offset - 1) == batch.term);
  }

  void check_shape() {
    RC_ASSERT(log->start_offset() == model.start_offset);
    RC_ASSERT(log->end_offset() == model.end_offset);
    RC_ASSERT(log->last_term() == model.last_term());
    const std::vector<SegmentInfo> segments = log->segments();
    segments_max_seen = std::max(segments_max_seen, segments.size());
    RC_ASSERT(segments.front().base_offset == model.start_offset);
    for (size_t i = 0; i < segments.size(); ++i) {
      RC_ASSERT(segments[i].size_bytes <= model_options().segment_bytes_max);
      const bool contiguous = i + 1 == segments.size() || (!segments[i].empty() && segments[i + 1].base_offset == segments[i].end_offset);
      RC_ASSERT(contiguous);
    }
    RC_ASSERT(rig.disk.open_files() <= model_options().open_files_max);
  }

  uint64_t seed_;
};

TEST(LogModel, MatchesAnInMemoryModelThroughCrashesAndReopens) {
  check_at_least(kCasesMin, [](uint64_t seed) {
    // Up to ~400 ops as the size grows: enough to fill several segments between crashes.
    const std::vector<Op> ops = *rc::gen::scale(4.0, rc::gen::container<std::vector<Op>>(rc::gen::tuple(
        rc::gen::arbitrary<uint8_t>(), rc::gen::arbitrary<uint64_t>(), rc::gen::arbitrary<uint64_t>())));
    Harness harness(seed);
    for (const Op& op : ops) harness.run(op);
    harness.check_contents();
    harness.run(Op{15, 0, 0});  // close and reopen
    harness.check_contents();
    RC_TAG(harness.segments_max_seen > 3 ? "4+ segments" : "1-3 segments");
    RC_TAG(harness.tail_cut ? "a crash cut a torn or unsynced tail" : "no tail cut");
    RC_TAG(harness.prefix_cut ? "prefix truncated" : "no prefix truncation");
  });
}

}  // namespace
}  // namespace sluice::log::testing
