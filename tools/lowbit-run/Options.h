//===- Options.h - lowbit-run's command line --------------------*- C++ -*-===//

#ifndef LOWBIT_TOOLS_LOWBIT_RUN_OPTIONS_H
#define LOWBIT_TOOLS_LOWBIT_RUN_OPTIONS_H

#include "lowbit/Numerics/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::run {

struct Options {
  bool help = false;
  std::string library;
  std::optional<std::string> weights;
  std::optional<std::string> prefix;
  std::optional<std::string> entry;
  bool list = false;
  int threads = 0; ///< 0: not given.
  std::vector<std::string> inputs;
  std::optional<std::string> outputDir;
  /// --output NAME=PATH, in order.
  std::vector<std::pair<std::string, std::string>> outputs;
  int64_t bench = 0; ///< 0: no benchmark.
};

/// Parses argv; errors name the option.
numerics::Result<Options> parseOptions(int argc, char **argv);

/// The --help text.
const char *usage();

} // namespace lowbit::run

#endif // LOWBIT_TOOLS_LOWBIT_RUN_OPTIONS_H
