//===- Threads.h - Thread count of compiled OpenMP code ---------*- C++ -*-===//
//
// Artifacts that run their kernels on threads use LLVM's OpenMP runtime.
// lowbit_set_num_threads records a count; every run passes it to
// omp_set_num_threads on the calling thread (the setting is per thread in
// OpenMP), through the function found next to the artifact.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_THREADS_H
#define LOWBIT_LIB_RUNTIME_THREADS_H

namespace lowbit::runtime {

using OmpSetNumThreadsFn = void (*)(int);

/// Records `n` (0: leave OpenMP alone) and applies it to the calling thread
/// when OpenMP is loaded in the global scope.
void setRequestedThreads(int n);
int requestedThreads();

/// omp_set_num_threads as seen from `handle` (its dependencies, then the
/// global scope), or null when OpenMP is not loaded.
OmpSetNumThreadsFn findOmpSetNumThreads(void *handle);

/// Passes the requested count, if any, to `fn` (may be null).
void applyRequestedThreads(OmpSetNumThreadsFn fn);

} // namespace lowbit::runtime

#endif // LOWBIT_LIB_RUNTIME_THREADS_H
