#include "node/http/routes.h"

#include <algorithm>
#include <set>
#include <utility>

#include "node/base/assert.h"

namespace sluice::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded; '+' means a space in a query (form encoding), never in a path.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;  // "%" or "%X" at the end
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      const char decoded = static_cast<char>(high * 16 + low);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

bool parse_query(std::string_view query, std::map<std::string, std::string>& out) {
  if (query.empty()) return true;
  for (std::string_view pair : split(query, '&')) {
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    std::optional<std::string> name = percent_decode(pair.substr(0, equals), true);
    std::optional<std::string> value =
        percent_decode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
    if (!name || !value || name->empty() || out.size() >= kQueryParamsMax) return false;
    if (!out.emplace(std::move(*name), std::move(*value)).second) return false;
  }
  return true;
}

}  // namespace

std::optional<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  Target parsed;
  if (question != std::string_view::npos && !parse_query(target.substr(question + 1), parsed.query)) return std::nullopt;
  for (std::string_view segment : split(path.substr(1), '/')) {
    if (segment.empty()) continue;  // "//" and a trailing "/" add nothing
    std::optional<std::string> decoded = percent_decode(segment, false);
    if (!decoded || decoded->find('/') != std::string::npos || parsed.segments.size() >= kPathSegmentsMax) return std::nullopt;
    parsed.segments.push_back(std::move(*decoded));
  }
  return parsed;
}

void RouteTable::add(std::string method, std::string_view pattern, RouteId id) {
  SLUICE_ASSERT(!pattern.empty() && pattern.front() == '/');
  Route route{std::move(method), {}, id};
  if (pattern != "/") {
    for (std::string_view segment : split(pattern.substr(1), '/')) {
      SLUICE_ASSERT(!segment.empty());
      route.pattern.emplace_back(segment);
    }
  }
  for (const Route& existing : routes_) SLUICE_ASSERT(!(existing.method == route.method && existing.pattern == route.pattern));
  routes_.push_back(std::move(route));
}

bool RouteTable::path_matches(const Route& route, const std::vector<std::string>& segments,
                              std::map<std::string, std::string>* params) {
  if (route.pattern.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& part = route.pattern[i];
    const bool parameter = part.size() > 2 && part.front() == '{' && part.back() == '}';
    if (parameter) {
      if (params != nullptr) (*params)[part.substr(1, part.size() - 2)] = segments[i];
    } else if (part != segments[i]) {
      return false;
    }
  }
  return true;
}

MatchResult RouteTable::match(std::string_view method, const std::vector<std::string>& segments) const {
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  MatchResult result;
  std::set<std::string> allowed;
  for (const Route& route : routes_) {
    if (!path_matches(route, segments, nullptr)) continue;
    if (route.method != wanted) {
      allowed.insert(route.method);
      continue;
    }
    result.outcome = MatchOutcome::matched;
    result.match.id = route.id;
    path_matches(route, segments, &result.match.params);
    return result;
  }
  if (!allowed.empty()) {
    result.outcome = MatchOutcome::method_not_allowed;
    result.allowed.assign(allowed.begin(), allowed.end());
  }
  return result;
}

}  // namespace sluice::http
