//===- CpuKernelSupport.cpp - Builders shared by the CPU kernels ----------===//

#include "CpuKernelSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <algorithm>

using namespace mlir;

namespace mlir::lowbit {

Value cIdx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}

Value addIdx(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::AddIOp::create(b, a, c);
}

Value mulIdx(ImplicitLocOpBuilder &b, Value a, int64_t c) {
  return arith::MulIOp::create(b, a, cIdx(b, c));
}

Value toF32(ImplicitLocOpBuilder &b, Value v) {
  Type f32 = b.getF32Type();
  if (auto vec = dyn_cast<VectorType>(v.getType())) {
    if (vec.getElementType().isF32())
      return v;
    return arith::ExtFOp::create(b, VectorType::get(vec.getShape(), f32), v);
  }
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, f32, v);
}

Value readRowChunk(ImplicitLocOpBuilder &b, Value matrix, Value row, Value col,
                   int64_t count) {
  Type elementType = cast<ShapedType>(matrix.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, b.getZeroAttr(elementType));
  Value chunk = vector::TransferReadOp::create(
      b, VectorType::get({count}, elementType), matrix, ValueRange{row, col},
      pad, ArrayRef<bool>{true});
  if (isa<FloatType>(elementType))
    return toF32(b, chunk);
  return chunk;
}

Value widenWithZeros(ImplicitLocOpBuilder &b, Value v, int64_t width) {
  auto type = cast<VectorType>(v.getType());
  int64_t count = type.getNumElements();
  if (count == width)
    return v;
  Value zeros = arith::ConstantOp::create(b, b.getZeroAttr(type));
  SmallVector<int64_t> mask;
  for (int64_t i = 0; i < width; ++i)
    mask.push_back(i < count ? i : count);
  return vector::ShuffleOp::create(b, v, zeros, mask);
}

Value callIntrinsic(ImplicitLocOpBuilder &b, ModuleOp module,
                    StringRef intrinsic, Type result, ValueRange args) {
  std::string name = ("__lowbit_" + intrinsic).str();
  std::replace(name.begin(), name.end(), '.', '_');
  auto func = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
  if (!func) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    SmallVector<Type> argTypes(args.getTypes());
    func = LLVM::LLVMFuncOp::create(
        b, name, LLVM::LLVMFunctionType::get(result, argTypes),
        LLVM::Linkage::Internal);
    func.setAlwaysInline(true);
    Block *entry = func.addEntryBlock(b);
    b.setInsertionPointToStart(entry);
    Value value =
        LLVM::CallIntrinsicOp::create(b, result, b.getStringAttr(intrinsic),
                                      entry->getArguments())
            .getResult(0);
    LLVM::ReturnOp::create(b, value);
  }
  return LLVM::CallOp::create(b, func, args).getResult();
}

} // namespace mlir::lowbit
