//===- Bench.cpp - Latency statistics -------------------------------------===//

#include "Bench.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace lowbit::run {

std::string formatBench(const std::string &entry, std::vector<double> ms) {
  if (ms.empty())
    return "bench: " + entry + ": no runs";
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / double(n);
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                ": %zu run%s: min %.4g ms, median %.4g ms, mean %.4g ms, "
                "max %.4g ms",
                n, n == 1 ? "" : "s", ms.front(), median, mean, ms.back());
  return "bench: " + entry + buf;
}

} // namespace lowbit::run
