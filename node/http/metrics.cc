#include "node/http/metrics.h"

#include <cmath>
#include <cstdio>

#include "node/base/assert.h"

namespace sluice::http {
namespace {

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

std::string type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

void append_labels(std::string& out, const Labels& labels, const std::string& le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name + "=\"" + escape_label_value(value) + "\"";
  }
  if (!le.empty()) out += std::string(first ? "" : ",") + "le=\"" + le + "\"";
  out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Metrics::describe(const std::string& name, MetricType type, std::string help, std::span<const double> buckets) {
  SLUICE_ASSERT(valid_name(name));
  Family& family = families_[name];
  family.type = type;
  family.help = std::move(help);
  if (type == MetricType::histogram) {
    family.bounds.assign(buckets.begin(), buckets.end());
    for (size_t i = 1; i < family.bounds.size(); ++i) SLUICE_ASSERT(family.bounds[i - 1] < family.bounds[i]);
  }
}

Metrics::Series* Metrics::series(const std::string& name, MetricType type, const Labels& labels, bool counter_too) {
  auto found = families_.find(name);
  SLUICE_ASSERT(found != families_.end());
  SLUICE_ASSERT(found->second.type == type || (counter_too && found->second.type == MetricType::counter));
  Family& family = found->second;
  auto it = family.series.find(labels);
  if (it != family.series.end()) return &it->second;
  if (family.series.size() >= series_per_family_max_) {
    ++series_dropped_;
    return nullptr;
  }
  Series& fresh = family.series[labels];
  fresh.buckets.assign(family.bounds.size(), 0);
  return &fresh;
}

void Metrics::add(const std::string& name, const Labels& labels, double amount) {
  if (Series* s = series(name, MetricType::counter, labels)) s->value += amount;
}

void Metrics::set(const std::string& name, const Labels& labels, double value) {
  if (Series* s = series(name, MetricType::gauge, labels, /*counter_too=*/true)) s->value = value;
}

void Metrics::observe(const std::string& name, const Labels& labels, double value) {
  Series* s = series(name, MetricType::histogram, labels);
  if (s == nullptr) return;
  const std::vector<double>& bounds = families_.at(name).bounds;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) {
      ++s->buckets[i];
      break;
    }
  }
  ++s->count;
  s->value += value;
}

void Metrics::set_histogram(const std::string& name, const Labels& labels, std::span<const uint64_t> per_bucket, uint64_t count,
                            double sum) {
  Series* s = series(name, MetricType::histogram, labels);
  if (s == nullptr) return;
  SLUICE_ASSERT_EQ(per_bucket.size(), s->buckets.size());
  s->buckets.assign(per_bucket.begin(), per_bucket.end());
  s->count = count;
  s->value = sum;
}

void Metrics::append_family(std::string& out, const std::string& name, const Family& family) {
  out += "# HELP " + name + " " + escape_label_value(family.help) + "\n";
  out += "# TYPE " + name + " " + type_name(family.type) + "\n";
  for (const auto& [labels, s] : family.series) {
    if (family.type != MetricType::histogram) {
      out += name;
      append_labels(out, labels);
      out += " " + number(s.value) + "\n";
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < family.bounds.size(); ++i) {
      cumulative += s.buckets[i];
      out += name + "_bucket";
      append_labels(out, labels, number(family.bounds[i]));
      out += " " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket";
    append_labels(out, labels, "+Inf");
    out += " " + std::to_string(s.count) + "\n";
    out += name + "_sum";
    append_labels(out, labels);
    out += " " + number(s.value) + "\n";
    out += name + "_count";
    append_labels(out, labels);
    out += " " + std::to_string(s.count) + "\n";
  }
}

std::string Metrics::exposition() const {
  std::string out;
  for (const auto& [name, family] : families_) append_family(out, name, family);
  out += "# HELP metrics_series_dropped_total Label sets refused because a family was full.\n";
  out += "# TYPE metrics_series_dropped_total counter\n";
  out += "metrics_series_dropped_total " + std::to_string(series_dropped_) + "\n";
  return out;
}

}  // namespace sluice::http
