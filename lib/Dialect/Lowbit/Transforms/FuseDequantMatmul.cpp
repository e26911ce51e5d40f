//===- FuseDequantMatmul.cpp - Fold dequantization into qmatmul -----------===//
//
// A weight that is dequantized only to feed a matmul is folded, together
// with the matmul, into lowbit.qmatmul, so no dequantized weight is ever
// materialized. The producers recognized are lowbit.dequantize, the
// explicit arith form that group-quantizing frontends emit, and quant.dcast
// of the upstream quant dialect. The last two keep the frontend's codes,
// scales and zero points as they are (numerics packCodes).
//
//===----------------------------------------------------------------------===//

#include "MatmulMatchers.h"
#include "WeightUtils.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/PassCounters.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Numerics/Pack.h"
#include "lowbit/Numerics/Quantize.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineExpr.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITFUSEDEQUANTMATMUL
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

//===----------------------------------------------------------------------===//
// Common driver: match the matmul, find the dequantized [N, K] weight, ask
// the producer-specific hook for the quantized tensor, emit lowbit.qmatmul.
//===----------------------------------------------------------------------===//

/// The dequantized [N, K] weight a matched matmul reads, or null when some
/// value between it and the matmul (the weight itself, a transpose, a batch
/// broadcast) has another user: fusing would then not remove it.
static Value getDequantizedWeightNK(const MatmulMatch &m) {
  if (!m.weightOperand->get().hasOneUse())
    return Value();
  Value w = m.weight;
  if (m.broadcast && !w.hasOneUse())
    return Value();
  if (!m.weightIsNK) {
    // A [K, N] weight fuses only when it is the transpose of a dequantized
    // [N, K] one: the quantized tensor is [N, K] with blocks along K.
    w = getTransposeInput(w);
    if (!w || !w.hasOneUse())
      return Value();
  }
  return w;
}

namespace {
struct FuseIntoQMatmulBase : OpInterfaceRewritePattern<linalg::LinalgOp> {
  FuseIntoQMatmulBase(MLIRContext *ctx, int64_t &numFused)
      : OpInterfaceRewritePattern(ctx), numFused(numFused) {}

  /// Returns the quantized tensor that `dequantized` ([N, K]) stands for,
  /// creating ops at the rewriter's insertion point only on success.
  virtual FailureOr<TypedValue<QTensorType>>
  getQuantized(linalg::LinalgOp op, Value dequantized,
               PatternRewriter &rewriter) const = 0;

  LogicalResult matchAndRewrite(linalg::LinalgOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<MatmulMatch> m = matchMatmulWithWeight(op);
    if (!m)
      return rewriter.notifyMatchFailure(op, "not a matmul with a 2-D weight");
    Value dequantized = getDequantizedWeightNK(*m);
    if (!dequantized)
      return rewriter.notifyMatchFailure(
          op, "the weight is not an [N, K] tensor used only by this matmul");
    FailureOr<TypedValue<QTensorType>> q =
        getQuantized(op, dequantized, rewriter);
    if (failed(q))
      return failure();
    Location loc = op.getLoc();
    Type resultType = op->getResult(0).getType();
    auto qmm =
        QMatmulOp::create(rewriter, loc, resultType, m->input, *q,
                          /*bias=*/Value(), /*lora_a=*/Value(),
                          /*lora_b=*/Value(), /*lora_scale=*/FloatAttr());
    rewriter.replaceOp(op, addMatmulInit(rewriter, loc, *m, qmm));
    ++numFused;
    return success();
  }

  int64_t &numFused;
};

/// lowbit.dequantize %q feeding the matmul: the quantized tensor is %q.
struct FuseLowbitDequantize : FuseIntoQMatmulBase {
  using FuseIntoQMatmulBase::FuseIntoQMatmulBase;

  FailureOr<TypedValue<QTensorType>>
  getQuantized(linalg::LinalgOp, Value dequantized,
               PatternRewriter &) const override {
    auto deq = dequantized.getDefiningOp<DequantizeOp>();
    if (!deq || deq.getInput().getType().getRank() != 2)
      return failure();
    return deq.getInput();
  }
};
} // namespace

