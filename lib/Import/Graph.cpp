//===- Graph.cpp - Building blocks of transformer graphs ------------------===//

#include "Graph.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>
#include <limits>

namespace lowbit::import {

using namespace mlir;

/// The f32 minimum that Hugging Face adds to masked attention scores.
static constexpr double kF32Min = -3.4028234663852886e38;

Graph::Graph(OpBuilder &builder, Location loc) : b(builder), loc(loc) {}

/// The builder gives a generic's block arguments the locations of its
/// operands; the function arguments' NameLocs would then name them too.
static Value plainArgLocs(linalg::GenericOp op, Location loc) {
  for (BlockArgument arg : op.getRegion().front().getArguments())
    arg.setLoc(loc);
  return op.getResult(0);
}

RankedTensorType Graph::tensorType(ArrayRef<int64_t> shape, Type element) {
  return RankedTensorType::get(shape, element ? element : f32());
}

SmallVector<int64_t> Graph::shapeOf(Value v) {
  return SmallVector<int64_t>(cast<RankedTensorType>(v.getType()).getShape());
}

Value Graph::empty(ArrayRef<int64_t> shape, Type element) {
  return tensor::EmptyOp::create(b, loc, shape, element ? element : f32());
}

Value Graph::scalar(double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(value)));
}

Value Graph::fill(ArrayRef<int64_t> shape, double value) {
  return linalg::FillOp::create(b, loc, scalar(value), empty(shape))
      .getResult(0);
}

Value Graph::constant(ArrayRef<int64_t> shape, ArrayRef<float> values) {
  auto type = tensorType(shape);
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, values));
}

AffineMap Graph::map(unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, context()));
  return AffineMap::get(numDims, 0, exprs, context());
}

AffineMap Graph::identity(unsigned numDims) {
  return b.getMultiDimIdentityMap(numDims);
}

Value Graph::toF32(Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  if (type.getElementType().isF32())
    return t;
  return arith::ExtFOp::create(b, loc, type.clone(f32()), t);
}

Value Graph::scalarToF32(OpBuilder &nb, Location nloc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(nb, nloc, nb.getF32Type(), v);
}

Value Graph::elementwise(ArrayRef<int64_t> shape, ValueRange inputs,
                         ArrayRef<AffineMap> maps, const Body &body) {
  unsigned rank = shape.size();
  SmallVector<AffineMap> allMaps(maps.begin(), maps.end());
  allMaps.push_back(identity(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  Value init = empty(shape);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, allMaps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return plainArgLocs(op, loc);
}

Value Graph::map(ValueRange inputs, const Body &body) {
  SmallVector<int64_t> shape = shapeOf(inputs.front());
  SmallVector<AffineMap> maps(inputs.size(), identity(shape.size()));
  return elementwise(shape, inputs, maps, body);
}

Value Graph::reduceLast(Value x, double init, ValueRange extra,
                        const Body &body) {
  SmallVector<int64_t> shape = shapeOf(x);
  unsigned rank = shape.size();
  SmallVector<unsigned> lead;
  for (unsigned i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  SmallVector<AffineMap> maps{identity(rank)};
  for (size_t i = 0; i < extra.size(); ++i)
    maps.push_back(map(rank, lead));
  maps.push_back(map(rank, lead));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  SmallVector<Value> inputs{x};
  inputs.append(extra.begin(), extra.end());
  Value acc = fill(ArrayRef<int64_t>(shape).drop_back(), init);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, inputs, ValueRange{acc}, maps,
      iterators, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
      });
  return plainArgLocs(op, loc);
}

Value Graph::add(Value lhs, Value rhs) {
  return map({lhs, rhs}, [](OpBuilder &nb, Location nloc, ValueRange a) {
    return arith::AddFOp::create(nb, nloc, a[0], a[1]).getResult();
  });
}

Value Graph::mul(Value lhs, Value rhs) {
  return map({lhs, rhs}, [](OpBuilder &nb, Location nloc, ValueRange a) {
    return arith::MulFOp::create(nb, nloc, a[0], a[1]).getResult();
  });
}

Value Graph::addRowVector(Value y, Value bias) {
  SmallVector<int64_t> shape = shapeOf(y);
  return elementwise(
      shape, {y, bias}, {identity(2), map(2, {1})},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value bias = scalarToF32(nb, nloc, a[1]);
        return arith::AddFOp::create(nb, nloc, a[0], bias).getResult();
      });
}

