#include "sim/timeline_page.h"

#include <cstdio>
#include <set>

namespace sluice::sim {
namespace {

constexpr int64_t kNsPerUs = 1000;

void append_us(std::string& out, int64_t ns) { out += std::to_string(ns / kNsPerUs); }

void append_lanes(std::string& out, const Timeline& timeline) {
  out += "\"lanes\":[";
  for (size_t i = 0; i < timeline.lanes().size(); ++i) {
    const TimelineLane& lane = timeline.lanes()[i];
    out += i == 0 ? "" : ",";
    out += "{\"host\":" + json_string(lane.host) + ",\"kind\":\"" + (lane.client ? "client" : "node") + "\"}";
  }
  out += "]";
}

// Rows [sent_us, arrived_us, from, to, class, flags, bytes]; flags: 1 stream, 2 dropped.
void append_messages(std::string& out, const Timeline& timeline) {
  out += "\"messages\":{\"seen\":" + std::to_string(timeline.messages_seen()) + ",\"seen_by_class\":{";
  for (int c = 0; c < kMessageClasses; ++c) {
    const auto cls = static_cast<MessageClass>(c);
    out += (c == 0 ? "\"" : ",\"") + std::string(to_string(cls)) + "\":" + std::to_string(timeline.messages_seen(cls));
  }
  out += "},\"sample_every\":" + std::to_string(timeline.sample_every()) + ",\"rows\":[";
  bool first = true;
  for (const TimelineMessage& m : timeline.messages()) {
    out += first ? "[" : ",[";
    first = false;
    append_us(out, m.sent_ns);
    out += ',';
    append_us(out, m.arrived_ns);
    const int flags = (m.stream ? 1 : 0) | (m.dropped ? 2 : 0);
    out += ',' + std::to_string(m.from) + ',' + std::to_string(m.to) + ',' + std::to_string(static_cast<int>(m.cls)) + ',' +
           std::to_string(flags) + ',' + std::to_string(m.bytes) + ']';
  }
  out += "]}";
}

// The partition a mark belongs to: its own, or its Raft group's; -2 for the controller's group.
int64_t partition_of(const Timeline& timeline, const TimelineMark& mark) {
  if (mark.partition >= 0 || mark.group == 0) return mark.partition;
  auto it = timeline.groups().find(mark.group);
  if (it == timeline.groups().end()) return -1;
  return it->second.label == "controller" ? -2 : it->second.partition;
}

// Rows [at_us, lane, kind, group, partition, label].
void append_marks(std::string& out, const Timeline& timeline, std::set<int64_t>& partitions) {
  out += "\"marks\":{\"dropped\":" + std::to_string(timeline.marks_dropped()) + ",\"rows\":[";
  bool first = true;
  for (const TimelineMark& mark : timeline.marks()) {
    const int64_t partition = partition_of(timeline, mark);
    if (partition >= 0) partitions.insert(partition);
    out += first ? "[" : ",[";
    first = false;
    append_us(out, mark.at_ns);
    out += ',' + std::to_string(mark.lane) + ",\"" + std::string(to_string(mark.kind)) + "\"," + std::to_string(mark.group) + ',' +
           std::to_string(partition) + ',' + json_string(mark.label) + ']';
  }
  out += "]}";
}

void append_groups(std::string& out, const Timeline& timeline, std::set<int64_t>& partitions) {
  out += "\"groups\":[";
  bool first = true;
  for (const auto& [group, name] : timeline.groups()) {
    if (name.partition >= 0) partitions.insert(name.partition);
    out += first ? "{" : ",{";
    first = false;
    out += "\"group\":" + std::to_string(group) + ",\"label\":" + json_string(name.label) +
           ",\"partition\":" + std::to_string(name.partition) + "}";
  }
  out += "]";
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || c == '<' || c == '>' || c == '&') {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string timeline_json(const Timeline& timeline, const TimelineRun& run) {
  std::string out = "{\"format\":\"sluice-timeline\",\"version\":1";
  out += ",\"scenario\":" + json_string(run.scenario) + ",\"scenario_path\":" + json_string(run.scenario_path);
  out += ",\"seed\":\"" + std::to_string(run.seed) + "\",\"trace_hash\":" + json_string(run.trace_hash);
  out += ",\"simulated_us\":" + std::to_string(run.simulated_ns / kNsPerUs);
  out += ",\"result\":\"" + std::string(run.passed ? "passed" : "FAILED") + "\",\"failure\":" + json_string(run.failure) + ",";
  append_lanes(out, timeline);
  out += ",\"classes\":[";
  for (int c = 0; c < kMessageClasses; ++c) out += (c == 0 ? "\"" : ",\"") + std::string(to_string(static_cast<MessageClass>(c))) + "\"";
  out += "],";
  std::set<int64_t> partitions;
  append_groups(out, timeline, partitions);
  out += ',';
  append_messages(out, timeline);
  out += ',';
  append_marks(out, timeline, partitions);
  out += ",\"partitions\":[";
  for (auto it = partitions.begin(); it != partitions.end(); ++it) out += (it == partitions.begin() ? "" : ",") + std::to_string(*it);
  out += "]}";
  return out;
}

std::string render_timeline_html(const Timeline& timeline, const TimelineRun& run) {
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>sluice timeline: ";
  page += html_escape(run.scenario) + " seed " + std::to_string(run.seed) + "</title>\n";
  page += timeline_page_detail::kHead;
  page += "<script type=\"application/json\" id=\"timeline-data\">";
  page += timeline_json(timeline, run);
  page += "</script>\n<script>\n";
  page += timeline_page_detail::kScript;
  page += "</script>\n</body>\n</html>\n";
  return page;
}

}  // namespace sluice::sim
