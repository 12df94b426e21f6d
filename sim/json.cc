#include "sim/json.h"

#include <charconv>
#include <cstdio>

namespace sluice::sim::json {
namespace {

// A recursive-descent parser over `text`; the first error stops it and names the byte offset.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Value> document() {
    Value value = parse_value(0);
    skip_space();
    if (error_.empty() && pos_ != text_.size()) fail("trailing characters");
    if (!error_.empty()) return Status(Errc::invalid_summary, "JSON: " + error_);
    return value;
  }

 private:
  void fail(std::string_view what) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(pos_);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value parse_value(size_t depth) {
    Value value;
    skip_space();
    if (depth > kDepthMax) return fail("nested too deep"), value;
    if (pos_ >= text_.size()) return fail("unexpected end"), value;
    const char c = text_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') {
      value.kind = Value::Kind::string;
      value.text = parse_string();
    } else if (literal("true")) {
      value.kind = Value::Kind::boolean;
      value.boolean = true;
    } else if (literal("false")) {
      value.kind = Value::Kind::boolean;
    } else if (literal("null")) {
      value.kind = Value::Kind::null;
    } else {
      value.kind = Value::Kind::number;
      value.text = parse_number();
    }
    return value;
  }

  std::string parse_number() {
    const size_t start = pos_;
    while (pos_ < text_.size() && std::string_view("+-.0123456789eE").find(text_[pos_]) != std::string_view::npos) ++pos_;
    std::string number(text_.substr(start, pos_ - start));
    double unused = 0;
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), unused);
    if (number.empty() || error != std::errc() || end != number.data() + number.size()) fail("bad value");
    return number;
  }

  std::string parse_string() {
    std::string out;
    ++pos_;  // the opening quote
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string"), out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) break;
      c = text_[pos_++];
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': out += parse_unicode_escape(); break;
        case '"': case '\\': case '/': out += c; break;
        default: return fail("bad escape"), out;
      }
    }
    if (pos_ >= text_.size()) return fail("unterminated string"), out;
    ++pos_;  // the closing quote
    return out;
  }

  // \uXXXX as UTF-8 (surrogate pairs are not joined: the writer only escapes control characters).
  std::string parse_unicode_escape() {
    unsigned code = 0;
    auto [end, error] = std::from_chars(text_.data() + pos_, text_.data() + std::min(pos_ + 4, text_.size()), code, 16);
    if (error != std::errc() || end != text_.data() + pos_ + 4) return fail("bad \\u escape"), "";
    pos_ += 4;
    std::string out;
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xe0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
    return out;
  }

  Value parse_array(size_t depth) {
    Value value;
    value.kind = Value::Kind::array;
    ++pos_;
    if (consume(']')) return value;
    do {
      value.items.push_back(parse_value(depth + 1));
    } while (error_.empty() && consume(','));
    if (error_.empty() && !consume(']')) fail("expected ',' or ']'");
    return value;
  }

  Value parse_object(size_t depth) {
    Value value;
    value.kind = Value::Kind::object;
    ++pos_;
    if (consume('}')) return value;
    do {
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') return fail("expected a member name"), value;
      std::string name = parse_string();
      if (!consume(':')) return fail("expected ':'"), value;
      Value member = parse_value(depth + 1);
      if (!value.members.emplace(name, std::move(member)).second) return fail("duplicate member '" + name + "'"), value;
    } while (error_.empty() && consume(','));
    if (error_.empty() && !consume('}')) fail("expected ',' or '}'");
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

const Value* Value::find(std::string_view name) const {
  if (kind != Kind::object) return nullptr;
  auto it = members.find(std::string(name));
  return it == members.end() ? nullptr : &it->second;
}

std::optional<uint64_t> Value::as_u64() const {
  uint64_t out = 0;
  if (kind != Kind::number) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

std::optional<double> Value::as_double() const {
  double out = 0;
  if (kind != Kind::number) return std::nullopt;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

Result<Value> parse(std::string_view text) {
  if (text.size() > kTextBytesMax) return Status(Errc::invalid_summary, "JSON: larger than 64 MiB");
  return Parser(text).document();
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace sluice::sim::json
