// The transcript ("data-driven") test format shared by the Raft and SWIM core tests: a file is a
// list of commands, each followed by `----` and the output it must produce. Free text (comments,
// blank lines) is kept verbatim, so SLUICE_REWRITE=1 rewrites only outputs. Also shared: how a
// file is run (one Runner per case, `reset` between cases, the runner's invariants checked after
// every command whatever the expected output says) and the standing network rules (cuts and
// filters). The format is described in docs/raft.md; each runner documents its own commands
// (docs/raft.md, docs/swim.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
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

// A runner of one core's commands for one case of a file. A file starts with a fresh runner and
// `reset` (a command every file may use) replaces it with another, so nothing of one case
// (messages in flight, nodes, network rules, the checker's history) reaches the next.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual std::string run(const Command& command) = 0;
  // The core's invariants, checked after every command (and by runners after every step inside
  // one): the first violation, described. It fails the file whatever the expected output says,
  // so a rewritten expectation can never hide it.
  virtual std::optional<std::string> check() = 0;
  // What a `reset` throws away (e.g. messages still in flight), printed as its output.
  virtual std::string discard() { return ""; }
};
using RunnerFactory = std::function<std::unique_ptr<Runner>()>;

// What running a file's blocks produced.
struct Outcome {
  struct Failure {
    int line = 0;  // of the command
    std::string command;
    std::string expected;
    std::string actual;  // the output, or the violation
  };
  std::vector<std::string> outputs;     // one per block run
  std::optional<Failure> mismatch;      // the first block whose output differs from its expectation
  std::optional<Failure> violation;     // the first invariant violation; the run stops there
};

// Runs every block of `items` (stopping at the first violation, and at the first mismatch when
// `stop_at_mismatch`), each case on a fresh runner from `make`.
Outcome run_items(const std::vector<Item>& items, const RunnerFactory& make, bool stop_at_mismatch);
// What fails a file: a violation always (a rewrite does not excuse it); a mismatch unless the
// outputs are being rewritten. nullopt: the file passes.
std::optional<std::string> verdict(const std::string& path, const Outcome& outcome, bool rewriting);

// GoogleTest glue: the *.txt files of `dir`, sorted; a test name for one of them; and running a
// file, failing with its verdict, or rewriting the file's outputs when SLUICE_REWRITE=1 (never
// when a violation occurred).
std::vector<std::string> files(const std::filesystem::path& dir);
std::string case_name(const std::string& file);
bool rewrite_requested();
void check_file(const std::filesystem::path& path, const RunnerFactory& make);

// Standing network rules, the same in every runner: cut links (each one direction) and filters
// that lose every matching message until removed (etcd's `ignore`). Endpoints and message kinds
// are the runner's own names ("1", "n2"; "vote-resp", "ping"); `kind_key` is its option name for
// a kind ("type", "kind"). Commands (docs/raft.md, "Transcript format"):
//   cut A B | cut from=A to=B          both directions | one
//   restore A B | restore from=A to=B  undo a cut
//   ignore [KIND_KEY=K] [from=A] [to=B]  a standing filter; prints its number
//   unignore N | unignore all
//   rules                              the cuts and filters in force
class NetworkRules {
 public:
  explicit NetworkRules(std::string kind_key) : kind_key_(std::move(kind_key)) {}

  static bool handles(std::string_view command);
  // Runs one of the commands above; `known_endpoint` and `known_kind` reject names that would
  // never match anything.
  std::string run(const Command& c, const std::function<bool(const std::string&)>& known_endpoint,
                  const std::function<bool(const std::string&)>& known_kind);
  // Why a message `from` -> `to` of `kind` is lost by a rule ("cut", "filter 2"), or nullopt.
  std::optional<std::string> lost_because(const std::string& from, const std::string& to, const std::string& kind) const;
  void cut(const std::string& from, const std::string& to) { cuts_.insert({from, to}); }
  void restore(const std::string& from, const std::string& to) { cuts_.erase({from, to}); }
  void restore_all() { cuts_.clear(); }

 private:
  struct Filter {
    int number = 0;
    std::string kind;  // empty: any
    std::string from;
    std::string to;
  };
  static std::string describe(const Filter& filter);
  std::string cut_or_restore(const Command& c, const std::function<bool(const std::string&)>& known_endpoint);
  std::string add_filter(const Command& c, const std::function<bool(const std::string&)>& known_endpoint,
                         const std::function<bool(const std::string&)>& known_kind);

  std::string kind_key_;
  std::set<std::pair<std::string, std::string>> cuts_;  // (from, to)
  std::vector<Filter> filters_;
  int next_filter_ = 1;
};

}  // namespace sluice::transcript