Value Graph::matmulTransposeB(Value x, Value w) {
  int64_t m = shapeOf(x)[0], n = shapeOf(w)[0];
  Value init = fill({m, n}, 0.0);
  return linalg::MatmulTransposeBOp::create(b, loc, TypeRange{init.getType()},
                                            ValueRange{x, w}, ValueRange{init})
      .getResult(0);
}

Value Graph::batchMatmul(Value lhs, Value rhs) {
  SmallVector<int64_t> a = shapeOf(lhs), c = shapeOf(rhs);
  Value init = fill({a[0], a[1], c[2]}, 0.0);
  return linalg::BatchMatmulOp::create(b, loc, TypeRange{init.getType()},
                                       ValueRange{lhs, rhs}, ValueRange{init})
      .getResult(0);
}

Value Graph::batchMatmulTransposeB(Value lhs, Value rhs) {
  SmallVector<int64_t> a = shapeOf(lhs), c = shapeOf(rhs);
  Value init = fill({a[0], a[1], c[1]}, 0.0);
  return linalg::BatchMatmulTransposeBOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{lhs, rhs},
             ValueRange{init})
      .getResult(0);
}

Value Graph::expand(Value v, ArrayRef<int64_t> shape,
                    ArrayRef<ReassociationIndices> groups) {
  auto type = cast<RankedTensorType>(v.getType()).clone(shape);
  return tensor::ExpandShapeOp::create(b, loc, type, v, groups);
}

Value Graph::collapse(Value v, ArrayRef<ReassociationIndices> groups) {
  return tensor::CollapseShapeOp::create(b, loc, v, groups);
}

Value Graph::transpose(Value v, ArrayRef<int64_t> permutation) {
  SmallVector<int64_t> in = shapeOf(v), out;
  for (int64_t p : permutation)
    out.push_back(in[p]);
  Value init = empty(out, cast<RankedTensorType>(v.getType()).getElementType());
  return linalg::TransposeOp::create(b, loc, v, init, permutation)
      .getResult()[0];
}

Value Graph::slice(Value v, ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes,
                   ArrayRef<int64_t> resultShape) {
  auto type = cast<RankedTensorType>(v.getType()).clone(resultShape);
  SmallVector<OpFoldResult> o, s, st;
  for (size_t i = 0; i < offsets.size(); ++i) {
    o.push_back(b.getIndexAttr(offsets[i]));
    s.push_back(b.getIndexAttr(sizes[i]));
    st.push_back(b.getIndexAttr(1));
  }
  return tensor::ExtractSliceOp::create(b, loc, type, v, o, s, st);
}

Value Graph::layerNorm(Value x, Value gamma, Value beta, double eps) {
  SmallVector<int64_t> shape = shapeOf(x);
  double n = double(shape[1]);
  Value sum =
      reduceLast(x, 0.0, {}, [](OpBuilder &nb, Location nloc, ValueRange a) {
        return arith::AddFOp::create(nb, nloc, a[1], a[0]).getResult();
      });
  Value sq = reduceLast(
      x, 0.0, {sum}, [n](OpBuilder &nb, Location nloc, ValueRange a) {
        Value count =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(n)));
        Value mean = arith::DivFOp::create(nb, nloc, a[1], count);
        Value d = arith::SubFOp::create(nb, nloc, a[0], mean);
        Value d2 = arith::MulFOp::create(nb, nloc, d, d);
        return arith::AddFOp::create(nb, nloc, a[2], d2).getResult();
      });
  return elementwise(
      shape, {x, sum, sq, gamma, beta},
      {identity(2), map(2, {0}), map(2, {0}), map(2, {1}), map(2, {1})},
      [n, eps](OpBuilder &nb, Location nloc, ValueRange a) {
        Value count =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(n)));
        Value epsilon =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(eps)));
        Value mean = arith::DivFOp::create(nb, nloc, a[1], count);
        Value var = arith::DivFOp::create(nb, nloc, a[2], count);
        Value sd = math::SqrtOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, var, epsilon));
        Value centered = arith::SubFOp::create(nb, nloc, a[0], mean);
        Value normed = arith::DivFOp::create(nb, nloc, centered, sd);
        Value g = scalarToF32(nb, nloc, a[3]);
        Value bb = scalarToF32(nb, nloc, a[4]);
        Value scaled = arith::MulFOp::create(nb, nloc, normed, g);
        return arith::AddFOp::create(nb, nloc, scaled, bb).getResult();
      });
}

