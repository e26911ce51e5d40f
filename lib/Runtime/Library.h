//===- Library.h - A loaded artifact ----------------------------*- C++ -*-===//
//
// One loaded artifact library: its handle, validated manifest, resolved
// entry points and mapped weights. Opening a library that is already open
// in the process (same dlopen handle) shares the Library when the prefix and
// the weights file agree, since the artifact's weight table is
// process-global; the last close unloads it.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_LIBRARY_H
#define LOWBIT_LIB_RUNTIME_LIBRARY_H

#include "Threads.h"

#include "lowbit/Runtime/Manifest.h"
#include "lowbit/Runtime/WeightsFile.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lowbit::runtime {

class Library {
public:
  using PackedFn = int (*)(void *const *buffers, const int64_t *lens);
  using LastErrorFn = const char *(*)();
  using ManifestFn = const char *(*)();
  using BindFn = int (*)(const void *const *pointers, const int64_t *sizes,
                         int64_t count);

  struct Entry {
    const EntrySpec *spec = nullptr;
    PackedFn packed = nullptr;
    /// Element counts of the arguments, then of the results.
    std::vector<int64_t> lens;
  };

  /// Opens `libraryPath` (or shares the open Library), validating
  /// everything; returns a LOWBIT_RT_* code and sets `error` on failure.
  /// `weightsPath` and `prefix` may be null (see lowbit_runtime.h).
  static int open(const char *libraryPath, const char *weightsPath,
                  const char *prefix, Library *&out, std::string &error);
  /// Drops one reference; the last one unloads the library.
  static void close(Library *library);

  /// Calls entry `entry`; a LOWBIT_RT_* code, `error` set on failure.
  int run(int64_t entry, const void *const *args, void *const *results,
          std::string &error) const;

  const Manifest &manifest() const { return spec; }
  const std::string &manifestText() const { return text; }
  const std::string &path() const { return libraryPath; }
  const std::string &weightsPath() const { return weightsFile; }
  int64_t weightBytes() const { return totalWeightBytes; }

  Library(const Library &) = delete;
  Library &operator=(const Library &) = delete;
  ~Library();

private:
  Library() = default;
  int load(const std::string &prefix, const char *weightsPath,
           std::string &error);
  int bindWeights(const std::string &path, std::string &error);
  /// Whether a second open with these arguments may share this Library.
  int checkShared(const std::string &prefix, const char *weightsPath,
                  std::string &error) const;
  /// The weights file an open with `weightsPath` means ("" for none), or
  /// an error when the manifest and the argument disagree.
  int resolveWeightsPath(const char *weightsPath, std::string &out,
                         std::string &error) const;
  std::string artifactMessage() const;

  void *handle = nullptr;
  int refs = 1;
  std::string libraryPath;
  std::string text;
  Manifest spec;
  std::vector<Entry> entries;
  LastErrorFn lastError = nullptr;
  OmpSetNumThreadsFn ompSetNumThreads = nullptr;
  std::optional<WeightsFile> weights;
  std::string weightsFile;
  dev_t weightsDevice = 0;
  ino_t weightsInode = 0;
  int64_t totalWeightBytes = 0;
};

} // namespace lowbit::runtime

#endif // LOWBIT_LIB_RUNTIME_LIBRARY_H
