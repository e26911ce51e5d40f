//===- Globals.cpp - device globals whose contents are bound at run time --===//
//
// `--weights=external` artifacts keep their weights out of the kernels'
// binaries: each weight is an uninitialized device global of the modules,
// which the artifact binds to its mapped weights file
// (lowbit_cuda_bind_global). Bindings belong to an artifact, told apart by
// the shared object it lies in, since artifacts loaded together may use
// the same names. Every module of the artifact receives them when the
// driver loads it (lazily, at its first launch), or at once when it is
// loaded already, so binding needs no driver and a module never runs
// without its weights.
//
//===----------------------------------------------------------------------===//

#include "Errors.h"
#include "Modules.h"
#include "lowbit/Runtime/lowbit_cuda.h"

#include <condition_variable>
#include <dlfcn.h>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::cuda {

namespace {

struct Binding {
  const void *host = nullptr;
  size_t bytes = 0;
};

/// (the artifact's object, the symbol).
using Key = std::pair<uintptr_t, std::string>;

struct Registry {
  std::mutex mutex;
  std::condition_variable unpinned;
  std::map<Key, Binding> bindings;
  std::vector<LazyModule *> modules; // the live ones
};

/// Never freed: artifacts unload their modules from destructors at exit,
/// in any order.
Registry &registry() {
  static Registry *instance = new Registry();
  return *instance;
}

uintptr_t objectOf(const LazyModule &lazy) {
  return reinterpret_cast<uintptr_t>(lazy.object);
}

/// Copies `binding` into the device global `symbol` of a loaded module (in
/// the device's context), counting the copies made. A module without the
/// global has nothing to receive.
bool upload(const Driver &d, CUmodule module, const std::string &symbol,
            const Binding &binding, int &copies) {
  CUdeviceptr global = 0;
  size_t bytes = 0;
  CUresult result =
      d.api.moduleGetGlobal(&global, &bytes, module, symbol.c_str());
  if (result == CUDA_ERROR_NOT_FOUND)
    return true;
  if (!check(d, result, "cuModuleGetGlobal", "device global " + symbol))
    return false;
  if (bytes != binding.bytes) {
    setError(symbol + ": the device global has " + std::to_string(bytes) +
             " bytes, " + std::to_string(binding.bytes) + " were bound");
    return false;
  }
  if (bytes == 0)
    return true;
  ++copies;
  return check(d, d.api.memcpyHtoD(global, binding.host, bytes), "cuMemcpyHtoD",
               std::to_string(bytes) + " bytes to " + symbol);
}

/// cuMemcpyHtoD returns once pageable memory is staged, and the copy goes
/// on in the legacy default stream, which the calls' non-blocking streams
/// do not wait for: it must be done before a kernel reads the global.
bool finishCopies(const Driver &d, int copies) {
  return copies == 0 ||
         check(d, d.api.streamSynchronize(nullptr), "cuStreamSynchronize",
               "uploading device globals");
}

/// Uploads the current binding of `symbol` into `lazy` if the driver has
/// loaded it; otherwise the load will.
bool uploadNow(LazyModule &lazy, const Key &key) {
  std::lock_guard<std::mutex> lock(lazy.mutex);
  if (!lazy.module)
    return true;
  Binding binding;
  {
    // Read under the module's lock: of two binds racing, the later upload
    // carries the later binding.
    Registry &r = registry();
    std::lock_guard<std::mutex> registryLock(r.mutex);
    auto found = r.bindings.find(key);
    if (found == r.bindings.end())
      return true;
    binding = found->second;
  }
  // A loaded module implies an initialized driver and device.
  const Driver *d;
  const Device *device;
  if (!readyForRelease(d, device))
    return true;
  ScopedContext context(*d, *device);
  int copies = 0;
  return context.ok() && upload(*d, lazy.module, key.second, binding, copies) &&
         finishCopies(*d, copies);
}

} // namespace

const void *objectContaining(const void *address) {
  Dl_info info;
  if (address && dladdr(address, &info) && info.dli_fbase)
    return info.dli_fbase;
  return nullptr;
}

void trackModule(LazyModule &lazy) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.modules.push_back(&lazy);
}

void untrackModule(LazyModule &lazy) {
  Registry &r = registry();
  std::unique_lock<std::mutex> lock(r.mutex);
  bool last = true;
  for (size_t i = 0; i < r.modules.size();) {
    if (r.modules[i] == &lazy) {
      r.modules[i] = r.modules.back();
      r.modules.pop_back();
      continue;
    }
    if (objectOf(*r.modules[i]) == objectOf(lazy))
      last = false;
    ++i;
  }
  r.unpinned.wait(lock, [&] { return lazy.pins == 0; });
  if (!last)
    return;
  uintptr_t object = objectOf(lazy);
  auto it = r.bindings.lower_bound(Key(object, std::string()));
  while (it != r.bindings.end() && it->first.first == object)
    it = r.bindings.erase(it);
}

bool uploadBindings(const LazyModule &lazy, CUmodule module, const Driver &d) {
  std::vector<std::pair<std::string, Binding>> bindings;
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    uintptr_t object = objectOf(lazy);
    for (auto it = r.bindings.lower_bound(Key(object, std::string()));
         it != r.bindings.end() && it->first.first == object; ++it)
      bindings.emplace_back(it->first.second, it->second);
  }
  int copies = 0;
  for (const auto &[symbol, binding] : bindings)
    if (!upload(d, module, symbol, binding, copies))
      return false;
  return finishCopies(d, copies);
}

} // namespace lowbit::cuda

using namespace lowbit::cuda;

extern "C" const char *lowbit_cuda_bind_global(const void *anchor,
                                               const char *symbol,
                                               const void *host, size_t bytes) {
  clearError();
  if (!symbol || !host) {
    setError(symbol ? std::string("lowbit_cuda_bind_global: the host pointer "
                                  "for ") +
                          symbol + " is NULL"
                    : std::string("lowbit_cuda_bind_global: the symbol is "
                                  "NULL"));
    return lastError();
  }
  Key key(reinterpret_cast<uintptr_t>(objectContaining(anchor)), symbol);
  Registry &r = registry();
  // The artifact's modules, pinned so that they outlive the uploads below,
  // which take their locks after the registry's is released.
  std::vector<LazyModule *> modules;
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    r.bindings[key] = Binding{host, bytes};
    for (LazyModule *lazy : r.modules)
      if (objectOf(*lazy) == key.first) {
        ++lazy->pins;
        modules.push_back(lazy);
      }
  }
  bool ok = true;
  for (LazyModule *lazy : modules)
    ok = ok && uploadNow(*lazy, key);
  {
    std::lock_guard<std::mutex> lock(r.mutex);
    for (LazyModule *lazy : modules)
      --lazy->pins;
  }
  r.unpinned.notify_all();
  return ok ? nullptr : lastError();
}
