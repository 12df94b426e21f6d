// Partition log throughput on the real file system (EpollRuntime, data directory under $TMPDIR or
// /tmp): appends of 1 KiB records in batches of 1, 10, 100 and 1000 records, with a sync after
// every batch and without, and sequential reads. Each append benchmark then writes the same bytes
// in the same pattern straight to a file through the same runtime (write_at, plus sync() where
// the log synced): the raw baseline, so append_vs_raw_ratio shows what the log itself costs
// (batch CRC check, index upkeep, the sync mark written before every fsync, segment rolls).
//
// Without sync the log still pays one fsync per segment roll (128 MiB by default): every segment
// but the active one is durable, which recovery relies on. The raw file never syncs then.
//
// Besides the usual table, the figures are printed as key=value lines after all runs:
//   log.<records>_records.<sync|nosync>.append_mb_s=  .raw_mb_s=  .append_vs_raw_ratio=
//   log.read.read_mb_s=
#include <benchmark/benchmark.h>

#include "bench/bench_dir.h"
#include "bench/bench_median.h"
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "node/log/log.h"
#include "runtime/epoll/epoll_runtime.h"

namespace sluice::log {
namespace {

constexpr size_t kRecordBytes = 1024;
constexpr size_t kEncodeAheadBatches = 64;  // batches encoded per pause of the timer
constexpr size_t kReadDataBytes = 32 << 20;

using ::sluice::bench::BenchDir;
using ::sluice::bench::median_run;

// Figures of every run of each pattern (the framework runs a benchmark a few times to size it,
// and --benchmark_repetitions more), printed once all benchmarks are done: the run with the
// median ratio (for reads, the median rate) among the runs of the final size.
struct PatternFigures {
  int64_t iterations = 0;
  double append_mb_s = 0;
  double raw_mb_s = 0;
  double ratio() const { return raw_mb_s > 0 ? append_mb_s / raw_mb_s : 0; }
};
std::map<std::string, std::vector<PatternFigures>>& append_figures() {
  static std::map<std::string, std::vector<PatternFigures>> figures;
  return figures;
}
std::vector<PatternFigures>& read_figures() {
  static std::vector<PatternFigures> figures;  // append_mb_s holds the read rate
  return figures;
}

void print_figures() {
  for (const auto& [pattern, runs] : append_figures()) {
    const PatternFigures f = median_run(runs, [](const PatternFigures& run) { return run.ratio(); });
    std::printf("log.%s.append_mb_s=%.2f\nlog.%s.raw_mb_s=%.2f\nlog.%s.append_vs_raw_ratio=%.3f\n", pattern.c_str(), f.append_mb_s,
                pattern.c_str(), f.raw_mb_s, pattern.c_str(), f.ratio());
  }
  if (!read_figures().empty()) {
    const PatternFigures f = median_run(read_figures(), [](const PatternFigures& run) { return run.append_mb_s; });
    std::printf("log.read.read_mb_s=%.2f\n", f.append_mb_s);
  }
}

// Runs `body` as the main fiber of a fresh epoll runtime on a fresh directory.
void with_runtime(benchmark::State& state, const std::function<runtime::Status(runtime::Runtime&)>& body) {
  // The figures' storage is built first, so it is still alive when print_figures runs at exit.
  static const bool registered = (append_figures(), read_figures(), std::atexit(print_figures) == 0);
  (void)registered;
  BenchDir dir("sluice-log-bench");
  auto rt = runtime::epoll::EpollRuntime::create({.data_dir = dir.path()});
  if (dir.path().empty() || !rt.ok()) {
    state.SkipWithError("cannot create the runtime or its directory");
    return;
  }
  runtime::Status result;
  const runtime::Status ran = (*rt)->run([&] { result = body(**rt); });
  if (!ran.ok() || !result.ok()) state.SkipWithError((ran.ok() ? result : ran).to_string().c_str());
}

runtime::Status as_runtime(const Status& status) {
  return status.ok() ? runtime::Status() : runtime::Status(runtime::Errc::io_error, status.to_string());
}

std::vector<Bytes> encode_batches(uint64_t base_offset, size_t count, size_t records) {
  const std::string value(kRecordBytes, 'v');
  const std::vector<Record> batch(records, Record{1'700'000'000'000, ByteSpan(), as_bytes(value), {}});
  std::vector<Bytes> batches;
  for (size_t i = 0; i < count; ++i) batches.push_back(*encode_batch(base_offset + i * records, 1, batch));
  return batches;
}

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// Appends pre-encoded batches (the replication path: the log checks each batch's CRC and offsets,
// then writes it) and, in the same iteration, writes the same bytes to a plain file at the next
// offset (the raw baseline); with `sync`, each is followed by its sync. Alternating which goes
// first, and timing each on its own, puts both under the same disk and machine conditions.
runtime::Status append_pattern(benchmark::State& state, runtime::Runtime& rt, size_t records, bool sync) {
  Result<std::unique_ptr<Log>> log = Log::open(rt.fs(), "log", LogOptions{});
  if (!log.ok()) return as_runtime(log.status());
  SLUICE_ASSIGN_OR_RETURN(auto raw, rt.fs().open("raw", runtime::OpenMode::create_new));
  std::vector<Bytes> ahead;
  size_t next = 0;
  uint64_t bytes = 0;
  Seconds log_time{0}, raw_time{0};
  for (auto _ : state) {
    if (next == ahead.size()) {
      state.PauseTiming();
      ahead = encode_batches((*log)->end_offset(), kEncodeAheadBatches, records);
      next = 0;
      state.ResumeTiming();
    }
    const Bytes& batch = ahead[next++];
    for (int turn = 0; turn < 2; ++turn) {
      const bool log_turn = (turn == 0) == (state.iterations() % 2 == 0);
      const auto start = Clock::now();
      if (log_turn) {
        if (Status appended = (*log)->append(batch).status(); !appended.ok()) return as_runtime(appended);
        if (Status synced = sync ? (*log)->sync() : Status(); !synced.ok()) return as_runtime(synced);
        log_time += Clock::now() - start;
      } else {
        SLUICE_TRY(raw->write_at(bytes, batch));
        if (sync) SLUICE_TRY(raw->sync());
        raw_time += Clock::now() - start;
      }
    }
    bytes += batch.size();
  }
  if (Status closed = (*log)->close(); !closed.ok()) return as_runtime(closed);
  const double append = static_cast<double>(bytes) / log_time.count() / 1e6;
  const double raw_mb_s = static_cast<double>(bytes) / raw_time.count() / 1e6;
  state.SetBytesProcessed(static_cast<int64_t>(2 * bytes));  // log and raw
  state.counters["append_mb_s"] = append;
  state.counters["raw_mb_s"] = raw_mb_s;
  state.counters["append_vs_raw_ratio"] = append / raw_mb_s;
  append_figures()[std::to_string(records) + "_records." + (sync ? "sync" : "nosync")].push_back(
      {static_cast<int64_t>(state.iterations()), append, raw_mb_s});
  return runtime::Status();
}

void BM_LogAppend(benchmark::State& state) {
  const auto records = static_cast<size_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  with_runtime(state, [&](runtime::Runtime& rt) { return append_pattern(state, rt, records, sync); });
}
BENCHMARK(BM_LogAppend)
    ->ArgNames({"records", "sync"})
    ->ArgsProduct({{1, 10, 100, 1000}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Sequential reads of read_bytes_max-sized chunks over a log of kReadDataBytes (written and
// synced first, so from the page cache: this is the log's own cost, not the disk's).
runtime::Status read_pattern(benchmark::State& state, runtime::Runtime& rt) {
  LogOptions options;
  options.read_bytes_max = 1 << 20;
  Result<std::unique_ptr<Log>> log = Log::open(rt.fs(), "log", options);
  if (!log.ok()) return as_runtime(log.status());
  for (const Bytes& batch : encode_batches(0, kReadDataBytes / (100 * kRecordBytes), 100)) {
    if (Status appended = (*log)->append(batch).status(); !appended.ok()) return as_runtime(appended);
  }
  if (Status synced = (*log)->sync(); !synced.ok()) return as_runtime(synced);
  uint64_t offset = 0, bytes = 0;
  const auto start = Clock::now();
  for (auto _ : state) {
    if (offset == (*log)->end_offset()) offset = 0;
    Result<ReadResult> read = (*log)->read(offset, options.read_bytes_max);
    if (!read.ok()) return as_runtime(read.status());
    offset = read->next_offset;
    bytes += read->batches.size();
  }
  const double read_mb_s = static_cast<double>(bytes) / Seconds(Clock::now() - start).count() / 1e6;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["read_mb_s"] = read_mb_s;
  read_figures().push_back({static_cast<int64_t>(state.iterations()), read_mb_s, 0});
  return runtime::Status();
}

void BM_LogRead(benchmark::State& state) {
  with_runtime(state, [&](runtime::Runtime& rt) { return read_pattern(state, rt); });
}
BENCHMARK(BM_LogRead)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::log
