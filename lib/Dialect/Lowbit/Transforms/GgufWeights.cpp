//===- GgufWeights.cpp - Weights from llama.cpp GGUF files ----------------===//

#include "GgufWeights.h"

#include "WeightUtils.h"

#include "lowbit/Numerics/Interchange.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <fstream>

using namespace mlir;
using namespace mlir::lowbit;
namespace io = ::lowbit::modelio;
namespace nx = ::lowbit::numerics;

bool mlir::lowbit::isGgufPath(StringRef path) {
  std::ifstream in(path.str(), std::ios::binary);
  char magic[4] = {};
  if (in.read(magic, 4))
    return StringRef(magic, 4) == "GGUF";
  return path.ends_with_insensitive(".gguf");
}

namespace {

/// ggml type ids of the float types (GGML_TYPE_F32, _F16, _BF16).
constexpr uint32_t kGgmlF32 = 0, kGgmlF16 = 1, kGgmlBF16 = 30;

std::string listString(ArrayRef<uint64_t> values) {
  std::string text = "[";
  for (auto [i, v] : llvm::enumerate(values))
    text += (i ? ", " : "") + std::to_string(v);
  return text + "]";
}

std::string typeString(uint32_t type) {
  std::string_view name = io::ggmlTypeName(type);
  return name.empty() ? "unknown (" + std::to_string(type) + ")"
                      : std::string(name);
}

std::optional<nx::GgufType> blockType(uint32_t type) {
  for (nx::GgufType q : {nx::GgufType::Q4_0, nx::GgufType::Q4_1,
                         nx::GgufType::Q8_0, nx::GgufType::Q4_K})
    if (nx::ggufTypeId(q) == type)
      return q;
  return std::nullopt;
}

/// Reads one tensor for one op; every message names the tensor and file.
class GgufTensorReader {
public:
  GgufTensorReader(WeightOp op, const io::GgufFile &file,
                   const io::GgufTensorInfo &info)
      : op(op), file(file), info(info) {
    // Row-major shape: ne[n-1], ..., ne[0].
    shape.assign(info.dims.rbegin(), info.dims.rend());
  }

  InFlightDiagnostic error() {
    return op.emitOpError("tensor '") << info.name << "' in " << file.path();
  }

  LogicalResult checkShape(ArrayRef<int64_t> expected, Type opType) {
    SmallVector<uint64_t> want(expected.begin(), expected.end());
    if (ArrayRef<uint64_t>(shape) == ArrayRef<uint64_t>(want))
      return success();
    return error() << " has shape " << listString(shape) << " (GGUF ne "
                   << listString(info.dims) << ") but the op's type is "
                   << opType;
  }

  FailureOr<io::ByteSpan> bytes() {
    io::Result<io::ByteSpan> span = file.tensorBytes(info);
    if (!span)
      return op.emitOpError(span.message());
    return *span;
  }

  FailureOr<Value> quantized(OpBuilder &b, QTensorType qtype) {
    std::optional<nx::GgufType> q = blockType(info.type);
    if (!q)
      return error() << " has GGML type " << typeString(info.type)
                     << "; a quantized weight needs Q4_0, Q4_1, Q8_0 or Q4_K "
                        "blocks";
    auto scheme =
        SchemeAttr::fromNumerics(op.getContext(), nx::ggufCanonicalScheme(*q));
    if (scheme != qtype.getScheme())
      return error() << " has GGML type " << typeString(info.type)
                     << ", which converts to " << scheme
                     << ", but the op's scheme is " << qtype.getScheme();
    if (failed(checkShape(qtype.getShape(), qtype)))
      return failure();
    FailureOr<io::ByteSpan> data = bytes();
    if (failed(data))
      return failure();
    std::vector<uint8_t> packed(qtype.getPackedSizeInBytes());
    if (nx::Status st = nx::ggufToCanonical(
            *q, data->data, data->size, qtype.getNumRows(),
            qtype.getReductionSize(), packed.data(), packed.size());
        !st)
      return error() << ": " << st.message();
    WeightOp inlined =
        createInlineWeight(b, op.getLoc(), qtype, packed, *op.getName());
    inlined->setDiscardableAttrs(op->getDiscardableAttrDictionary());
    return inlined.getResult();
  }

  FailureOr<Value> floats(OpBuilder &b, RankedTensorType type) {
    Type element = type.getElementType();
    bool matches = (info.type == kGgmlF32 && element.isF32()) ||
                   (info.type == kGgmlF16 && element.isF16()) ||
                   (info.type == kGgmlBF16 && element.isBF16());
    if (!matches)
      return error() << " has GGML type " << typeString(info.type)
                     << " but the op's type is " << type;
    if (failed(checkShape(type.getShape(), type)))
      return failure();
    FailureOr<io::ByteSpan> data = bytes();
    if (failed(data))
      return failure();
    // GGUF data is little-endian, as MLIR's raw buffers on the hosts lowbit
    // supports.
    ArrayRef<char> raw(reinterpret_cast<const char *>(data->data), data->size);
    auto value = DenseElementsAttr::getFromRawBuffer(type, raw);
    return arith::ConstantOp::create(b, op.getLoc(), type, value).getResult();
  }

private:
  WeightOp op;
  const io::GgufFile &file;
  const io::GgufTensorInfo &info;
  SmallVector<uint64_t> shape;
};

} // namespace

FailureOr<Value> mlir::lowbit::buildGgufWeight(OpBuilder &b, WeightOp op,
                                               const io::GgufFile &file) {
  const io::GgufTensorInfo *info = file.findTensor(op.getName()->str());
  if (!info)
    return op.emitOpError("tensor '")
           << *op.getName() << "' is not in " << file.path();
  GgufTensorReader reader(op, file, *info);
  if (QTensorType qtype = op.getQType())
    return reader.quantized(b, qtype);
  return reader.floats(b, cast<RankedTensorType>(op.getType()));
}
