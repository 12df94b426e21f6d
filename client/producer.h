// The buffered producer (issue 14; seed 003): send() puts a record in its partition's send
// buffer and returns at once; a flush fiber cuts batches (client/producer_core.h has the rules)
// and a sender fiber per batch resolves the partition's leader (client/resolver.h), posts the
// batch in the log's format (application/vnd.sluice.batch) and hands the answer back to the core.
// Every record gets exactly one Delivery: its offset after commit, or the error it failed with.
//
// Idempotent by default: start() asks the controller for a producer id; each partition's batches
// carry (id, epoch, sequence), so retries after timeouts, lost connections and leader changes
// never duplicate or reorder a record. A partition whose leader moved stalls alone: the others
// keep flowing, and the topic's metadata is asked for once however many partitions failed.
//
// Partitioner: a record's own partition if given; else by key (partition_for_key, the server's
// function), else round-robin over the topic's partitions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/producer_core.h"
#include "runtime/sync.h"

namespace sluice::client {

struct ProducerConfig {
  ProducerLimits limits;
  // send() on a full buffer: block until space frees (up to its deadline), or fail at once with
  // buffer_full.
  bool block_when_full = true;
  rt::Duration request_timeout = std::chrono::seconds(10);  // one produce request
};

struct OutRecord {
  std::optional<Bytes> key;            // nullopt: unkeyed
  Bytes value;
  std::optional<uint32_t> partition;   // nullopt: the partitioner chooses
};

struct ProducerStats {
  ProducerCoreStats core;
  uint64_t requests = 0;
  uint64_t requests_failed = 0;
  uint64_t route_waits = 0;  // sends that waited for the resolver
};

class Producer {
 public:
  using DeliveryFn = std::function<void(const Delivery&)>;

  Producer(Client& client, ProducerConfig config);
  // close() first (or the runtime's fibers were unwound): asserts no fiber of the producer runs.
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Called for every record once its fate is known, on the producer's flush fiber, in the order
  // deliveries are decided (per partition: send order for acknowledged records).
  void on_delivery(DeliveryFn fn) { on_delivery_ = std::move(fn); }
  // Gets the producer id (idempotent producers) and starts the flush fiber.
  Status start();
  // Buffers `record` for `topic`; its id names it in the Delivery. Blocks up to `deadline` while
  // the buffer is full (block_when_full), or fails with buffer_full.
  Result<uint64_t> send(const std::string& topic, OutRecord record, rt::Instant deadline = rt::kInstantMax);
  // Returns once every record sent before the call is delivered (acknowledged or failed), or
  // with timeout at `deadline`.
  Status flush(rt::Instant deadline);
  // Flushes until `deadline`, then fails what is left with `closed` and stops the fibers.
  void close(rt::Instant deadline);

  ProducerStats stats() const;
  size_t undelivered() const { return core_.undelivered_records(); }

 private:
  void flush_loop();
  void send_batch(const SendJob& job, Bytes batch);
  Result<uint32_t> choose_partition(const std::string& topic, const OutRecord& record, rt::Instant deadline);
  void publish_deliveries();
  void wake() {
    woken_ = true;
    loop_waiters_.wake_all(client_.runtime().scheduler());
  }

  Client& client_;
  ProducerConfig config_;
  ProducerCore core_;
  DeliveryFn on_delivery_;
  bool woken_ = false;      // the flush fiber has something to look at
  rt::WaitList loop_waiters_;
  rt::WaitList space_waiters_;
  rt::WaitList delivered_waiters_;
  rt::Task flush_task_;
  std::vector<rt::Task> senders_;  // running or finished, pruned by the flush fiber
  size_t senders_running_ = 0;
  bool started_ = false;
  bool closing_ = false;
  std::set<uint64_t> undelivered_ids_;  // sent, not delivered: flush() waits on the lowest
  std::map<std::string, uint32_t> round_robin_;
  ProducerStats stats_;
};

}  // namespace sluice::client
