// The real-fault harness's workload (docs/realfault.md, "Workload"): the real client library on
// the epoll runtime, in a thread of the harness. It waits for every node's /readyz, creates the
// topic, runs idempotent producers of unique records and consumers reading every partition from
// offset 0, and records what they are told and read into a HistoryRecorder (the simulation's
// partition ledger). After the harness heals the cluster each producer sends a probe record that
// must be acknowledged, and the workload waits (bounded) until every record is delivered or failed
// for good, every replica of every partition reports one end offset, every consumer has read to
// it, and every partition has a leader and its full replica count.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/runtime.h"
#include "tests/e2e/realfault/history.h"

namespace sluice::realfault {

namespace rt = sluice::runtime;

struct WorkloadConfig {
  std::vector<rt::Address> brokers;  // every node's HTTP API
  std::string topic = "events";
  uint32_t partitions = 3;
  uint32_t replication = 3;
  int64_t segment_bytes = 64 * 1024;  // small: a short run seals segments to compare
  int producers = 2;
  int consumers = 2;
  int64_t think_ms_max = 20;
  int64_t payload_bytes_max = 200;
  rt::Duration request_timeout = std::chrono::seconds(3);
  rt::Duration delivery_timeout = std::chrono::seconds(60);  // then a record fails for good
  rt::Duration ready_timeout = std::chrono::seconds(60);
  rt::Duration converge_timeout = std::chrono::seconds(90);
};

// What the harness thread and the workload's thread share; only atomics cross.
inline constexpr size_t kLeadersWatchedMax = 16;  // partitions whose leader the workload reports

struct WorkloadControl {
  enum Phase : int { starting, running, healed, done };
  std::atomic<int> phase{starting};      // running: set by the workload; healed: by the harness
  std::atomic<bool> abort{false};        // the harness gives up (a signal, an error)
  std::atomic<bool> setup_failed{false};
  // The leader of partition p as the workload last saw it (0: unknown), for faults that target one.
  std::atomic<uint64_t> leaders[kLeadersWatchedMax] = {};
};

struct WorkloadOutcome {
  std::string error;       // setup failed, or what convergence still waited for at its deadline
  bool converged = false;
  double converge_s = 0;   // from healed to converged
  uint64_t records_sent = 0;
  uint64_t deliveries_failed = 0;
  uint64_t producer_retries = 0;
  uint64_t duplicates_answered = 0;  // retries the server recognised (idempotence at work)
  uint64_t topic_id = 0;
  std::vector<std::vector<uint64_t>> replicas;  // per partition: its nodes, at convergence
};

// Runs the workload on a fresh epoll runtime until it converges, its deadline passes or
// `control.abort`; blocks the calling thread (the harness runs it on its own thread).
WorkloadOutcome run_workload(const WorkloadConfig& config, HistoryRecorder& history, WorkloadControl& control);

}  // namespace sluice::realfault