//===----------------------------------------------------------------------===//
// The explicit arith form:
//   w[n, k] = (tofp(ext(codes[n, k])) - zero[n, k / B]) * scale[n, k / B]
// written with arith ops on tensors or inside elementwise linalg.generic
// ops, the per-block tensors expanded by linalg.broadcast, tensor reshapes
// or generic indexing maps.
//===----------------------------------------------------------------------===//

namespace {
/// A value seen from one element (n, k) of the dequantized weight: `map`
/// takes (n, k) to the indices of the tensor `value`, or, for a scalar inside
/// a linalg.generic body, to that generic's loop indices.
struct Ref {
  Value value;
  AffineMap map;
};

/// A constant read by the dequantization, per weight element.
struct Leaf {
  DenseElementsAttr attr;
  AffineMap map; ///< (n, k) -> indices of `attr`; no results for a scalar
};

/// How a per-block constant is indexed: value(n, k) = data[n * perRow + k /
/// block], or the same value for every element (`splat`).
struct BlockedLeaf {
  int64_t block = nx::kPerChannel;
  bool splat = false;
  Leaf leaf;
};
} // namespace

/// A linalg.generic that applies a scalar function elementwise: all loops
/// parallel, one result written through the identity map, init not read.
static bool isElementwiseGeneric(linalg::GenericOp g) {
  if (g.getNumDpsInits() != 1 || g->getNumResults() != 1 ||
      g.getNumLoops() != g.getNumParallelLoops() ||
      !g.getMatchingIndexingMap(g.getDpsInitOperand(0)).isIdentity())
    return false;
  return g.getMatchingBlockArgument(g.getDpsInitOperand(0)).use_empty();
}

/// Steps from `r` to the value it reads through ops that only move or
/// replicate elements (broadcast, reshapes, generic operands and results),
/// composing the access maps.
static Ref lookThroughDataMovement(Ref r) {
  MLIRContext *ctx = r.map.getContext();
  while (true) {
    if (auto arg = dyn_cast<BlockArgument>(r.value)) {
      auto g = dyn_cast<linalg::GenericOp>(arg.getOwner()->getParentOp());
      if (!g || arg.getOwner() != g.getBlock() ||
          arg.getArgNumber() >= g.getNumDpsInputs())
        return r;
      OpOperand *in = g.getDpsInputOperand(arg.getArgNumber());
      r = {in->get(), g.getMatchingIndexingMap(in).compose(r.map)};
      continue;
    }
    Operation *def = r.value.getDefiningOp();
    if (auto g = dyn_cast_or_null<linalg::GenericOp>(def)) {
      if (!isElementwiseGeneric(g))
        return r;
      // Loops = output indices; continue with the yielded scalar.
      auto yield = cast<linalg::YieldOp>(g.getBlock()->getTerminator());
      r = {yield.getOperand(0), r.map};
      continue;
    }
    if (auto b = dyn_cast_or_null<linalg::BroadcastOp>(def)) {
      llvm::SmallBitVector drop(r.map.getNumResults());
      for (int64_t d : b.getDimensions())
        drop.set(d);
      r = {b.getInput(), r.map.dropResults(drop)};
      continue;
    }
    if (auto c = dyn_cast_or_null<tensor::CollapseShapeOp>(def)) {
      // Split each collapsed index l of a group with sizes s0..sm into
      // l floordiv (s1*..*sm), ..., l mod sm.
      RankedTensorType src = c.getSrcType();
      if (!src.hasStaticShape())
        return r;
      SmallVector<AffineExpr> results;
      for (auto [i, group] : llvm::enumerate(c.getReassociationIndices())) {
        AffineExpr l = r.map.getResult(i);
        int64_t stride = 1;
        SmallVector<AffineExpr> parts;
        for (int64_t d : llvm::reverse(group)) {
          int64_t size = src.getDimSize(d);
          // The outermost index of a group is in range without the mod.
          AffineExpr part = l.floorDiv(stride);
          parts.push_back(d == group.front() ? part : part % size);
          stride *= size;
        }
        results.append(parts.rbegin(), parts.rend());
      }
      r = {c.getSrc(), simplifyAffineMap(AffineMap::get(r.map.getNumDims(), 0,
                                                        results, ctx))};
      continue;
    }
    if (auto e = dyn_cast_or_null<tensor::ExpandShapeOp>(def)) {
      RankedTensorType dst = e.getResultType();
      if (!dst.hasStaticShape())
        return r;
      SmallVector<AffineExpr> results;
      for (ArrayRef<int64_t> group : e.getReassociationIndices()) {
        AffineExpr l = getAffineConstantExpr(0, ctx);
        for (int64_t d : group)
          l = l * dst.getDimSize(d) + r.map.getResult(d);
        results.push_back(l);
      }
      r = {e.getSrc(), simplifyAffineMap(AffineMap::get(r.map.getNumDims(), 0,
                                                        results, ctx))};
      continue;
    }
    return r;
  }
}

