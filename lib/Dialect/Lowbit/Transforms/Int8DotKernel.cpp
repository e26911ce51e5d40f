//===- Int8DotKernel.cpp - Int8-activation GEMV kernels with vpdpbusd ----===//
//
// Per chunk of 128 elements of K and row n of W (4-bit codes; 8-bit codes
// take two 64-byte groups with an accumulator each, 2-bit codes a chunk of
// 256 split four ways):
//
//   u_lo, u_hi = map(bytes & 15), map(bytes >> 4)   unsigned bytes (a
//                                                    vpshufb table for
//                                                    codebooks)
//   acc = vpdpbusd(vpdpbusd(0, u_lo, xq_even), u_hi, xq_odd)   int32 x 16
//   total += float(acc) · (s_b / factor) · dx        lane d covers codes
//                                                    8d .. 8d+7 of the chunk
//   corr  += k_b · sums[sub]                         k_b = s_b / factor ·
//                                                    (offset + z_b) − m_b
//   y = reduce(total) − corr
//
// All integer products and sums are exact; x's int8 rounding, the
// codebook's int8 rounding (NF4) and the order of the f32 sums are what
// differs from the f32 kernels.
//
//===----------------------------------------------------------------------===//

#include "Int8DotKernel.h"
#include "CpuKernelSupport.h"
#include "VectorDecode.h"

#include "lowbit/Numerics/Codebooks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
namespace nx = ::lowbit::numerics;

namespace mlir::lowbit {

std::optional<Int8DotPlan> planInt8Dot(const nx::Scheme &scheme,
                                       const nx::PackedLayout &layout) {
  Int8DotPlan plan;
  plan.bits = nx::codeBits(scheme.format);
  if (plan.bits == 3 || scheme.format == nx::Format::FP8)
    return std::nullopt;
  if (layout.k % plan.chunk() != 0)
    return std::nullopt;
  plan.blockSize = layout.k / layout.blocksPerRow;
  int64_t group = plan.group(), lane = group / 16, b = plan.blockSize;
  bool tiles = b < plan.chunk() ? (b % lane == 0 && group % b == 0)
                                : b % plan.chunk() == 0;
  if (!tiles)
    return std::nullopt;

  switch (scheme.format) {
  case nx::Format::I8:
  case nx::Format::I4:
  case nx::Format::I2:
    // Two's complement to offset binary, every code of a byte at once:
    // u = q ^ 2^(bits-1), t = u − 2^(bits-1).
    plan.map = Int8DotPlan::Map::Xor;
    for (unsigned shift = 0; shift < 8; shift += plan.bits)
      plan.xorMask |= uint8_t(1 << (shift + plan.bits - 1));
    plan.offset = 1 << (plan.bits - 1);
    return plan;
  case nx::Format::U8:
  case nx::Format::U4:
  case nx::Format::U2:
    return plan;
  case nx::Format::NF4:
  case nx::Format::FP4:
  case nx::Format::LUT:
    break;
  default:
    return std::nullopt;
  }
  // A codebook: t ≈ round(t · factor) / factor. The smallest power of two
  // that makes every entry an integer in [-127, 127] is exact (FP4: 2);
  // otherwise the entries are rounded on a 127 / max|t| grid (NF4).
  std::vector<float> values = nx::codeValues(scheme);
  float maxAbs = 0.0f;
  for (float v : values) {
    if (!std::isfinite(v))
      return std::nullopt;
    maxAbs = std::max(maxAbs, std::fabs(v));
  }
  plan.factor = maxAbs > 0.0f ? 127.0f / maxAbs : 1.0f;
  for (float f = 1.0f; f <= 128.0f; f *= 2.0f) {
    bool exact = true;
    for (float v : values)
      exact &= std::fabs(v * f) <= 127.0f && std::nearbyint(v * f) == v * f;
    if (exact) {
      plan.factor = f;
      break;
    }
  }
  // u = round(t · factor) − min: the smallest offset keeps the partial
  // sums Σ u·x and offset·Σ x that cancel in f32 small (FP4: u <= 24).
  plan.map = Int8DotPlan::Map::Table;
  int entries[16], min = 127;
  for (size_t q = 0; q < 16; ++q) {
    entries[q] = int(std::nearbyint(values[q] * plan.factor));
    min = std::min(min, entries[q]);
  }
  plan.offset = -min;
  for (size_t q = 0; q < 16; ++q)
    plan.table[q] = uint8_t(entries[q] + plan.offset);
  return plan;
}

QuantizedActivations emitQuantizedActivations(ImplicitLocOpBuilder &b, Value x,
                                              Value m,
                                              const Int8DotPlan &plan) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  int64_t k = cast<RankedTensorType>(x.getType()).getDimSize(1);
  int64_t chunk = plan.chunk(), sumSize = plan.sumSize();
  int64_t sumsPerChunk = chunk / sumSize;
  OpFoldResult rows = tensor::getMixedSize(b, b.getLoc(), x, 0);
  auto empty = [&](int64_t cols, Type element) -> Value {
    return tensor::EmptyOp::create(
        b, ArrayRef<OpFoldResult>{rows, b.getIndexAttr(cols)}, element);
  };
  // Sub-byte codes are split by their position in the byte: element
  // perByte * p + s goes to s * (chunk / perByte) + p.
  int64_t perByte = 8 / plan.bits;
  SmallVector<int64_t> order;
  for (int64_t s = 0; s < perByte; ++s)
    for (int64_t i = s; i < chunk; i += perByte)
      order.push_back(i);

