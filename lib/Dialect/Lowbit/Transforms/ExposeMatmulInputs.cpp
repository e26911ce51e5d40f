//===- ExposeMatmulInputs.cpp - Return matmul inputs for calibration ------===//
//
// Adds, to every public function, one result per named weight matmul: the
// matmul's activation as [rows, K], labelled with the matmul's name. The
// matmuls are those lowbit-quantize-weights would quantize, so the labels
// match the names it looks Hessians up by.
//
//===----------------------------------------------------------------------===//

#include "LoraMatchers.h"
#include "MatmulMatchers.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/PassCounters.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/Regex.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITEXPOSEMATMULINPUTS
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

/// A float weight the quantizer would read: a constant or a lowbit.weight
/// (external or inline), possibly widened.
bool isQuantizableWeight(Value weight) {
  Value stored = lookThroughFloatExtension(weight);
  return matchPattern(stored, m_Constant()) || stored.getDefiningOp<WeightOp>();
}

/// `x` as [rows, K]: leading dimensions collapsed, a vector made one row.
Value asRows(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return x;
  if (rank == 1) {
    auto rows =
        RankedTensorType::get({1, type.getDimSize(0)}, type.getElementType());
    return tensor::ExpandShapeOp::create(
        b, loc, rows, x, ArrayRef<ReassociationIndices>{{0, 1}});
  }
  ReassociationIndices leading;
  for (int64_t d = 0; d + 1 < rank; ++d)
    leading.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, x,
      ArrayRef<ReassociationIndices>{leading, ReassociationIndices{rank - 1}});
}

struct ExposeMatmulInputsPass
    : mlir::lowbit::impl::LowbitExposeMatmulInputsBase<ExposeMatmulInputsPass> {
  using LowbitExposeMatmulInputsBase::LowbitExposeMatmulInputsBase;

  LogicalResult initialize(MLIRContext *context) override {
    for (const std::string &pattern : names) {
      std::string error;
      if (!llvm::Regex(pattern).isValid(error))
        return emitError(UnknownLoc::get(context))
               << "lowbit-expose-matmul-inputs: invalid names pattern '"
               << pattern << "': " << error;
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<llvm::Regex> filters;
    for (const std::string &pattern : names)
      filters.emplace_back(pattern);
    auto wanted = [&](StringRef name) {
      if (filters.empty())
        return true;
      return llvm::any_of(filters,
                          [&](llvm::Regex &r) { return r.match(name); });
    };
    llvm::SmallPtrSet<Operation *, 8> loraFactors =
        findLoraFactorMatmuls(module);
    PassCounters counters{"inputs-exposed", "matmuls-not-exposed"};

    for (func::FuncOp func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || !func.isPublic())
        continue;
      SmallVector<std::pair<Value, StringAttr>> exposed;
      bool singleBlock = func.getBody().hasOneBlock();
      func.walk([&](linalg::LinalgOp op) {
        auto name = op->getAttrOfType<StringAttr>(LowbitDialect::kNameAttrName);
        if (!name || loraFactors.contains(op) || !wanted(name.getValue()))
          return;
        std::optional<MatmulMatch> match = matchMatmulWithWeight(op);
        if (!match || !isQuantizableWeight(match->weight) ||
            !isa<RankedTensorType>(match->input.getType()))
          return;
        if (!singleBlock || op->getParentOp() != func) {
          op->emitRemark("input not exposed: the matmul is not in the "
                         "function's only block");
          ++counters["matmuls-not-exposed"];
          return;
        }
        exposed.emplace_back(match->input, name);
      });
      if (exposed.empty())
        continue;

      auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
      OpBuilder b(ret);
      SmallVector<Value> operands(ret.getOperands());
      for (auto [x, name] : exposed) {
        Value rows = asRows(b, ret.getLoc(), x);
        unsigned index = func.getNumResults();
        NamedAttribute label(b.getStringAttr(LowbitDialect::kNameAttrName),
                             name);
        if (failed(func.insertResult(index, rows.getType(),
                                     b.getDictionaryAttr({label}))))
          return signalPassFailure();
        operands.push_back(rows);
        ++counters["inputs-exposed"];
      }
      ret->setOperands(operands);
    }
    if (stats)
      counters.report(module, getArgument());
  }
};

} // namespace
