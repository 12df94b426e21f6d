// The simulator module's error codes.
#pragma once

#include <string_view>

#include "node/base/status.h"

namespace sluice::sim {

enum class Errc {
  ok = 0,
  invalid_scenario,  // the scenario file is malformed or out of range (message names file:line)
  io_error,          // the scenario file could not be read
  check_failed,      // a safety or liveness check of the simulation failed
  invalid_summary,   // a sweep's JSON summary (sluice-sim merge) is malformed or does not fit
};

constexpr std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::ok: return "ok";
    case Errc::invalid_scenario: return "invalid_scenario";
    case Errc::io_error: return "io_error";
    case Errc::check_failed: return "check_failed";
    case Errc::invalid_summary: return "invalid_summary";
  }
  return "unknown";
}

using Status = BasicStatus<Errc>;
template <typename T>
using Result = BasicResult<T, Errc>;

}  // namespace sluice::sim