/// The constant `r` reads, if it reads one.
static std::optional<Leaf> getLeaf(Ref r) {
  r = lookThroughDataMovement(r);
  Attribute attr;
  if (!matchPattern(r.value, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr))
    return Leaf{dense, simplifyAffineMap(r.map)};
  // A scalar constant (captured by a generic body): a 0-D splat.
  if (auto typed = dyn_cast<TypedAttr>(attr);
      typed && (isa<FloatType, IntegerType>(typed.getType())))
    return Leaf{DenseElementsAttr::get(
                    RankedTensorType::get({}, typed.getType()), typed),
                AffineMap::get(2, 0, {}, r.map.getContext())};
  return std::nullopt;
}

/// The op computing the element `r` reads, with its operands seen from the
/// same weight element.
static Operation *getElementwiseProducer(Ref &r) {
  r = lookThroughDataMovement(r);
  Operation *def = r.value.getDefiningOp();
  if (!def || def->getNumResults() != 1)
    return nullptr;
  // Arith ops on tensors are elementwise: operands are read at the same
  // indices. Scalars inside a generic body use the generic's loop indices.
  bool scalar = !isa<ShapedType>(r.value.getType());
  if (!scalar && !OpTrait::hasElementwiseMappableTraits(def))
    return nullptr;
  return def;
}

/// Interprets the codes leaf as one (n, k) element per code.
static bool isFullCodes(const Leaf &leaf, int64_t n, int64_t k) {
  auto type = cast<ShapedType>(leaf.attr.getType());
  return type.getRank() == 2 && type.getDimSize(0) == n &&
         type.getDimSize(1) == k && leaf.map.isIdentity() &&
         leaf.map.getNumDims() == 2;
}

/// Recognizes how a scale or zero point constant varies over (n, k): one
/// value (splat), one per row, or one per block of `B` along K.
static std::optional<BlockedLeaf> classifyBlocked(const Leaf &leaf, int64_t n,
                                                  int64_t k) {
  BlockedLeaf out;
  out.leaf = leaf;
  if (leaf.attr.isSplat()) {
    out.splat = true;
    return out;
  }
  MLIRContext *ctx = leaf.map.getContext();
  AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx);
  auto type = cast<ShapedType>(leaf.attr.getType());
  ArrayRef<AffineExpr> res = leaf.map.getResults();
  // [N] read at (n), or [N, 1] read at (n, 0): per row.
  if (res.size() == 1 && res[0] == d0 && type.getShape() == ArrayRef{n})
    return out;
  if (res.size() == 2 && res[0] == d0 &&
      res[1] == getAffineConstantExpr(0, ctx) &&
      type.getShape() == ArrayRef<int64_t>{n, 1})
    return out;
  // [N, K / B] read at (n, k floordiv B) with B dividing K: per block.
  if (res.size() == 2 && res[0] == d0) {
    auto bin = dyn_cast<AffineBinaryOpExpr>(res[1]);
    if (!bin || bin.getKind() != AffineExprKind::FloorDiv || bin.getLHS() != d1)
      return std::nullopt;
    auto c = dyn_cast<AffineConstantExpr>(bin.getRHS());
    if (!c || c.getValue() <= 0 || k % c.getValue() != 0 ||
        type.getShape() != ArrayRef<int64_t>{n, k / c.getValue()})
      return std::nullopt;
    out.block = c.getValue() == k ? nx::kPerChannel : c.getValue();
    return out;
  }
  return std::nullopt;
}

