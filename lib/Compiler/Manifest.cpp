//===- Manifest.cpp - what an artifact says about itself ------------------===//
//
// The manifest lets a runtime that knows nothing of MLIR call a compiled
// library: entry points with their buffers, and the weights to bind. The
// weights file holds those weights, aligned for direct use after mmap.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"
#include "lowbit/ModelIO/Json.h"
#include "lowbit/ModelIO/Safetensors.h"

#include "mlir/IR/BuiltinTypes.h"

namespace io = lowbit::modelio;

namespace lowbit {
namespace compiler {

static std::string dtypeOf(mlir::Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF64())
    return "f64";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isSignlessInteger(8))
    return "i8";
  if (type.isSignlessInteger(32))
    return "i32";
  return "i64";
}

static void appendBuffers(std::string &out, llvm::ArrayRef<Buffer> buffers) {
  out += '[';
  for (auto [i, buffer] : llvm::enumerate(buffers)) {
    if (i)
      out += ',';
    out += "{\"name\":";
    io::appendJsonString(out, buffer.name);
    out += ",\"dtype\":\"" + dtypeOf(buffer.elementType) + "\",\"shape\":[";
    for (auto [j, size] : llvm::enumerate(buffer.shape))
      out += (j ? "," : "") + std::to_string(size);
    out += ']';
    if (!buffer.label.empty()) {
      out += ",\"label\":";
      io::appendJsonString(out, buffer.label);
    }
    out += '}';
  }
  out += ']';
}

std::string manifestJson(llvm::ArrayRef<EntryPoint> entries,
                         llvm::StringRef prefix, llvm::StringRef target,
                         llvm::ArrayRef<OutlinedWeight> weights) {
  std::string out = "{\"format\":\"lowbit-artifact\",\"version\":1,\"prefix\":";
  io::appendJsonString(out, prefix.str());
  out += ",\"target\":";
  io::appendJsonString(out, target.str());
  out += ",\"entries\":[";
  for (auto [i, entry] : llvm::enumerate(entries)) {
    if (i)
      out += ',';
    out += "{\"name\":";
    io::appendJsonString(out, entry.funcName);
    out += ",\"symbol\":";
    io::appendJsonString(out, entry.cName);
    out += ",\"packed_symbol\":";
    io::appendJsonString(out, entry.cName + "_packed");
    out += ",\"args\":";
    appendBuffers(out, entry.args);
    out += ",\"results\":";
    appendBuffers(out, entry.results);
    out += '}';
  }
  out += "],\"weights\":[";
  for (auto [i, weight] : llvm::enumerate(weights)) {
    if (i)
      out += ',';
    out += "{\"name\":";
    io::appendJsonString(out, weight.name);
    out += ",\"bytes\":" + std::to_string(weight.bytes.size()) +
           ",\"align\":" + std::to_string(kWeightAlignment) + ",\"type\":";
    io::appendJsonString(out, weight.type);
    if (!weight.deviceSymbol.empty()) {
      out += ",\"device\":";
      io::appendJsonString(out, weight.deviceSymbol);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

llvm::Error writeWeightsFile(llvm::StringRef path,
                             llvm::ArrayRef<OutlinedWeight> weights,
                             llvm::StringRef artifactName) {
  // Padding each tensor to the alignment keeps every tensor aligned.
  std::vector<std::vector<uint8_t>> padded;
  padded.reserve(weights.size());
  std::vector<io::TensorToWrite> tensors;
  std::map<std::string, std::string> metadata = {
      {"format", "lowbit-weights"}, {"artifact", artifactName.str()}};
  for (const OutlinedWeight &weight : weights) {
    uint64_t size = weight.bytes.size();
    uint64_t rounded =
        (size + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
    std::vector<uint8_t> &bytes = padded.emplace_back(weight.bytes);
    bytes.resize(rounded, 0);
    tensors.push_back({weight.name,
                       io::SafetensorsDType::U8,
                       {rounded},
                       {bytes.data(), rounded}});
    metadata["lowbit.type." + weight.name] = weight.type;
  }
  io::Status status =
      io::writeSafetensors(path.str(), tensors, metadata, kWeightAlignment);
  if (!status)
    return llvm::createStringError(status.message());
  return llvm::Error::success();
}

} // namespace compiler
} // namespace lowbit