  auto rowLoop = scf::ForOp::create(
      b, cIdx(b, 0), m, cIdx(b, 1),
      ValueRange{empty(k, i8), empty(k / chunk, f32), empty(k / sumSize, f32)},
      [&](OpBuilder &nb, Location loc, Value row, ValueRange rowArgs) {
        ImplicitLocOpBuilder ib(loc, nb);
        auto chunkLoop = scf::ForOp::create(
            ib, cIdx(ib, 0), cIdx(ib, k / chunk), cIdx(ib, 1), rowArgs,
            [&](OpBuilder &cb, Location cloc, Value c, ValueRange args) {
              ImplicitLocOpBuilder jb(cloc, cb);
              auto vecF32 = VectorType::get({chunk}, f32);
              Value col = mulIdx(jb, c, chunk);
              Value v = readRowChunk(jb, x, row, col, chunk);
              // dx = max|x| / 127; an all-zero chunk divides by 1 instead.
              // A NaN in x makes dx NaN (maximumf propagates it), so the
              // rows it reaches come out NaN as with the f32 kernels.
              Value maxAbs = vector::ReductionOp::create(
                  jb, vector::CombiningKind::MAXIMUMF,
                  math::AbsFOp::create(jb, v));
              Value scale = arith::DivFOp::create(
                  jb, maxAbs,
                  arith::ConstantOp::create(jb, jb.getF32FloatAttr(127.0f)));
              Value zero = arith::ConstantOp::create(jb, jb.getF32FloatAttr(0));
              Value positive = arith::CmpFOp::create(
                  jb, arith::CmpFPredicate::OGT, scale, zero);
              Value divisor = arith::SelectOp::create(
                  jb, positive, scale,
                  arith::ConstantOp::create(jb, jb.getF32FloatAttr(1.0f)));
              Value q = arith::DivFOp::create(
                  jb, v, vector::BroadcastOp::create(jb, vecF32, divisor));
              q = math::RoundEvenOp::create(jb, q);
              q = arith::MinimumFOp::create(jb, q, splatF32(jb, chunk, 127.0f));
              q = arith::MaximumFOp::create(jb, q,
                                            splatF32(jb, chunk, -127.0f));
              Value codes =
                  arith::FPToSIOp::create(jb, VectorType::get({chunk}, i8), q);

              Value sums = args[2];
              for (int64_t j = 0; j < sumsPerChunk; ++j) {
                Value part = vector::ExtractStridedSliceOp::create(
                    jb, codes, ArrayRef<int64_t>{j * sumSize},
                    ArrayRef<int64_t>{sumSize}, ArrayRef<int64_t>{1});
                Value total = vector::ReductionOp::create(
                    jb, vector::CombiningKind::ADD,
                    arith::ExtSIOp::create(jb, VectorType::get({sumSize}, i32),
                                           part));
                Value scaled = arith::MulFOp::create(
                    jb, arith::SIToFPOp::create(jb, f32, total), scale);
                Value at = addIdx(jb, mulIdx(jb, c, sumsPerChunk), cIdx(jb, j));
                sums = tensor::InsertOp::create(jb, scaled, sums,
                                                ValueRange{row, at});
              }
              if (perByte > 1)
                codes = vector::ShuffleOp::create(jb, codes, codes, order);
              Value written = vector::TransferWriteOp::create(
                                  jb, codes, args[0], ValueRange{row, col},
                                  ArrayRef<bool>{true})
                                  .getResult();
              Value scales = tensor::InsertOp::create(jb, scale, args[1],
                                                      ValueRange{row, c});
              scf::YieldOp::create(jb, ValueRange{written, scales, sums});
            });
        scf::YieldOp::create(ib, chunkLoop.getResults());
      });
  return {rowLoop.getResult(0), rowLoop.getResult(1), rowLoop.getResult(2)};
}

