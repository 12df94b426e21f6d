// The real node's log lines (docs/operations.md, "Log lines"): one line per event on stdout,
//
//   ts=2026-12-04T14:48:38.123Z level=info event=start node=127.0.0.1:7946 node_id=1 ...
//
// `ts` (UTC, milliseconds) and `level` come first, then `event`, then the event's own keys. Values
// are bare words, or double-quoted with `"` and `\` escaped when they may hold anything else.
// Real runtime only: the clock is the OS's wall clock, which node logic must not read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::runtime::epoll {

enum class LogLevel { info, warn, error };

std::string_view to_string(LogLevel level);

// `text` as a double-quoted value: `"` and `\` escaped, control bytes as \n, \t or \xHH.
std::string log_quote(std::string_view text);

// `text` as a value: bare when it is a non-empty word of letters, digits and `._:,=/@[]+-` (an
// address, a name, a number), else log_quote(text). For values that come from outside (a peer's
// self-reported address), so no value can forge a key.
std::string log_value(std::string_view text);

// Nanoseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string log_timestamp(int64_t unix_ns);

// The whole line, without its line end: ts, level, event, then `fields` ("key=value ...", may be
// empty).
std::string format_log_line(int64_t unix_ns, LogLevel level, std::string_view event, std::string_view fields);

// Writes format_log_line(now, ...) and a line end to stdout with one call.
void log_line(LogLevel level, std::string_view event, std::string_view fields);

}  // namespace sluice::runtime::epoll
