// Reading TOML tables with exact error reporting: every read names file:line and the dotted
// field, unknown keys are errors, and the first error wins (later reads become no-ops so the
// message names the real cause). Used by scenario parsing and by workload kinds' own sections.
#pragma once

#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "sim/errors.h"
#include "sim/network.h"

namespace sluice::sim {

inline constexpr int64_t kNsPerMs = 1'000'000;
inline constexpr int64_t kNsPerS = 1'000'000'000;

// First error wins; later reads become no-ops so messages name the real cause.
struct ParseContext {
  std::string source;
  Status status;
  void fail(int line, std::string_view field, std::string_view message) {
    if (!status.ok()) return;
    status = Status(Errc::invalid_scenario,
                    source + ":" + std::to_string(line) + ": " + std::string(field) + ": " + std::string(message));
  }
};

class TableReader {
 public:
  TableReader(const toml::table& table, std::string section, ParseContext& context)
      : table_(table), section_(std::move(section)), context_(context) {}

  int line() const { return table_.source().begin.line; }
  // The line of `key`'s value, or of the table when the key is absent.
  int key_line(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return node == nullptr ? line() : node_line(node);
  }
  // Reports a problem with `key` (at its line) that the typed readers cannot see.
  void fail(std::string_view key, std::string_view message) { context_.fail(key_line(key), field(key), message); }
  bool ok() const { return context_.status.ok(); }

  std::string field(std::string_view key) const { return section_.empty() ? std::string(key) : section_ + "." + std::string(key); }

  void real(std::string_view key, double& out, double low, double high) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    std::optional<double> value = node->value<double>();
    if (!value || !std::isfinite(*value)) return context_.fail(node_line(node), field(key), "expected a number");
    if (*value < low || *value > high) return out_of_range(node, key, low, high);
    out = *value;
  }

  void integer(std::string_view key, int64_t& out, int64_t low, int64_t high) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    std::optional<int64_t> value = node->is_integer() ? node->value<int64_t>() : std::nullopt;
    if (!value) return context_.fail(node_line(node), field(key), "expected an integer");
    if (*value < low || *value > high) return out_of_range(node, key, static_cast<double>(low), static_cast<double>(high));
    out = *value;
  }

  // A duration given in `unit_ns` units (e.g. ms), stored as ns; fractions allowed.
  void duration(std::string_view key, int64_t& out_ns, int64_t unit_ns, double low, double high) {
    double value = std::nan("");  // not -1: negative durations (clock jumps) are valid
    real(key, value, low, high);
    if (!std::isnan(value)) out_ns = static_cast<int64_t>(std::llround(value * static_cast<double>(unit_ns)));
  }

  void boolean(std::string_view key, bool& out) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    if (!node->is_boolean()) return context_.fail(node_line(node), field(key), "expected true or false");
    out = *node->value<bool>();
  }

  void text(std::string_view key, std::string& out) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    if (!node->is_string()) return context_.fail(node_line(node), field(key), "expected a string");
    out = *node->value<std::string>();
  }

  // A list of strings, at most `count_max`.
  void strings(std::string_view key, std::vector<std::string>& out, size_t count_max = 256) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr || array->size() > count_max) {
      return context_.fail(node_line(node), field(key), "expected a list of at most " + std::to_string(count_max) + " strings");
    }
    for (const toml::node& element : *array) {
      if (!element.is_string()) return context_.fail(node_line(&element), field(key), "expected a string");
      out.push_back(*element.value<std::string>());
    }
  }

  // Node numbers as written (1-based hosts n1..nN), returned as 0-based indices.
  void nodes(std::string_view key, std::vector<NodeIndex>& out, size_t node_count) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr) return context_.fail(node_line(node), field(key), "expected a list of node numbers");
    for (const toml::node& element : *array) {
      std::optional<int64_t> number = element.is_integer() ? element.value<int64_t>() : std::nullopt;
      if (!number || *number < 1 || static_cast<size_t>(*number) > node_count) {
        return context_.fail(node_line(&element), field(key),
                             "node numbers run from 1 to " + std::to_string(node_count));
      }
      out.push_back(static_cast<NodeIndex>(*number - 1));
    }
  }

  const toml::table* subtable(std::string_view key) {
    const toml::node* node = take(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      context_.fail(node_line(node), field(key), "expected a table");
      return nullptr;
    }
    return node->as_table();
  }

  // `[key]` (one table) or `[[key]]` (several), in file order; empty when absent.
  std::vector<const toml::table*> tables(std::string_view key) {
    const toml::node* node = take(key);
    if (node == nullptr) return {};
    if (node->is_table()) return {node->as_table()};
    if (!node->is_array_of_tables()) {
      context_.fail(node_line(node), field(key), "expected [" + std::string(key) + "] or [[" + std::string(key) + "]] tables");
      return {};
    }
    std::vector<const toml::table*> out;
    for (const toml::node& element : *node->as_array()) out.push_back(element.as_table());
    return out;
  }

  const toml::array* array(std::string_view key) {
    const toml::node* node = take(key);
    if (node == nullptr) return nullptr;
    if (!node->is_array_of_tables()) {
      context_.fail(node_line(node), field(key), "expected an array of tables ([[" + std::string(key) + "]])");
      return nullptr;
    }
    return node->as_array();
  }

  // Reports the first key nobody asked for.
  void finish() {
    for (const auto& [key, node] : table_) {
      if (consumed_.count(std::string(key.str())) == 0) {
        context_.fail(node_line(&node), field(key.str()), "unknown key");
        return;
      }
    }
  }

 private:
  const toml::node* take(std::string_view key) {
    consumed_.insert(std::string(key));
    return table_.get(key);
  }
  int node_line(const toml::node* node) const {
    const int node_line = static_cast<int>(node->source().begin.line);
    return node_line > 0 ? node_line : line();
  }
  void out_of_range(const toml::node* node, std::string_view key, double low, double high) {
    std::ostringstream message;
    message << "must be between " << low << " and " << high;
    context_.fail(node_line(node), field(key), message.str());
  }

  const toml::table& table_;
  std::string section_;
  ParseContext& context_;
  std::set<std::string> consumed_;
};

}  // namespace sluice::sim
