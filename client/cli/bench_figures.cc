#include "client/cli/bench_figures.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::client::cli {

namespace {

double seconds_of(runtime::Duration elapsed) { return static_cast<double>(elapsed.count()) / 1e9; }

// Per second over `elapsed`; 0 for a run too short to measure.
double rate(double amount, runtime::Duration elapsed) {
  const double seconds = seconds_of(elapsed);
  return seconds > 0 ? amount / seconds : 0;
}

}  // namespace

uint32_t percentile(const std::vector<uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::vector<Figure> produce_figures(ProduceSamples samples) {
  std::sort(samples.latencies_us.begin(), samples.latencies_us.end());
  const auto acked = static_cast<double>(samples.latencies_us.size());
  const auto ms = [&](double fraction) { return percentile(samples.latencies_us, fraction) / 1000.0; };
  return {
      {"records", acked, 0},
      {"failed", static_cast<double>(samples.records_failed), 0},
      {"elapsed_s", seconds_of(samples.elapsed), 3},
      {"msg_s", rate(acked, samples.elapsed), 0},
      {"mb_s", rate(acked * static_cast<double>(samples.record_bytes), samples.elapsed) / 1e6, 2},
      {"latency_ms_p50", ms(0.50), 3},
      {"latency_ms_p99", ms(0.99), 3},
      {"latency_ms_max", ms(1.0), 3},
  };
}

std::vector<Figure> consume_figures(uint64_t records, uint64_t bytes, runtime::Duration elapsed) {
  return {
      {"records", static_cast<double>(records), 0},
      {"bytes", static_cast<double>(bytes), 0},
      {"elapsed_s", seconds_of(elapsed), 3},
      {"msg_s", rate(static_cast<double>(records), elapsed), 0},
      {"mb_s", rate(static_cast<double>(bytes), elapsed) / 1e6, 2},
  };
}

std::string render_figures(const std::vector<Figure>& figures, bool json) {
  if (json) {
    nlohmann::json object = nlohmann::json::object();
    for (const Figure& figure : figures) {
      const double scale = std::pow(10.0, figure.decimals);
      if (figure.decimals == 0) {
        object[std::string(figure.name)] = static_cast<int64_t>(std::llround(figure.value));  // a count: 2000, not 2000.0
      } else {
        object[std::string(figure.name)] = std::round(figure.value * scale) / scale;
      }
    }
    return object.dump() + "\n";
  }
  std::string out;
  for (const Figure& figure : figures) {
    char value[64];
    std::snprintf(value, sizeof(value), "%.*f", figure.decimals, figure.value);
    out += std::string(figure.name) + "=" + value + "\n";
  }
  return out;
}

}  // namespace sluice::client::cli
