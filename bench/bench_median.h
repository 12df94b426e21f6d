// The figure a bench script prints for a benchmark that Google Benchmark ran several times (a few
// probes to size it, then --benchmark_repetitions runs): the median by `key` of the runs with the
// most iterations, i.e. the sized runs, not the probes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sluice::bench {

template <typename Run, typename Key>
Run median_run(std::vector<Run> runs, Key key) {
  int64_t most = 0;
  for (const Run& run : runs) most = std::max(most, run.iterations);
  std::erase_if(runs, [most](const Run& run) { return run.iterations != most; });
  std::sort(runs.begin(), runs.end(), [&](const Run& a, const Run& b) { return key(a) < key(b); });
  return runs[runs.size() / 2];
}

}  // namespace sluice::bench
