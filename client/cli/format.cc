#include "client/cli/format.h"

#include <nlohmann/json.hpp>

#include <array>
#include <utility>

namespace sluice::client::cli {

namespace {

using Json = nlohmann::json;

constexpr std::array<std::pair<std::string_view, Field>, 6> kFields = {{
    {"topic", Field::topic},
    {"partition", Field::partition},
    {"offset", Field::offset},
    {"timestamp", Field::timestamp},
    {"key", Field::key},
    {"value", Field::value},
}};

std::optional<Field> field_named(std::string_view name) {
  for (const auto& [field_name, field] : kFields) {
    if (field_name == name) return field;
  }
  return std::nullopt;
}

// `\n`, `\t`, `\\`: a shell argument cannot easily hold a newline or a tab.
char unescaped(char after_backslash) {
  switch (after_backslash) {
    case 'n': return '\n';
    case 't': return '\t';
    default: return after_backslash;
  }
}

void append_field(std::string& out, Field field, const ConsumedRecord& record) {
  switch (field) {
    case Field::topic: out += record.topic; break;
    case Field::partition: out += std::to_string(record.partition); break;
    case Field::offset: out += std::to_string(record.offset); break;
    case Field::timestamp: out += std::to_string(record.timestamp_ms); break;
    case Field::key:
      if (record.key) out += as_string_view(*record.key);
      break;
    case Field::value: out += as_string_view(record.value); break;
  }
}

}  // namespace

Result<OutputFormat> parse_output_format(std::string_view text) {
  OutputFormat format;
  if (text == "json") {
    format.json = true;
    return format;
  }
  format.parts.clear();
  std::string literal;
  for (size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (c == '\\' && at + 1 < text.size()) {
      literal += unescaped(text[++at]);
    } else if ((c == '{' || c == '}') && at + 1 < text.size() && text[at + 1] == c) {
      literal += c;
      ++at;
    } else if (c == '{') {
      const size_t close = text.find('}', at);
      if (close == std::string_view::npos) return Status(Errc::invalid_request, "format has an unclosed {");
      const std::string_view name = text.substr(at + 1, close - at - 1);
      const std::optional<Field> field = field_named(name);
      if (!field) {
        return Status(Errc::invalid_request, "format names {" + std::string(name) +
                                                 "}; known: {topic} {partition} {offset} {timestamp} {key} {value}");
      }
      format.parts.push_back({std::move(literal), field});
      literal.clear();
      at = close;
    } else if (c == '}') {
      return Status(Errc::invalid_request, "format has a } without its { (write }} for a brace)");
    } else {
      literal += c;
    }
  }
  if (!literal.empty()) format.parts.push_back({std::move(literal), std::nullopt});
  return format;
}

std::string render_record(const OutputFormat& format, const ConsumedRecord& record) {
  if (format.json) {
    Json line{{"topic", record.topic},
              {"partition", record.partition},
              {"offset", record.offset},
              {"timestamp_ms", record.timestamp_ms},
              {"key", record.key ? Json(std::string(as_string_view(*record.key))) : Json(nullptr)},
              {"value", std::string(as_string_view(record.value))}};
    // replace: a binary value must not make the line unprintable (dump would throw otherwise).
    return line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  }
  std::string out;
  for (const TemplatePart& part : format.parts) {
    out += part.literal;
    if (part.field) append_field(out, *part.field, record);
  }
  out += '\n';
  return out;
}

Result<OutRecord> record_from_json_line(std::string_view line) {
  const Json parsed = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Status(Errc::invalid_request, "not JSON");
  if (!parsed.is_object()) return Status(Errc::invalid_request, "not a JSON object");
  OutRecord record;
  for (const auto& [name, value] : parsed.items()) {
    if (name == "value" && value.is_string()) {
      record.value = to_bytes(value.get<std::string>());
    } else if (name == "key" && (value.is_string() || value.is_null())) {
      if (value.is_string()) record.key = to_bytes(value.get<std::string>());
    } else if (name == "partition" && value.is_number_unsigned() && value.get<uint64_t>() <= UINT32_MAX) {
      record.partition = value.get<uint32_t>();
    } else {
      return Status(Errc::invalid_request, "field \"" + name + "\" must be " +
                                               (name == "value"       ? "a string"
                                                : name == "key"       ? "a string or null"
                                                : name == "partition" ? "a partition number"
                                                                      : "one of key, value, partition"));
    }
  }
  if (!parsed.contains("value")) return Status(Errc::invalid_request, "no \"value\"");
  return record;
}

}  // namespace sluice::client::cli
