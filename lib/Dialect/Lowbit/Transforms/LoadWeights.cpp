//===- LoadWeights.cpp - Read external weights into the module ------------===//
//
// Model importers reference weights by name in their safetensors or GGUF
// files so that the IR stays small; quantization and lowering need the
// values. This pass maps each file once (lowbit::modelio validates it),
// checks every referenced tensor against the op's type and replaces the op
// by a constant (GGUF blocks: GgufWeights.cpp).
//
//===----------------------------------------------------------------------===//

#include "GgufWeights.h"
#include "WeightUtils.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/ModelIO/Gguf.h"
#include "lowbit/ModelIO/Safetensors.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Path.h"

#include <memory>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOADWEIGHTS
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace io = ::lowbit::modelio;

namespace {

/// The safetensors dtype that stores elements of `type`, if any.
std::optional<io::SafetensorsDType> dtypeFor(Type type) {
  if (type.isF32())
    return io::SafetensorsDType::F32;
  if (type.isF16())
    return io::SafetensorsDType::F16;
  if (type.isBF16())
    return io::SafetensorsDType::BF16;
  return std::nullopt;
}

std::string shapeString(llvm::ArrayRef<uint64_t> shape) {
  std::string text = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(d);
  return text + "]";
}

/// A float constant or an inline packed weight from a safetensors tensor.
FailureOr<Value> buildSafetensorsWeight(OpBuilder &b, WeightOp op,
                                        const io::SafetensorsFile &file) {
  const std::string &path = file.path();
  const io::TensorView *tensor = file.find(op.getName()->str());
  if (!tensor)
    return op.emitOpError("tensor '")
           << *op.getName() << "' is not in " << path;

  ArrayRef<char> bytes(reinterpret_cast<const char *>(tensor->bytes.data),
                       tensor->bytes.size);
  if (QTensorType qtype = op.getQType()) {
    if (tensor->dtype != io::SafetensorsDType::U8 &&
        tensor->dtype != io::SafetensorsDType::I8)
      return op.emitOpError("tensor '")
             << *op.getName() << "' in " << path << " has dtype "
             << io::dtypeName(tensor->dtype)
             << "; packed weights are stored as U8 or I8 bytes";
    uint64_t expected = qtype.getPackedSizeInBytes();
    if (tensor->bytes.size != expected)
      return op.emitOpError("tensor '")
             << *op.getName() << "' in " << path << " has "
             << tensor->bytes.size << " bytes but the packed layout of "
             << qtype << " needs " << expected;
    auto data = llvm::ArrayRef<uint8_t>(tensor->bytes.data, tensor->bytes.size);
    WeightOp inlined =
        createInlineWeight(b, op.getLoc(), qtype, data, *op.getName());
    inlined->setDiscardableAttrs(op->getDiscardableAttrDictionary());
    return inlined.getResult();
  }

  auto type = cast<RankedTensorType>(op.getType());
  std::optional<io::SafetensorsDType> dtype = dtypeFor(type.getElementType());
  if (!dtype || tensor->dtype != *dtype)
    return op.emitOpError("tensor '")
           << *op.getName() << "' in " << path << " has dtype "
           << io::dtypeName(tensor->dtype) << " but the op's type is " << type;
  SmallVector<uint64_t> shape(type.getShape().begin(), type.getShape().end());
  if (llvm::ArrayRef<uint64_t>(tensor->shape) != llvm::ArrayRef(shape))
    return op.emitOpError("tensor '")
           << *op.getName() << "' in " << path << " has shape "
           << shapeString(tensor->shape) << " but the op's type is " << type;
  // Safetensors data is little-endian, as MLIR's raw buffers on the hosts
  // lowbit supports.
  auto value = DenseElementsAttr::getFromRawBuffer(type, bytes);
  return arith::ConstantOp::create(b, op.getLoc(), type, value).getResult();
}

/// A weights file, mapped and validated once: safetensors or GGUF.
struct WeightsFile {
  std::unique_ptr<io::SafetensorsFile> safetensors;
  std::unique_ptr<io::GgufFile> gguf;
};

/// Loads external weights, keeping each file mapped until it is done.
class WeightLoader {
public:
  explicit WeightLoader(std::string weightsDir)
      : weightsDir(std::move(weightsDir)) {}

  /// The path of the file `op` reads, resolved against weights-dir.
  std::string filePath(ModuleOp module, WeightOp op) {
    std::string file;
    if (op.getFile())
      file = op.getFile()->str();
    else if (auto attr = module->getAttrOfType<StringAttr>(
                 LowbitDialect::kWeightsFileAttrName))
      file = attr.str();
    if (file.empty() || llvm::sys::path::is_absolute(file) ||
        weightsDir.empty())
      return file;
    SmallString<256> path(weightsDir);
    llvm::sys::path::append(path, file);
    return std::string(path);
  }

  FailureOr<const WeightsFile *> open(WeightOp op, const std::string &path) {
    auto it = files.find(path);
    if (it != files.end())
      return &it->second;
    WeightsFile opened;
    if (isGgufPath(path)) {
      io::Result<io::GgufFile> file = io::GgufFile::open(path);
      if (!file)
        return op.emitOpError("cannot read the weights file: ")
               << file.message();
      opened.gguf = std::make_unique<io::GgufFile>(std::move(*file));
    } else {
      io::Result<io::SafetensorsFile> file = io::SafetensorsFile::open(path);
      if (!file)
        return op.emitOpError("cannot read the weights file: ")
               << file.message();
      opened.safetensors =
          std::make_unique<io::SafetensorsFile>(std::move(*file));
    }
    // StringMap entries do not move when the map grows.
    return &files.try_emplace(path, std::move(opened)).first->second;
  }

  LogicalResult load(ModuleOp module, WeightOp op) {
    std::string path = filePath(module, op);
    if (path.empty())
      return op.emitOpError("external weight '")
             << *op.getName() << "' has no weights file";
    FailureOr<const WeightsFile *> file = open(op, path);
    if (failed(file))
      return failure();
    OpBuilder b(op);
    FailureOr<Value> value =
        (*file)->gguf ? buildGgufWeight(b, op, *(*file)->gguf)
                      : buildSafetensorsWeight(b, op, *(*file)->safetensors);
    if (failed(value))
      return failure();
    op.replaceAllUsesWith(*value);
    op.erase();
    return success();
  }

private:
  std::string weightsDir;
  llvm::StringMap<WeightsFile> files;
};

struct LoadWeightsPass
    : public mlir::lowbit::impl::LowbitLoadWeightsBase<LoadWeightsPass> {
  using LowbitLoadWeightsBase::LowbitLoadWeightsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<WeightOp> external;
    module.walk([&](WeightOp op) {
      if (op.getName())
        external.push_back(op);
    });
    WeightLoader loader(weightsDir);
    for (WeightOp op : external)
      if (failed(loader.load(module, op)))
        return signalPassFailure();
  }
};

} // namespace