Value Graph::rmsNorm(Value x, Value weight, double eps) {
  SmallVector<int64_t> shape = shapeOf(x);
  double n = double(shape[1]);
  Value ss =
      reduceLast(x, 0.0, {}, [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value sq = arith::MulFOp::create(nb, nloc, a[0], a[0]);
        return arith::AddFOp::create(nb, nloc, a[1], sq).getResult();
      });
  return elementwise(
      shape, {x, ss, weight}, {identity(2), map(2, {0}), map(2, {1})},
      [n, eps](OpBuilder &nb, Location nloc, ValueRange a) {
        Value count =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(n)));
        Value epsilon =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(eps)));
        Value mean = arith::DivFOp::create(nb, nloc, a[1], count);
        Value rms = math::SqrtOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, mean, epsilon));
        Value normed = arith::DivFOp::create(nb, nloc, a[0], rms);
        Value w = scalarToF32(nb, nloc, a[2]);
        return arith::MulFOp::create(nb, nloc, normed, w).getResult();
      });
}

Value Graph::gelu(Value x) {
  return map({x}, [](OpBuilder &nb, Location nloc, ValueRange a) {
    auto c = [&](double v) -> Value {
      return arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(v)));
    };
    Value scaled = arith::MulFOp::create(nb, nloc, a[0], c(M_SQRT1_2));
    Value erf = math::ErfOp::create(nb, nloc, scaled);
    Value onePlus = arith::AddFOp::create(nb, nloc, erf, c(1.0));
    Value half = arith::MulFOp::create(nb, nloc, a[0], c(0.5));
    return arith::MulFOp::create(nb, nloc, half, onePlus).getResult();
  });
}

Value Graph::siluMul(Value gate, Value up) {
  return map({gate, up}, [](OpBuilder &nb, Location nloc, ValueRange a) {
    Value one = arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1.0f));
    Value neg = arith::NegFOp::create(nb, nloc, a[0]);
    Value e = math::ExpOp::create(nb, nloc, neg);
    Value den = arith::AddFOp::create(nb, nloc, one, e);
    Value silu = arith::DivFOp::create(nb, nloc, a[0], den);
    return arith::MulFOp::create(nb, nloc, silu, a[1]).getResult();
  });
}

Value Graph::softmaxScores(Value x, double scale, Value keyBias, bool causal) {
  SmallVector<int64_t> shape = shapeOf(x);
  SmallVector<Value> inputs{x};
  SmallVector<AffineMap> maps{identity(4)};
  if (keyBias) {
    inputs.push_back(keyBias);
    maps.push_back(map(4, {0, 3}));
  }
  bool hasBias = bool(keyBias);
  Value z = elementwise(
      shape, inputs, maps,
      [scale, hasBias, causal](OpBuilder &nb, Location nloc, ValueRange a) {
        Value s = arith::ConstantOp::create(nb, nloc,
                                            nb.getF32FloatAttr(float(scale)));
        Value v = arith::MulFOp::create(nb, nloc, a[0], s);
        if (hasBias)
          v = arith::AddFOp::create(nb, nloc, v, a[1]);
        if (causal) {
          Value row = linalg::IndexOp::create(nb, nloc, 2);
          Value col = linalg::IndexOp::create(nb, nloc, 3);
          Value future = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::ugt, col, row);
          Value min = arith::ConstantOp::create(
              nb, nloc, nb.getF32FloatAttr(float(kF32Min)));
          Value masked = arith::AddFOp::create(nb, nloc, v, min);
          v = arith::SelectOp::create(nb, nloc, future, masked, v);
        }
        return v;
      });
  Value max = reduceLast(
      z, -std::numeric_limits<double>::infinity(), {},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        return arith::MaximumFOp::create(nb, nloc, a[1], a[0]).getResult();
      });
  Value sum =
      reduceLast(z, 0.0, {max}, [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value d = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        Value e = math::ExpOp::create(nb, nloc, d);
        return arith::AddFOp::create(nb, nloc, a[2], e).getResult();
      });
  return elementwise(
      shape, {z, max, sum}, {identity(4), map(4, {0, 1, 2}), map(4, {0, 1, 2})},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value d = arith::SubFOp::create(nb, nloc, a[0], a[1]);
        Value e = math::ExpOp::create(nb, nloc, d);
        return arith::DivFOp::create(nb, nloc, e, a[2]).getResult();
      });
}

