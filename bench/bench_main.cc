// main() of sluice-bench: Google Benchmark's usual console report, then one key=value line per
// result so scripts can pick figures out without parsing the table:
//   bench.<name, '/' replaced by '_'>.ns_per_op=<real time per iteration in ns>
//   bench.<name>.items_per_s=<items per second>      (only when the benchmark counts items)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Figure {
  std::string name;
  double ns_per_op = 0;
  bool has_items = false;
  double items_per_s = 0;
};

// Passes everything on to the display reporter chosen by the flags and keeps the figures.
class RecordingReporter final : public benchmark::BenchmarkReporter {
 public:
  explicit RecordingReporter(benchmark::BenchmarkReporter* display) : display_(display) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    display_->ReportRuns(runs);
    for (const Run& run : runs) {
      // A coefficient of variation (the _cv aggregate of --benchmark_repetitions) is a ratio, not
      // a time per iteration.
      if (run.error_occurred || run.aggregate_unit == benchmark::kPercentage) continue;
      Figure figure;
      figure.name = run.benchmark_name();
      for (char& c : figure.name) {
        if (c == '/') c = '_';
      }
      figure.ns_per_op = run.GetAdjustedRealTime() * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
      if (auto items = run.counters.find("items_per_second"); items != run.counters.end()) {
        figure.has_items = true;
        figure.items_per_s = items->second.value;
      }
      figures_.push_back(std::move(figure));
    }
  }
  void Finalize() override { display_->Finalize(); }

  const std::vector<Figure>& figures() const { return figures_; }

 private:
  benchmark::BenchmarkReporter* display_;
  std::vector<Figure> figures_;
};

// The key=value lines would corrupt a JSON or CSV report written to stdout.
bool console_format(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=") && arg != "--benchmark_format=console") return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const bool print_figures = console_format(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Owned by the library (created once, never freed by us).
  RecordingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (!print_figures) return 0;
  for (const Figure& figure : reporter.figures()) {
    std::printf("bench.%s.ns_per_op=%.3f\n", figure.name.c_str(), figure.ns_per_op);
    if (figure.has_items) std::printf("bench.%s.items_per_s=%.0f\n", figure.name.c_str(), figure.items_per_s);
  }
  return 0;
}
