#include "runtime/epoll/log_line.h"

#include <time.h>

#include <algorithm>
#include <cstdio>

namespace sluice::runtime::epoll {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

std::string log_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string log_value(std::string_view text) {
  const auto bare = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("._:,=/@[]+-").find(c) != std::string_view::npos;
  };
  if (!text.empty() && std::all_of(text.begin(), text.end(), bare)) return std::string(text);
  return log_quote(text);
}

std::string log_timestamp(int64_t unix_ns) {
  const time_t seconds = static_cast<time_t>(unix_ns / 1'000'000'000);
  const int millis = static_cast<int>(unix_ns % 1'000'000'000 / 1'000'000);
  tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the format could print: -Wformat-truncation
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

std::string format_log_line(int64_t unix_ns, LogLevel level, std::string_view event, std::string_view fields) {
  std::string line = "ts=" + log_timestamp(unix_ns) + " level=" + std::string(to_string(level)) + " event=";
  line += event;
  if (!fields.empty()) {
    line += ' ';
    line += fields;
  }
  return line;
}

void log_line(LogLevel level, std::string_view event, std::string_view fields) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  std::string line = format_log_line(static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec, level, event, fields);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace sluice::runtime::epoll
