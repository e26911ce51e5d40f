//===- Library.cpp - Load, validate and share artifact libraries ----------===//

#include "Library.h"

#include "DynamicLibrary.h"

#include "lowbit/Runtime/lowbit_runtime.h"

#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <sys/stat.h>

namespace lowbit::runtime {

namespace {
/// The manifest parser's limit on JSON text.
constexpr size_t kMaxManifestBytes = 100'000'000;
constexpr size_t kMaxMessageBytes = 65536;

/// Open libraries by dlopen handle; every open and close holds the mutex.
struct Registry {
  std::mutex mutex;
  std::map<void *, Library *> libraries;
};

Registry &registry() {
  static Registry *r = new Registry; // Never destroyed: no exit-time order.
  return *r;
}

int statFile(const std::string &path, struct stat &st, std::string &error) {
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return LOWBIT_RT_ERROR_WEIGHTS_FILE;
  }
  return LOWBIT_RT_OK;
}
} // namespace

Library::~Library() {
  // Unload the code before unmapping the weights it points to.
  if (handle)
    dlclose(handle);
}

int Library::open(const char *libraryPath, const char *weightsPath,
                  const char *prefix, Library *&out, std::string &error) {
  out = nullptr;
  if (!libraryPath || !*libraryPath) {
    error = "lowbit_artifact_open: the library path is NULL or empty";
    return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
  }
  std::string pfx = prefix ? prefix : "lowbit_";
  if (!pfx.empty() && !isCIdentifier(pfx)) {
    error = "lowbit_artifact_open: prefix '" + pfx + "' is not a C identifier";
    return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
  }
  std::string path = libraryPath;
  // Without a '/', dlopen would search the library path, not the file here.
  std::string loadPath =
      path.find('/') == std::string::npos ? "./" + path : path;
  Registry &reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  std::string loadError;
  void *handle = loadLibrary(loadPath, loadError);
  if (!handle) {
    error = path + ": cannot load: " + loadError;
    return LOWBIT_RT_ERROR_LOAD;
  }

  auto it = reg.libraries.find(handle);
  if (it != reg.libraries.end()) {
    Library *shared = it->second;
    dlclose(handle); // The shared Library holds its own reference.
    if (int rc = shared->checkShared(pfx, weightsPath, error))
      return rc;
    ++shared->refs;
    out = shared;
    return LOWBIT_RT_OK;
  }

  std::unique_ptr<Library> lib(new Library);
  lib->handle = handle;
  lib->libraryPath = path;
  if (int rc = lib->load(pfx, weightsPath, error))
    return rc;
  reg.libraries[handle] = lib.get();
  out = lib.release();
  return LOWBIT_RT_OK;
}

void Library::close(Library *library) {
  if (!library)
    return;
  Registry &reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  if (--library->refs > 0)
    return;
  reg.libraries.erase(library->handle);
  delete library;
}

std::string Library::artifactMessage() const {
  const char *m = lastError ? lastError() : nullptr;
  if (!m || !*m)
    return "(no message)";
  return std::string(m, strnlen(m, kMaxMessageBytes));
}

