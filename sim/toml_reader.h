// sluice-sim's TOML reading: the shared TableReader (node/server/toml_reader.h) plus what only
// scenarios need (node numbers, durations in ms and s, the scenario error code).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "node/server/toml_reader.h"
#include "sim/errors.h"
#include "sim/network.h"

namespace sluice::sim {

using config::ParseContext;
using config::TableReader;

inline constexpr int64_t kNsPerMs = 1'000'000;
inline constexpr int64_t kNsPerS = 1'000'000'000;

inline Status parse_status(const ParseContext& context) {
  return context.ok() ? Status() : Status(Errc::invalid_scenario, context.error);
}

// The whole text of an input file (a scenario, a replay file) of at most `bytes_max` bytes;
// `what` names it in errors.
inline Result<std::string> read_input_file(const std::string& path, size_t bytes_max, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status(Errc::io_error, path + ": cannot open " + std::string(what));
  std::string text;
  text.resize(bytes_max + 1);
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(file.gcount()));
  if (text.size() > bytes_max) {
    return Status(Errc::invalid_scenario, path + ": larger than " + std::to_string(bytes_max >> 20) + " MiB");
  }
  return text;
}

// Node numbers as written (1-based hosts n1..nN), returned as 0-based indices.
inline void read_nodes(TableReader& reader, std::string_view key, std::vector<NodeIndex>& out, size_t node_count) {
  const toml::node* node = reader.take(key);
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr) return reader.context().fail(reader.node_line(node), reader.field(key), "expected a list of node numbers");
  for (const toml::node& element : *array) {
    std::optional<int64_t> number = element.is_integer() ? element.value<int64_t>() : std::nullopt;
    if (!number || *number < 1 || static_cast<size_t>(*number) > node_count) {
      return reader.context().fail(reader.node_line(&element), reader.field(key),
                                   "node numbers run from 1 to " + std::to_string(node_count));
    }
    out.push_back(static_cast<NodeIndex>(*number - 1));
  }
}

}  // namespace sluice::sim
