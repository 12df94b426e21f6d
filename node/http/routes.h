// The API's routes (docs/http.md): a request target split into its path and query, and matched
// against a table of (method, path pattern) pairs. Patterns are literal segments and `{name}`
// parameters ("/v1/topics/{topic}/records"). Pure: the pipeline's decode layer uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http {

inline constexpr size_t kPathSegmentsMax = 16;
inline constexpr size_t kQueryParamsMax = 32;

// A target split and percent-decoded. nullopt: not origin-form ("/..."), a bad %-escape, a
// decoded NUL or '/' inside a segment, more than kPathSegmentsMax segments or kQueryParamsMax
// parameters, or a parameter named twice.
struct Target {
  std::vector<std::string> segments;         // "/v1/topics/a%20b" -> {"v1", "topics", "a b"}
  std::map<std::string, std::string> query;  // "?offset=5&wait_ms=" -> {offset: 5, wait_ms: ""}
};
std::optional<Target> parse_target(std::string_view target);

using RouteId = uint16_t;

struct RouteMatch {
  RouteId id = 0;
  std::map<std::string, std::string> params;  // `{name}` -> the segment
};

enum class MatchOutcome : uint8_t { matched, not_found, method_not_allowed };

struct MatchResult {
  MatchOutcome outcome = MatchOutcome::not_found;
  RouteMatch match;                  // matched
  std::vector<std::string> allowed;  // method_not_allowed: the methods the path takes (sorted)
};

class RouteTable {
 public:
  // `pattern` must be "/" or start with "/" and have no empty segment; a method and pattern pair
  // is added once.
  void add(std::string method, std::string_view pattern, RouteId id);
  // HEAD matches a GET route.
  MatchResult match(std::string_view method, const std::vector<std::string>& segments) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> pattern;  // "{x}" segments are parameters
    RouteId id = 0;
  };
  static bool path_matches(const Route& route, const std::vector<std::string>& segments,
                           std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

}  // namespace sluice::http
