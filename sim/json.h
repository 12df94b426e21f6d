// The little JSON sluice-sim needs for sweep summaries (docs/formats/sweep-json.md): quoting for
// the writer and a strict parser for `sluice-sim merge`. Numbers keep their text, so a 64-bit
// seed survives (a double would round it); objects keep their members sorted by name.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/errors.h"

namespace sluice::sim::json {

struct Value {
  enum class Kind { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;  // a string's contents, or a number as written
  std::vector<Value> items;
  std::map<std::string, Value> members;

  // The member `name` of an object; nullptr when absent or when this is not an object.
  const Value* find(std::string_view name) const;
  std::optional<uint64_t> as_u64() const;
  std::optional<double> as_double() const;
};

inline constexpr size_t kDepthMax = 32;       // nesting; summaries use 3
inline constexpr size_t kTextBytesMax = 64 << 20;  // a summary of 10^6 failing seeds fits

Result<Value> parse(std::string_view text);

// `text` as a JSON string literal, quotes included (control characters escaped as \uXXXX).
std::string quote(std::string_view text);

}  // namespace sluice::sim::json