namespace {

/// Builds the per-chunk body of emitInt8DotRows.
class Int8DotEmitter {
public:
  Int8DotEmitter(ModuleOp module, PackedScalarReader &reader, Value bytes,
                 const Int8DotPlan &plan, const QuantizedActivations &acts,
                 int64_t tile, int64_t columns)
      : module(module), reader(reader), bytes(bytes), plan(plan), acts(acts),
        tile(tile), columns(columns) {}

  /// Per block of a unit: s_b / factor, and the offset term's k_b (null
  /// when the scheme has neither an offset nor a zero point).
  struct BlockTerms {
    Value scale, offsetTerm;
  };

  BlockTerms loadTerms(ImplicitLocOpBuilder &b, Value block) const {
    BlockTerms terms;
    terms.scale = reader.loadBlockScale(b, block);
    if (plan.factor != 1.0f)
      terms.scale = arith::MulFOp::create(
          b, terms.scale,
          arith::ConstantOp::create(b, b.getF32FloatAttr(1.0f / plan.factor)));
    Value offset;
    if (plan.offset != 0)
      offset = arith::ConstantOp::create(b, b.getF32FloatAttr(plan.offset));
    nx::ZeroPoint zeroPoint = reader.getScheme().zeroPoint;
    if (zeroPoint == nx::ZeroPoint::Int) {
      Value z = reader.loadIntZeroPoint(b, block);
      offset = offset ? Value(arith::AddFOp::create(b, offset, z)) : z;
    }
    if (offset)
      terms.offsetTerm = arith::MulFOp::create(b, terms.scale, offset);
    if (zeroPoint == nx::ZeroPoint::Min) {
      Value min = reader.loadMinZeroPoint(b, block);
      terms.offsetTerm =
          terms.offsetTerm
              ? Value(arith::SubFOp::create(b, terms.offsetTerm, min))
              : Value(arith::NegFOp::create(b, min));
    }
    return terms;
  }

  /// vector<16xf32> of the block scale of each int32 lane of group `g` of
  /// a chunk (lane d covers `lane` consecutive codes).
  Value laneScales(ImplicitLocOpBuilder &b, ArrayRef<BlockTerms> terms,
                   int64_t g) const {
    auto vecF32 = VectorType::get({16}, b.getF32Type());
    if (terms.size() == 1)
      return vector::BroadcastOp::create(b, vecF32, terms[0].scale);
    // The chunk's few scales as one short vector, spread to the lanes by
    // one permute (16 scalar inserts would cost more than the dot).
    int64_t group = plan.group(), lane = group / 16;
    SmallVector<Value> scales;
    for (const BlockTerms &t : terms)
      scales.push_back(t.scale);
    Value few = vector::FromElementsOp::create(
        b, VectorType::get({int64_t(scales.size())}, b.getF32Type()), scales);
    SmallVector<int64_t> lanes;
    for (int64_t d = 0; d < 16; ++d)
      lanes.push_back((g * group + d * lane) / plan.blockSize);
    return vector::ShuffleOp::create(b, few, few, lanes);
  }

