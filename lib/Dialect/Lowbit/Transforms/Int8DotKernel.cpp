//===- Int8DotKernel.cpp - Int8-activation GEMV kernels with vpdpbusd ----===//
//
// Per chunk of 128 elements of K and row n of W (4-bit codes; 8-bit codes
// take two 64-byte groups with an accumulator each, 2-bit codes a chunk of
// 256 split four ways, 3-bit codes 48 bytes picked apart by vpmultishiftqb):
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

SmallVector<int64_t> Int8DotPlan::chunkOrder() const {
  SmallVector<int64_t> order;
  if (bits == 3) {
    // Each qword of the spread bytes holds 16 codes; the first vector has
    // codes 0-7 of every qword, the second codes 8-15.
    for (int64_t half = 0; half < 2; ++half)
      for (int64_t q = 0; q < 8; ++q)
        for (int64_t j = 0; j < 8; ++j)
          order.push_back(16 * q + 8 * half + j);
    return order;
  }
  // Codes are split by their position s in the byte: element perByte·p + s
  // goes to s · (chunk / perByte) + p.
  int64_t perByte = 8 / bits;
  for (int64_t s = 0; s < perByte; ++s)
    for (int64_t i = s; i < chunk(); i += perByte)
      order.push_back(i);
  return order;
}

