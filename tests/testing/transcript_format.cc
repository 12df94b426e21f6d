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

void check_file(const std::filesystem::path& path, const std::function<std::string(const Command&)>& run) {
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream content;
  content << in.rdbuf();
  Result<std::vector<Item>> items = parse(content.str());
  ASSERT_TRUE(items.ok()) << path << ": " << items.status().to_string();

  std::vector<std::string> outputs;
  for (const Item& item : *items) {
    const auto* block = std::get_if<Block>(&item);
    if (block == nullptr) continue;
    outputs.push_back(run(block->command));
    if (!rewrite_requested()) {
      ASSERT_EQ(block->expected, outputs.back())
          << path.string() << ":" << block->command.line << ": " << block->command.text
          << "\n(rerun with SLUICE_REWRITE=1 to accept the new output)";
    }
  }
  if (rewrite_requested()) {
    std::ofstream out(path);
    out << render(*items, outputs);
    ASSERT_TRUE(out) << "cannot write " << path;
  }
}

}  // namespace sluice::transcript
