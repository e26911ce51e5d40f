//===- MatmulMatchers.cpp - Recognize matmuls against a weight ------------===//

#include "MatmulMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::lowbit;

/// Position of the loop dimension `e` stands for, or -1 when it is not a
/// plain dimension.
static int64_t dimPos(AffineExpr e) {
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return d.getPosition();
  return -1;
}

/// Tries `op` with input `weightIdx` as the weight; `nDims` are the parallel
/// dims that only the weight and the output carry.
static std::optional<MatmulMatch> matchWithWeightAt(linalg::LinalgOp op,
                                                    unsigned weightIdx,
                                                    ArrayRef<unsigned> nDims,
                                                    unsigned kDim) {
  if (nDims.size() != 1)
    return std::nullopt;
  unsigned nDim = nDims.front();
  OpOperand *wOperand = op.getDpsInputOperand(weightIdx);
  OpOperand *xOperand = op.getDpsInputOperand(1 - weightIdx);
  OpOperand *initOperand = op.getDpsInitOperand(0);
  AffineMap xMap = op.getMatchingIndexingMap(xOperand);
  AffineMap wMap = op.getMatchingIndexingMap(wOperand);
  AffineMap outMap = op.getMatchingIndexingMap(initOperand);

  // x: (lead..., k) and y: (lead..., n) with the same leading dims, so that
  // y's leading dimensions are x's, as lowbit.qmatmul defines them.
  unsigned rank = outMap.getNumResults();
  if (rank < 1 || xMap.getNumResults() != rank)
    return std::nullopt;
  for (unsigned i = 0; i + 1 < rank; ++i) {
    if (dimPos(xMap.getResult(i)) < 0 ||
        xMap.getResult(i) != outMap.getResult(i))
      return std::nullopt;
  }
  if (dimPos(xMap.getResult(rank - 1)) != kDim ||
      dimPos(outMap.getResult(rank - 1)) != nDim)
    return std::nullopt;

  // W: (batch..., n, k) or (batch..., k, n).
  unsigned wRank = wMap.getNumResults();
  if (wRank < 2)
    return std::nullopt;
  int64_t a = dimPos(wMap.getResult(wRank - 2));
  int64_t b = dimPos(wMap.getResult(wRank - 1));
  MatmulMatch match;
  if (a == nDim && b == kDim)
    match.weightIsNK = true;
  else if (a == kDim && b == nDim)
    match.weightIsNK = false;
  else
    return std::nullopt;

  Value weight = wOperand->get();
  unsigned numBatch = wRank - 2;
  if (numBatch > 0) {
    // The weight carries batch dims: it must be one 2-D tensor broadcast
    // along exactly those leading dims.
    auto bcast = weight.getDefiningOp<linalg::BroadcastOp>();
    if (!bcast)
      return std::nullopt;
    auto expected = llvm::to_vector(llvm::seq<int64_t>(0, numBatch));
    if (bcast.getDimensions() != ArrayRef<int64_t>(expected) ||
        cast<ShapedType>(bcast.getInput().getType()).getRank() != 2)
      return std::nullopt;
    match.broadcast = bcast;
    weight = bcast.getInput();
  }

  auto wType = dyn_cast<RankedTensorType>(weight.getType());
  auto xType = dyn_cast<RankedTensorType>(xOperand->get().getType());
  auto outType = dyn_cast<RankedTensorType>(initOperand->get().getType());
  if (!wType || !xType || !outType || !wType.hasStaticShape())
    return std::nullopt;
  Type elt = outType.getElementType();
  if (!isa<FloatType>(elt) || xType.getElementType() != elt ||
      wType.getElementType() != elt)
    return std::nullopt;

  match.op = op;
  match.input = xOperand->get();
  match.weightOperand = wOperand;
  match.weight = weight;
  match.init = initOperand->get();
  match.n = wType.getShape()[match.weightIsNK ? 0 : 1];
  match.k = wType.getShape()[match.weightIsNK ? 1 : 0];
  return match;
}

std::optional<MatmulMatch>
mlir::lowbit::matchMatmulWithWeight(linalg::LinalgOp op) {
  if (!op || !op.hasPureTensorSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumReductionLoops() != 1)
    return std::nullopt;
  if (!linalg::isaContractionOpInterface(op))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->k.size() != 1)
    return std::nullopt;
  // inferContractionDims calls the first input's own parallel dims "m" and
  // the second's "n": the weight is usually the second input, but a generic
  // may list it first.
  if (auto m = matchWithWeightAt(op, 1, dims->n, dims->k.front()))
    return m;
  return matchWithWeightAt(op, 0, dims->m, dims->k.front());
}

Value mlir::lowbit::getFloatExtensionInput(Value v) {
  if (!isa<RankedTensorType>(v.getType()))
    return Value();
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  auto op = v.getDefiningOp<linalg::LinalgOp>();
  if (!op || !op.hasPureTensorSemantics() || op.getNumDpsInputs() != 1 ||
      op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumLoops() != op.getNumParallelLoops() ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return Value();
  Block *body = op.getBlock();
  if (!llvm::hasSingleElement(body->without_terminator()))
    return Value();
  auto yield = dyn_cast<linalg::YieldOp>(body->getTerminator());
  if (!yield || yield->getNumOperands() != 1)
    return Value();
  auto ext = yield.getOperand(0).getDefiningOp<arith::ExtFOp>();
  auto arg = ext ? dyn_cast<BlockArgument>(ext.getIn()) : BlockArgument();
  if (!arg || arg.getOwner() != body || arg.getArgNumber() != 0)
    return Value();
  return op.getDpsInputOperand(0)->get();
}

Value mlir::lowbit::lookThroughFloatExtension(Value v) {
  while (Value input = getFloatExtensionInput(v))
    v = input;
  return v;
}

bool mlir::lowbit::isZeroTensor(Value v) {
  if (matchPattern(v, m_AnyZeroFloat()))
    return true;
  if (auto fill = v.getDefiningOp<linalg::FillOp>())
    return matchPattern(fill.getInputs().front(), m_AnyZeroFloat());
  return false;
}

Value mlir::lowbit::getTransposeInput(Value v) {
  auto t = v.getDefiningOp<linalg::TransposeOp>();
  if (!t || t.getPermutation() != ArrayRef<int64_t>{1, 0})
    return Value();
  return t.getInput();
}

Value mlir::lowbit::getWeightAsNK(OpBuilder &b, Location loc, Value w,
                                  bool weightIsNK) {
  if (weightIsNK)
    return w;
  if (Value src = getTransposeInput(w))
    return src;
  auto type = cast<RankedTensorType>(w.getType());
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{type.getShape()[1], type.getShape()[0]},
      type.getElementType());
  return linalg::TransposeOp::create(b, loc, w, init, ArrayRef<int64_t>{1, 0})
      ->getResult(0);
}

Value mlir::lowbit::addMatmulInit(OpBuilder &b, Location loc,
                                  const MatmulMatch &match, Value product) {
  if (isZeroTensor(match.init))
    return product;
  return arith::AddFOp::create(b, loc, match.init, product);
}
