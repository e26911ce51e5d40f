//===- Options.cpp - lowbit-run's command line ----------------------------===//

#include "Options.h"

#include <cstring>

namespace lowbit::run {

using numerics::Result;
using numerics::Status;

const char *usage() {
  return "usage: lowbit-run MODEL.so [options] [INPUT.npy ...]\n"
         "\n"
         "Runs an entry point of an artifact compiled by lowbit-compile on\n"
         "inputs read from .npy files (one per argument, in order).\n"
         "\n"
         "options:\n"
         "  --weights PATH       the weights file (default, when the artifact\n"
         "                       has weights: MODEL.weights.safetensors)\n"
         "  --prefix P           the export prefix it was compiled with\n"
         "                       (default lowbit_)\n"
         "  --entry NAME         the entry point (default: the only one)\n"
         "  --list               print the entry points and exit\n"
         "  --threads N          OpenMP threads for the compiled code\n"
         "  -o DIR               write every result to DIR/<name>.npy\n"
         "  --output NAME=PATH   write result NAME to PATH (repeatable)\n"
         "  --bench N            run N more times after a warm-up run and\n"
         "                       print min/median/mean/max latency in ms\n"
         "  -h, --help           print this help\n"
         "\n"
         "Results not written to a file are printed. Options take their\n"
         "value as the next argument or after '='; '--' ends the options.\n";
}

namespace {
Result<int64_t> parseCount(const std::string &option, const std::string &text,
                           int64_t max) {
  int64_t v = 0;
  bool ok = !text.empty() && text.size() <= 18;
  for (char c : text)
    ok &= c >= '0' && c <= '9';
  if (ok)
    v = std::stoll(text);
  if (!ok || v < 1 || v > max)
    return Status::error(option + " expects an integer from 1 to " +
                         std::to_string(max) + ", got '" + text + "'");
  return v;
}
} // namespace

Result<Options> parseOptions(int argc, char **argv) {
  Options o;
  bool optionsDone = false;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (optionsDone || arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsDone = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      o.help = true;
      continue;
    }
    if (arg == "--list") {
      o.list = true;
      continue;
    }
    // Options with a value: "--opt VALUE" or "--opt=VALUE".
    std::string name = arg, value;
    bool inlineValue = false;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    const char *known[] = {"--weights", "--prefix", "--entry", "--threads",
                           "-o",        "--output", "--bench"};
    bool isKnown = false;
    for (const char *k : known)
      isKnown |= name == k;
    if (!isKnown)
      return Status::error("unknown option '" + arg + "'");
    if (!inlineValue) {
      if (i + 1 >= argc)
        return Status::error(name + " needs a value");
      value = argv[++i];
    }
    auto once = [&](auto &slot) -> Status {
      if (slot)
        return Status::error(name + " is given twice");
      slot = value;
      return Status::ok();
    };
    Status s = Status::ok();
    if (name == "--weights")
      s = once(o.weights);
    else if (name == "--prefix")
      s = once(o.prefix);
    else if (name == "--entry")
      s = once(o.entry);
    else if (name == "-o")
      s = once(o.outputDir);
    else if (name == "--threads") {
      Result<int64_t> n = parseCount(name, value, 4096);
      if (!n)
        return n.status();
      o.threads = int(*n);
    } else if (name == "--bench") {
      Result<int64_t> n = parseCount(name, value, 1'000'000'000);
      if (!n)
        return n.status();
      o.bench = *n;
    } else if (name == "--output") {
      size_t at = value.find('=');
      if (at == std::string::npos || at == 0 || at + 1 == value.size())
        return Status::error("--output expects NAME=PATH, got '" + value + "'");
      o.outputs.emplace_back(value.substr(0, at), value.substr(at + 1));
    }
    if (!s)
      return s;
    if (name != "--output" && value.empty())
      return Status::error(name + " needs a non-empty value");
  }
  if (o.help)
    return o;
  if (positional.empty())
    return Status::error("no artifact given");
  o.library = positional[0];
  o.inputs.assign(positional.begin() + 1, positional.end());
  if (o.list && (!o.inputs.empty() || o.outputDir || !o.outputs.empty() ||
                 o.bench || o.entry))
    return Status::error("--list takes no inputs, outputs, --entry or "
                         "--bench");
  return o;
}

} // namespace lowbit::run
