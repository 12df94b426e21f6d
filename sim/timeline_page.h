// The page of `sluice-sim run --timeline FILE`: one self-contained HTML file (inline CSS and
// script, no external resource) with the recorded timeline as JSON in a
// <script type="application/json" id="timeline-data"> element (docs/formats/timeline.md) and a
// canvas space-time diagram drawn from it: a lane per host, messages as lines between lanes,
// crashes, faults, role changes, client operations, checker violations; zoom, pan, a partition
// filter and a message-class filter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sim/timeline.h"

namespace sluice::sim {

// What the page says about the run itself.
struct TimelineRun {
  std::string scenario;
  std::string scenario_path;
  uint64_t seed = 0;
  std::string trace_hash;
  int64_t simulated_ns = 0;
  bool passed = true;
  std::string failure;
};

// `text` as a JSON string literal (quotes included) that is also safe inside a <script> element:
// '<', '>' and '&' are written as \u escapes, so no "</script" or "<!--" can appear.
std::string json_string(std::string_view text);
// The JSON document of docs/formats/timeline.md.
std::string timeline_json(const Timeline& timeline, const TimelineRun& run);
std::string render_timeline_html(const Timeline& timeline, const TimelineRun& run);

namespace timeline_page_detail {
// The page's fixed parts (sim/timeline_page_assets.cc): the head's style and the body's markup up
// to the data element, and the script that draws the diagram from the data.
extern const char* const kHead;
extern const char* const kScript;
}  // namespace timeline_page_detail

}  // namespace sluice::sim