namespace {
/// The dequantization found behind a weight.
struct ArithDequant {
  Leaf codes;
  bool isSigned = true;
  std::optional<BlockedLeaf> zero;
  BlockedLeaf scale;
  FloatType floatType;
};
} // namespace

/// Matches `tofp(ext?(codes))` (the ext possibly absent).
static LogicalResult matchCodes(Ref r, ArithDequant &out, int64_t n,
                                int64_t k) {
  Operation *def = getElementwiseProducer(r);
  if (!isa_and_nonnull<arith::SIToFPOp, arith::UIToFPOp>(def))
    return failure();
  out.isSigned = isa<arith::SIToFPOp>(def);
  Ref in{def->getOperand(0), r.map};
  Ref probe = in;
  Operation *ext = getElementwiseProducer(probe);
  if (isa_and_nonnull<arith::ExtSIOp, arith::ExtUIOp>(ext)) {
    // The ext decides how the narrow codes are read; the wider value is
    // then converted exactly by either tofp only if it is nonnegative or
    // signed-converted.
    bool extSigned = isa<arith::ExtSIOp>(ext);
    if (extSigned && !out.isSigned)
      return failure();
    out.isSigned = extSigned;
    in = {ext->getOperand(0), probe.map};
  }
  std::optional<Leaf> codes = getLeaf(in);
  if (!codes || !isFullCodes(*codes, n, k) ||
      !isa<IntegerType>(codes->attr.getElementType()))
    return failure();
  out.codes = *codes;
  return success();
}

/// Matches `(codes - zero) * scale` or `codes * scale`, either operand order.
static FailureOr<ArithDequant> matchArithDequant(Value dequantized, int64_t n,
                                                 int64_t k) {
  MLIRContext *ctx = dequantized.getContext();
  Ref r{dequantized, AffineMap::getMultiDimIdentityMap(2, ctx)};
  ArithDequant out;
  out.floatType = dyn_cast<FloatType>(getElementTypeOrSelf(dequantized));
  if (!out.floatType)
    return failure();
  auto mul = dyn_cast_or_null<arith::MulFOp>(getElementwiseProducer(r));
  if (!mul)
    return failure();
  for (unsigned side = 0; side < 2; ++side) {
    std::optional<Leaf> scale = getLeaf({mul->getOperand(side), r.map});
    if (!scale || !isa<FloatType>(scale->attr.getElementType()))
      continue;
    std::optional<BlockedLeaf> blocked = classifyBlocked(*scale, n, k);
    if (!blocked)
      return failure();
    out.scale = *blocked;
    Ref centered{mul->getOperand(1 - side), r.map};
    Ref probe = centered;
    if (auto sub =
            dyn_cast_or_null<arith::SubFOp>(getElementwiseProducer(probe))) {
      std::optional<Leaf> zero = getLeaf({sub.getRhs(), probe.map});
      if (!zero || !(out.zero = classifyBlocked(*zero, n, k)))
        return failure();
      centered = {sub.getLhs(), probe.map};
    }
    if (failed(matchCodes(centered, out, n, k)))
      return failure();
    return out;
  }
  return failure();
}

/// A leaf's values in f32 (APFloat conversion is exact for f16/bf16).
static std::vector<float> leafValues(const BlockedLeaf &b) {
  std::vector<float> out;
  for (APFloat v : b.leaf.attr.getValues<APFloat>()) {
    bool lost;
    v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    out.push_back(v.convertToFloat());
    if (b.splat)
      break;
  }
  return out;
}

static std::optional<nx::ScaleType> scaleTypeFor(FloatType t) {
  if (t.isF32())
    return nx::ScaleType::F32;
  if (t.isF16())
    return nx::ScaleType::F16;
  if (t.isBF16())
    return nx::ScaleType::BF16;
  return std::nullopt;
}

/// The integer format of `bits`-wide codes.
static std::optional<nx::Format> integerFormat(unsigned bits, bool isSigned) {
  using F = nx::Format;
  switch (bits) {
  case 8:
    return isSigned ? F::I8 : F::U8;
  case 4:
    return isSigned ? F::I4 : F::U4;
  case 3:
    return isSigned ? F::I3 : F::U3;
  case 2:
    return isSigned ? F::I2 : F::U2;
  default:
    return std::nullopt;
  }
}

