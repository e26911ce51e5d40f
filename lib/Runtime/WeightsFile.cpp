//===- WeightsFile.cpp - Validate an artifact's weights file --------------===//

#include "lowbit/Runtime/WeightsFile.h"

#include <set>

namespace lowbit::runtime {

using modelio::SafetensorsDType;
using modelio::SafetensorsFile;
using modelio::TensorView;

std::string defaultWeightsPath(const std::string &libraryPath) {
  // As lowbit-compile names it: the file name's extension replaced.
  size_t nameStart = libraryPath.rfind('/');
  nameStart = nameStart == std::string::npos ? 0 : nameStart + 1;
  size_t dot = libraryPath.rfind('.');
  std::string base = libraryPath;
  if (dot != std::string::npos && dot >= nameStart)
    base.resize(dot);
  return base + ".weights.safetensors";
}

Result<WeightsFile> checkWeightsFile(SafetensorsFile file,
                                     const Manifest &manifest) {
  const std::string &path = file.path();
  auto fail = [&](const std::string &what) {
    return Status::error(path + ": " + what);
  };
  auto format = file.metadata().find("format");
  if (format == file.metadata().end())
    return fail("'__metadata__' has no \"format\": not a lowbit weights file");
  if (format->second != "lowbit-weights")
    return fail("'__metadata__' \"format\" is \"" + format->second +
                "\", expected \"lowbit-weights\"");

  WeightsFile out;
  std::set<std::string> expected;
  for (const WeightSpec &w : manifest.weights) {
    expected.insert(w.name);
    const TensorView *t = file.find(w.name);
    if (!t)
      return fail("missing tensor '" + w.name + "' (weight of " +
                  std::to_string(w.bytes) + " bytes)");
    std::string what = "tensor '" + w.name + "': ";
    if (t->dtype != SafetensorsDType::U8)
      return fail(what + "dtype is " + std::string(dtypeName(t->dtype)) +
                  ", expected U8");
    if (t->shape.size() != 1 || t->shape[0] != uint64_t(w.paddedBytes)) {
      std::string shape = "[";
      for (size_t i = 0; i < t->shape.size(); ++i)
        shape += (i ? ", " : "") + std::to_string(t->shape[i]);
      return fail(what + "shape is " + shape + "], expected [" +
                  std::to_string(w.paddedBytes) + "] (" +
                  std::to_string(w.bytes) +
                  " bytes rounded up to a multiple of 64)");
    }
    uint64_t offset = file.dataOffset() + t->begin;
    if (offset % uint64_t(w.align) != 0)
      return fail(what + "file offset " + std::to_string(offset) +
                  " is not a multiple of its alignment " +
                  std::to_string(w.align));
    if (reinterpret_cast<uintptr_t>(t->bytes.data) % uint64_t(w.align) != 0)
      return fail(what + "its data is not aligned to " +
                  std::to_string(w.align) +
                  " bytes in memory (the file could not be mapped)");
    for (int64_t i = w.bytes; i < w.paddedBytes; ++i)
      if (t->bytes.data[i] != 0)
        return fail(what + "padding byte " + std::to_string(i) +
                    " is not zero (the weight has " + std::to_string(w.bytes) +
                    " bytes)");
    out.pointers.push_back(t->bytes.data);
    out.sizes.push_back(w.bytes);
  }
  for (const TensorView &t : file.tensors())
    if (!expected.count(t.name))
      return fail("tensor '" + t.name +
                  "' is not a weight of the artifact's manifest");
  out.file = std::move(file);
  return out;
}

Result<WeightsFile> loadWeightsFile(const std::string &path,
                                    const Manifest &manifest) {
  Result<SafetensorsFile> file = SafetensorsFile::open(path);
  if (!file)
    return file.status();
  return checkWeightsFile(std::move(*file), manifest);
}

} // namespace lowbit::runtime
