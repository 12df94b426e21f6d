// Produce throughput through one partition replica without replication, on the real runtime
// (EpollRuntime, data directory under $TMPDIR or /tmp): a single-voter Raft group on a RaftHost,
// the Replica on its LogRaftStorage, batches of 100 records of 1 KiB produced one at a time, each
// acknowledged after its entry is durable (one fsync per batch) and applied. In the same
// iteration the same bytes go to a plain Log (append + sync): the baseline, so
// produce_vs_log_ratio shows what the partition adds on top of the log (the producer check, the
// proposal through the host fiber, the leader's restamp, the Raft state file, apply, the reply).
//
// Figures, printed as key=value lines after all runs (median run by ratio):
//   partition.produce_mb_s=  partition.log_append_mb_s=  partition.produce_vs_log_ratio=
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_dir.h"
#include "bench/bench_median.h"
#include "node/log/codec.h"
#include "node/log/log.h"
#include "node/multiraft/host.h"
#include "node/partition/replica.h"
#include "runtime/epoll/epoll_runtime.h"

namespace sluice::partition {
namespace {

namespace rt = runtime;
using ::sluice::bench::BenchDir;
using ::sluice::bench::median_run;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

constexpr size_t kRecordBytes = 1024;
constexpr size_t kRecordsPerBatch = 100;
constexpr GroupId kGroup = 1;
constexpr NodeId kSelf = 1;
constexpr rt::Duration kLeaderWaitMax = std::chrono::seconds(10);

struct Run {
  int64_t iterations = 0;
  double produce_mb_s = 0;
  double log_mb_s = 0;
  double ratio() const { return log_mb_s > 0 ? produce_mb_s / log_mb_s : 0; }
};
std::vector<Run>& runs() {
  static std::vector<Run> figures;
  return figures;
}

void print_figures() {
  if (runs().empty()) return;
  const Run f = median_run(runs(), [](const Run& run) { return run.ratio(); });
  std::printf("partition.produce_mb_s=%.2f\npartition.log_append_mb_s=%.2f\npartition.produce_vs_log_ratio=%.3f\n", f.produce_mb_s,
              f.log_mb_s, f.ratio());
}

rt::Status failed(std::string_view what, const std::string& why) {
  return rt::Status(rt::Errc::io_error, std::string(what) + ": " + why);
}

// One batch as a client encodes it: offsets, term and times are the leader's to stamp.
Bytes client_batch(uint64_t base_offset) {
  const std::string value(kRecordBytes, 'v');
  const std::vector<log::Record> records(kRecordsPerBatch, log::Record{1'700'000'000'000, ByteSpan(), as_bytes(value), {}});
  return *log::encode_batch(base_offset, 1, records);
}

// What the fibers use lives until the runtime has shut them down (after run() returns).
struct Objects {
  std::unique_ptr<multiraft::RaftHost> host;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<log::Log> plain;
};

rt::Status produce_pattern(benchmark::State& state, rt::Runtime& runtime, Objects& objects) {
  multiraft::RaftHostConfig host_config;
  host_config.transport.self = kSelf;
  host_config.transport.port = 0;  // no peers: nothing connects to it
  objects.host = std::make_unique<multiraft::RaftHost>(runtime, host_config);
  multiraft::RaftHost& host = *objects.host;
  SLUICE_TRY(host.start());
  ReplicaConfig config;
  config.partition = PartitionId{1, 0};
  config.group = kGroup;
  config.dir = "partition";
  config.raft.id = kSelf;
  config.storage.bootstrap.voters.insert(kSelf);
  Result<std::unique_ptr<Replica>> opened = Replica::open(runtime, host, config);
  if (!opened.ok()) return failed("opening the replica", opened.status().to_string());
  objects.replica = std::move(opened).value();
  Replica* replica = objects.replica.get();
  const rt::Instant deadline = runtime.now() + kLeaderWaitMax;
  while (!replica->is_leader()) {
    if (runtime.now() > deadline) return failed("election", "no leader");
    SLUICE_TRY(runtime.sleep_for(std::chrono::milliseconds(5)));
  }
  log::Result<std::unique_ptr<log::Log>> opened_log = log::Log::open(runtime.fs(), "log", log::LogOptions{});
  if (!opened_log.ok()) return failed("opening the log", opened_log.status().to_string());
  objects.plain = std::move(opened_log).value();
  log::Log* plain = objects.plain.get();

  uint64_t bytes = 0;
  Seconds produce_time{0}, log_time{0};
  for (auto _ : state) {
    state.PauseTiming();
    Bytes produced = client_batch(0);
    const Bytes appended = client_batch(plain->end_offset());
    state.ResumeTiming();
    for (int turn = 0; turn < 2; ++turn) {
      const bool produce_turn = (turn == 0) == (state.iterations() % 2 == 0);
      const auto start = Clock::now();
      if (produce_turn) {
        Result<ProduceReply> reply = replica->produce(std::move(produced), runtime.now() + std::chrono::seconds(10));
        if (!reply.ok()) return failed("produce", reply.status().to_string());
        produce_time += Clock::now() - start;
      } else {
        if (log::Status status = plain->append(appended).status(); !status.ok()) return failed("append", status.to_string());
        if (log::Status status = plain->sync(); !status.ok()) return failed("sync", status.to_string());
        log_time += Clock::now() - start;
      }
    }
    bytes += appended.size();
  }
  (void)plain->close();
  (void)replica->close();
  const double produce_mb_s = static_cast<double>(bytes) / produce_time.count() / 1e6;
  const double log_mb_s = static_cast<double>(bytes) / log_time.count() / 1e6;
  state.SetBytesProcessed(static_cast<int64_t>(2 * bytes));
  state.counters["produce_mb_s"] = produce_mb_s;
  state.counters["log_append_mb_s"] = log_mb_s;
  state.counters["produce_vs_log_ratio"] = produce_mb_s / log_mb_s;
  runs().push_back({static_cast<int64_t>(state.iterations()), produce_mb_s, log_mb_s});
  return rt::Status();
}

void BM_PartitionProduce(benchmark::State& state) {
  static const bool registered = (runs(), std::atexit(print_figures) == 0);
  (void)registered;
  BenchDir dir("sluice-partition-bench");
  auto runtime = rt::epoll::EpollRuntime::create({.data_dir = dir.path()});
  if (dir.path().empty() || !runtime.ok()) {
    state.SkipWithError("cannot create the runtime or its directory");
    return;
  }
  Objects objects;  // after the runtime: destroyed before it, once its fibers are gone
  rt::Status result;
  const rt::Status ran = (*runtime)->run([&] { result = produce_pattern(state, **runtime, objects); });
  if (!ran.ok() || !result.ok()) state.SkipWithError((ran.ok() ? result : ran).to_string().c_str());
}
BENCHMARK(BM_PartitionProduce)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sluice::partition