std::optional<Int8DotPlan> planInt8Dot(const nx::Scheme &scheme,
                                       const nx::PackedLayout &layout,
                                       bool vbmi) {
  Int8DotPlan plan;
  plan.bits = nx::codeBits(scheme.format);
  if ((plan.bits == 3 && !vbmi) || scheme.format == nx::Format::FP8)
    return std::nullopt;
  if (layout.k % plan.chunk() != 0)
    return std::nullopt;
  plan.blockSize = layout.k / layout.blocksPerRow;
  int64_t group = plan.group(), span = plan.laneSpan(), b = plan.blockSize;
  bool tiles = b < plan.chunk() ? (b % span == 0 && group % b == 0)
                                : b % plan.chunk() == 0;
  if (!tiles)
    return std::nullopt;

  switch (scheme.format) {
  case nx::Format::I8:
  case nx::Format::I4:
  case nx::Format::I3:
  case nx::Format::I2:
    // Two's complement to offset binary, every code of a byte at once
    // (3-bit codes straddle bytes: each extracted code):
    // u = q ^ 2^(bits-1), t = u − 2^(bits-1).
    plan.map = Int8DotPlan::Map::Xor;
    if (plan.bits == 3)
      plan.xorMask = 4;
    else
      for (unsigned shift = 0; shift < 8; shift += plan.bits)
        plan.xorMask |= uint8_t(1 << (shift + plan.bits - 1));
    plan.offset = 1 << (plan.bits - 1);
    return plan;
  case nx::Format::U8:
  case nx::Format::U4:
  case nx::Format::U3:
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
  SmallVector<int64_t> order =
      plan.bits == 8 ? SmallVector<int64_t>() : plan.chunkOrder();

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
              if (!order.empty())
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

  /// Per block of a unit, as vector<count x f32>: s_b / factor, and the
  /// offset term's k_b (null when the scheme has neither an offset nor a
  /// zero point).
  struct BlockTerms {
    Value scale, offsetTerm;
  };

  BlockTerms loadTerms(ImplicitLocOpBuilder &b, Value first,
                       int64_t count) const {
    auto splat = [&](float value) { return splatF32(b, count, value); };
    BlockTerms terms;
    terms.scale = reader.loadBlockScales(b, first, count);
    if (plan.factor != 1.0f)
      terms.scale =
          arith::MulFOp::create(b, terms.scale, splat(1.0f / plan.factor));
    Value offset;
    if (plan.offset != 0)
      offset = splat(float(plan.offset));
    nx::ZeroPoint zeroPoint = reader.getScheme().zeroPoint;
    if (zeroPoint == nx::ZeroPoint::Int) {
      Value z = reader.loadIntZeroPoints(b, first, count);
      offset = offset ? Value(arith::AddFOp::create(b, offset, z)) : z;
    }
    if (offset)
      terms.offsetTerm = arith::MulFOp::create(b, terms.scale, offset);
    if (zeroPoint == nx::ZeroPoint::Min) {
      Value min = reader.loadMinZeroPoints(b, first, count);
      terms.offsetTerm =
          terms.offsetTerm
              ? Value(arith::SubFOp::create(b, terms.offsetTerm, min))
              : Value(arith::NegFOp::create(b, min));
    }
    return terms;
  }

  /// vector<16xf32> of the block scale of each int32 lane of group `g` of
  /// chunk `q` of a unit (lane d covers `lane` consecutive codes), from
  /// the unit's scales: a broadcast, or one permute (16 scalar inserts
  /// would cost more than the dot products).
  Value laneScales(ImplicitLocOpBuilder &b, Value scales, int64_t q,
                   int64_t g) const {
    auto vecF32 = VectorType::get({16}, b.getF32Type());
    if (cast<VectorType>(scales.getType()).getNumElements() == 1)
      return vector::BroadcastOp::create(
          b, vecF32,
          vector::ExtractOp::create(b, scales, ArrayRef<int64_t>{0}));
    // Lane d of 3-bit codes holds 8 codes of the window of 16 from 16·(d/2)
    // (chunkOrder); blocks are multiples of 16, so 8·d finds its block too.
    int64_t group = plan.group(), lane = group / 16;
    SmallVector<int64_t> lanes;
    for (int64_t d = 0; d < 16; ++d)
      lanes.push_back((q * plan.chunk() + g * group + d * lane) /
                      plan.blockSize);
    return vector::ShuffleOp::create(b, scales, scales, lanes);
  }

  /// The unsigned bytes u of 64 bytes of codes, as one vector<64xi8> per
  /// code position in a byte (8-bit: one; 4-bit: even codes, odd codes;
  /// 2-bit: four; 3-bit: two vectors of 64 codes from 48 bytes).
  SmallVector<Value> loadCodes(ImplicitLocOpBuilder &b,
                               Value byteOffset) const {
    if (plan.bits == 3)
      return loadCodes3(b, byteOffset);
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

  /// 3-bit codes: 48 bytes (128 codes) spread to 6 bytes per qword (a
  /// vpermb), so each qword holds 16 whole codes of the bit stream; one
  /// vpmultishiftqb picks codes 0-7 of every qword into bytes (bits 3j),
  /// another codes 8-15; the mask keeps 3 bits.
  SmallVector<Value> loadCodes3(ImplicitLocOpBuilder &b,
                                Value byteOffset) const {
    Type i8 = b.getI8Type();
    auto vecI8 = VectorType::get({64}, i8);
    Value pad = arith::ConstantIntOp::create(b, 0, 8);
    Value raw = vector::TransferReadOp::create(b, VectorType::get({48}, i8),
                                               bytes, ValueRange{byteOffset},
                                               pad, ArrayRef<bool>{true});
    SmallVector<int64_t> spread;
    for (int64_t q = 0; q < 8; ++q)
      for (int64_t i = 0; i < 8; ++i)
        spread.push_back(6 * q + std::min<int64_t>(i, 5));
    Value words = vector::ShuffleOp::create(b, raw, raw, spread);
    SmallVector<Value> parts;
    for (int64_t half = 0; half < 2; ++half) {
      SmallVector<int8_t> shifts;
      for (int64_t q = 0; q < 8; ++q)
        for (int64_t j = 0; j < 8; ++j)
          shifts.push_back(int8_t(24 * half + 3 * j));
      Value control = arith::ConstantOp::create(
          b, DenseElementsAttr::get(vecI8, ArrayRef<int8_t>(shifts)));
      Value part =
          callIntrinsic(b, module, "llvm.x86.avx512.pmultishift.qb.512", vecI8,
                        {control, words});
      part = arith::AndIOp::create(b, part, splatInt(b, i8, 64, 7));
      if (plan.map == Int8DotPlan::Map::Xor)
        part =
            arith::XOrIOp::create(b, part, splatInt(b, i8, 64, plan.xorMask));
      parts.push_back(part);
    }
    return parts;
  }

  Value dot(ImplicitLocOpBuilder &b, Value acc, Value u, Value xq) const {
    return callIntrinsic(b, module, "llvm.x86.avx512.vpdpbusd.512",
                         acc.getType(), {acc, u, xq});
  }

  /// One chunk (index `chunk`) of every column and row: updates the
  /// running f32 totals, state[c * tile + i].
  void emitChunk(ImplicitLocOpBuilder &b, ArrayRef<Value> rows,
                 ArrayRef<Value> rowBytes,
                 ArrayRef<SmallVector<Value>> scalesPerGroup, Value chunk,
                 SmallVector<Value> &state) const {
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({16}, f32);
    auto vecI32 = VectorType::get({16}, b.getI32Type());
    int64_t chunkSize = plan.chunk(), chunkBytes = chunkSize * plan.bits / 8;
    // Code vectors per load: 64 bytes (48 of 3-bit codes, one load).
    int64_t loadBytes = plan.bits == 3 ? chunkBytes : 64;
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
      for (int64_t offset = 0; offset < chunkBytes; offset += loadBytes)
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
  }

  /// The offset and zero-point terms of one unit (`sumsPerUnit` partial
  /// sums of x from `firstSum`): state[columns * tile + c * tile + i]
  /// (vector<count x f32>) += k_b · sums, with the unit's one k for all of
  /// its sums when it is a single block.
  void emitCorrections(ImplicitLocOpBuilder &b, ArrayRef<Value> rows,
                       ArrayRef<BlockTerms> terms, Value firstSum,
                       int64_t sumsPerUnit, SmallVector<Value> &state) const {
    if (!terms[0].offsetTerm)
      return;
    for (int64_t i = 0; i < tile; ++i) {
      Value sums = readRowChunk(b, acts.sums, rows[i], firstSum, sumsPerUnit);
      auto type = cast<VectorType>(terms[0].offsetTerm.getType());
      if (type.getNumElements() != sumsPerUnit)
        sums = vector::BroadcastOp::create(
            b, type,
            vector::ReductionOp::create(b, vector::CombiningKind::ADD, sums));
      for (int64_t c = 0; c < columns; ++c) {
        Value &corr = state[columns * tile + c * tile + i];
        corr = vector::FMAOp::create(b, terms[c].offsetTerm, sums, corr);
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
  int64_t chunks = layout.k / plan.chunk();
  // A unit is one block (blocks of a chunk or more) or up to 8 chunks of
  // blocks smaller than a chunk (at most 16 blocks unless a chunk holds
  // more), whose scales and offset terms are loaded as vectors once: per
  // block they would cost as much as the dot products.
  int64_t chunksPerUnit, blocksPerUnit;
  if (plan.blockSize >= plan.chunk()) {
    chunksPerUnit = plan.blockSize / plan.chunk();
    blocksPerUnit = 1;
  } else {
    int64_t blocksPerChunk = plan.chunk() / plan.blockSize;
    chunksPerUnit = 8;
    while (chunksPerUnit > 1 &&
           (chunks % chunksPerUnit != 0 || chunksPerUnit * blocksPerChunk > 16))
      chunksPerUnit /= 2;
    blocksPerUnit = chunksPerUnit * blocksPerChunk;
  }
  int64_t sumsPerUnit = chunksPerUnit * plan.chunk() / plan.sumSize();
  int64_t groups = plan.chunk() / plan.group();
  bool straightLine = blocksPerUnit > 1;
  Int8DotEmitter emitter(module, reader, bytes, plan, acts, tile, columns);

  SmallVector<Value> rows, rowBytes;
  for (int64_t i = 0; i < tile; ++i)
    rows.push_back(addIdx(b, m0, cIdx(b, i)));
  for (Value n : ns)
    rowBytes.push_back(addIdx(b, cIdx(b, layout.codes.offset),
                              mulIdx(b, n, int64_t(layout.rowBytes))));

  SmallVector<Value> init(columns * tile, splatF32(b, 16, 0.0f));
  init.append(columns * tile, splatF32(b, blocksPerUnit, 0.0f));
  auto units = scf::ForOp::create(
      b, cIdx(b, 0), cIdx(b, chunks / chunksPerUnit), cIdx(b, 1), init,
      [&](OpBuilder &nb, Location loc, Value unit, ValueRange args) {
        ImplicitLocOpBuilder ib(loc, nb);
        SmallVector<Int8DotEmitter::BlockTerms> terms;
        for (int64_t c = 0; c < columns; ++c) {
          Value first = addIdx(ib, mulIdx(ib, ns[c], layout.blocksPerRow),
                               mulIdx(ib, unit, blocksPerUnit));
          terms.push_back(emitter.loadTerms(ib, first, blocksPerUnit));
        }
        auto scalesOf = [&](int64_t q) {
          SmallVector<SmallVector<Value>> scales(columns);
          for (int64_t c = 0; c < columns; ++c)
            for (int64_t g = 0; g < groups; ++g)
              scales[c].push_back(emitter.laneScales(ib, terms[c].scale, q, g));
          return scales;
        };
        SmallVector<Value> state(args);
        Value firstChunk = mulIdx(ib, unit, chunksPerUnit);
        if (straightLine) {
          // Small blocks: every chunk of the unit, each with its own lane
          // scales (static permutes of the unit's scales).
          for (int64_t q = 0; q < chunksPerUnit; ++q)
            emitter.emitChunk(ib, rows, rowBytes, scalesOf(q),
                              addIdx(ib, firstChunk, cIdx(ib, q)), state);
        } else {
          // One block: the same broadcast scale for all of its chunks, up
          // to 4 chunks per iteration as straight-line code.
          SmallVector<SmallVector<Value>> scales = scalesOf(0);
          int64_t unroll = 4;
          while (chunksPerUnit % unroll)
            unroll /= 2;
          auto body = [&](ImplicitLocOpBuilder &jb, Value chunk0,
                          SmallVector<Value> &s) {
            for (int64_t q = 0; q < unroll; ++q)
              emitter.emitChunk(jb, rows, rowBytes, scales,
                                addIdx(jb, chunk0, cIdx(jb, q)), s);
          };
          if (chunksPerUnit == unroll) {
            body(ib, firstChunk, state);
          } else {
            auto inner = scf::ForOp::create(
                ib, cIdx(ib, 0), cIdx(ib, chunksPerUnit), cIdx(ib, unroll),
                state,
                [&](OpBuilder &cb, Location cloc, Value q, ValueRange qArgs) {
                  ImplicitLocOpBuilder jb(cloc, cb);
                  SmallVector<Value> s(qArgs);
                  body(jb, addIdx(jb, firstChunk, q), s);
                  scf::YieldOp::create(jb, s);
                });
            state.assign(inner.getResults().begin(), inner.getResults().end());
          }
        }
        emitter.emitCorrections(ib, rows, terms, mulIdx(ib, unit, sumsPerUnit),
                                sumsPerUnit, state);
        scf::YieldOp::create(ib, state);
      });

  SmallVector<Value> dots;
  for (int64_t c = 0; c < columns; ++c)
    for (int64_t i = 0; i < tile; ++i) {
      auto reduce = [&](int64_t index) -> Value {
        return vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                           units.getResult(index));
      };
      dots.push_back(arith::SubFOp::create(
          b, reduce(c * tile + i), reduce(columns * tile + c * tile + i)));
    }
  return dots;
}

} // namespace mlir::lowbit