/// The stored code of every element of an integer constant, read as signed
/// or unsigned `format` values; fails on the first value out of range.
static FailureOr<std::vector<uint8_t>> storedCodes(DenseIntElementsAttr attr,
                                                   nx::Format format,
                                                   bool isSigned,
                                                   std::string &error) {
  std::vector<uint8_t> codes;
  codes.reserve(size_t(attr.getNumElements()));
  for (const APInt &v : attr.getValues<APInt>()) {
    int64_t value = isSigned ? v.getSExtValue() : int64_t(v.getZExtValue());
    nx::Result<uint8_t> code = nx::integerValueToCode(format, value);
    if (!code) {
      error = code.message();
      return failure();
    }
    codes.push_back(*code);
  }
  return codes;
}

/// Scales that packCodes would flush to zero (nonzero but below the
/// smallest normal f32) would change the weight: the index of the first.
static std::optional<size_t> findTinyScale(ArrayRef<float> scales) {
  for (auto [i, s] : llvm::enumerate(scales))
    if (s != 0.0f && std::fabs(s) < std::numeric_limits<float>::min())
      return i;
  return std::nullopt;
}

static std::string toString(float v) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << v;
  return s;
}

namespace {
/// Remarks at most once per op: the greedy driver revisits failed matches
/// after every successful rewrite.
struct RemarkOnce {
  llvm::DenseSet<Operation *> seen;
  void operator()(Operation *op, const Twine &message) {
    if (seen.insert(op).second)
      op->emitRemark(message);
  }
};

/// The explicit arith dequantization of constant integer codes.
struct FuseArithDequant : FuseIntoQMatmulBase {
  FuseArithDequant(MLIRContext *ctx, int64_t &numFused, RemarkOnce &remark)
      : FuseIntoQMatmulBase(ctx, numFused), remark(remark) {}

