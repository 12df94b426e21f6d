#include "tests/testing/transcript_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sluice::transcript {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::malformed: return "malformed";
  }
  return "unknown";
}

const std::string* Command::option(std::string_view key) const {
  for (const auto& [name, value] : options) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string finish_output(std::string out) {
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.empty() ? "ok" : out;
}

namespace {

Command parse_command(const std::string& line, int line_number) {
  Command command;
  command.line = line_number;
  command.text = line;
  std::istringstream tokens(line);
  std::string token;
  tokens >> command.name;
  while (tokens >> token) {
    const size_t equals = token.find('=');
    if (equals == std::string::npos) {
      command.args.push_back(token);
    } else {
      command.options.emplace_back(token.substr(0, equals), token.substr(equals + 1));
    }
  }
  return command;
}

}  // namespace

Result<std::vector<Item>> parse(std::string_view content) {
  std::vector<std::string> lines = split(content, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline
  std::vector<Item> items;
  std::string text;
  for (size_t i = 0; i < lines.size();) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') {
      text += line + "\n";
      ++i;
      continue;
    }
    if (!text.empty()) items.emplace_back(std::exchange(text, {}));
    if (i + 1 >= lines.size() || lines[i + 1] != "----") {
      return Status(Errc::malformed, "line " + std::to_string(i + 2) + ": expected ---- after the command");
    }
    Block block;
    block.command = parse_command(line, static_cast<int>(i + 1));
    i += 2;
    std::vector<std::string> expected;
    while (i < lines.size() && !lines[i].empty()) expected.push_back(lines[i++]);
    for (size_t k = 0; k < expected.size(); ++k) block.expected += (k > 0 ? "\n" : "") + expected[k];
    items.emplace_back(std::move(block));
  }
  if (!text.empty()) items.emplace_back(std::move(text));
  return items;
}

std::string render(const std::vector<Item>& items, const std::vector<std::string>& outputs) {
  std::string out;
  size_t block = 0;
  for (const Item& item : items) {
    if (const std::string* text = std::get_if<std::string>(&item)) {
      out += *text;
    } else {
      out += std::get<Block>(item).command.text + "\n----\n" + outputs.at(block++) + "\n";
    }
  }
  return out;
}

std::vector<std::string> files(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".txt") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const std::string& file) {
  std::string name = file.substr(0, file.size() - 4);  // without ".txt"
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

bool rewrite_requested() {
  const char* value = std::getenv("SLUICE_REWRITE");
  return value != nullptr && std::string(value) == "1";
}

Outcome run_items(const std::vector<Item>& items, const RunnerFactory& make, bool stop_at_mismatch) {
  Outcome outcome;
  std::unique_ptr<Runner> runner = make();
  for (const Item& item : items) {
    const auto* block = std::get_if<Block>(&item);
    if (block == nullptr) continue;
    const Command& command = block->command;
    std::string output;
    if (command.name == "reset") {
      // A new case: whatever the last one left behind goes with its runner.
      output = finish_output(runner->discard());
      runner = make();
    } else {
      output = runner->run(command);
    }
    outcome.outputs.push_back(output);
    if (std::optional<std::string> violation = runner->check()) {
      outcome.violation = Outcome::Failure{command.line, command.text, block->expected, *violation};
      return outcome;
    }
    if (!outcome.mismatch && output != block->expected) {
      outcome.mismatch = Outcome::Failure{command.line, command.text, block->expected, output};
      if (stop_at_mismatch) return outcome;
    }
  }
  return outcome;
}

std::optional<std::string> verdict(const std::string& path, const Outcome& outcome, bool rewriting) {
  if (const auto& v = outcome.violation) {
    return path + ":" + std::to_string(v->line) + ": " + v->command + "\ninvariant violated: " + v->actual +
           "\n(whatever the expected output says; the file is not rewritten)";
  }
  if (const auto& m = outcome.mismatch; m && !rewriting) {
    return path + ":" + std::to_string(m->line) + ": " + m->command + "\nexpected:\n" + m->expected +
           "\nactual:\n" + m->actual + "\n(rerun with SLUICE_REWRITE=1 to accept the new output)";
  }
  return std::nullopt;
}

void check_file(const std::filesystem::path& path, const RunnerFactory& make) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream content;
  content << in.rdbuf();
  Result<std::vector<Item>> items = parse(content.str());
  ASSERT_TRUE(items.ok()) << path << ": " << items.status().to_string();

  const bool rewriting = rewrite_requested();
  const Outcome outcome = run_items(*items, make, /*stop_at_mismatch=*/!rewriting);
  if (std::optional<std::string> failure = verdict(path.string(), outcome, rewriting)) FAIL() << *failure;
  if (rewriting) {
    std::ofstream out(path);
    out << render(*items, outcome.outputs);
    ASSERT_TRUE(out) << "cannot write " << path;
  }
}