int Library::load(const std::string &prefix, const char *weightsPath,
                  std::string &error) {
  const std::string &path = libraryPath;
  std::string symError;
  auto findFunction = [&](const std::string &name, const std::string &field,
                          int &rc) -> void * {
    void *f = findOwnFunction(handle, name, symError);
    if (!f) {
      error = path + ": " + symError;
      if (!field.empty())
        error += " (named by the manifest's " + field + ")";
      rc = LOWBIT_RT_ERROR_LOAD;
    }
    return f;
  };
  int rc = LOWBIT_RT_OK;
  void *manifestFn = findFunction(prefix + "manifest", "", rc);
  if (!manifestFn) {
    error += "; not a lowbit artifact, or one compiled with another "
             "--prefix than '" +
             prefix + "'";
    return rc;
  }
  const char *raw = reinterpret_cast<ManifestFn>(manifestFn)();
  if (!raw) {
    error = path + ": manifest: " + prefix + "manifest() returned NULL";
    return LOWBIT_RT_ERROR_BAD_MANIFEST;
  }
  size_t length = strnlen(raw, kMaxManifestBytes + 1);
  if (length > kMaxManifestBytes) {
    error = path + ": manifest: longer than " +
            std::to_string(kMaxManifestBytes) + " bytes";
    return LOWBIT_RT_ERROR_BAD_MANIFEST;
  }
  text.assign(raw, length);
  Result<Manifest> parsed = parseManifest(text, path);
  if (!parsed) {
    error = parsed.message();
    return LOWBIT_RT_ERROR_BAD_MANIFEST;
  }
  spec = std::move(*parsed);
  if (spec.prefix != prefix) {
    error = path + ": manifest: prefix: the manifest says '" + spec.prefix +
            "' but it was found with prefix '" + prefix + "'";
    return LOWBIT_RT_ERROR_BAD_MANIFEST;
  }

  void *lastErrorFn = findFunction(prefix + "last_error", "", rc);
  if (!lastErrorFn)
    return rc;
  lastError = reinterpret_cast<LastErrorFn>(lastErrorFn);
  for (size_t i = 0; i < spec.entries.size(); ++i) {
    const EntrySpec &e = spec.entries[i];
    std::string field = "entries[" + std::to_string(i) + "]";
    if (!findFunction(e.symbol, field + ".symbol", rc))
      return rc;
    void *packed = findFunction(e.packedSymbol, field + ".packed_symbol", rc);
    if (!packed)
      return rc;
    Entry entry;
    entry.spec = &e;
    entry.packed = reinterpret_cast<PackedFn>(packed);
    for (const TensorSpec &t : e.args)
      entry.lens.push_back(t.numElements);
    for (const TensorSpec &t : e.results)
      entry.lens.push_back(t.numElements);
    entries.push_back(std::move(entry));
  }
  ompSetNumThreads = findOmpSetNumThreads(handle);

  std::string weightsPathToUse;
  if (int rc2 = resolveWeightsPath(weightsPath, weightsPathToUse, error))
    return rc2;
  if (weightsPathToUse.empty())
    return LOWBIT_RT_OK;
  return bindWeights(weightsPathToUse, error);
}

int Library::resolveWeightsPath(const char *weightsPath, std::string &out,
                                std::string &error) const {
  out.clear();
  if (spec.weights.empty()) {
    if (weightsPath) {
      error = libraryPath +
              ": the manifest lists no weights, but a weights file was "
              "given: " +
              weightsPath;
      return LOWBIT_RT_ERROR_WEIGHTS_FILE;
    }
    return LOWBIT_RT_OK;
  }
  if (weightsPath && !*weightsPath) {
    error = libraryPath + ": the weights path is empty";
    return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
  }
  out = weightsPath ? weightsPath : defaultWeightsPath(libraryPath);
  return LOWBIT_RT_OK;
}

int Library::bindWeights(const std::string &path, std::string &error) {
  std::string symError;
  void *bind = findOwnFunction(handle, spec.prefix + "bind_weights", symError);
  if (!bind) {
    error = libraryPath + ": " + symError + " (the manifest lists " +
            std::to_string(spec.weights.size()) + " weights)";
    return LOWBIT_RT_ERROR_LOAD;
  }
  Result<WeightsFile> loaded = loadWeightsFile(path, spec);
  if (!loaded) {
    error = loaded.message();
    if (error.rfind(path, 0) != 0)
      error = path + ": " + error;
    error += " (weights of " + libraryPath + ")";
    return LOWBIT_RT_ERROR_WEIGHTS_FILE;
  }
  struct stat st;
  if (int rc = statFile(path, st, error))
    return rc;
  int rc = reinterpret_cast<BindFn>(bind)(loaded->pointers.data(),
                                          loaded->sizes.data(),
                                          int64_t(loaded->pointers.size()));
  if (rc != 0) {
    error = libraryPath + ": " + spec.prefix + "bind_weights refused " + path +
            " (code " + std::to_string(rc) + "): " + artifactMessage();
    return LOWBIT_RT_ERROR_BAD_WEIGHTS;
  }
  weights = std::move(*loaded);
  weightsFile = path;
  weightsDevice = st.st_dev;
  weightsInode = st.st_ino;
  totalWeightBytes = 0;
  for (const WeightSpec &w : spec.weights)
    totalWeightBytes += w.bytes;
  return LOWBIT_RT_OK;
}