  FailureOr<TypedValue<QTensorType>>
  getQuantized(linalg::LinalgOp op, Value dequantized,
               PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(dequantized.getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    FailureOr<ArithDequant> d = matchArithDequant(dequantized, n, k);
    if (failed(d))
      return rewriter.notifyMatchFailure(op, "no arith dequantization");
    std::optional<nx::ScaleType> scaleType = scaleTypeFor(d->floatType);
    if (!scaleType)
      return rewriter.notifyMatchFailure(op, "unsupported float type");

    // The scheme: integer format of the codes' width, the block of the
    // scale (or of the zero point when only it is blocked), scales in the
    // float type the frontend multiplies in.
    unsigned bits = d->codes.attr.getElementType().getIntOrFloatBitWidth();
    std::optional<nx::Format> format = integerFormat(bits, d->isSigned);
    if (!format)
      return rewriter.notifyMatchFailure(op, "unsupported code width");
    int64_t block = d->scale.block;
    if (d->zero && !d->zero->splat && d->zero->block != nx::kPerChannel) {
      if (block != nx::kPerChannel && block != d->zero->block)
        return rewriter.notifyMatchFailure(op, "scale/zero blocks differ");
      block = d->zero->block;
    }
    nx::Scheme scheme;
    scheme.format = *format;
    scheme.blockSize = block;
    scheme.scaleType = *scaleType;
    scheme.zeroPoint = d->isSigned ? nx::ZeroPoint::None : nx::ZeroPoint::Int;
    if (!nx::verifySchemeForRowLength(scheme, k))
      return failure();

    // One scale (and zero point) per block, read at the block's first
    // column: classifyBlocked guarantees they are constant over it.
    const int64_t bpr = block == nx::kPerChannel ? 1 : k / block;
    const int64_t blockLen = k / bpr;
    std::vector<float> scaleData = leafValues(d->scale), zeroData;
    if (d->zero)
      zeroData = leafValues(*d->zero);
    auto read = [&](const BlockedLeaf &b, const std::vector<float> &v,
                    int64_t row, int64_t col) {
      if (b.splat)
        return v[0];
      if (b.block == nx::kPerChannel)
        return v[row];
      return v[row * (k / b.block) + col / b.block];
    };
    std::vector<float> scales;
    std::vector<uint8_t> zeros;
    const int qmax = (1 << bits) - 1;
    for (int64_t row = 0; row < n; ++row) {
      for (int64_t j = 0; j < bpr; ++j) {
        scales.push_back(read(d->scale, scaleData, row, j * blockLen));
        float z = d->zero ? read(*d->zero, zeroData, row, j * blockLen) : 0.0f;
        // Signed codes have no zero point; unsigned ones need an integer
        // code. Such small integers are exact in every float type, so
        // `q - z` is exact as the numerics core computes it.
        if (d->isSigned
                ? z != 0.0f
                : !(z >= 0.0f && z <= float(qmax) && z == std::floor(z)))
          return rewriter.notifyMatchFailure(op, "unsupported zero point");
        if (!d->isSigned)
          zeros.push_back(uint8_t(z));
      }
    }
    // The frontend multiplies `q - z` by a scale in its float type; that
    // product is exact in f32 and rounded once, as lowbit decodes it, unless
    // the scale is an f32 subnormal that the numerics core flushes.
    if (std::optional<size_t> i = findTinyScale(scales)) {
      remark(op, "dequantized weight not fused: scale " + toString(scales[*i]) +
                     " is below the smallest normal f32");
      return failure();
    }
    std::string error;
    FailureOr<std::vector<uint8_t>> codes = storedCodes(
        cast<DenseIntElementsAttr>(d->codes.attr), *format, d->isSigned, error);
    if (failed(codes)) {
      remark(op, "dequantized weight not fused: " + error);
      return failure();
    }
    nx::PackInput input;
    input.codes = codes->data();
    input.scales = scales.data();
    input.zeroPoints = d->isSigned ? nullptr : zeros.data();
    nx::Result<std::vector<uint8_t>> packed =
        nx::packCodes(scheme, input, n, k);
    if (!packed) {
      remark(op, "dequantized weight not fused: " + packed.message());
      return failure();
    }
    auto qtype = QTensorType::get(
        rewriter.getContext(), {n, k}, d->floatType,
        SchemeAttr::fromNumerics(rewriter.getContext(), scheme));
    return createInlineWeight(rewriter, dequantized.getLoc(), qtype, *packed,
                              "fused_weight")
        .getQResult();
  }

  RemarkOnce &remark;
};
} // namespace

//===----------------------------------------------------------------------===//
// Upstream quant dialect: quant.dcast of a constant quantized tensor,
//   w[n, k] = (q[n, k] - zero) * scale
// with per-tensor, per-axis (axis 0 = N) or sub-channel parameters.
//===----------------------------------------------------------------------===//

namespace {
/// Quantization parameters of a [N, K] quant tensor, one entry per
/// (row, block along K), before validation.
struct QuantParams {
  int64_t block = nx::kPerChannel;
  std::vector<APFloat> scales;
  std::vector<int64_t> zeroPoints;
};
} // namespace

/// Expands the parameters of `qtype` over a [n, k] tensor, or returns a
/// reason why they do not map to blocks along K.
static FailureOr<QuantParams> getQuantParams(quant::QuantizedType qtype,
                                             int64_t n, int64_t k,
                                             std::string &why) {
  QuantParams p;
  if (auto t = dyn_cast<quant::UniformQuantizedType>(qtype)) {
    p.scales.assign(size_t(n), APFloat(t.getScale()));
    p.zeroPoints.assign(size_t(n), t.getZeroPoint());
    return p;
  }
  if (auto t = dyn_cast<quant::UniformQuantizedPerAxisType>(qtype)) {
    // One scale per row of the [N, K] weight; along K there would be a
    // scale per reduction index, which no block scheme expresses.
    if (t.getQuantizedDimension() != 0) {
      why = "per-axis quantization along dimension " +
            std::to_string(t.getQuantizedDimension()) +
            " (only dimension 0, N, is supported)";
      return failure();
    }
    if (int64_t(t.getScales().size()) != n) {
      why = "per-axis parameter count does not match dimension 0";
      return failure();
    }
    for (auto [s, z] : llvm::zip(t.getScales(), t.getZeroPoints())) {
      p.scales.push_back(APFloat(s));
      p.zeroPoints.push_back(z);
    }
    return p;
  }
  auto t = dyn_cast<quant::UniformQuantizedSubChannelType>(qtype);
  if (!t) {
    why = "unsupported quantized type";
    return failure();
  }
  // Axes without a block size have one block over the whole dimension.
  int64_t blockN = n, blockK = k;
  for (auto [axis, size] : t.getBlockSizeInfo()) {
    if (axis == 0)
      blockN = size;
    else if (axis == 1)
      blockK = size;
  }
  if (blockN <= 0 || blockK <= 0 || n % blockN != 0 || k % blockK != 0) {
    why = "sub-channel block sizes do not divide the tensor";
    return failure();
  }
  DenseElementsAttr scales = t.getScales(), zeros = t.getZeroPoints();
  int64_t perRow = k / blockK;
  auto shape = cast<ShapedType>(scales.getType()).getShape();
  if (shape != ArrayRef<int64_t>{n / blockN, perRow} ||
      (zeros && zeros.getNumElements() != scales.getNumElements())) {
    why = "sub-channel scale tensor does not match the tensor's blocks";
    return failure();
  }
  if (!isa<FloatType>(scales.getElementType()) ||
      (zeros && !isa<IntegerType>(zeros.getElementType()))) {
    why = "sub-channel scales or zero points of unexpected types";
    return failure();
  }
  // The parser stores zero points in the (signless) storage type: u4's 8
  // reads back as i4 -8, so only a wider type is read as signed.
  bool zeroSigned =
      t.isSigned() || (zeros && zeros.getElementType().getIntOrFloatBitWidth() >
                                    t.getStorageTypeIntegralWidth());
  std::vector<APFloat> scaleValues(scales.getValues<APFloat>().begin(),
                                   scales.getValues<APFloat>().end());
  std::vector<int64_t> zeroValues;
  if (zeros)
    for (const APInt &z : zeros.getValues<APInt>())
      zeroValues.push_back(zeroSigned ? z.getSExtValue()
                                      : int64_t(z.getZExtValue()));
  p.block = blockK == k ? nx::kPerChannel : blockK;
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t j = 0; j < perRow; ++j) {
      size_t i = size_t((row / blockN) * perRow + j);
      p.scales.push_back(scaleValues[i]);
      p.zeroPoints.push_back(zeroValues.empty() ? 0 : zeroValues[i]);
    }
  }
  return p;
}