namespace {

constexpr size_t kFiltersMax = 64;

bool parse_ends(const Command& c, std::string* from, std::string* to, bool* both) {
  const std::string* from_option = c.option("from");
  const std::string* to_option = c.option("to");
  if (c.args.size() == 2 && !from_option && !to_option) {
    *from = c.args[0];
    *to = c.args[1];
    *both = true;
    return true;
  }
  if (!c.args.empty() || !from_option || !to_option) return false;
  *from = *from_option;
  *to = *to_option;
  *both = false;
  return true;
}

}  // namespace

bool NetworkRules::handles(std::string_view command) {
  return command == "cut" || command == "restore" || command == "ignore" || command == "unignore" || command == "rules";
}

std::string NetworkRules::describe(const Filter& f) {
  return "filter " + std::to_string(f.number) + ": ignore " + (f.kind.empty() ? "any" : f.kind) + " from " +
         (f.from.empty() ? "any" : f.from) + " to " + (f.to.empty() ? "any" : f.to);
}

std::string NetworkRules::run(const Command& c, const std::function<bool(const std::string&)>& known_endpoint,
                              const std::function<bool(const std::string&)>& known_kind) {
  if (c.name == "cut" || c.name == "restore") return cut_or_restore(c, known_endpoint);
  if (c.name == "ignore") return add_filter(c, known_endpoint, known_kind);
  if (c.name == "unignore") {
    if (c.args.size() == 1 && c.args[0] == "all") {
      filters_.clear();
      return "";
    }
    // Filters are numbered from 1: 0 (not a number) matches none.
    const uint64_t number = c.args.size() == 1 ? parse_u64(c.args[0]).value_or(0) : 0;
    const auto it = std::find_if(filters_.begin(), filters_.end(),
                                 [number](const Filter& f) { return static_cast<uint64_t>(f.number) == number; });
    if (it == filters_.end()) return "error: unignore N | unignore all (no such filter)";
    filters_.erase(it);
    return "";
  }
  std::string out;
  for (const auto& [from, to] : cuts_) out += "cut " + from + " -> " + to + "\n";
  for (const Filter& filter : filters_) out += describe(filter) + "\n";
  return out.empty() ? "no rules" : out;
}

std::string NetworkRules::cut_or_restore(const Command& c, const std::function<bool(const std::string&)>& known_endpoint) {
  std::string from;
  std::string to;
  bool both = false;
  if (!parse_ends(c, &from, &to, &both)) return "error: " + c.name + " A B | " + c.name + " from=A to=B";
  if (!known_endpoint(from) || !known_endpoint(to)) return "error: unknown endpoint";
  const bool cutting = c.name == "cut";
  cutting ? cut(from, to) : restore(from, to);
  if (both) cutting ? cut(to, from) : restore(to, from);
  return std::string(cutting ? "cut: " : "restored: ") + from + (both ? " <-> " : " -> ") + to;
}

std::string NetworkRules::add_filter(const Command& c, const std::function<bool(const std::string&)>& known_endpoint,
                                     const std::function<bool(const std::string&)>& known_kind) {
  Filter filter;
  filter.number = next_filter_;
  for (const auto& [key, value] : c.options) {
    if (key == kind_key_) {
      if (!known_kind(value)) return "error: unknown " + kind_key_ + " " + value;
      filter.kind = value;
    } else if (key == "from" || key == "to") {
      if (!known_endpoint(value)) return "error: unknown endpoint " + value;
      (key == "from" ? filter.from : filter.to) = value;
    } else {
      return "error: ignore [" + kind_key_ + "=K] [from=A] [to=B]";
    }
  }
  if (filters_.size() >= kFiltersMax) return "error: too many filters";
  ++next_filter_;
  filters_.push_back(filter);
  return describe(filter);
}

std::optional<std::string> NetworkRules::lost_because(const std::string& from, const std::string& to,
                                                      const std::string& kind) const {
  if (cuts_.count({from, to}) != 0) return "cut";
  for (const Filter& f : filters_) {
    if ((f.kind.empty() || f.kind == kind) && (f.from.empty() || f.from == from) && (f.to.empty() || f.to == to)) {
      return "filter " + std::to_string(f.number);
    }
  }
  return std::nullopt;
}

}  // namespace sluice::transcript
