#include "sim/replay.h"

#include <fstream>
#include <sstream>

#include "sim/toml_reader.h"

namespace sluice::sim {
namespace {

constexpr size_t kReplayBytesMax = 4 << 20;  // a scenario plus up to 10,000 recorded events

toml::table header_table(const ReplayHeader& header) {
  toml::table table;
  table.insert("seed", static_cast<int64_t>(header.seed));
  table.insert("checker", header.checker);
  if (!header.failure.empty()) table.insert("failure", header.failure);
  if (!header.source.empty()) table.insert("source", header.source);
  if (header.source_seed >= 0) table.insert("source_seed", header.source_seed);
  auto figure = [&table](const char* key, int64_t value) {
    if (value >= 0) table.insert(key, value);
  };
  figure("events_before", header.events_before);
  figure("events_after", header.events_after);
  figure("faults_before", header.faults_before);
  figure("faults_after", header.faults_after);
  return table;
}

void read_header(TableReader& reader, ReplayHeader& header, ParseContext& context) {
  int64_t seed = -1;
  reader.integer("seed", seed, 0, INT64_MAX);
  if (seed < 0) context.fail(reader.line(), reader.field("seed"), "required");
  header.seed = static_cast<uint64_t>(seed);
  reader.text("checker", header.checker);
  if (header.checker.empty()) context.fail(reader.key_line("checker"), reader.field("checker"), "required (a non-empty string)");
  reader.text("failure", header.failure);
  reader.text("source", header.source);
  reader.integer("source_seed", header.source_seed, 0, INT64_MAX);
  reader.integer("events_before", header.events_before, 0, INT64_MAX);
  reader.integer("events_after", header.events_after, 0, INT64_MAX);
  reader.integer("faults_before", header.faults_before, 0, INT64_MAX);
  reader.integer("faults_after", header.faults_after, 0, INT64_MAX);
  reader.finish();
}

}  // namespace

Result<std::string> replay_text(const ReplayHeader& header, const toml::table& scenario) {
  if (header.seed > static_cast<uint64_t>(INT64_MAX)) {
    return Status(Errc::invalid_scenario, "seed " + std::to_string(header.seed) + " does not fit a replay file (at most 2^63-1)");
  }
  toml::table table = scenario;
  table.insert_or_assign("replay", header_table(header));
  std::ostringstream out;
  out << "# sluice replay file (docs/formats/replay.md): a shrunk failing run.\n"
      << "#   " << "build/bin/sluice-sim replay FILE\n"
      << table << "\n";
  return out.str();
}

Result<Replay> parse_replay(std::string_view text, std::string_view source_name) {
  Result<toml::table> parsed = parse_toml(text, source_name);
  if (!parsed.ok()) return parsed.status();
  ParseContext context{std::string(source_name), {}};
  Replay replay;
  const toml::node* node = parsed->get("replay");
  if (node == nullptr || !node->is_table()) {
    const int line = node == nullptr ? 1 : static_cast<int>(node->source().begin.line);
    context.fail(line, "replay", "a replay file needs a [replay] table (seed, checker): docs/formats/replay.md");
    return parse_status(context);
  }
  TableReader reader(*node->as_table(), "replay", context);
  read_header(reader, replay.header, context);
  if (!context.ok()) return parse_status(context);
  parsed->erase("replay");
  Result<Scenario> scenario = parse_scenario_table(*parsed, source_name);
  if (!scenario.ok()) return scenario.status();
  replay.scenario = std::move(*scenario);
  return replay;
}

Result<Replay> load_replay(const std::string& path) {
  Result<std::string> text = read_input_file(path, kReplayBytesMax, "replay file");
  if (!text.ok()) return text.status();
  return parse_replay(*text, path);
}

Status write_replay(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return Status(Errc::io_error, path + ": cannot create replay file");
  file << text;
  file.flush();
  if (!file) return Status(Errc::io_error, path + ": write failed");
  return Status();
}

std::string replay_file_command(const std::string& path) { return "build/bin/sluice-sim replay " + path; }

}  // namespace sluice::sim
