// `sluice bench produce` and `sluice bench consume`: throughput and per-record latency, measured
// on the runtime's clock (Delivery::enqueued_at to the delivery callback).
#include <algorithm>
#include <memory>
#include <vector>

#include "client/cli/bench_figures.h"
#include "client/cli/command_context.h"
#include "client/consumer.h"
#include "client/producer.h"

namespace sluice::client::cli {

namespace {

// A produce request, or a fetch, takes at most this (or --timeout when it is shorter).
constexpr rt::Duration kRequestTimeoutMax = std::chrono::seconds(10);

struct BenchState {
  ProduceSamples samples;
  uint64_t sent = 0;
  Status first_error;
};

// The topic as it is, or created with the bench's partitions and replication when missing.
Status ensure_topic(Context& context) {
  const BenchProduceArgs& args = context.command.bench_produce;
  Result<TopicInfo> topic = context.client.describe_topic(args.topic);
  if (topic.ok()) return Status();
  if (topic.code() != Errc::unknown_topic) return topic.status();
  Result<TopicInfo> created = context.client.create_topic({args.topic, args.partitions, args.replication, {}});
  // Another bench may have created it meanwhile.
  if (!created.ok() && created.code() != Errc::topic_exists) return created.status();
  return Status();
}

void on_delivery(rt::Runtime& runtime, BenchState& state, const Delivery& delivery) {
  if (!delivery.status.ok()) {
    if (state.samples.records_failed++ == 0) state.first_error = delivery.status;
    return;
  }
  const int64_t latency_us = std::max<int64_t>(0, (runtime.now() - delivery.enqueued_at).count() / 1000);
  state.samples.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(latency_us, UINT32_MAX)));
}

// One producer's share of the records, sent as fast as the buffer takes them (or one at a time
// with --sync), then flushed.
Status send_share(Context& context, Producer& producer, uint64_t records, BenchState& state) {
  const BenchProduceArgs& args = context.command.bench_produce;
  const Bytes value(args.record_bytes, std::byte{'x'});
  for (uint64_t i = 0; i < records; ++i) {
    SLUICE_TRY(producer.send(args.topic, OutRecord{std::nullopt, value, std::nullopt}, context.deadline()).status());
    ++state.sent;
    if (args.sync) SLUICE_TRY(producer.flush(context.deadline()));
  }
  return producer.flush(rt::kInstantMax);
}

ProducerConfig bench_producer_config(const Context& context) {
  ProducerConfig config;
  config.request_timeout = std::min<rt::Duration>(kRequestTimeoutMax, context.timeout());
  config.limits.delivery_timeout = std::max<rt::Duration>(context.timeout(), config.request_timeout);
  const BenchProduceArgs& args = context.command.bench_produce;
  if (args.batch_bytes != 0) {
    config.limits.batch_bytes_max = args.batch_bytes;
    config.limits.buffer_bytes_max = std::max(config.limits.buffer_bytes_max, 4 * args.batch_bytes);
  }
  if (args.in_flight != 0) config.limits.in_flight_per_partition_max = args.in_flight;
  if (args.linger_ms != UINT64_MAX) config.limits.linger = std::chrono::milliseconds(args.linger_ms);
  return config;
}

// Starts `count` producers and runs each one's share on a fiber of its own; returns the first
// error any of them met.
Status run_producers(Context& context, BenchState& state) {
  const BenchProduceArgs& args = context.command.bench_produce;
  std::vector<std::unique_ptr<Producer>> producers;
  Status status;
  for (uint32_t i = 0; i < args.producers && status.ok(); ++i) {
    producers.push_back(std::make_unique<Producer>(context.client, bench_producer_config(context)));
    producers.back()->on_delivery([&](const Delivery& delivery) { on_delivery(context.runtime(), state, delivery); });
    status = producers.back()->start();
  }
  std::vector<Status> outcomes(producers.size());
  std::vector<rt::Task> tasks;
  const rt::Instant started = context.runtime().now();
  for (size_t i = 0; i < producers.size() && status.ok(); ++i) {
    const uint64_t share = args.records / args.producers + (i < args.records % args.producers ? 1 : 0);
    tasks.push_back(context.runtime().spawn("bench-producer", [&, i, share] { outcomes[i] = send_share(context, *producers[i], share, state); }));
  }
  for (rt::Task& task : tasks) (void)task.join();
  state.samples.elapsed = context.runtime().now() - started;
  for (auto& producer : producers) producer->close(context.runtime().now());
  for (const Status& outcome : outcomes) {
    if (status.ok() && !outcome.ok()) status = outcome;
  }
  return status;
}

}  // namespace

int run_bench_produce(Context& context) {
  const BenchProduceArgs& args = context.command.bench_produce;
  const std::string what = "bench produce " + args.topic;
  if (Status ready = ensure_topic(context); !ready.ok()) return context.fail(what, ready);
  BenchState state;
  state.samples.record_bytes = args.record_bytes;
  state.samples.latencies_us.reserve(args.records);
  ProgressLine progress(context, [&] {
    return "sluice: bench: sent=" + std::to_string(state.sent) + "/" + std::to_string(args.records) +
           " acked=" + std::to_string(state.samples.latencies_us.size()) + " failed=" + std::to_string(state.samples.records_failed);
  });
  const Status ran = run_producers(context, state);
  progress.stop();
  if (!ran.ok()) return context.fail(what, ran);
  const Status first_error = state.first_error;
  context.out() << render_figures(produce_figures(std::move(state.samples)), context.json());
  if (!first_error.ok()) return context.fail(what, first_error.with_context("records failed, the first"));
  return kExitOk;
}

int run_bench_consume(Context& context) {
  const BenchConsumeArgs& args = context.command.bench_consume;
  const std::string what = "bench consume " + args.topic;
  Result<TopicInfo> topic = context.client.describe_topic(args.topic);
  if (!topic.ok()) return context.fail(what, topic.status());
  ConsumerConfig config;
  config.request_timeout = std::min<rt::Duration>(kRequestTimeoutMax, context.timeout());
  config.confirm_high_watermark = !args.records;  // stopping at the end needs the true end
  Consumer consumer(context.client, config);
  for (const PartitionInfo& partition : topic->partitions) {
    if (Status assigned = consumer.assign(args.topic, partition.partition, StartAt::earliest()); !assigned.ok()) {
      return context.fail(what, assigned);
    }
  }
  std::vector<uint32_t> partitions;
  for (const PartitionInfo& partition : topic->partitions) partitions.push_back(partition.partition);
  uint64_t records = 0;
  uint64_t bytes = 0;
  ProgressLine progress(context, [&] { return "sluice: bench: records=" + std::to_string(records); });
  const rt::Instant started = context.runtime().now();
  rt::Instant progressed_at = started;
  for (bool done = false; !done;) {
    Result<PollResult> polled = consumer.poll(context.deadline());
    if (!polled.ok()) return context.fail(what, polled.status());
    for (const ConsumedRecord& record : polled->records) {
      ++records;
      bytes += record.value.size() + (record.key ? record.key->size() : 0);
      if (args.records && records == *args.records) break;
    }
    if (!polled->records.empty()) progressed_at = context.runtime().now();
    if (context.runtime().now() - progressed_at > context.timeout()) return context.fail(what, not_caught_up(context));
    done = args.records ? records >= *args.records : caught_up(consumer, args.topic, partitions);
  }
  const rt::Duration elapsed = context.runtime().now() - started;
  progress.stop();
  context.out() << render_figures(consume_figures(records, bytes, elapsed), context.json());
  return kExitOk;
}

}  // namespace sluice::client::cli
