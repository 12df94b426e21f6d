// The `sluice` command line, parsed: the arguments and the environment in, a typed Command (or the
// help text, or a usage error) out. Pure: no I/O, no runtime; sluice_main.cc reads argv and the
// environment, commands.h runs the result.
//
// Shape (rpk / kcat / the nats CLI): `sluice [global flags] GROUP SUBCOMMAND [ARGS] [flags]`, global
// flags anywhere on the line. `--help` (or `-h`) anywhere prints the innermost command's usage.
// Exit codes: 0 ok (and --help), 1 a failed operation, 2 a usage error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/consumer.h"
#include "client/cli/format.h"
#include "runtime/net.h"

namespace sluice::client::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Where the CLI looks when neither --brokers nor SLUICE_BROKERS names a node: the README's first.
inline constexpr std::string_view kBrokersDefault = "127.0.0.1:8080";
inline constexpr std::chrono::milliseconds kTimeoutDefault = std::chrono::seconds(30);
// A bench keeps one latency sample per record (4 bytes): this bounds its memory to 40 MB.
inline constexpr uint64_t kBenchRecordsMax = 10'000'000;
inline constexpr uint32_t kBenchProducersMax = 64;
// Above the server's batch limit a record is refused anyway; this just keeps typos out.
inline constexpr uint64_t kBenchRecordBytesMax = 8 << 20;
inline constexpr uint64_t kBenchBatchBytesMax = 8 << 20;  // the server's fetch_bytes_max

enum class CommandKind : uint8_t {
  topic_create,
  topic_list,
  topic_describe,
  topic_alter,
  topic_delete,
  produce,
  consume,
  cluster_members,
  cluster_metadata,
  cluster_decommission,
  bench_produce,
  bench_consume,
};

struct GlobalOptions {
  std::vector<rt::Address> brokers;  // never empty after parsing
  std::string token;                 // empty: anonymous
  bool json = false;                 // machine output: JSON on stdout
  std::chrono::milliseconds timeout = kTimeoutDefault;
};

struct TopicCreateArgs {
  std::string name;
  uint32_t partitions = 1;
  uint32_t replication = 1;
  TopicConfigValues config;
};

enum class InputFormat : uint8_t { text, json };

struct ProduceArgs {
  std::string topic;
  std::optional<std::string> key;       // every record's key (text input)
  std::optional<uint32_t> partition;    // every record's partition (json lines may name their own)
  InputFormat format = InputFormat::text;
};

struct ConsumeArgs {
  std::string topic;
  StartAt from = StartAt::earliest();
  bool follow = false;                  // wait for new records instead of stopping at the end
  std::optional<uint64_t> count;        // stop after this many records
  std::optional<uint32_t> partition;    // nullopt: every partition
  OutputFormat format;                  // --format (a template, or json); --json means json
};

struct BenchProduceArgs {
  std::string topic = "sluice-bench";
  uint64_t records = 100'000;
  uint64_t record_bytes = 1024;
  uint32_t partitions = 3;   // when the topic is created
  uint32_t replication = 3;  // when the topic is created
  uint32_t producers = 1;    // each on its own fiber with its own Producer
  bool sync = false;         // each producer waits for every record's ack before the next send
  // The producer's settings (client/producer_core.h ProducerLimits); 0: the library's default.
  uint64_t batch_bytes = 0;
  uint32_t in_flight = 0;
  uint64_t linger_ms = UINT64_MAX;  // UINT64_MAX: the default
};

struct BenchConsumeArgs {
  std::string topic = "sluice-bench";
  std::optional<uint64_t> records;  // nullopt: everything up to the end when reading starts
};

struct Command {
  CommandKind kind = CommandKind::topic_list;
  GlobalOptions global;
  // The argument set of `kind` (the others stay default).
  TopicCreateArgs topic_create;
  std::string topic;                 // topic describe | delete | alter, cluster metadata [TOPIC]
  NodeId node = kNoNode;             // cluster decommission
  TopicConfigValues topic_config;    // topic alter
  ProduceArgs produce;
  ConsumeArgs consume;
  BenchProduceArgs bench_produce;
  BenchConsumeArgs bench_consume;
};

// What the environment contributes (the main reads it; tests make it up).
struct Environment {
  std::optional<std::string> brokers;  // SLUICE_BROKERS
  std::optional<std::string> token;    // SLUICE_TOKEN
};

struct ParseResult {
  enum class Outcome : uint8_t { run, help, usage_error };
  Outcome outcome = Outcome::usage_error;
  Command command;   // Outcome::run
  // help: the usage text, for stdout. usage_error: "sluice: <what>" and a line naming the
  // --help to run, for stderr.
  std::string text;

  int exit_code() const { return outcome == Outcome::usage_error ? kExitUsage : kExitOk; }
};

// `args` without the program name.
ParseResult parse_args(const std::vector<std::string>& args, const Environment& environment);

// The usage text of the top level (what `sluice --help` prints).
std::string top_usage();

// "30s", "500ms", "2m", or bare seconds: a positive duration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace sluice::client::cli
