#include "sim/shrink_cli.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include "sim/replay.h"
#include "sim/shrink.h"
#include "sim/simulation.h"
#include "sim/timeline_page.h"

namespace sluice::sim {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

void print_figures(const ShrinkResult& result, double shrink_s) {
  std::cout << "checker=" << result.checker << "\n"
            << "failure_before=" << result.failure_before << "\n"
            << "failure_after=" << result.failure_after << "\n"
            << "events_before=" << result.events_before << "\n"
            << "events_after=" << result.events_after << "\n"
            << "faults_before=" << result.faults_before << "\n"
            << "faults_after=" << result.faults_after << "\n"
            << "buggify_sites_before=" << result.buggify_sites_before << "\n"
            << "buggify_sites_after=" << result.buggify_sites_after << "\n"
            << "buggify_fired_before=" << result.buggify_fired_before << "\n"
            << "buggify_fired_after=" << result.buggify_fired_after << "\n"
            << "client_ops_before=" << result.client_ops_before << "\n"
            << "client_ops_after=" << result.client_ops_after << "\n"
            << "materialized=" << (result.materialized ? "yes" : "no") << "\n"
            << "noise_off=" << (result.noise_off.empty() ? std::string("-") : join_names(result.noise_off)) << "\n"
            << "seed_after=" << result.seed_after << "\n"
            << "shrink_runs=" << result.runs << "\n"
            << "shrink_search_runs=" << result.search_runs << "\n"
            << "shrink_capped=" << (result.capped ? "yes" : "no") << "\n"
            << "shrink_s=" << format_figure(shrink_s, 3) << "\n";
}

std::string default_out_path(const std::string& scenario_name, uint64_t seed) {
  return (scenario_name.empty() ? std::string("scenario") : scenario_name) + "-seed" + std::to_string(seed) + ".replay.toml";
}

// What shrink_to_file did: the result (none when the shrink could not run), the file written and
// the wall-clock seconds; exit_code and error when something failed (kExitFailed: the seed passes
// or the file cannot be written; kExitUsage: the scenario is unusable).
struct ShrunkToFile {
  std::optional<ShrinkResult> result;
  std::string path;
  double shrink_s = 0;
  int exit_code = 0;
  std::string error;
};

// Shrinks `seed` and writes the replay file to `out_path`, or when that is empty to
// `dir`/<scenario name>-seed<N>.replay.toml (`dir` empty: the working directory).
ShrunkToFile shrink_to_file(const std::string& scenario_path, uint64_t seed, const std::string& out_path, const std::string& dir,
                            size_t runs_max, const std::function<void(const std::string&)>& progress) {
  // The wall clock measures the runner, never a run.
  const auto started = std::chrono::steady_clock::now();  // determinism-ok: shrink_s, a runner figure
  ShrunkToFile out;
  Result<toml::table> scenario = load_scenario_table(scenario_path);
  if (!scenario.ok()) {
    out.exit_code = kExitUsage;
    out.error = scenario.status().message();
    return out;
  }
  ShrinkOptions options;
  options.seed = seed;
  options.runs_max = runs_max;
  options.progress = progress;
  Result<ShrinkResult> result = shrink(*scenario, scenario_path, options);
  if (!result.ok()) {
    out.exit_code = result.status().code() == Errc::check_failed ? kExitFailed : kExitUsage;
    out.error = "shrink: " + result.status().message();
    return out;
  }
  const ShrinkResult& shrunk = out.result.emplace(std::move(*result));
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;  // determinism-ok: shrink_s
  out.shrink_s = elapsed.count();
  ReplayHeader header{shrunk.seed_after, shrunk.checker, shrunk.failure_after, scenario_path,
                      static_cast<int64_t>(shrunk.events_before), static_cast<int64_t>(shrunk.events_after),
                      static_cast<int64_t>(shrunk.faults_before), static_cast<int64_t>(shrunk.faults_after)};
  if (shrunk.seed_after != seed && seed <= static_cast<uint64_t>(INT64_MAX)) header.source_seed = static_cast<int64_t>(seed);
  out.path = !out_path.empty() ? out_path
                               : (std::filesystem::path(dir) / default_out_path((*scenario)["name"].value_or(std::string()), seed)).string();
  Result<std::string> text = replay_text(header, shrunk.minimal);
  Status written = text.ok() ? write_replay(out.path, *text) : text.status();
  if (!written.ok()) {
    out.exit_code = kExitFailed;
    out.error = written.message();
  }
  return out;
}

}  // namespace

