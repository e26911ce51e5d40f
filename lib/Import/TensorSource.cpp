//===- TensorSource.cpp - Tensors of a checkpoint, by name ----------------===//

#include "TensorSource.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace lowbit::import {

using namespace modelio;

uint64_t SourceTensor::elements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d);
  return n;
}

std::string absolutePath(const std::string &path) {
  llvm::SmallString<256> p(path);
  if (llvm::sys::fs::make_absolute(p))
    return path;
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return std::string(p);
}

bool fileExists(const std::string &path) {
  return llvm::sys::fs::is_regular_file(path);
}

bool isDirectory(const std::string &path) {
  return llvm::sys::fs::is_directory(path);
}

Result<std::string> readTextFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return Status::error(path +
                         ": cannot read: " + buffer.getError().message());
  return std::string((*buffer)->getBuffer());
}

static FloatKind floatKind(SafetensorsDType dtype) {
  switch (dtype) {
  case SafetensorsDType::F32:
    return FloatKind::F32;
  case SafetensorsDType::F16:
    return FloatKind::F16;
  case SafetensorsDType::BF16:
    return FloatKind::BF16;
  default:
    return FloatKind::Unsupported;
  }
}

static Status addSafetensors(std::map<std::string, SourceTensor> &out,
                             const TensorView &view, const std::string &file) {
  SourceTensor t;
  t.name = view.name;
  t.file = file;
  t.dtypeName = std::string(dtypeName(view.dtype));
  t.kind = floatKind(view.dtype);
  for (uint64_t d : view.shape) {
    if (d > uint64_t(INT64_MAX))
      return Status::error(file + ": tensor '" + view.name +
                           "' has a dimension that does not fit in int64");
    t.shape.push_back(int64_t(d));
  }
  t.bytes = view.bytes;
  out.emplace(t.name, std::move(t));
  return Status::ok();
}

Result<std::unique_ptr<TensorSource>>
TensorSource::openSafetensorsFile(const std::string &path) {
  auto src = std::make_unique<TensorSource>();
  std::string abs = absolutePath(path);
  Result<SafetensorsFile> file = SafetensorsFile::open(abs);
  if (!file)
    return file.status();
  src->single = std::make_unique<SafetensorsFile>(std::move(*file));
  src->sourceKind = "safetensors";
  src->mainFile = abs;
  for (const TensorView &view : src->single->tensors())
    if (Status st = addSafetensors(src->byName, view, abs); !st)
      return st;
  return src;
}

Result<std::unique_ptr<TensorSource>>
TensorSource::openSafetensorsDir(const std::string &dir) {
  std::string abs = absolutePath(dir);
  llvm::SmallString<256> index(abs), single(abs);
  llvm::sys::path::append(index, "model.safetensors.index.json");
  llvm::sys::path::append(single, "model.safetensors");
  if (fileExists(std::string(index))) {
    auto src = std::make_unique<TensorSource>();
    Result<ShardedCheckpoint> ckpt =
        ShardedCheckpoint::open(std::string(index));
    if (!ckpt)
      return ckpt.status();
    src->sharded = std::make_unique<ShardedCheckpoint>(std::move(*ckpt));
    src->sourceKind = "sharded safetensors";
    src->mainFile = std::string(index);
    for (const SafetensorsFile &shard : src->sharded->shards())
      for (const TensorView &view : shard.tensors())
        if (Status st =
                addSafetensors(src->byName, view, absolutePath(shard.path()));
            !st)
          return st;
    return src;
  }
  if (fileExists(std::string(single)))
    return openSafetensorsFile(std::string(single));
  return Status::error(abs +
                       ": no model.safetensors or "
                       "model.safetensors.index.json in the model directory");
}

Result<std::unique_ptr<TensorSource>>
TensorSource::openGguf(const std::string &path) {
  auto src = std::make_unique<TensorSource>();
  std::string abs = absolutePath(path);
  Result<GgufFile> file = GgufFile::open(abs);
  if (!file)
    return file.status();
  src->ggufFile = std::make_unique<GgufFile>(std::move(*file));
  src->sourceKind = "gguf";
  src->mainFile = abs;
  for (const GgufTensorInfo &info : src->ggufFile->tensors()) {
    SourceTensor t;
    t.name = info.name;
    t.file = abs;
    std::string_view type = ggmlTypeName(info.type);
    t.dtypeName = type.empty() ? "ggml type " + std::to_string(info.type)
                               : std::string(type);
    // ggml types 0, 1 and 30 are F32, F16 and BF16.
    t.kind = info.type == 0    ? FloatKind::F32
             : info.type == 1  ? FloatKind::F16
             : info.type == 30 ? FloatKind::BF16
                               : FloatKind::Unsupported;
    for (auto it = info.dims.rbegin(); it != info.dims.rend(); ++it) {
      if (*it > uint64_t(INT64_MAX))
        return Status::error(abs + ": tensor '" + info.name +
                             "' has a dimension that does not fit in int64");
      t.shape.push_back(int64_t(*it));
    }
    for (numerics::GgufType q :
         {numerics::GgufType::Q4_0, numerics::GgufType::Q4_1,
          numerics::GgufType::Q8_0, numerics::GgufType::Q4_K})
      if (info.type == numerics::ggufTypeId(q))
        t.quant = q;
    if (t.kind != FloatKind::Unsupported || t.quant) {
      // Types the reader has no layout for stay unsupported; they are
      // reported by name when the model uses them.
      Result<ByteSpan> bytes = src->ggufFile->tensorBytes(info);
      if (bytes) {
        t.bytes = *bytes;
      } else {
        t.kind = FloatKind::Unsupported;
        t.quant.reset();
      }
    }
    src->byName.emplace(t.name, std::move(t));
  }
  return src;
}

const SourceTensor *TensorSource::find(const std::string &name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &it->second;
}

} // namespace lowbit::import
