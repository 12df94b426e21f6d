// The CLI's record formats, pure: how `sluice consume` prints a record (a template such as
// "{partition}:{offset} {key}={value}", or one JSON object a line) and how `sluice produce
// --format json` reads one ({"key","value","partition"} a line).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/consumer.h"
#include "client/errors.h"
#include "client/producer.h"

namespace sluice::client::cli {

// What a template placeholder stands for.
enum class Field : uint8_t { topic, partition, offset, timestamp, key, value };

struct TemplatePart {
  std::string literal;          // printed as is, before the field
  std::optional<Field> field;   // nullopt: the template's tail
};

struct OutputFormat {
  bool json = false;
  std::vector<TemplatePart> parts = {{"", Field::value}};  // the default: the value alone
};

// The text after --format: "json", or a template with {topic} {partition} {offset} {timestamp}
// (ms) {key} {value}, `{{` and `}}` for braces, `\n` `\t` `\\` escapes. invalid_request names an
// unknown placeholder or an unclosed brace.
Result<OutputFormat> parse_output_format(std::string_view text);

// One line (with its '\n') for `record`: the template filled in (a missing key prints as
// nothing), or {"topic","partition","offset","timestamp_ms","key","value"} (key null when
// absent; invalid UTF-8 replaced by U+FFFD so the line stays JSON).
std::string render_record(const OutputFormat& format, const ConsumedRecord& record);

// A `--format json` input line: {"value": string, "key"?: string|null, "partition"?: n}.
// invalid_request says what is wrong with it.
Result<OutRecord> record_from_json_line(std::string_view line);

}  // namespace sluice::client::cli