  /// The unsigned bytes u of 64 bytes of codes, as one vector<64xi8> per
  /// code position in a byte (8-bit: one; 4-bit: even codes, odd codes;
  /// 2-bit: four).
  SmallVector<Value> loadCodes(ImplicitLocOpBuilder &b,
                               Value byteOffset) const {
    Type i8 = b.getI8Type();
    auto vecI8 = VectorType::get({64}, i8);
    Value pad = arith::ConstantIntOp::create(b, 0, 8);
    Value raw = vector::TransferReadOp::create(
        b, vecI8, bytes, ValueRange{byteOffset}, pad, ArrayRef<bool>{true});
    auto splat = [&](int64_t value) { return splatInt(b, i8, 64, value); };
    if (plan.map == Int8DotPlan::Map::Xor)
      raw = arith::XOrIOp::create(b, raw, splat(plan.xorMask));
    if (plan.bits == 8)
      return {raw};
    // The codes at each position of the bytes: (raw >> bits·s) & mask.
    int64_t mask = (1 << plan.bits) - 1;
    SmallVector<Value> parts;
    for (int64_t shift = 0; shift < 8; shift += plan.bits) {
      Value part =
          shift ? Value(arith::ShRUIOp::create(b, raw, splat(shift))) : raw;
      parts.push_back(shift + plan.bits < 8
                          ? Value(arith::AndIOp::create(b, part, splat(mask)))
                          : part);
    }
    if (plan.map == Int8DotPlan::Map::Table) {
      // vpshufb looks up within each 128-bit lane: the table 4 times.
      SmallVector<int8_t> entries;
      for (int r = 0; r < 4; ++r)
        for (uint8_t v : plan.table)
          entries.push_back(int8_t(v));
      Value table = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vecI8, ArrayRef<int8_t>(entries)));
      for (Value &part : parts)
        part = callIntrinsic(b, module, "llvm.x86.avx512.pshuf.b.512", vecI8,
                             {table, part});
    }
    return parts;
  }

  Value dot(ImplicitLocOpBuilder &b, Value acc, Value u, Value xq) const {
    return callIntrinsic(b, module, "llvm.x86.avx512.vpdpbusd.512",
                         acc.getType(), {acc, u, xq});
  }

  /// One chunk (index `chunk`) of every column and row: updates
  /// state = [totals..., corrections...].
  void emitChunk(ImplicitLocOpBuilder &b, ArrayRef<Value> rows,
                 ArrayRef<Value> rowBytes,
                 ArrayRef<SmallVector<BlockTerms>> terms,
                 ArrayRef<SmallVector<Value>> scalesPerGroup, Value chunk,
                 SmallVector<Value> &state) const {
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({16}, f32);
    auto vecI32 = VectorType::get({16}, b.getI32Type());
    int64_t chunkSize = plan.chunk(), chunkBytes = chunkSize * plan.bits / 8;
    Value col = mulIdx(b, chunk, chunkSize);
    // x's chunk as 64-byte pieces, in the order of the code vectors.
    SmallVector<Value> dx;
    SmallVector<SmallVector<Value>> xs;
    for (Value row : rows) {
      dx.push_back(
          tensor::ExtractOp::create(b, acts.scales, ValueRange{row, chunk}));
      SmallVector<Value> pieces;
      for (int64_t p = 0; p < chunkSize; p += 64)
        pieces.push_back(
            readRowChunk(b, acts.codes, row, addIdx(b, col, cIdx(b, p)), 64));
      xs.push_back(pieces);
    }
    // Each accumulator sums `perAcc` dot products (a lane's codes, 4 per
    // byte product); 8-bit chunks have two accumulators.
    int64_t perAcc = plan.group() / 16 / 4;
    Value zeroAcc = arith::ConstantOp::create(b, b.getZeroAttr(vecI32));
    for (int64_t c = 0; c < columns; ++c) {
      Value base = addIdx(b, rowBytes[c], mulIdx(b, chunk, chunkBytes));
      SmallVector<Value> u;
      for (int64_t offset = 0; offset < chunkBytes; offset += 64)
        u.append(loadCodes(b, addIdx(b, base, cIdx(b, offset))));
      for (int64_t i = 0; i < tile; ++i) {
        Value &total = state[c * tile + i];
        Value dxSplat = vector::BroadcastOp::create(b, vecF32, dx[i]);
        for (size_t g = 0; g * perAcc < u.size(); ++g) {
          Value acc = zeroAcc;
          for (int64_t d = 0; d < perAcc; ++d)
            acc = dot(b, acc, u[g * perAcc + d], xs[i][g * perAcc + d]);
          Value scale = arith::MulFOp::create(b, scalesPerGroup[c][g], dxSplat);
          Value value = arith::SIToFPOp::create(b, vecF32, acc);
          total = vector::FMAOp::create(b, value, scale, total);
        }
      }
    }
    if (!terms[0][0].offsetTerm)
      return;
    // The chunk's terms are summed as a tree before joining the running
    // correction: a serial chain of scalar adds across all blocks would
    // bound the loop by the add latency (blocks of 32: 4 adds per chunk).
    int64_t sumsPerChunk = plan.chunk() / plan.sumSize();
    for (int64_t i = 0; i < tile; ++i) {
      SmallVector<Value> sums;
      for (int64_t j = 0; j < sumsPerChunk; ++j) {
        Value at = addIdx(b, mulIdx(b, chunk, sumsPerChunk), cIdx(b, j));
        sums.push_back(
            tensor::ExtractOp::create(b, acts.sums, ValueRange{rows[i], at}));
      }
      for (int64_t c = 0; c < columns; ++c) {
        SmallVector<Value> parts;
        for (int64_t j = 0; j < sumsPerChunk; ++j)
          parts.push_back(
              arith::MulFOp::create(b, terms[c][j].offsetTerm, sums[j]));
        while (parts.size() > 1) {
          SmallVector<Value> next;
          for (size_t p = 0; p + 1 < parts.size(); p += 2)
            next.push_back(arith::AddFOp::create(b, parts[p], parts[p + 1]));
          if (parts.size() % 2)
            next.push_back(parts.back());
          parts = std::move(next);
        }
        Value &corr = state[columns * tile + c * tile + i];
        corr = arith::AddFOp::create(b, corr, parts.front());
      }
    }
  }

