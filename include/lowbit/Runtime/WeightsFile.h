//===- WeightsFile.h - An artifact's weights file ---------------*- C++ -*-===//
//
// The weights that `lowbit-compile` keeps outside the code live in a
// safetensors file next to the library: one 1-D U8 tensor per manifest
// weight, of the weight's size rounded up to 64 bytes (zero padding), at
// file offsets aligned to 64 bytes so that the mapped tensors are aligned.
// loadWeightsFile maps the file and checks it against the manifest.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_RUNTIME_WEIGHTSFILE_H
#define LOWBIT_RUNTIME_WEIGHTSFILE_H

#include "lowbit/ModelIO/Safetensors.h"
#include "lowbit/Runtime/Manifest.h"

#include <string>
#include <vector>

namespace lowbit::runtime {

/// A mapped, validated weights file and what to pass to bind_weights.
struct WeightsFile {
  modelio::SafetensorsFile file;
  /// In manifest order: the tensor data and the weight's unpadded size.
  std::vector<const void *> pointers;
  std::vector<int64_t> sizes;
};

/// The library path with the file name's extension (from its last '.', if
/// any) replaced by ".weights.safetensors", as lowbit-compile names it:
/// "a/model.so" -> "a/model.weights.safetensors".
std::string defaultWeightsPath(const std::string &libraryPath);

/// Maps `path` (the ModelIO reader checks the safetensors structure) and
/// checks it against `manifest`: `__metadata__` "format" is
/// "lowbit-weights"; every weight is a tensor of the same name, dtype U8,
/// shape [paddedBytes], its padding zero, its file offset and address
/// multiples of the weight's align; no other tensors. Messages start with
/// the path and name the tensor.
Result<WeightsFile> loadWeightsFile(const std::string &path,
                                    const Manifest &manifest);

/// The same checks on a file already parsed (tests).
Result<WeightsFile> checkWeightsFile(modelio::SafetensorsFile file,
                                     const Manifest &manifest);

} // namespace lowbit::runtime

#endif // LOWBIT_RUNTIME_WEIGHTSFILE_H
