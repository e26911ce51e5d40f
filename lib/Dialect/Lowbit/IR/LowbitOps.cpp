//===- LowbitOps.cpp - lowbit operation verifiers and formats -------------===//

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Numerics/Hadamard.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::lowbit;

#define GET_OP_CLASSES
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.cpp.inc"

/// Prints a shape as [d0, d1, ...] for diagnostics.
static std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os);
  os << "]";
  return s;
}

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

// lowbit.weight inline <elements-attr> -> <qtensor-type> attr-dict
// lowbit.weight external "name" (in "file")? attr-dict : <qtensor-type>
ParseResult WeightOp::parse(OpAsmParser &parser, OperationState &result) {
  Builder &b = parser.getBuilder();
  Type type;
  if (succeeded(parser.parseOptionalKeyword("inline"))) {
    ElementsAttr data;
    if (parser.parseAttribute(data, "data", result.attributes) ||
        parser.parseArrow() || parser.parseType(type) ||
        parser.parseOptionalAttrDict(result.attributes))
      return failure();
    result.addTypes(type);
    return success();
  }
  std::string name, file;
  if (parser.parseKeyword("external") || parser.parseString(&name))
    return failure();
  result.addAttribute("name", b.getStringAttr(name));
  if (succeeded(parser.parseOptionalKeyword("in"))) {
    if (parser.parseString(&file))
      return failure();
    result.addAttribute("file", b.getStringAttr(file));
  }
  if (parser.parseOptionalAttrDict(result.attributes) || parser.parseColon() ||
      parser.parseType(type))
    return failure();
  result.addTypes(type);
  return success();
}

void WeightOp::print(OpAsmPrinter &p) {
  if (getData()) {
    p << " inline ";
    p.printAttribute(*getData());
    p << " -> " << getType();
    p.printOptionalAttrDict((*this)->getAttrs(), {"data", "name", "file"});
    return;
  }
  p << " external ";
  p.printString(getName() ? *getName() : "");
  if (getFile()) {
    p << " in ";
    p.printString(*getFile());
  }
  p.printOptionalAttrDict((*this)->getAttrs(), {"data", "name", "file"});
  p << " : " << getType();
}

