// The figures `sluice bench` prints, computed from what it measured (pure: samples in, numbers
// and text out). Latency is per record, from send() to its acknowledgement.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/time.h"

namespace sluice::client::cli {

struct Figure {
  std::string_view name;
  double value = 0;
  int decimals = 0;
};

// What one produce bench measured.
struct ProduceSamples {
  std::vector<uint32_t> latencies_us;  // one per acknowledged record, any order
  uint64_t records_failed = 0;
  uint64_t record_bytes = 0;
  runtime::Duration elapsed{};  // first send to last acknowledgement
};

// records, failed, elapsed_s, msg_s, mb_s (10^6 bytes of values a second), latency_ms_p50,
// latency_ms_p99, latency_ms_max. msg_s and mb_s count acknowledged records only.
std::vector<Figure> produce_figures(ProduceSamples samples);

// records, bytes, elapsed_s, msg_s, mb_s for a consume bench (bytes: keys and values).
std::vector<Figure> consume_figures(uint64_t records, uint64_t bytes, runtime::Duration elapsed);

// The nearest-rank percentile (0 < fraction <= 1) of sorted samples; 0 when there are none.
uint32_t percentile(const std::vector<uint32_t>& sorted, double fraction);

// "name=value" a line, or one JSON object.
std::string render_figures(const std::vector<Figure>& figures, bool json);

}  // namespace sluice::client::cli
