//===- Safetensors.h - safetensors files and sharded checkpoints -*- C++
//-*-===//
//
// Reads the safetensors format (8-byte little-endian header length, a JSON
// header, then the tensor bytes) after validating every field against the
// file, and writes it deterministically. docs/ModelIO.md lists the rules.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_MODELIO_SAFETENSORS_H
#define LOWBIT_MODELIO_SAFETENSORS_H

#include "lowbit/ModelIO/FileBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lowbit::modelio {

enum class SafetensorsDType : uint8_t {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  F8_E8M0,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  I64,
  U64,
  F64,
  C64,
  F4,
  F6_E2M3,
  F6_E3M2,
};

/// The header's spelling ("F32", "BF16", ...).
std::string_view dtypeName(SafetensorsDType dtype);
std::optional<SafetensorsDType> parseDType(std::string_view name);
/// Bits per element (4 for F4, 6 for F6_*): a tensor's bit count must be a
/// multiple of 8.
unsigned dtypeBits(SafetensorsDType dtype);

/// One tensor of a file: its bytes point into the file's buffer.
struct TensorView {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<uint64_t> shape;
  ByteSpan bytes;
  /// data_offsets as stored (relative to the end of the header).
  uint64_t begin = 0, end = 0;
};

/// A parsed safetensors file. Movable; tensor bytes stay valid while it
/// lives.
class SafetensorsFile {
public:
  /// Maps and validates `path`. Messages start with the path.
  static Result<SafetensorsFile> open(const std::string &path);
  /// Validates bytes in memory; `name` prefixes messages.
  static Result<SafetensorsFile> parse(FileBuffer buffer,
                                       const std::string &name);

  /// Tensors sorted by name.
  const std::vector<TensorView> &tensors() const { return tensorList; }
  const TensorView *find(std::string_view name) const;
  /// `__metadata__`, sorted by key.
  const std::map<std::string, std::string> &metadata() const { return meta; }
  const std::string &path() const { return fileName; }
  /// Offset of the data section (8 + header length).
  uint64_t dataOffset() const { return dataStart; }

private:
  std::string fileName;
  std::unique_ptr<FileBuffer> buffer; // stable address for the views
  std::vector<TensorView> tensorList;
  std::map<std::string, std::string> meta;
  uint64_t dataStart = 0;
};

/// What a sharded checkpoint's model.safetensors.index.json says.
struct ShardIndex {
  /// Tensor name -> shard file name (a plain file name in the index's
  /// directory).
  std::map<std::string, std::string> weightMap;
  /// `metadata.total_size` when present.
  std::optional<uint64_t> totalSize;
};

/// Parses and checks an index's JSON text; `name` prefixes messages.
Result<ShardIndex> parseShardIndex(std::string_view text,
                                   const std::string &name);

/// A checkpoint split over several safetensors files, presented as one
/// namespace.
class ShardedCheckpoint {
public:
  /// Reads the index, opens every shard it names next to it, and checks
  /// that each mapped tensor is in its shard and no tensor is in two.
  static Result<ShardedCheckpoint> open(const std::string &indexPath);

  /// All tensors, sorted by name.
  const std::vector<const TensorView *> &tensors() const { return all; }
  const TensorView *find(std::string_view name) const;
  const std::vector<SafetensorsFile> &shards() const { return shardFiles; }
  const ShardIndex &index() const { return idx; }

private:
  ShardIndex idx;
  std::vector<SafetensorsFile> shardFiles;
  std::vector<const TensorView *> all;
};

/// A tensor to write.
struct TensorToWrite {
  std::string name;
  SafetensorsDType dtype = SafetensorsDType::F32;
  std::vector<uint64_t> shape;
  ByteSpan bytes;
};

/// Serializes tensors (sorted by name, data in that order, contiguous) and
/// metadata; the header is padded with spaces so that the data section
/// starts at a multiple of `dataAlignment` (a multiple of 8) in the file.
/// Checks what the reader checks.
Result<std::vector<uint8_t>>
serializeSafetensors(const std::vector<TensorToWrite> &tensors,
                     const std::map<std::string, std::string> &metadata = {},
                     uint64_t dataAlignment = 8);
Status writeSafetensors(const std::string &path,
                        const std::vector<TensorToWrite> &tensors,
                        const std::map<std::string, std::string> &metadata = {},
                        uint64_t dataAlignment = 8);

} // namespace lowbit::modelio

#endif // LOWBIT_MODELIO_SAFETENSORS_H
