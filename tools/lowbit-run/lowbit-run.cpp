//===- lowbit-run.cpp - Run a compiled artifact on .npy inputs ------------===//
//
// lowbit-run MODEL.so [options] [INPUT.npy ...]: opens the artifact through
// the runtime's C API, checks every input against the entry's manifest
// (dtype and shape), runs it (optionally many times, timing each run) and
// writes or prints the results. Links only the runtime and the .npy code:
// no LLVM, no MLIR.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Format.h"
#include "Options.h"

#include "lowbit/Runtime/Manifest.h"
#include "lowbit/Runtime/Npy.h"
#include "lowbit/Runtime/lowbit_runtime.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace lowbit;
using namespace lowbit::run;

namespace {

/// An error for the user: printed, then exit code 1.
struct Failure {
  std::string message;
};

/// A 64-byte aligned buffer (the runtime requires natural alignment).
class Buffer {
public:
  explicit Buffer(int64_t bytes, const std::string &what) {
    size_t rounded = (size_t(bytes) + 63) / 64 * 64;
    data.reset(rounded ? std::aligned_alloc(64, rounded) : nullptr);
    if (rounded && !data)
      throw Failure{"cannot allocate " + std::to_string(bytes) + " bytes for " +
                    what};
    if (rounded)
      std::memset(data.get(), 0, rounded);
  }
  void *get() const { return data.get(); }

private:
  struct Free {
    void operator()(void *p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data;
};

/// Closes the artifact on every path out of main.
struct Artifact {
  lowbit_artifact *a = nullptr;
  ~Artifact() { lowbit_artifact_close(a); }
};

void listEntries(const Options &opts, const lowbit_artifact *a) {
  int64_t n = lowbit_artifact_entry_count(a);
  std::printf("%s: %lld %s", opts.library.c_str(), (long long)n,
              n == 1 ? "entry" : "entries");
  int64_t weights = lowbit_artifact_weight_count(a);
  if (weights > 0)
    std::printf(", %lld weights (%lld bytes) from %s", (long long)weights,
                (long long)lowbit_artifact_weight_bytes(a),
                lowbit_artifact_weights_path(a));
  std::printf("\n");
  for (int64_t e = 0; e < n; ++e)
    std::printf("%s\n", signature(a, e).c_str());
}

int64_t chooseEntry(const Options &opts, const lowbit_artifact *a) {
  int64_t n = lowbit_artifact_entry_count(a);
  if (opts.entry) {
    int64_t e = lowbit_artifact_find_entry(a, opts.entry->c_str());
    if (e < 0) {
      std::string names;
      for (int64_t i = 0; i < n; ++i)
        names += std::string(i ? ", " : "") + lowbit_artifact_entry_name(a, i);
      throw Failure{opts.library + " has no entry '" + *opts.entry +
                    "' (entries: " + names + ")"};
    }
    return e;
  }
  if (n != 1)
    throw Failure{opts.library + " has " + std::to_string(n) +
                  " entries; choose one with --entry (--list shows them)"};
  return 0;
}

lowbit_tensor_info argInfo(const lowbit_artifact *a, int64_t e, int64_t i) {
  lowbit_tensor_info info;
  if (lowbit_artifact_arg_info(a, e, i, &info) != LOWBIT_RT_OK)
    throw Failure{lowbit_runtime_last_error()};
  return info;
}

lowbit_tensor_info resultInfo(const lowbit_artifact *a, int64_t e, int64_t i) {
  lowbit_tensor_info info;
  if (lowbit_artifact_result_info(a, e, i, &info) != LOWBIT_RT_OK)
    throw Failure{lowbit_runtime_last_error()};
  return info;
}

/// Reads input `path` for argument `info`: dtype and shape must match.
Buffer readInput(const std::string &path, const lowbit_tensor_info &info) {
  numerics::Result<runtime::NpyFile> file = runtime::NpyFile::open(path);
  if (!file)
    throw Failure{file.message()};
  const runtime::NpyHeader &h = file->header();
  const runtime::DTypeInfo *dtype = runtime::findDType(info.dtype);
  std::string want =
      "argument '" + std::string(info.name) + "' (" + tensorType(info) + ")";
  if (!dtype || h.descr != dtype->npyDescr)
    throw Failure{path + ": dtype '" + h.descr + "' does not match " + want +
                  ", which needs '" + (dtype ? dtype->npyDescr : "?") + "'" +
                  (dtype && dtype->dtype == runtime::DType::BF16
                       ? " (bf16 bits as uint16)"
                       : "")};
  if (h.shape != shapeOf(info)) {
    std::string shape = "(";
    for (size_t i = 0; i < h.shape.size(); ++i)
      shape += (i ? ", " : "") + std::to_string(h.shape[i]);
    throw Failure{path + ": shape " + shape +
                  (h.shape.size() == 1 ? ",)" : ")") + " does not match " +
                  want};
  }
  Buffer b(info.num_bytes, want);
  if (info.num_bytes)
    std::memcpy(b.get(), file->data(), size_t(info.num_bytes));
  return b;
}

/// Where each result goes ("" = print), checked before running.
std::vector<std::string> outputPaths(const Options &opts,
                                     const lowbit_artifact *a, int64_t e) {
  int64_t n = lowbit_artifact_result_count(a, e);
  std::vector<std::string> paths(size_t(n > 0 ? n : 0));
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i)
    names.push_back(resultInfo(a, e, i).name);
  if (opts.outputDir) {
    struct stat st;
    if (::stat(opts.outputDir->c_str(), &st) != 0) {
      if (::mkdir(opts.outputDir->c_str(), 0777) != 0)
        throw Failure{*opts.outputDir + ": cannot create the output " +
                      "directory: " + std::strerror(errno)};
    } else if (!S_ISDIR(st.st_mode)) {
      throw Failure{*opts.outputDir + ": not a directory"};
    }
    for (size_t i = 0; i < paths.size(); ++i)
      paths[i] = *opts.outputDir + "/" + names[i] + ".npy";
  }
  std::set<std::string> seen;
  for (const auto &[name, path] : opts.outputs) {
    size_t i = 0;
    while (i < names.size() && names[i] != name)
      ++i;
    if (i == names.size()) {
      std::string all;
      for (size_t k = 0; k < names.size(); ++k)
        all += (k ? ", " : "") + names[k];
      throw Failure{"--output " + name + "=" + path + ": entry '" +
                    lowbit_artifact_entry_name(a, e) +
                    "' has no result named '" + name + "' (results: " + all +
                    ")"};
    }
    if (!seen.insert(name).second)
      throw Failure{"--output: result '" + name + "' is given twice"};
    paths[i] = path;
  }
  return paths;
}

int runTool(const Options &opts) {
  if (opts.threads && lowbit_set_num_threads(opts.threads) != LOWBIT_RT_OK)
    throw Failure{lowbit_runtime_last_error()};
  Artifact art;
  if (lowbit_artifact_open(
          opts.library.c_str(), opts.weights ? opts.weights->c_str() : nullptr,
          opts.prefix ? opts.prefix->c_str() : nullptr, &art.a) != LOWBIT_RT_OK)
    throw Failure{lowbit_runtime_last_error()};
  if (opts.list) {
    listEntries(opts, art.a);
    return 0;
  }
  int64_t e = chooseEntry(opts, art.a);
  int64_t numArgs = lowbit_artifact_arg_count(art.a, e);
  if (int64_t(opts.inputs.size()) != numArgs)
    throw Failure{"entry " + signature(art.a, e) + " takes " +
                  std::to_string(numArgs) + " input" +
                  (numArgs == 1 ? "" : "s") + ", got " +
                  std::to_string(opts.inputs.size())};
  std::vector<std::string> paths = outputPaths(opts, art.a, e);

  std::vector<Buffer> inputs, results;
  std::vector<const void *> argPtrs;
  std::vector<void *> resultPtrs;
  for (int64_t i = 0; i < numArgs; ++i) {
    inputs.push_back(readInput(opts.inputs[i], argInfo(art.a, e, i)));
    argPtrs.push_back(inputs.back().get());
  }
  std::vector<lowbit_tensor_info> infos;
  for (size_t i = 0; i < paths.size(); ++i) {
    infos.push_back(resultInfo(art.a, e, int64_t(i)));
    results.emplace_back(infos.back().num_bytes,
                         "result '" + std::string(infos.back().name) + "'");
    resultPtrs.push_back(results.back().get());
  }

  auto runOnce = [&] {
    if (lowbit_artifact_run(art.a, e, argPtrs.data(), resultPtrs.data()) !=
        LOWBIT_RT_OK)
      throw Failure{lowbit_runtime_last_error()};
  };
  if (opts.bench) {
    runOnce(); // Warm-up: page in weights, start threads.
    std::vector<double> ms = timeRuns(opts.bench, runOnce);
    std::printf("%s\n",
                formatBench(lowbit_artifact_entry_name(art.a, e), ms).c_str());
  } else {
    runOnce();
  }

  for (size_t i = 0; i < paths.size(); ++i) {
    const lowbit_tensor_info &info = infos[i];
    if (paths[i].empty()) {
      std::printf("%s = %s\n", tensorDecl(info).c_str(),
                  formatValues(info, results[i].get()).c_str());
      continue;
    }
    const runtime::DTypeInfo *dtype = runtime::findDType(info.dtype);
    numerics::Status s = runtime::writeNpy(
        paths[i], dtype ? dtype->npyDescr : "?", shapeOf(info),
        results[i].get(), uint64_t(info.num_bytes));
    if (!s)
      throw Failure{s.message()};
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    numerics::Result<Options> opts = parseOptions(argc, argv);
    if (!opts) {
      std::fprintf(stderr, "lowbit-run: error: %s\n%s", opts.message().c_str(),
                   "(lowbit-run --help shows the usage)\n");
      return 1;
    }
    if (opts->help) {
      std::fputs(usage(), stdout);
      return 0;
    }
    return runTool(*opts);
  } catch (const Failure &f) {
    std::fprintf(stderr, "lowbit-run: error: %s\n", f.message.c_str());
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "lowbit-run: error: out of memory\n");
  } catch (const std::exception &e) {
    std::fprintf(stderr, "lowbit-run: error: %s\n", e.what());
  }
  return 1;
}
