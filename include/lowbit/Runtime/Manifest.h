//===- Manifest.h - The manifest of a compiled artifact ---------*- C++ -*-===//
//
// Every artifact exports `const char *<prefix>manifest(void)`: a JSON
// document listing its entry points (symbols, argument and result tensors)
// and the weights it expects to be bound. parseManifest checks every field
// before the runtime trusts any of it. docs/Runtime.md has the format.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_RUNTIME_MANIFEST_H
#define LOWBIT_RUNTIME_MANIFEST_H

#include "lowbit/Numerics/Status.h"
#include "lowbit/Runtime/DType.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::runtime {

using numerics::Result;
using numerics::Status;

/// One argument or result of an entry point.
struct TensorSpec {
  std::string name;
  /// The optional "label": what a result holds (for the inputs that
  /// lowbit-expose-matmul-inputs returns, the matmul's name).
  std::string label;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  int64_t numElements = 1;
  int64_t numBytes = 0;
};

struct EntrySpec {
  std::string name;
  std::string symbol; ///< The typed C entry point.
  std::string
      packedSymbol; ///< int f(void *const *buffers, const int64_t *lens)
  std::vector<TensorSpec> args;
  std::vector<TensorSpec> results;
};

struct WeightSpec {
  std::string name;
  int64_t bytes = 0;
  int64_t align = 1;
  /// bytes rounded up to a multiple of 64: the tensor size in the file.
  int64_t paddedBytes = 0;
  /// The optional "type": the MLIR type the bytes hold (informational).
  std::string type;
  /// The optional "device": the device global the weight fills (cuda
  /// artifacts; the generated bind function uploads it).
  std::string device;
};

struct Manifest {
  int64_t version = 0;
  std::string prefix;
  std::string target;
  std::vector<EntrySpec> entries;
  std::vector<WeightSpec> weights;
};

/// Parses and validates a manifest. `source` (the library path) starts
/// every message, followed by the field at fault, e.g.
/// "m.so: manifest: entries[0].args[1].shape[0]: expected a non-negative
/// integer, got -1".
Result<Manifest> parseManifest(std::string_view text,
                               const std::string &source);

/// Whether `s` is a C identifier (letters, digits, '_', not starting with a
/// digit).
bool isCIdentifier(std::string_view s);

/// "f32[2, 3]" ("f32[]" for rank 0).
std::string formatTensorType(const TensorSpec &spec);

} // namespace lowbit::runtime

#endif // LOWBIT_RUNTIME_MANIFEST_H
