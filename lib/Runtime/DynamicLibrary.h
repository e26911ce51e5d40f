//===- DynamicLibrary.h - dlopen and checked symbol lookup ------*- C++ -*-===//
//
// Loading an artifact and finding its symbols, so that a symbol named by a
// manifest resolves only to a function the artifact itself defines (dlsym
// on a handle also searches the library's dependencies: "malloc" would be
// found in libc).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_DYNAMICLIBRARY_H
#define LOWBIT_LIB_RUNTIME_DYNAMICLIBRARY_H

#include <string>

namespace lowbit::runtime {

/// dlopen(path, RTLD_NOW | RTLD_LOCAL). When that fails because OpenMP
/// symbols are undefined, loads LLVM's OpenMP runtime with RTLD_GLOBAL
/// ($LOWBIT_OPENMP_LIBRARY, libomp.so.5, libomp.so; it stays loaded) and
/// tries again. Returns null with a message on failure.
void *loadLibrary(const std::string &path, std::string &error);

/// The address of the function `name` when the object loaded as `handle`
/// defines it itself; otherwise null with a message naming the symbol.
void *findOwnFunction(void *handle, const std::string &name,
                      std::string &error);

/// dlsym(handle, name) (dependencies included), then the global scope.
void *findAnySymbol(void *handle, const char *name);

} // namespace lowbit::runtime

#endif // LOWBIT_LIB_RUNTIME_DYNAMICLIBRARY_H