int Library::checkShared(const std::string &prefix, const char *weightsPath,
                         std::string &error) const {
  if (prefix != spec.prefix) {
    error = libraryPath + " is already open in this process with prefix '" +
            spec.prefix + "', not '" + prefix + "'";
    return LOWBIT_RT_ERROR_ALREADY_OPEN;
  }
  std::string wanted;
  if (int rc = resolveWeightsPath(weightsPath, wanted, error))
    return rc;
  if (wanted.empty())
    return LOWBIT_RT_OK;
  struct stat st;
  if (int rc = statFile(wanted, st, error))
    return rc;
  if (st.st_dev != weightsDevice || st.st_ino != weightsInode) {
    error = libraryPath + " is already open in this process with weights " +
            weightsFile + "; its weight table is process-global, so it " +
            "cannot use " + wanted + " at the same time (close it first)";
    return LOWBIT_RT_ERROR_ALREADY_OPEN;
  }
  return LOWBIT_RT_OK;
}

int Library::run(int64_t index, const void *const *args, void *const *results,
                 std::string &error) const {
  if (index < 0 || uint64_t(index) >= entries.size()) {
    error = libraryPath + ": entry index " + std::to_string(index) +
            " is out of range (the artifact has " +
            std::to_string(entries.size()) + " entries)";
    return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
  }
  const Entry &e = entries[index];
  const EntrySpec &es = *e.spec;
  size_t numArgs = es.args.size(), numResults = es.results.size();
  // Messages only: nothing is allocated on the way to a successful call.
  auto where = [&] { return libraryPath + ": " + es.name + ": "; };
  if ((numArgs && !args) || (numResults && !results)) {
    error = where() + (numArgs && !args ? "args" : "results") +
            " is NULL but the entry has " + std::to_string(numArgs) +
            " arguments and " + std::to_string(numResults) + " results";
    return LOWBIT_RT_ERROR_NULL_POINTER;
  }
  size_t count = numArgs + numResults;
  void *small[16];
  std::vector<void *> large;
  void **buffers = small;
  if (count > 16) {
    large.resize(count);
    buffers = large.data();
  }
  auto specOf = [&](size_t i) -> const TensorSpec & {
    return i < numArgs ? es.args[i] : es.results[i - numArgs];
  };
  auto describe = [&](size_t i) {
    return (i < numArgs ? "argument " + std::to_string(i)
                        : "result " + std::to_string(i - numArgs)) +
           " ('" + specOf(i).name + "')";
  };
  for (size_t i = 0; i < count; ++i) {
    const TensorSpec &t = specOf(i);
    void *p = i < numArgs ? const_cast<void *>(args[i]) : results[i - numArgs];
    if (!p && t.numElements > 0) {
      error = where() + describe(i) + " is NULL";
      return LOWBIT_RT_ERROR_NULL_POINTER;
    }
    int64_t size = dtypeInfo(t.dtype).size;
    if (reinterpret_cast<uintptr_t>(p) % uint64_t(size) != 0) {
      error = where() + describe(i) + " is not aligned to " +
              std::to_string(size) + " bytes";
      return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
    }
    buffers[i] = p;
  }
  // Results are written: they must not overlap any other buffer.
  for (size_t i = numArgs; i < count; ++i) {
    uintptr_t a = reinterpret_cast<uintptr_t>(buffers[i]);
    uintptr_t aEnd = a + uint64_t(specOf(i).numBytes);
    for (size_t j = 0; j < count; ++j) {
      uintptr_t b = reinterpret_cast<uintptr_t>(buffers[j]);
      uintptr_t bEnd = b + uint64_t(specOf(j).numBytes);
      if (j == i || a == aEnd || b == bEnd || aEnd <= b || bEnd <= a)
        continue;
      error = where() + describe(i) + " overlaps " + describe(j);
      return LOWBIT_RT_ERROR_INVALID_ARGUMENT;
    }
  }
  applyRequestedThreads(ompSetNumThreads);
  int rc = e.packed(buffers, e.lens.data());
  if (rc == 0)
    return LOWBIT_RT_OK;
  error = where() + artifactMessage();
  if (rc >= LOWBIT_RT_ERROR_NULL_POINTER && rc <= LOWBIT_RT_ERROR_BAD_WEIGHTS)
    return rc;
  // The device error of --target=cuda artifacts (their code 5).
  if (rc == 5)
    return LOWBIT_RT_ERROR_DEVICE;
  error += " (unknown code " + std::to_string(rc) + ")";
  return LOWBIT_RT_ERROR_ENTRY_FAILED;
}

} // namespace lowbit::runtime
