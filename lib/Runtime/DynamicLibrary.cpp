//===- DynamicLibrary.cpp - dlopen and checked symbol lookup --------------===//

#include "DynamicLibrary.h"

#include <cstdlib>
#include <dlfcn.h>
#include <link.h>
#include <mutex>

namespace lowbit::runtime {

namespace {
std::string lastDlError() {
  const char *e = dlerror();
  return e ? e : "unknown error";
}

bool missesOpenMP(const std::string &message) {
  return message.find("undefined symbol: __kmpc_") != std::string::npos ||
         message.find("undefined symbol: omp_") != std::string::npos;
}

/// Loads libomp once per process; returns "" or why it failed.
std::string loadOpenMP() {
  static std::mutex mutex;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded)
    return "";
  std::string tried;
  const char *env = std::getenv("LOWBIT_OPENMP_LIBRARY");
  const char *candidates[] = {env && *env ? env : nullptr, "libomp.so.5",
                              "libomp.so"};
  for (const char *name : candidates) {
    if (!name)
      continue;
    // Never closed: unloading an OpenMP runtime with live threads is unsafe.
    if (dlopen(name, RTLD_NOW | RTLD_GLOBAL)) {
      loaded = true;
      return "";
    }
    tried += (tried.empty() ? "" : "; ") + lastDlError();
  }
  return tried;
}
} // namespace

void *loadLibrary(const std::string &path, std::string &error) {
  dlerror();
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle)
    return handle;
  error = lastDlError();
  if (!missesOpenMP(error))
    return nullptr;
  std::string ompError = loadOpenMP();
  if (!ompError.empty()) {
    error += " (the library needs LLVM's OpenMP runtime, which could not be "
             "loaded: " +
             ompError + "; set LOWBIT_OPENMP_LIBRARY to its path)";
    return nullptr;
  }
  dlerror();
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    error = lastDlError() + " (after loading LLVM's OpenMP runtime)";
  return handle;
}

void *findOwnFunction(void *handle, const std::string &name,
                      std::string &error) {
  dlerror();
  void *address = dlsym(handle, name.c_str());
  if (!address) {
    error = "the library does not export '" + name + "'";
    return nullptr;
  }
  struct link_map *own = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &own) != 0 || !own) {
    error = "cannot inspect the library: " + lastDlError();
    return nullptr;
  }
  Dl_info info;
  void *extra = nullptr;
  if (!dladdr1(address, &info, &extra, RTLD_DL_LINKMAP) || !extra) {
    error = "cannot locate '" + name + "'";
    return nullptr;
  }
  auto *definedIn = static_cast<struct link_map *>(extra);
  if (definedIn != own) {
    error = "'" + name + "' is not defined by the library itself (it is " +
            "found in " +
            (definedIn->l_name && *definedIn->l_name ? definedIn->l_name
                                                     : "the program") +
            ")";
    return nullptr;
  }
  void *symEntry = nullptr;
  if (!dladdr1(address, &info, &symEntry, RTLD_DL_SYMENT) || !symEntry) {
    error = "cannot locate the symbol table entry of '" + name + "'";
    return nullptr;
  }
  const auto *sym = static_cast<const ElfW(Sym) *>(symEntry);
  unsigned type = ELF64_ST_TYPE(sym->st_info);
  if (type != STT_FUNC && type != STT_GNU_IFUNC) {
    error = "'" + name + "' is not a function";
    return nullptr;
  }
  return address;
}

void *findAnySymbol(void *handle, const char *name) {
  if (void *p = dlsym(handle, name))
    return p;
  return dlsym(RTLD_DEFAULT, name);
}

} // namespace lowbit::runtime
