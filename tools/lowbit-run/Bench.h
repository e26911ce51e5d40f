//===- Bench.h - Timing repeated runs ---------------------------*- C++ -*-===//

#ifndef LOWBIT_TOOLS_LOWBIT_RUN_BENCH_H
#define LOWBIT_TOOLS_LOWBIT_RUN_BENCH_H

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::run {

/// Calls `run` `count` times; returns each call's wall time in ms.
template <typename F> std::vector<double> timeRuns(int64_t count, F &&run) {
  std::vector<double> ms;
  ms.reserve(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    auto start = std::chrono::steady_clock::now();
    run();
    auto end = std::chrono::steady_clock::now();
    ms.push_back(
        std::chrono::duration<double, std::milli>(end - start).count());
  }
  return ms;
}

/// "bench: forward: 10 runs: min 0.120 ms, median 0.130 ms, mean 0.131 ms,
/// max 0.200 ms".
std::string formatBench(const std::string &entry, std::vector<double> ms);

} // namespace lowbit::run

#endif // LOWBIT_TOOLS_LOWBIT_RUN_BENCH_H