namespace {
/// quant.dcast of `quant.scast` of an integer constant.
struct FuseQuantDcast : FuseIntoQMatmulBase {
  FuseQuantDcast(MLIRContext *ctx, int64_t &numFused, RemarkOnce &remark)
      : FuseIntoQMatmulBase(ctx, numFused), remark(remark) {}

  FailureOr<TypedValue<QTensorType>>
  getQuantized(linalg::LinalgOp op, Value dequantized,
               PatternRewriter &rewriter) const override {
    auto dcast = dequantized.getDefiningOp<quant::DequantizeCastOp>();
    if (!dcast)
      return rewriter.notifyMatchFailure(op, "no quant.dcast");
    auto inType = dyn_cast<RankedTensorType>(dcast.getInput().getType());
    auto qtype = inType
                     ? dyn_cast<quant::QuantizedType>(inType.getElementType())
                     : quant::QuantizedType();
    if (!qtype || inType.getRank() != 2 || !inType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "not a 2-D quantized tensor");
    int64_t n = inType.getDimSize(0), k = inType.getDimSize(1);
    auto fail = [&](const Twine &why) {
      remark(dcast, "quant.dcast not fused into lowbit.qmatmul: " + why);
      return failure();
    };

    // The codes: a constant of the storage type, cast to the quant type.
    auto scast = dcast.getInput().getDefiningOp<quant::StorageCastOp>();
    DenseIntElementsAttr codeAttr;
    if (!scast || !matchPattern(scast.getInput(), m_Constant(&codeAttr))) {
      Attribute other;
      // A constant whose type is the quantized tensor itself parses only as
      // string elements: it carries no integer codes.
      if (matchPattern(dcast.getInput(), m_Constant(&other)))
        return fail("its input is a constant of quantized element type; "
                    "use quant.scast of an integer constant");
      return rewriter.notifyMatchFailure(op, "codes are not constant");
    }

    auto expressed = dyn_cast<FloatType>(qtype.getExpressedType());
    if (!expressed || !scaleTypeFor(expressed))
      return fail("expressed type must be f32, f16 or bf16");
    bool isSigned = qtype.isSigned();
    unsigned bits = qtype.getStorageTypeIntegralWidth();
    std::optional<nx::Format> format = integerFormat(bits, isSigned);
    if (!format)
      return fail("storage type " + Twine(isSigned ? "i" : "u") + Twine(bits) +
                  " is not 8, 4, 3 or 2 bits wide");

    std::string why;
    FailureOr<QuantParams> params = getQuantParams(qtype, n, k, why);
    if (failed(params))
      return fail(why);
    nx::Scheme scheme;
    scheme.format = *format;
    scheme.blockSize = params->block;
    scheme.scaleType = nx::ScaleType::F32;
    scheme.zeroPoint = isSigned ? nx::ZeroPoint::None : nx::ZeroPoint::Int;
    if (nx::Status s = nx::verifySchemeForRowLength(scheme, k); !s)
      return fail(s.message());

    // Quant types carry double scales; the scheme stores them as f32, which
    // must be a normal number so that the weight keeps its value.
    std::vector<float> scales;
    std::vector<uint8_t> zeros;
    for (auto [s, z] : llvm::zip(params->scales, params->zeroPoints)) {
      APFloat f = s;
      bool lost;
      f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
      float v = f.convertToFloat();
      if (!std::isfinite(v) || v < std::numeric_limits<float>::min()) {
        APFloat d = s;
        d.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
        std::string text;
        llvm::raw_string_ostream(text) << d.convertToDouble();
        return fail("scale " + text + " is not a normal f32 number");
      }
      scales.push_back(v);
      if (isSigned) {
        if (z != 0)
          return fail("non-zero zero point " + Twine(z) +
                      " with signed storage (use unsigned storage for "
                      "asymmetric quantization)");
      } else {
        if (z < 0 || z > (int64_t(1) << bits) - 1)
          return fail("zero point " + Twine(z) + " is outside the u" +
                      Twine(bits) + " range");
        zeros.push_back(uint8_t(z));
      }
    }
    std::string error;
    FailureOr<std::vector<uint8_t>> codes =
        storedCodes(codeAttr, *format, isSigned, error);
    if (failed(codes))
      return fail(error);
    nx::PackInput input;
    input.codes = codes->data();
    input.scales = scales.data();
    input.zeroPoints = isSigned ? nullptr : zeros.data();
    nx::Result<std::vector<uint8_t>> packed =
        nx::packCodes(scheme, input, n, k);
    if (!packed)
      return fail(packed.message());
    auto type = QTensorType::get(
        rewriter.getContext(), {n, k}, expressed,
        SchemeAttr::fromNumerics(rewriter.getContext(), scheme));
    return createInlineWeight(rewriter, dequantized.getLoc(), type, *packed,
                              "fused_weight")
        .getQResult();
  }

  RemarkOnce &remark;
};
} // namespace

//===----------------------------------------------------------------------===//
// Pass
//===----------------------------------------------------------------------===//

namespace {
struct LowbitFuseDequantMatmulPass
    : mlir::lowbit::impl::LowbitFuseDequantMatmulBase<
          LowbitFuseDequantMatmulPass> {
  using LowbitFuseDequantMatmulBase::LowbitFuseDequantMatmulBase;

  void runOnOperation() override {
    int64_t fused = 0;
    RemarkOnce remark;
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseLowbitDequantize>(&getContext(), fused);
    patterns.add<FuseArithDequant, FuseQuantDcast>(&getContext(), fused,
                                                   remark);
    // No folding: it would fold the codes of an explicit dequantization
    // into a float constant before the patterns see them.
    GreedyRewriteConfig config;
    config.enableFolding(false)
        .enableConstantCSE(false)
        .setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
    if (stats) {
      PassCounters counters{"matmuls-fused"};
      counters["matmuls-fused"] = fused;
      counters.report(getOperation(), getArgument());
    }
  }
};
} // namespace
