// Reading TOML tables with exact error reporting: every read names file:line and the dotted
// field, unknown keys are errors, and the first error wins (later reads become no-ops so the
// message names the real cause). Used by the node's config file (node/server/config_file.h) and
// by sluice-sim's scenarios and workload sections (sim/toml_reader.h).
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace sluice::config {

// First error wins; later reads become no-ops so messages name the real cause. `error` reads
// "source:line: field: what".
struct ParseContext {
  std::string source;
  std::string error;
  bool ok() const { return error.empty(); }
  void fail(int line, std::string_view field, std::string_view message) {
    if (!ok()) return;
    error = source + ":" + std::to_string(line) + ": " + std::string(field) + ": " + std::string(message);
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
  bool ok() const { return context_.ok(); }

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
    if (*value < low || *value > high) {
      return context_.fail(node_line(node), field(key), "must be between " + std::to_string(low) + " and " + std::to_string(high));
    }
    out = *value;
  }

  // An inclusive range written `[LOW, HIGH]`, both integers in [low, high], LOW <= HIGH.
  void integer_range(std::string_view key, std::array<int64_t, 2>& out, int64_t low, int64_t high) {
    const toml::node* node = take(key);
    if (node == nullptr) return;
    const toml::array* array = node->as_array();
    if (array == nullptr || array->size() != 2 || !array->get(0)->is_integer() || !array->get(1)->is_integer()) {
      return context_.fail(node_line(node), field(key), "expected [LOW, HIGH], two integers");
    }
    const std::array<int64_t, 2> range{*array->get(0)->value<int64_t>(), *array->get(1)->value<int64_t>()};
    if (range[0] < low || range[1] > high) {
      return context_.fail(node_line(node), field(key), "must be between " + std::to_string(low) + " and " + std::to_string(high));
    }
    if (range[1] < range[0]) return context_.fail(node_line(node), field(key), "HIGH must not be below LOW");
    out = range;
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

  // The node under `key` (null if absent), marking the key as read: for readers of other shapes.
  const toml::node* take(std::string_view key) {
    consumed_.insert(std::string(key));
    return table_.get(key);
  }
  int node_line(const toml::node* node) const {
    const int node_line = static_cast<int>(node->source().begin.line);
    return node_line > 0 ? node_line : line();
  }
  ParseContext& context() { return context_; }

 private:
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

}  // namespace sluice::config
