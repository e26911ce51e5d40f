//===- TensorSource.h - Tensors of a checkpoint, by name --------*- C++ -*-===//
//
// One view over the places a model's tensors come from: a safetensors file,
// a sharded safetensors checkpoint, or a GGUF file. Every tensor has the
// absolute path of the file that holds it, its stored dtype, its row-major
// shape and its bytes.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_TENSORSOURCE_H
#define LOWBIT_LIB_IMPORT_TENSORSOURCE_H

#include "lowbit/ModelIO/Gguf.h"
#include "lowbit/ModelIO/Safetensors.h"
#include "lowbit/Numerics/Interchange.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lowbit::import {

using numerics::Result;
using numerics::Status;

/// Element types the importer reads as floats.
enum class FloatKind { F32, F16, BF16, Unsupported };

struct SourceTensor {
  std::string name;
  /// Absolute path of the file that holds the tensor.
  std::string file;
  /// The stored type's name ("F32", "I64", "Q4_K", ...).
  std::string dtypeName;
  FloatKind kind = FloatKind::Unsupported;
  /// For a GGUF tensor in blocks the numerics core converts losslessly
  /// (Q4_0, Q4_1, Q8_0, Q4_K): that type; `bytes` holds the blocks.
  std::optional<numerics::GgufType> quant;
  /// Row-major shape (for GGUF: ne reversed, so [out, in] for a matrix).
  std::vector<int64_t> shape;
  /// The stored bytes (empty when the type has no importable layout).
  modelio::ByteSpan bytes;

  uint64_t elements() const;
};

class TensorSource {
public:
  /// model.safetensors or model.safetensors.index.json in `dir`.
  static Result<std::unique_ptr<TensorSource>>
  openSafetensorsDir(const std::string &dir);
  /// One safetensors file.
  static Result<std::unique_ptr<TensorSource>>
  openSafetensorsFile(const std::string &path);
  /// A GGUF file.
  static Result<std::unique_ptr<TensorSource>>
  openGguf(const std::string &path);

  const SourceTensor *find(const std::string &name) const;
  const std::map<std::string, SourceTensor> &tensors() const { return byName; }
  /// "safetensors", "sharded safetensors" or "gguf".
  const std::string &kind() const { return sourceKind; }
  /// The file to name in messages about a missing tensor: the file or the
  /// shard index.
  const std::string &describe() const { return mainFile; }
  const modelio::GgufFile *gguf() const { return ggufFile.get(); }

private:
  std::string sourceKind;
  std::string mainFile;
  std::unique_ptr<modelio::SafetensorsFile> single;
  std::unique_ptr<modelio::ShardedCheckpoint> sharded;
  std::unique_ptr<modelio::GgufFile> ggufFile;
  std::map<std::string, SourceTensor> byName;
};

/// The absolute, normalized form of `path`.
std::string absolutePath(const std::string &path);
bool fileExists(const std::string &path);
bool isDirectory(const std::string &path);
/// Reads a whole (small) text file.
Result<std::string> readTextFile(const std::string &path);

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_TENSORSOURCE_H
