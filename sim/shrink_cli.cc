#include "sim/shrink_cli.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

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

}  // namespace

int shrink_main(const std::string& scenario_path, uint64_t seed, std::string out_path, size_t runs_max) {
  // The wall clock measures the runner, never a run.
  const auto started = std::chrono::steady_clock::now();  // determinism-ok: shrink_s, a runner figure
  Result<toml::table> scenario = load_scenario_table(scenario_path);
  if (!scenario.ok()) {
    std::cerr << "sluice-sim: " << scenario.status().message() << "\n";
    return kExitUsage;
  }
  ShrinkOptions options;
  options.seed = seed;
  options.runs_max = runs_max;
  options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  Result<ShrinkResult> result = shrink(*scenario, scenario_path, options);
  if (!result.ok()) {
    std::cerr << "sluice-sim: shrink: " << result.status().message() << "\n";
    return result.status().code() == Errc::check_failed ? kExitFailed : kExitUsage;
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;  // determinism-ok: shrink_s
  print_figures(*result, elapsed.count());
  ReplayHeader header{result->seed_after, result->checker, result->failure_after, scenario_path,
                      static_cast<int64_t>(result->events_before), static_cast<int64_t>(result->events_after),
                      static_cast<int64_t>(result->faults_before), static_cast<int64_t>(result->faults_after)};
  if (result->seed_after != seed && seed <= static_cast<uint64_t>(INT64_MAX)) header.source_seed = static_cast<int64_t>(seed);
  if (out_path.empty()) out_path = default_out_path((*scenario)["name"].value_or(std::string()), seed);
  Result<std::string> text = replay_text(header, result->minimal);
  Status written = text.ok() ? write_replay(out_path, *text) : text.status();
  if (!written.ok()) {
    std::cerr << "sluice-sim: " << written.message() << "\n";
    return kExitFailed;
  }
  std::cout << "replay_file=" << out_path << "\n" << "replay=" << replay_file_command(out_path) << "\n";
  return 0;
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
