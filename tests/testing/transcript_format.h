// The transcript ("data-driven") test format shared by the Raft and SWIM core tests: a file is a
// list of commands, each followed by `----` and the output it must produce. Free text (comments,
// blank lines) is kept verbatim, so SLUICE_REWRITE=1 rewrites only outputs. The format is
// described in docs/raft.md; each runner documents its own commands (docs/raft.md, docs/swim.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "node/base/status.h"

namespace sluice::transcript {

enum class Errc { ok = 0, malformed };
std::string_view to_string(Errc code);
using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

struct Command {
  int line = 0;          // 1-based line of the command in its file
  std::string text;      // the command line as written
  std::string name;
  std::vector<std::string> args;                              // positional
  std::vector<std::pair<std::string, std::string>> options;  // key=value, in order

  const std::string* option(std::string_view key) const;
};

struct Block {
  Command command;
  std::string expected;  // without the final newline
};

using Item = std::variant<std::string, Block>;  // free text or a block

Result<std::vector<Item>> parse(std::string_view content);
// Renders items back; `outputs[i]` replaces the expected output of the i-th block.
std::string render(const std::vector<Item>& items, const std::vector<std::string>& outputs);

// Helpers for runners.
std::vector<std::string> split(std::string_view text, char separator);
std::optional<uint64_t> parse_u64(std::string_view text);
// Trailing newlines removed; an empty output reads "ok" (outputs never contain blank lines).
std::string finish_output(std::string out);

// GoogleTest glue: the *.txt files of `dir`, sorted; a test name for one of them; and running a
// file through `run` (one fresh runner per file), failing at the first differing output, or
// rewriting the file's outputs when SLUICE_REWRITE=1.
std::vector<std::string> files(const std::filesystem::path& dir);
std::string case_name(const std::string& file);
bool rewrite_requested();
void check_file(const std::filesystem::path& path, const std::function<std::string(const Command&)>& run);

}  // namespace sluice::transcript
