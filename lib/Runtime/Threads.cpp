//===- Threads.cpp - Thread count of compiled OpenMP code -----------------===//

#include "Threads.h"

#include "DynamicLibrary.h"

#include <atomic>
#include <dlfcn.h>

namespace lowbit::runtime {

namespace {
std::atomic<int> requested{0};
} // namespace

void setRequestedThreads(int n) {
  requested.store(n, std::memory_order_relaxed);
  if (n > 0)
    applyRequestedThreads(findOmpSetNumThreads(RTLD_DEFAULT));
}

int requestedThreads() { return requested.load(std::memory_order_relaxed); }

OmpSetNumThreadsFn findOmpSetNumThreads(void *handle) {
  // POSIX lets dlsym return data and function pointers alike.
  return reinterpret_cast<OmpSetNumThreadsFn>(
      findAnySymbol(handle, "omp_set_num_threads"));
}

void applyRequestedThreads(OmpSetNumThreadsFn fn) {
  int n = requestedThreads();
  if (fn && n > 0)
    fn(n);
}

} // namespace lowbit::runtime
