// `sluice produce` and `sluice consume`.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>

#include "client/cli/command_context.h"
#include "client/cli/format.h"
#include "client/consumer.h"
#include "client/producer.h"

namespace sluice::client::cli {

namespace {

using Json = nlohmann::json;

// A produce request, or a fetch, takes at most this (or --timeout when it is shorter): a leader
// that does not answer is given up sooner than the whole command.
constexpr rt::Duration kRequestTimeoutMax = std::chrono::seconds(10);

// What became of the records of one produce.
struct ProduceTally {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t failed = 0;
  Status first_error;
  std::map<uint64_t, uint64_t> line_of;  // record id -> input line, for --json reports

  void on_delivery(const Delivery& delivery, std::ostream* json_out) {
    const auto line = line_of.find(delivery.record_id);
    if (delivery.status.ok()) {
      ++acked;
    } else if (++failed == 1) {
      first_error = delivery.status;
    }
    if (json_out != nullptr) {
      Json report{{"line", line == line_of.end() ? 0 : line->second}};
      if (delivery.status.ok()) {
        report["partition"] = delivery.partition.partition;
        report["offset"] = delivery.offset;
      } else {
        report["error"] = {{"code", to_string(delivery.status.code())}, {"message", delivery.status.message()}};
      }
      // Flushed a line at a time: a script reading the reports sees each as its record is decided.
      *json_out << report.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n" << std::flush;
    }
    if (line != line_of.end()) line_of.erase(line);
  }
};

Result<OutRecord> record_of(const ProduceArgs& args, const std::string& line) {
  OutRecord record;
  if (args.format == InputFormat::json) {
    SLUICE_ASSIGN_OR_RETURN(record, record_from_json_line(line));
  } else {
    record.value = to_bytes(line);
  }
  if (args.key && !record.key) record.key = to_bytes(*args.key);
  if (args.partition && !record.partition) record.partition = *args.partition;
  return record;
}

// Reads the input and sends a record a line; stops at the first line that cannot be sent, or
// with `read_error` set when the input could not be read.
Status send_lines(Context& context, Producer& producer, ProduceTally& tally, std::string& read_error) {
  const ProduceArgs& args = context.command.produce;
  std::string line;
  for (uint64_t number = 1; context.io.input->next(line, read_error); ++number) {
    // Blank lines of ndjson carry nothing (as the server's x-ndjson reader skips them).
    if (args.format == InputFormat::json && line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Result<OutRecord> record = record_of(args, line);
    if (!record.ok()) return record.status().with_context("line " + std::to_string(number));
    Result<uint64_t> id = producer.send(args.topic, std::move(*record), context.deadline());
    if (!id.ok()) return id.status().with_context("line " + std::to_string(number));
    ++tally.sent;
    if (context.json()) tally.line_of[*id] = number;
  }
  return Status();
}

ProducerConfig producer_config(const Context& context) {
  ProducerConfig config;
  config.request_timeout = std::min<rt::Duration>(kRequestTimeoutMax, context.timeout());
  // --timeout bounds a record's delivery too: a cluster that cannot take it fails it, not hangs.
  config.limits.delivery_timeout = std::max<rt::Duration>(context.timeout(), config.request_timeout);
  return config;
}

}  // namespace

int run_produce(Context& context) {
  const std::string what = "produce " + context.command.produce.topic;
  Producer producer(context.client, producer_config(context));
  ProduceTally tally;
  std::ostream* json_out = context.json() ? &context.out() : nullptr;
  producer.on_delivery([&](const Delivery& delivery) { tally.on_delivery(delivery, json_out); });
  if (Status started = producer.start(); !started.ok()) {
    producer.close(context.runtime().now());
    return context.fail(what, started);
  }
  ProgressLine progress(context, [&] {
    return "sluice: produce: sent=" + std::to_string(tally.sent) + " acked=" + std::to_string(tally.acked) +
           " failed=" + std::to_string(tally.failed);
  });
  std::string read_error;
  const Status sent = send_lines(context, producer, tally, read_error);
  // Every record sent has a delivery deadline of --timeout; this waits a little past it so each
  // gets its own verdict rather than `closed`.
  const Status flushed = producer.flush(context.runtime().now() + 2 * producer_config(context).limits.delivery_timeout);
  producer.close(context.runtime().now());
  progress.stop();
  context.out().flush();
  if (!sent.ok()) return context.fail(what, sent);
  if (!read_error.empty()) {
    context.err() << "sluice: " << what << ": reading the input: " << read_error << "\n";
    return kExitFailed;
  }
  if (tally.failed > 0) {
    return context.fail(what, tally.first_error.with_context(std::to_string(tally.failed) + " of " + std::to_string(tally.sent) +
                                                             " records failed, the first"));
  }
  if (!flushed.ok()) return context.fail(what, flushed);
  if (context.io.err_is_terminal) context.err() << "sluice: produced " << tally.acked << " records to " << context.command.produce.topic << "\n";
  return kExitOk;
}

namespace {

struct ConsumeState {
  std::vector<uint32_t> partitions;
  uint64_t printed = 0;
};

Status assign(Context& context, Consumer& consumer, ConsumeState& state) {
  const ConsumeArgs& args = context.command.consume;
  SLUICE_ASSIGN_OR_RETURN(TopicInfo topic, context.client.describe_topic(args.topic));
  if (args.partition && *args.partition >= topic.partitions.size()) {
    return Status(Errc::unknown_partition, "the topic has " + std::to_string(topic.partitions.size()) + " partitions");
  }
  for (uint32_t partition = 0; partition < topic.partitions.size(); ++partition) {
    if (args.partition && partition != *args.partition) continue;
    SLUICE_TRY(consumer.assign(args.topic, partition, args.from));
    state.partitions.push_back(partition);
  }
  return Status();
}

void report_gaps(Context& context, const std::vector<Gap>& gaps) {
  for (const Gap& gap : gaps) {
    context.err() << "sluice: consume " << gap.topic << ": partition " << gap.partition << ": offsets " << gap.from << " to " << gap.to
                  << " were removed by retention before they were read\n";
  }
}

}  // namespace

bool caught_up(const Consumer& consumer, const std::string& topic, const std::vector<uint32_t>& partitions) {
  return std::all_of(partitions.begin(), partitions.end(), [&](uint32_t partition) {
    const std::optional<uint64_t> position = consumer.position(topic, partition);
    const std::optional<uint64_t> end = consumer.high_watermark(topic, partition);
    return position && end && *position >= *end;
  });
}

int run_consume(Context& context) {
  const ConsumeArgs& args = context.command.consume;
  const std::string what = "consume " + args.topic;
  ConsumerConfig config;
  config.request_timeout = std::min<rt::Duration>(kRequestTimeoutMax, context.timeout());
  config.confirm_high_watermark = !args.follow;  // stopping at the end needs the true end
  Consumer consumer(context.client, config);
  ConsumeState state;
  if (Status assigned = assign(context, consumer, state); !assigned.ok()) return context.fail(what, assigned);
  rt::Instant progressed_at = context.runtime().now();
  while (!args.count || state.printed < *args.count) {
    Result<PollResult> polled = consumer.poll(context.deadline());
    if (!polled.ok()) return context.fail(what, polled.status());
    report_gaps(context, polled->gaps);
    if (!polled->records.empty()) progressed_at = context.runtime().now();
    // Reading to the end must end: a partition that stays unreachable is an error after --timeout.
    if (!args.follow && context.runtime().now() - progressed_at > context.timeout()) return context.fail(what, not_caught_up(context));
    for (const ConsumedRecord& record : polled->records) {
      if (args.count && state.printed == *args.count) break;
      context.out() << render_record(args.format, record);
      ++state.printed;
    }
    context.out().flush();  // a pipe reader sees records as they come
    if (!args.follow && caught_up(consumer, args.topic, state.partitions)) break;
  }
  return kExitOk;
}

}  // namespace sluice::client::cli