int shrink_main(const std::string& scenario_path, uint64_t seed, std::string out_path, size_t runs_max) {
  const ShrunkToFile shrunk = shrink_to_file(scenario_path, seed, out_path, "", runs_max,
                                             [](const std::string& line) { std::cerr << line << "\n"; });
  if (shrunk.result) print_figures(*shrunk.result, shrunk.shrink_s);
  if (shrunk.exit_code != 0) {
    std::cerr << "sluice-sim: " << shrunk.error << "\n";
    return shrunk.exit_code;
  }
  std::cout << "replay_file=" << shrunk.path << "\n" << "replay=" << replay_file_command(shrunk.path) << "\n";
  return 0;
}

void shrink_sweep_failures(const std::string& scenario_path, const SweepSummary& summary, const SweepShrinkOptions& options,
                           std::ostream& text) {
  size_t shrunk_count = 0;
  for (const SweepFailure& failure : summary.failures) {
    if (shrunk_count == options.failures_max) {
      text << "shrink: " << summary.failures.size() - shrunk_count << " more failing seed(s) not shrunk (--shrink-max "
           << options.failures_max << ")\n";
      break;
    }
    ++shrunk_count;
    const ShrunkToFile shrunk = shrink_to_file(scenario_path, failure.seed, "", options.dir, options.runs_max, {});
    if (shrunk.exit_code != 0) {
      text << "shrunk seed=" << failure.seed << " error=" << shrunk.error << "\n";
      continue;
    }
    const ShrinkResult& result = *shrunk.result;
    text << "shrunk seed=" << failure.seed << " checker=" << result.checker << " faults=" << result.faults_before << "->"
         << result.faults_after << " events=" << result.events_before << "->" << result.events_after
         << " client_ops=" << result.client_ops_before << "->" << result.client_ops_after << " seed_after=" << result.seed_after
         << " shrink_s=" << format_figure(shrunk.shrink_s, 3) << " replay=" << replay_file_command(shrunk.path) << "\n";
  }
}

bool TimelineOutput::open(const std::string& path) {
  path_ = path;
  if (path_.empty()) return true;
  file_.open(path_, std::ios::binary | std::ios::trunc);
  if (file_) return true;
  std::cerr << "sluice-sim: --timeline: cannot write '" << path_ << "': " << std::strerror(errno) << "\n";
  return false;
}

bool TimelineOutput::write(const SimulationReport& report) {
  if (path_.empty()) return true;
  const TimelineRun run{report.scenario_name, report.scenario_path, report.seed, hex16(report.trace_hash),
                        report.simulated_ns, report.passed, report.failure};
  file_ << render_timeline_html(timeline_, run);
  file_.close();
  if (file_) return true;
  std::cerr << "sluice-sim: --timeline: writing '" << path_ << "' failed: " << std::strerror(errno) << "\n";
  return false;
}

int replay_main(const std::string& path, const std::string& timeline_path) {
  Result<Replay> replay = load_replay(path);
  if (!replay.ok()) {
    std::cerr << "sluice-sim: " << replay.status().message() << "\n";
    return kExitUsage;
  }
  TimelineOutput timeline;
  if (!timeline.open(timeline_path)) return kExitUsage;
  SimulationReport report =
      run_simulation(replay->scenario, SimulationOptions{replay->header.seed, false, timeline.timeline()});
  report.replay = replay_file_command(path);
  print_report(report, std::cout);
  if (!timeline.write(report)) return kExitUsage;
  const std::string checker = report.passed ? std::string("-") : failure_class(report.failure);
  std::cout << "expected_checker=" << replay->header.checker << "\n"
            << "checker=" << checker << "\n"
            << "reproduced=" << (checker == replay->header.checker ? "yes" : "no") << "\n";
  return report.passed ? 0 : kExitFailed;
}

}  // namespace sluice::sim