private:
  ModuleOp module;
  PackedScalarReader &reader;
  Value bytes;
  const Int8DotPlan &plan;
  const QuantizedActivations &acts;
  int64_t tile, columns;
};

} // namespace

SmallVector<Value> emitInt8DotRows(ImplicitLocOpBuilder &b, ModuleOp module,
                                   PackedScalarReader &reader, Value bytes,
                                   const Int8DotPlan &plan,
                                   const QuantizedActivations &acts, Value m0,
                                   int64_t tile, ArrayRef<Value> ns) {
  const nx::PackedLayout &layout = reader.getLayout();
  int64_t columns = ns.size();
  // A unit is one block (blocks of 128 codes or more) or one chunk holding
  // several blocks; its block terms are loaded once.
  int64_t unitSize = std::max(plan.blockSize, plan.chunk());
  int64_t chunksPerUnit = unitSize / plan.chunk();
  int64_t blocksPerUnit = std::max<int64_t>(1, plan.chunk() / plan.blockSize);
  int64_t groups = plan.chunk() / plan.group();
  Int8DotEmitter emitter(module, reader, bytes, plan, acts, tile, columns);

  SmallVector<Value> rows, rowBytes;
  for (int64_t i = 0; i < tile; ++i)
    rows.push_back(addIdx(b, m0, cIdx(b, i)));
  for (Value n : ns)
    rowBytes.push_back(addIdx(b, cIdx(b, layout.codes.offset),
                              mulIdx(b, n, int64_t(layout.rowBytes))));

  SmallVector<Value> init(columns * tile, splatF32(b, 16, 0.0f));
  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  init.append(columns * tile, zero);
  auto units = scf::ForOp::create(
      b, cIdx(b, 0), cIdx(b, layout.k / unitSize), cIdx(b, 1), init,
      [&](OpBuilder &nb, Location loc, Value unit, ValueRange args) {
        ImplicitLocOpBuilder ib(loc, nb);
        SmallVector<SmallVector<Int8DotEmitter::BlockTerms>> terms(columns);
        SmallVector<SmallVector<Value>> scales(columns);
        for (int64_t c = 0; c < columns; ++c) {
          Value first = addIdx(ib, mulIdx(ib, ns[c], layout.blocksPerRow),
                               mulIdx(ib, unit, blocksPerUnit));
          for (int64_t j = 0; j < blocksPerUnit; ++j)
            terms[c].push_back(
                emitter.loadTerms(ib, addIdx(ib, first, cIdx(ib, j))));
          for (int64_t g = 0; g < groups; ++g)
            scales[c].push_back(emitter.laneScales(ib, terms[c], g));
        }
        SmallVector<Value> state(args);
        Value firstChunk = mulIdx(ib, unit, chunksPerUnit);
        // Up to 4 chunks of a unit per iteration, as straight-line code.
        int64_t unroll = 4;
        while (chunksPerUnit % unroll)
          unroll /= 2;
        auto body = [&](ImplicitLocOpBuilder &jb, Value chunk0,
                        SmallVector<Value> &s) {
          for (int64_t q = 0; q < unroll; ++q)
            emitter.emitChunk(jb, rows, rowBytes, terms, scales,
                              addIdx(jb, chunk0, cIdx(jb, q)), s);
        };
        if (chunksPerUnit == unroll) {
          body(ib, firstChunk, state);
        } else {
          auto inner = scf::ForOp::create(
              ib, cIdx(ib, 0), cIdx(ib, chunksPerUnit), cIdx(ib, unroll), state,
              [&](OpBuilder &cb, Location cloc, Value q, ValueRange qArgs) {
                ImplicitLocOpBuilder jb(cloc, cb);
                SmallVector<Value> s(qArgs);
                body(jb, addIdx(jb, firstChunk, q), s);
                scf::YieldOp::create(jb, s);
              });
          state.assign(inner.getResults().begin(), inner.getResults().end());
        }
        scf::YieldOp::create(ib, state);
      });

  SmallVector<Value> dots;
  for (int64_t c = 0; c < columns; ++c)
    for (int64_t i = 0; i < tile; ++i) {
      Value total = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                                units.getResult(c * tile + i));
      dots.push_back(arith::SubFOp::create(
          b, total, units.getResult(columns * tile + c * tile + i)));
    }
  return dots;
}

} // namespace mlir::lowbit
