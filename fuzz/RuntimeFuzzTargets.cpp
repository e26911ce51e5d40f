//===- RuntimeFuzzTargets.cpp - Bodies of the runtime's fuzzers -----------===//
//
// The files the runtime and lowbit-run read from users: .npy inputs, the
// manifest an artifact returns, and the weights file checked against a
// manifest. Same contract as FuzzTargets.cpp: accepted input must be
// consistent, and nothing may read past its buffer.
//
//===----------------------------------------------------------------------===//

#include "FuzzTargets.h"

#include "lowbit/ModelIO/FileBuffer.h"
#include "lowbit/ModelIO/Safetensors.h"
#include "lowbit/Runtime/Manifest.h"
#include "lowbit/Runtime/Npy.h"
#include "lowbit/Runtime/WeightsFile.h"

#include <cstdlib>
#include <cstring>
#include <string_view>

using namespace lowbit::runtime;
using lowbit::modelio::FileBuffer;
using lowbit::modelio::SafetensorsFile;

namespace lowbit::fuzz {

namespace {
void require(bool ok) {
  if (!ok)
    std::abort();
}

/// The manifest weights files are checked against: two weights, one of them
/// not a multiple of the 64-byte padding. Alignment 8 rather than the
/// compiler's 64: the fuzzer's input buffer is only malloc-aligned.
const Manifest &weightsManifest() {
  static const Manifest manifest = [] {
    auto parsed = parseManifest(
        R"({"format":"lowbit-artifact","version":1,"prefix":"lowbit_",)"
        R"("target":"cpu","entries":[{"name":"f","symbol":"lowbit_f",)"
        R"("packed_symbol":"lowbit_f_packed","args":[],"results":[]}],)"
        R"("weights":[{"name":"w0","bytes":64,"align":8},)"
        R"({"name":"w1","bytes":5,"align":8}]})",
        "fuzz");
    require(parsed.isOk());
    return *parsed;
  }();
  return manifest;
}
} // namespace

bool fuzzNpy(const uint8_t *data, size_t size) {
  auto header = parseNpy(data, size, "fuzz");
  if (!header)
    return false;
  require(header->dataOffset + header->dataBytes <= size);
  require(uint64_t(header->numElements) * uint64_t(header->itemSize) ==
          header->dataBytes);
  // What was accepted must write back to a file that reads the same.
  auto bytes = serializeNpy(header->descr, header->shape,
                            data + header->dataOffset, header->dataBytes);
  require(bytes.isOk());
  auto back = parseNpy(bytes->data(), bytes->size(), "again");
  require(back.isOk());
  require(back->descr == header->descr && back->shape == header->shape &&
          back->dataBytes == header->dataBytes);
  require(header->dataBytes == 0 ||
          std::memcmp(bytes->data() + back->dataOffset,
                      data + header->dataOffset, header->dataBytes) == 0);
  return true;
}

bool fuzzManifest(const uint8_t *data, size_t size) {
  auto manifest = parseManifest(
      std::string_view(reinterpret_cast<const char *>(data), size), "fuzz");
  if (!manifest)
    return false;
  for (const EntrySpec &entry : manifest->entries) {
    require(isCIdentifier(entry.symbol) && isCIdentifier(entry.packedSymbol));
    for (const auto *list : {&entry.args, &entry.results})
      for (const TensorSpec &t : *list) {
        int64_t count = 1;
        for (int64_t d : t.shape) {
          require(d >= 0);
          count *= d;
        }
        require(count == t.numElements && t.numBytes >= 0);
      }
  }
  for (const WeightSpec &w : manifest->weights)
    require(w.bytes >= 0 && w.align >= 1 && w.paddedBytes >= w.bytes &&
            w.paddedBytes % 64 == 0);
  return true;
}

bool fuzzWeightsFile(const uint8_t *data, size_t size) {
  auto file = SafetensorsFile::parse(
      FileBuffer::fromBytes(std::vector<uint8_t>(data, data + size)), "fuzz");
  if (!file)
    return false;
  const Manifest &manifest = weightsManifest();
  auto weights = checkWeightsFile(std::move(*file), manifest);
  if (!weights)
    return false;
  require(weights->pointers.size() == manifest.weights.size() &&
          weights->sizes.size() == manifest.weights.size());
  unsigned sum = 0;
  for (size_t i = 0; i < weights->pointers.size(); ++i) {
    require(weights->sizes[i] == manifest.weights[i].bytes);
    const auto *bytes = static_cast<const uint8_t *>(weights->pointers[i]);
    for (int64_t j = 0; j < manifest.weights[i].paddedBytes; ++j)
      sum += bytes[j];
  }
  return sum != ~0u;
}

} // namespace lowbit::fuzz