Value Graph::rope(Value x, Value cos, Value sin, RopeLayout layout) {
  SmallVector<int64_t> s = shapeOf(x); // [B, S, N, D]
  int64_t half = s[3] / 2;
  bool split = layout == RopeLayout::HalfSplit;
  // Split D into (2, D/2) for rotate_half, (D/2, 2) for interleaved pairs;
  // `pairDim` is the dimension of size 2.
  SmallVector<int64_t> shape5{s[0], s[1], s[2], split ? 2 : half,
                              split ? half : 2};
  unsigned pairDim = split ? 3 : 4, freqDim = split ? 4 : 3;
  Value x5 = expand(x, shape5, {{0}, {1}, {2}, {3, 4}});
  SmallVector<int64_t> sizes = shape5;
  sizes[pairDim] = 1;
  SmallVector<int64_t> halfShape{s[0], s[1], s[2], half};
  SmallVector<int64_t> off0(5, 0), off1(5, 0);
  off1[pairDim] = 1;
  Value x1 = slice(x5, off0, sizes, halfShape);
  Value x2 = slice(x5, off1, sizes, halfShape);
  Value rotated = elementwise(
      shape5, {x1, x2, cos, sin},
      {map(5, {0, 1, 2, freqDim}), map(5, {0, 1, 2, freqDim}),
       map(5, {1, freqDim}), map(5, {1, freqDim})},
      [pairDim](OpBuilder &nb, Location nloc, ValueRange a) {
        Value i = linalg::IndexOp::create(nb, nloc, pairDim);
        Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
        Value first =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, i, zero);
        // (x1, x2) -> (x1·cos - x2·sin, x2·cos + x1·sin)
        Value x1c = arith::MulFOp::create(nb, nloc, a[0], a[2]);
        Value x2s = arith::MulFOp::create(nb, nloc, a[1], a[3]);
        Value x2c = arith::MulFOp::create(nb, nloc, a[1], a[2]);
        Value x1s = arith::MulFOp::create(nb, nloc, a[0], a[3]);
        Value lo = arith::SubFOp::create(nb, nloc, x1c, x2s);
        Value hi = arith::AddFOp::create(nb, nloc, x2c, x1s);
        return arith::SelectOp::create(nb, nloc, first, lo, hi).getResult();
      });
  return collapse(rotated, {{0}, {1}, {2}, {3, 4}});
}

} // namespace lowbit::import

namespace lowbit::import {

Value Graph::gather(Value ids, Value table, ValueRange addends,
                    ArrayRef<AffineMap> addendMaps) {
  SmallVector<int64_t> idShape = shapeOf(ids), tableShape = shapeOf(table);
  int64_t vocab = tableShape[0];
  SmallVector<int64_t> shape{idShape[0], idShape[1], tableShape[1]};
  SmallVector<Value> inputs{ids};
  inputs.append(addends.begin(), addends.end());
  SmallVector<AffineMap> maps{map(3, {0, 1})};
  maps.append(addendMaps.begin(), addendMaps.end());
  return elementwise(
      shape, inputs, maps,
      [table, vocab](OpBuilder &nb, Location nloc, ValueRange a) {
        Value zero =
            arith::ConstantOp::create(nb, nloc, nb.getI64IntegerAttr(0));
        Value last = arith::ConstantOp::create(nb, nloc,
                                               nb.getI64IntegerAttr(vocab - 1));
        Value id = arith::MinSIOp::create(
            nb, nloc, arith::MaxSIOp::create(nb, nloc, a[0], zero), last);
        Value row = arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), id);
        Value col = linalg::IndexOp::create(nb, nloc, 2);
        Value v =
            tensor::ExtractOp::create(nb, nloc, table, ValueRange{row, col});
        v = scalarToF32(nb, nloc, v);
        for (Value addend : a.drop_front())
          v = arith::AddFOp::create(nb, nloc, v, scalarToF32(nb, nloc, addend));
        return v;
      });
}

Value Graph::maskBias(Value mask) {
  return map({mask}, [](OpBuilder &nb, Location nloc, ValueRange a) {
    Value m = arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), a[0]);
    Value one = arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1.0f));
    Value min =
        arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(float(kF32Min)));
    Value keep = arith::SubFOp::create(nb, nloc, one, m);
    return arith::MulFOp::create(nb, nloc, keep, min).getResult();
  });
}

