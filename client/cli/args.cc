#include "client/cli/args.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <span>

namespace sluice::client::cli {

namespace {

struct FlagSpec {
  std::string_view name;        // with its dashes
  std::string_view value_name;  // empty: a switch
  std::string_view help;
};

struct CommandSpec {
  std::string_view path;  // "topic create"
  CommandKind kind;
  std::string_view positionals;  // for the usage line: "TOPIC", "[TOPIC]"
  size_t positional_min;
  size_t positional_max;
  std::string_view summary;
  std::vector<FlagSpec> flags;
  std::string_view example;
};

const std::vector<FlagSpec>& global_flags() {
  static const std::vector<FlagSpec> flags = {
      {"--brokers", "HOST:PORT,...", "nodes to start from (env SLUICE_BROKERS; default 127.0.0.1:8080)"},
      {"--token", "TOKEN", "bearer token (env SLUICE_TOKEN; default: anonymous)"},
      {"--json", "", "machine output: JSON on stdout"},
      {"--timeout", "DURATION", "one call's time limit: 500ms, 10s, 2m (default 30s)"},
  };
  return flags;
}

const std::vector<FlagSpec> kTopicConfigFlags = {
    {"--retention-ms", "MS", "records older than this are removed (-1: forever)"},
    {"--retention-bytes", "BYTES", "a partition's log is cut to this size (-1: unbounded)"},
    {"--segment-bytes", "BYTES", "segment roll size"},
};

std::vector<FlagSpec> with_config_flags(std::vector<FlagSpec> flags) {
  flags.insert(flags.end(), kTopicConfigFlags.begin(), kTopicConfigFlags.end());
  return flags;
}

const std::vector<CommandSpec>& commands() {
  static const std::vector<CommandSpec> specs = {
      {"topic create", CommandKind::topic_create, "TOPIC", 1, 1, "Create a topic.",
       with_config_flags({{"--partitions", "N", "partitions (default 1)"},
                          {"--replication", "N", "replicas of each partition (default 1)"}}),
       "sluice topic create orders --partitions 3 --replication 3"},
      {"topic list", CommandKind::topic_list, "", 0, 0, "List the topics.", {}, "sluice topic list"},
      {"topic describe", CommandKind::topic_describe, "TOPIC", 1, 1,
       "Show a topic: its config, and each partition's replicas, leader and end offset.", {}, "sluice topic describe orders"},
      {"topic alter", CommandKind::topic_alter, "TOPIC", 1, 1, "Change a topic's config (at least one flag).",
       with_config_flags({}), "sluice topic alter orders --retention-ms 86400000"},
      {"topic delete", CommandKind::topic_delete, "TOPIC", 1, 1, "Delete a topic and its records.", {},
       "sluice topic delete orders"},
      {"produce", CommandKind::produce, "TOPIC", 1, 1,
       "Send stdin to a topic, one record a line; exits once every record is acknowledged (1 if any failed).",
       {{"--key", "KEY", "every record's key (text input)"},
        {"--partition", "N", "every record's partition (default: by key, else round-robin)"},
        {"--format", "text|json", "input: text lines (default), or {\"key\",\"value\",\"partition\"} a line"}},
       "seq 1 100 | sluice produce orders --key customer-7"},
      {"consume", CommandKind::consume, "TOPIC", 1, 1,
       "Print a topic's records, one a line; stops at the end unless --follow.",
       {{"--from", "WHERE", "earliest (default), latest, an OFFSET, or @TIMESTAMP_MS"},
        {"--follow", "", "keep waiting for new records"},
        {"--count", "N", "stop after N records"},
        {"--partition", "N", "one partition (default: all)"},
        {"--format", "FORMAT", "json, or a template of {topic} {partition} {offset} {timestamp} {key} {value} (default {value})"}},
       "sluice consume orders --from earliest --format '{partition}:{offset} {key}={value}'"},
      {"cluster members", CommandKind::cluster_members, "", 0, 0, "List the nodes as the answering node's membership sees them.", {},
       "sluice cluster members"},
      {"cluster metadata", CommandKind::cluster_metadata, "[TOPIC]", 0, 1,
       "Show the nodes and every topic's partition leaders (or one topic's).", {}, "sluice cluster metadata orders"},
      {"cluster decommission", CommandKind::cluster_decommission, "NODE", 1, 1,
       "Drain a node (needs a cluster-admin token): its replicas move to other nodes, a controller vote it holds goes to "
       "another node, then it is marked removed and its id never rejoins. Returns once the drain has begun; "
       "`sluice cluster metadata` shows the replicas moving.",
       {}, "sluice cluster decommission 4"},
      {"bench produce", CommandKind::bench_produce, "", 0, 0,
       "Measure produce throughput and per-record send-to-ack latency; creates the topic if missing.",
       {{"--topic", "TOPIC", "topic (default sluice-bench)"},
        {"--records", "N", "records in all (default 100000)"},
        {"--record-bytes", "B", "value size (default 1024)"},
        {"--partitions", "P", "partitions if the topic is created (default 3)"},
        {"--replication", "R", "replication if the topic is created (default 3)"},
        {"--producers", "K", "concurrent producers (default 1)"},
        {"--sync", "", "each producer waits for a record's ack before sending the next"},
        {"--batch-bytes", "B", "the producer's batch_bytes_max (default 1048576)"},
        {"--in-flight", "N", "batches of a partition on the wire at once, 1..5 (default 1)"},
        {"--linger-ms", "MS", "how long a partition's first record waits for company (default 2)"}},
       "sluice bench produce --records 100000 --record-bytes 1024 --partitions 3 --producers 1"},
      {"bench consume", CommandKind::bench_consume, "", 0, 0, "Measure consume throughput from the earliest offset.",
       {{"--topic", "TOPIC", "topic (default sluice-bench)"},
        {"--records", "N", "records to read (default: up to the end as it is at the start)"}},
       "sluice bench consume --records 100000"},
  };
  return specs;
}

constexpr std::string_view kGroups[] = {"topic", "cluster", "bench"};

bool is_group(std::string_view word) { return std::find(std::begin(kGroups), std::end(kGroups), word) != std::end(kGroups); }

const CommandSpec* find_command(std::string_view path) {
  for (const CommandSpec& spec : commands()) {
    if (spec.path == path) return &spec;
  }
  return nullptr;
}

const FlagSpec* find_flag(std::span<const FlagSpec> flags, std::string_view name) {
  for (const FlagSpec& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

void append_flags(std::string& out, std::span<const FlagSpec> flags, bool with_help) {
  for (const FlagSpec& flag : flags) {
    std::string left = "  " + std::string(flag.name);
    if (!flag.value_name.empty()) left += " " + std::string(flag.value_name);
    left.resize(std::max<size_t>(left.size() + 2, 30), ' ');
    out += left + std::string(flag.help) + "\n";
  }
  if (with_help) out += "  -h, --help                  this text\n";
}

std::string command_usage(const CommandSpec& spec) {
  std::string out = "Usage: sluice " + std::string(spec.path);
  if (!spec.positionals.empty()) out += " " + std::string(spec.positionals);
  out += " [flags]\n\n" + std::string(spec.summary) + "\n";
  if (!spec.flags.empty()) {
    out += "\nFlags:\n";
    append_flags(out, spec.flags, false);
  }
  out += "\nGlobal flags:\n";
  append_flags(out, global_flags(), true);
  out += "\nExample:\n  " + std::string(spec.example) + "\n";
  return out;
}

std::string group_usage(std::string_view group) {
  std::string out = "Usage: sluice " + std::string(group) + " SUBCOMMAND [flags]\n\nSubcommands:\n";
  for (const CommandSpec& spec : commands()) {
    if (!spec.path.starts_with(std::string(group) + " ")) continue;
    std::string left = "  " + std::string(spec.path.substr(group.size() + 1));
    left.resize(20, ' ');
    out += left + std::string(spec.summary) + "\n";
  }
  out += "\nRun 'sluice " + std::string(group) + " SUBCOMMAND --help' for its flags.\n";
  return out;
}

// A summary up to its first ';' or ':' (the overview keeps one line a command).
std::string first_clause(std::string_view summary) {
  const size_t end = summary.find_first_of(";:");
  if (end == std::string_view::npos) return std::string(summary);
  return std::string(summary.substr(0, end)) + ".";
}

ParseResult help(std::string text) { return ParseResult{ParseResult::Outcome::help, {}, std::move(text)}; }

ParseResult usage_error(const std::string& message, std::string_view help_for) {
  std::string text = "sluice: " + message + "\nRun 'sluice";
  if (!help_for.empty()) text += " " + std::string(help_for);
  text += " --help' for usage.\n";
  return ParseResult{ParseResult::Outcome::usage_error, {}, std::move(text)};
}

// ---- values -------------------------------------------------------------------------------------

template <typename T>
std::optional<T> parse_integer(std::string_view text) {
  T value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The flags as given, and the first conversion that failed.
class Values {
 public:
  explicit Values(std::map<std::string, std::string> given) : given_(std::move(given)) {}

  bool has(std::string_view name) const { return given_.contains(std::string(name)); }
  const std::string* get(std::string_view name) const {
    auto it = given_.find(std::string(name));
    return it == given_.end() ? nullptr : &it->second;
  }
  void text(std::string_view name, std::string& out) const {
    if (const std::string* value = get(name)) out = *value;
  }
  // An unsigned integer within [min, max].
  template <typename T>
  void number(std::string_view name, T& out, uint64_t min, uint64_t max) {
    const std::string* value = get(name);
    if (value == nullptr) return;
    std::optional<uint64_t> parsed = parse_integer<uint64_t>(*value);
    if (!parsed || *parsed < min || *parsed > max) {
      fail(std::string(name) + " must be a number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" + *value + "'");
      return;
    }
    out = static_cast<T>(*parsed);
  }
  template <typename T>
  void number(std::string_view name, std::optional<T>& out, uint64_t min, uint64_t max) {
    if (!has(name)) return;
    T value{};
    number(name, value, min, max);
    out = value;
  }
  // A signed config value, -1 meaning "none".
  void config(std::string_view name, std::optional<int64_t>& out) {
    const std::string* value = get(name);
    if (value == nullptr) return;
    std::optional<int64_t> parsed = parse_integer<int64_t>(*value);
    if (!parsed || *parsed < -1) {
      fail(std::string(name) + " must be -1 or a number of at least 0, not '" + *value + "'");
      return;
    }
    out = *parsed;
  }
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }
  const std::string& error() const { return error_; }

 private:
  std::map<std::string, std::string> given_;
  std::string error_;
};

constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

std::optional<StartAt> parse_start(std::string_view text) {
  if (text == "earliest") return StartAt::earliest();
  if (text == "latest") return StartAt::latest();
  if (text.starts_with("@")) {
    std::optional<int64_t> ms = parse_integer<int64_t>(text.substr(1));
    if (!ms || *ms < 0) return std::nullopt;
    return StartAt::timestamp(*ms);
  }
  std::optional<uint64_t> offset = parse_integer<uint64_t>(text);
  if (!offset) return std::nullopt;
  return StartAt::offset(*offset);
}

void fill_topic_config(Values& values, TopicConfigValues& config) {
  values.config("--retention-ms", config.retention_ms);
  values.config("--retention-bytes", config.retention_bytes);
  values.config("--segment-bytes", config.segment_bytes);
}

void fill_produce(Values& values, ProduceArgs& args) {
  if (const std::string* key = values.get("--key")) args.key = *key;
  values.number("--partition", args.partition, 0, kU32Max);
  if (const std::string* format = values.get("--format")) {
    if (*format == "text") {
      args.format = InputFormat::text;
    } else if (*format == "json") {
      args.format = InputFormat::json;
    } else {
      values.fail("--format must be text or json, not '" + *format + "'");
    }
  }
}

void fill_consume(Values& values, ConsumeArgs& args, bool json_output) {
  if (const std::string* from = values.get("--from")) {
    if (std::optional<StartAt> start = parse_start(*from)) {
      args.from = *start;
    } else {
      values.fail("--from must be earliest, latest, an offset or @TIMESTAMP_MS, not '" + *from + "'");
    }
  }
  args.follow = values.has("--follow");
  values.number("--count", args.count, 1, kU64Max);
  values.number("--partition", args.partition, 0, kU32Max);
  if (json_output) args.format.json = true;
  if (const std::string* format = values.get("--format")) {
    Result<OutputFormat> parsed = parse_output_format(*format);
    if (parsed.ok()) {
      args.format = *parsed;
    } else {
      values.fail("--format: " + parsed.status().message());
    }
  }
}

void fill_bench_produce(Values& values, BenchProduceArgs& args) {
  values.text("--topic", args.topic);
  values.number("--records", args.records, 1, kBenchRecordsMax);
  values.number("--record-bytes", args.record_bytes, 1, kBenchRecordBytesMax);
  values.number("--partitions", args.partitions, 1, kU32Max);
  values.number("--replication", args.replication, 1, kU32Max);
  values.number("--producers", args.producers, 1, kBenchProducersMax);
  args.sync = values.has("--sync");
  values.number("--batch-bytes", args.batch_bytes, 1024, kBenchBatchBytesMax);
  values.number("--in-flight", args.in_flight, 1, 5);
  values.number("--linger-ms", args.linger_ms, 0, 60'000);
  if (args.topic.empty()) values.fail("--topic must not be empty");
}

void fill_command(const CommandSpec& spec, const std::vector<std::string>& positionals, Values& values, Command& command) {
  command.kind = spec.kind;
  const std::string first = positionals.empty() ? std::string() : positionals.front();
  switch (spec.kind) {
    case CommandKind::topic_create:
      command.topic_create.name = first;
      values.number("--partitions", command.topic_create.partitions, 1, kU32Max);
      values.number("--replication", command.topic_create.replication, 1, kU32Max);
      fill_topic_config(values, command.topic_create.config);
      break;
    case CommandKind::topic_alter:
      command.topic = first;
      fill_topic_config(values, command.topic_config);
      if (!values.has("--retention-ms") && !values.has("--retention-bytes") && !values.has("--segment-bytes")) {
        values.fail("topic alter needs at least one of --retention-ms, --retention-bytes, --segment-bytes");
      }
      break;
    case CommandKind::topic_describe:
    case CommandKind::topic_delete:
    case CommandKind::cluster_metadata: command.topic = first; break;
    case CommandKind::produce:
      command.produce.topic = first;
      fill_produce(values, command.produce);
      break;
    case CommandKind::consume:
      command.consume.topic = first;
      fill_consume(values, command.consume, command.global.json);
      break;
    case CommandKind::bench_produce: fill_bench_produce(values, command.bench_produce); break;
    case CommandKind::bench_consume:
      values.text("--topic", command.bench_consume.topic);
      values.number("--records", command.bench_consume.records, 1, kU64Max);
      break;
    case CommandKind::cluster_decommission: {
      const std::optional<uint64_t> node = parse_integer<uint64_t>(first);
      if (!node || *node < 1 || *node > kU32Max) {
        values.fail("NODE must be a node id from 1 to " + std::to_string(kU32Max) + ", not '" + first + "'");
      } else {
        command.node = static_cast<NodeId>(*node);
      }
      break;
    }
    case CommandKind::topic_list:
    case CommandKind::cluster_members: break;
  }
}

// ---- global options -----------------------------------------------------------------------------

std::optional<std::string> parse_brokers(std::string_view text, std::vector<rt::Address>& out) {
  out.clear();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    if (!item.empty()) {
      rt::Result<rt::Address> address = rt::Address::parse(item);
      if (!address.ok()) return "broker '" + std::string(item) + "': " + address.status().message();
      out.push_back(*address);
    }
    start = comma + 1;
  }
  if (out.empty()) return std::string("no broker given");
  return std::nullopt;
}

std::optional<std::string> fill_global(Values& values, const Environment& environment, GlobalOptions& global) {
  const std::string* brokers = values.get("--brokers");
  const std::string brokers_text = brokers    ? *brokers
                                   : environment.brokers && !environment.brokers->empty() ? *environment.brokers
                                                                                         : std::string(kBrokersDefault);
  if (std::optional<std::string> error = parse_brokers(brokers_text, global.brokers)) {
    return (brokers ? "--brokers: " : "SLUICE_BROKERS: ") + *error;
  }
  if (const std::string* token = values.get("--token")) {
    global.token = *token;
  } else if (environment.token) {
    global.token = *environment.token;
  }
  global.json = values.has("--json");
  if (const std::string* timeout = values.get("--timeout")) {
    std::optional<std::chrono::milliseconds> parsed = parse_duration(*timeout);
    if (!parsed) return "--timeout must be a duration such as 500ms, 10s or 2m, not '" + *timeout + "'";
    global.timeout = *parsed;
  }
  return std::nullopt;
}

// ---- the walk over the words --------------------------------------------------------------------

struct Scanned {
  std::vector<std::string> words;  // command words, then positionals
  std::map<std::string, std::string> flags;
  bool help = false;
  std::string error;  // the first flag error met
};

// The command the words so far name (nullptr while incomplete or unknown).
const CommandSpec* command_of(const std::vector<std::string>& words) {
  if (words.empty()) return nullptr;
  if (!is_group(words[0])) return find_command(words[0]);
  return words.size() < 2 ? nullptr : find_command(words[0] + " " + words[1]);
}

Scanned scan(const std::vector<std::string>& args) {
  Scanned scanned;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      scanned.words.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
    } else if (arg == "-h" || arg == "--help") {
      scanned.help = true;
    } else {
      const size_t equals = arg.find('=');
      const std::string name = arg.substr(0, equals);
      const CommandSpec* command = command_of(scanned.words);
      const FlagSpec* flag = find_flag(global_flags(), name);
      if (flag == nullptr && command != nullptr) flag = find_flag(command->flags, name);
      if (flag == nullptr) {
        if (scanned.error.empty()) scanned.error = "unknown flag " + name;
        continue;
      }
      if (flag->value_name.empty()) {
        if (equals != std::string::npos && scanned.error.empty()) scanned.error = name + " takes no value";
        scanned.flags[name] = "";
      } else if (equals != std::string::npos) {
        scanned.flags[name] = arg.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        scanned.flags[name] = args[++i];
      } else if (scanned.error.empty()) {
        scanned.error = name + " needs a value (" + std::string(flag->value_name) + ")";
      }
    }
  }
  return scanned;
}

}  // namespace

std::string top_usage() {
  std::string out =
      "Usage: sluice COMMAND [flags]\n\n"
      "The command-line client of sluice, a Raft-replicated message queue.\n\nCommands:\n";
  for (const CommandSpec& spec : commands()) {
    std::string left = "  " + std::string(spec.path);
    if (!spec.positionals.empty()) left += " " + std::string(spec.positionals);
    left.resize(std::max<size_t>(left.size() + 2, 30), ' ');
    out += left + first_clause(spec.summary) + "\n";
  }
  out += "\nGlobal flags:\n";
  append_flags(out, global_flags(), true);
  out += "\nExit codes: 0 ok, 1 an operation failed, 2 a usage error.\nRun 'sluice COMMAND --help' for a command's flags.\n";
  return out;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  int64_t unit_ms = 1000;  // bare numbers are seconds
  for (const Unit& unit : kUnits) {
    if (text.ends_with(unit.suffix)) {
      unit_ms = unit.ms;
      text.remove_suffix(unit.suffix.size());
      break;
    }
  }
  std::optional<int64_t> count = parse_integer<int64_t>(text);
  // A day at most: anything longer is a typo, and it keeps the product far from overflow.
  constexpr int64_t kDurationMsMax = 86'400'000;
  if (!count || *count <= 0 || *count > kDurationMsMax / unit_ms) return std::nullopt;
  return std::chrono::milliseconds(*count * unit_ms);
}

namespace {

// The help the words ask for, or the usage error they make before their flags are looked at.
std::optional<ParseResult> help_or_command_error(const Scanned& scanned, const CommandSpec*& spec) {
  const std::vector<std::string>& words = scanned.words;
  spec = command_of(words);
  if (words.empty() && scanned.help) return help(top_usage());
  if (!words.empty() && words[0] == "help") return help(top_usage());
  const bool group = !words.empty() && is_group(words[0]);
  if (scanned.help && group && words.size() < 2) return help(group_usage(words[0]));
  if (scanned.help && spec != nullptr) return help(command_usage(*spec));
  // A flag error first: a misplaced flag's value would otherwise pass for a command word.
  if (!scanned.error.empty()) return usage_error(scanned.error, spec != nullptr ? spec->path : group ? words[0] : "");
  if (words.empty()) return usage_error("no command given", "");
  if (!group && spec == nullptr) return usage_error("unknown command '" + words[0] + "'", "");
  if (group && words.size() < 2) return usage_error(words[0] + " needs a subcommand", words[0]);
  if (spec == nullptr) return usage_error("unknown command '" + words[0] + " " + words[1] + "'", words[0]);
  return std::nullopt;
}

}  // namespace

ParseResult parse_args(const std::vector<std::string>& args, const Environment& environment) {
  Scanned scanned = scan(args);
  const CommandSpec* spec = nullptr;
  if (std::optional<ParseResult> early = help_or_command_error(scanned, spec)) return std::move(*early);
  std::vector<std::string>& words = scanned.words;
  words.erase(words.begin(), words.begin() + (is_group(words[0]) ? 2 : 1));
  if (words.size() < spec->positional_min) return usage_error(std::string(spec->path) + " needs " + std::string(spec->positionals), spec->path);
  if (words.size() > spec->positional_max) return usage_error("unexpected argument '" + words[spec->positional_max] + "'", spec->path);
  for (const std::string& word : words) {
    if (word.empty()) return usage_error(std::string(spec->path) + ": " + std::string(spec->positionals) + " must not be empty", spec->path);
  }

  ParseResult result{ParseResult::Outcome::run, {}, {}};
  Values values(std::move(scanned.flags));
  if (std::optional<std::string> error = fill_global(values, environment, result.command.global)) return usage_error(*error, spec->path);
  fill_command(*spec, words, values, result.command);
  if (!values.error().empty()) return usage_error(values.error(), spec->path);
  return result;
}

}  // namespace sluice::client::cli