LogicalResult WeightOp::verify() {
  QTensorType type = getQType();
  if (getData() && getName())
    return emitOpError("has both inline data and an external name; give one");
  if (!getData() && !getName())
    return emitOpError("needs inline data or an external name");
  if (getFile() && !getName())
    return emitOpError("names a weights file but no tensor in it");

  if (getName()) {
    if (getName()->empty())
      return emitOpError("external tensor name must not be empty");
    if (getFile())
      return getFile()->empty()
                 ? emitOpError("weights file name must not be empty")
                 : success();
    auto module = (*this)->getParentOfType<ModuleOp>();
    if (!module || !module->hasAttr(LowbitDialect::kWeightsFileAttrName))
      return emitOpError("external weight '")
             << *getName() << "' has no file: write `in \"file\"` or set '"
             << LowbitDialect::kWeightsFileAttrName << "' on the module";
    return success();
  }

  if (!type)
    return emitOpError("inline data needs a !lowbit.qtensor result; a float "
                       "constant is an arith.constant");
  ElementsAttr data = *getData();
  auto dataType = dyn_cast<ShapedType>(data.getType());
  if (!dataType || dataType.getRank() != 1 ||
      !dataType.getElementType().isInteger(8))
    return emitOpError("inline data must be a 1-D tensor of i8 or ui8 bytes, "
                       "got ")
           << data.getType();
  uint64_t expected = type.getPackedSizeInBytes();
  if (uint64_t(dataType.getNumElements()) != expected)
    return emitOpError("inline data has ")
           << dataType.getNumElements() << " bytes but the packed layout of "
           << type << " needs " << expected;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(data)) {
    if (const AsmResourceBlob *blob = resource.getRawHandle().getBlob()) {
      if (blob->getData().size() != expected)
        return emitOpError("resource blob '")
               << resource.getRawHandle().getKey() << "' holds "
               << blob->getData().size() << " bytes but the packed layout of "
               << type << " needs " << expected;
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// QuantizeOp / DequantizeOp
//===----------------------------------------------------------------------===//

/// Checks that a float tensor and a quantized tensor describe the same values.
static LogicalResult verifySameLogicalTensor(Operation *op,
                                             RankedTensorType floatType,
                                             QTensorType qtype,
                                             StringRef floatName) {
  if (floatType.getShape() != qtype.getShape())
    return op->emitOpError()
           << floatName << " shape " << shapeString(floatType.getShape())
           << " does not match the quantized shape "
           << shapeString(qtype.getShape());
  if (floatType.getElementType() != qtype.getElementType())
    return op->emitOpError()
           << floatName << " element type " << floatType.getElementType()
           << " does not match the quantized tensor's "
           << qtype.getElementType();
  return success();
}

LogicalResult QuantizeOp::verify() {
  return verifySameLogicalTensor(*this, getInput().getType(), getType(),
                                 "input");
}

LogicalResult DequantizeOp::verify() {
  return verifySameLogicalTensor(*this, getType(), getInput().getType(),
                                 "result");
}

//===----------------------------------------------------------------------===//
// HadamardOp
//===----------------------------------------------------------------------===//

LogicalResult HadamardOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (type.getRank() < 1)
    return emitOpError("needs a tensor of rank 1 or more");
  int64_t k = type.getShape().back();
  if (ShapedType::isDynamic(k))
    return emitOpError("needs a static last dimension");
  if (::lowbit::numerics::Status s =
          ::lowbit::numerics::checkHadamardBlock(k, getBlockSize());
      !s)
    return emitOpError(s.message());
  return success();
}

OpFoldResult HadamardOp::fold(FoldAdaptor) {
  // R·R = I: a rotation of a rotation with the same blocks is the input.
  if (auto inner = getInput().getDefiningOp<HadamardOp>())
    if (inner.getBlockSize() == getBlockSize())
      return inner.getInput();
  return {};
}

//===----------------------------------------------------------------------===//
// QMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult QMatmulOp::verify() {
  QTensorType weightType = getWeight().getType();
  if (weightType.getRank() != 2)
    return emitOpError(
               "weight must be a 2-D [N, K] quantized tensor, got rank ")
           << weightType.getRank();
  int64_t n = weightType.getShape()[0];
  int64_t k = weightType.getShape()[1];

  RankedTensorType inputType = getInput().getType();
  if (inputType.getRank() < 1)
    return emitOpError("input must have rank at least 1");
  int64_t inputK = inputType.getShape().back();
  if (!ShapedType::isDynamic(inputK) && inputK != k)
    return emitOpError("input reduction dimension ")
           << inputK << " does not match the weight's K = " << k;

  SmallVector<int64_t> expected(inputType.getShape().drop_back());
  expected.push_back(n);
  RankedTensorType resultType = getType();
  bool shapeOk = resultType.getRank() == inputType.getRank();
  for (unsigned i = 0; shapeOk && i < expected.size(); ++i) {
    int64_t want = expected[i], got = resultType.getShape()[i];
    shapeOk = want == got || ShapedType::isDynamic(want) ||
              ShapedType::isDynamic(got);
  }
  if (!shapeOk)
    return emitOpError("result shape ")
           << shapeString(resultType.getShape()) << " should be "
           << shapeString(expected) << " (input batch dimensions, then N)";

  if (Value bias = getBias()) {
    auto biasType = cast<RankedTensorType>(bias.getType());
    if (biasType.getRank() != 1 || biasType.getShape()[0] != n)
      return emitOpError("bias must have shape [")
             << n << "], got " << shapeString(biasType.getShape());
  }

  Value loraA = getLoraA(), loraB = getLoraB();
  if (bool(loraA) != bool(loraB))
    return emitOpError("LoRA needs both factors A [r, K] and B [N, r]");
  if (!loraA) {
    if (getLoraScale())
      return emitOpError("LoRA scale given without LoRA factors");
    return success();
  }
  auto aType = cast<RankedTensorType>(loraA.getType());
  auto bType = cast<RankedTensorType>(loraB.getType());
  if (aType.getRank() != 2 || aType.getShape()[1] != k ||
      ShapedType::isDynamic(aType.getShape()[0]))
    return emitOpError("LoRA factor A must have shape [r, ")
           << k << "], got " << shapeString(aType.getShape());
  int64_t rank = aType.getShape()[0];
  if (bType.getRank() != 2 || bType.getShape()[0] != n ||
      bType.getShape()[1] != rank)
    return emitOpError("LoRA factor B must have shape [")
           << n << ", " << rank << "] to match A, got "
           << shapeString(bType.getShape());
  if (getLoraScale() && !getLoraScale()->isFinite())
    return emitOpError("LoRA scale must be finite");
  return success();
}

namespace {
/// A LoRA branch scaled by zero contributes nothing: drop it.
struct DropZeroScaledLora : OpRewritePattern<QMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasLora() || !op.getLoraScale() || !op.getLoraScale()->isZero())
      return failure();
    rewriter.replaceOpWithNewOp<QMatmulOp>(
        op, op.getType(), op.getInput(), op.getWeight(), op.getBias(),
        /*lora_a=*/Value(), /*lora_b=*/Value(), /*lora_scale=*/FloatAttr());
    return success();
  }
};
} // namespace

void QMatmulOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<DropZeroScaledLora>(context);
}