Value Graph::attention(Value q, Value k, Value v, const AttentionShape &s,
                       Value keyBias, bool causal, Value cos, Value sin,
                       RopeLayout layout) {
  int64_t B = s.batch, S = s.seq, N = s.heads, Nkv = s.kvHeads, D = s.headDim,
          G = N / Nkv;
  // [B·S, n·D] -> [B, S, n, D] (-> rotary) -> [B, n, S, D]
  auto split = [&](Value x, int64_t n, bool rotary) {
    Value x4 = expand(x, {B, S, n, D}, {{0, 1}, {2, 3}});
    if (rotary && cos)
      x4 = rope(x4, cos, sin, layout);
    return transpose(x4, {0, 2, 1, 3});
  };
  // [B, Nkv, S, D] -> [B·N, S, D], key/value head j / G for query head j.
  auto share = [&](Value x) {
    if (G != 1) {
      Value init = empty({B, Nkv, G, S, D});
      x = linalg::BroadcastOp::create(b, loc, x, init, ArrayRef<int64_t>{2})
              .getResult()[0];
      return collapse(x, {{0, 1, 2}, {3}, {4}});
    }
    return collapse(x, {{0, 1}, {2}, {3}});
  };
  Value qh = collapse(split(q, N, true), {{0, 1}, {2}, {3}});
  Value kh = share(split(k, Nkv, true));
  Value vh = share(split(v, Nkv, false));
  Value scores = batchMatmulTransposeB(qh, kh); // [B·N, S, S]
  Value probs = softmaxScores(expand(scores, {B, N, S, S}, {{0, 1}, {2}, {3}}),
                              1.0 / std::sqrt(double(D)), keyBias, causal);
  Value ctx = batchMatmul(collapse(probs, {{0, 1}, {2}, {3}}), vh);
  Value ctx4 =
      transpose(expand(ctx, {B, N, S, D}, {{0, 1}, {2}, {3}}), {0, 2, 1, 3});
  return collapse(ctx4, {{0, 1}, {2, 3}});
}

Value Graph::meanPool(Value x, Value mask) {
  SmallVector<int64_t> s = shapeOf(x); // [B, S, H]
  Value acc = fill({s[0], s[2]}, 0.0);
  // (b, h, s): s is the reduction.
  auto sum = linalg::GenericOp::create(
      b, loc, TypeRange{acc.getType()}, ValueRange{x, mask}, ValueRange{acc},
      ArrayRef<AffineMap>{map(3, {0, 2, 1}), map(3, {0, 2}), map(3, {0, 1})},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel,
                                    utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value m = arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), a[1]);
        Value xm = arith::MulFOp::create(nb, nloc, a[0], m);
        linalg::YieldOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, a[2], xm).getResult());
      });
  Value count =
      reduceLast(mask, 0.0, {}, [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value m = arith::SIToFPOp::create(nb, nloc, nb.getF32Type(), a[0]);
        return arith::AddFOp::create(nb, nloc, a[1], m).getResult();
      });
  return elementwise(
      {s[0], s[2]}, {plainArgLocs(sum, loc), count}, {identity(2), map(2, {0})},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value tiny =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1e-9f));
        Value den = arith::MaximumFOp::create(nb, nloc, a[1], tiny);
        return arith::DivFOp::create(nb, nloc, a[0], den).getResult();
      });
}

Value Graph::l2Normalize(Value p) {
  SmallVector<int64_t> s = shapeOf(p);
  Value ss =
      reduceLast(p, 0.0, {}, [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value sq = arith::MulFOp::create(nb, nloc, a[0], a[0]);
        return arith::AddFOp::create(nb, nloc, a[1], sq).getResult();
      });
  return elementwise(
      s, {p, ss}, {identity(2), map(2, {0})},
      [](OpBuilder &nb, Location nloc, ValueRange a) {
        Value tiny =
            arith::ConstantOp::create(nb, nloc, nb.getF32FloatAttr(1e-12f));
        Value norm = math::SqrtOp::create(nb, nloc, a[1]);
        Value den = arith::MaximumFOp::create(nb, nloc, norm, tiny);
        return arith::DivFOp::create(nb, nloc, a[0], den).getResult();
      });
}

} // namespace lowbit::import
