//===- GpuMmaKernel.cpp - Tensor-core kernel form of lowbit.qmatmul -------===//
//
// A block computes a 64 x 64 tile of y (64 rows of x, 64 rows of W) with
// four warps, each a 32 x 32 quarter of it, stepping over K in tiles of 32
// (16 for blocks of 16) that lie in one quantization block:
//
//   scf.forall %tile in (ceil(M / 64) * ceil(N / 64))   #gpu.block<x>
//     shared: xs [64, kt] f16, ws [parts][64, kt] f16, sc [64] f32,
//             ds [64, 64] f32 (this K tile's dot products), acc [64, 64] f32
//     scf.forall %t in (128) #gpu.thread<x>: acc = 0
//     scf.for %k0 = 0 to K step kt
//       scf.forall %t in (128) #gpu.thread<x>
//         xs[t / 2, half] = x[...]                       16 (or 8) per thread
//         ws[t / 2, half] = f16(decode(W[...]) - zero)   exact integers,
//                                                        or hi/lo parts
//         sc[t / 2] = the block's scale (decoded double quantization)
//       scf.forall %w in (4) #gpu.warp<x>
//         for each 16 x 8 sub-tile: ds = Σ vector.contract(xs 16x16, ws 8x16)
//       scf.forall %t in (128) #gpu.thread<x>: acc[i, j] += sc[j] * ds[i, j]
//     scf.forall %t in (128) #gpu.thread<x>: y = acc + bias + LoRA, rounded
//
// Exactness: the f16 operands hold x exactly (f16 activations) and the
// code value minus the zero point exactly (integers up to 255, FP4 and FP8
// values); a codebook whose entries f16 cannot hold (NF4, most LUTs) is
// split into two f16 parts hi + lo (2^-20 relative or better), each with
// its own contraction. The products are exact, sums are f32 (mma.sync
// accumulates in f32), and the scale multiplies each K tile's sums in f32,
// so the result stays within the f32-accumulation bound of the reference.
//
//===----------------------------------------------------------------------===//

#include "GpuMmaKernel.h"
#include "CpuKernelSupport.h"

#include "lowbit/Numerics/Codebooks.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/APFloat.h"

#include <cmath>

using namespace mlir;
namespace nx = ::lowbit::numerics;

namespace mlir::lowbit {
namespace {

/// Block tile of y, warp tile, and the mma.sync shape m16 n8 k16.
constexpr int64_t kTile = 64;
constexpr int64_t kWarpTile = 32;
constexpr int64_t kThreads = 128;
constexpr int64_t kMmaM = 16, kMmaN = 8, kMmaK = 16;
/// Padding of the f16 tiles' rows (16 bytes): ldmatrix reads 8 rows of 16
/// bytes at a time, which then fall in different shared-memory banks.
constexpr int64_t kRowPad = 8;
/// Padding of ds's rows: the fragment stores of a warp spread over banks.
constexpr int64_t kSumPad = 2;

/// Whether f16 holds every value of the format's codes (NaN codes aside).
bool codesExactInF16(const nx::Scheme &scheme) {
  for (float v : nx::codeValues(scheme)) {
    if (std::isnan(v))
      continue;
    llvm::APFloat f(v);
    bool lost = false;
    if (f.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
                  &lost) != llvm::APFloat::opOK)
      return false;
  }
  return true;
}

/// K tile: 32, or 16 for blocks of 16 (a tile lies in one block).
int64_t kTileFor(const nx::Scheme &scheme) {
  return scheme.isPerChannel() || scheme.blockSize % 32 == 0 ? 32 : 16;
}

Value cmpLt(ImplicitLocOpBuilder &b, Value a, Value c) {
  return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, a, c);
}

/// scf.for %iv = 0 to count (step 1) without results.
void forRange(ImplicitLocOpBuilder &b, int64_t count,
              function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
  scf::ForOp::create(b, cIdx(b, 0), cIdx(b, count), cIdx(b, 1), ValueRange{},
                     [&](OpBuilder &nb, Location loc, Value iv, ValueRange) {
                       ImplicitLocOpBuilder lb(loc, nb);
                       body(lb, iv);
                       scf::YieldOp::create(lb);
                     });
}

class MmaKernelBuilder {
public:
  MmaKernelBuilder(const GpuMatmulBuffers &q, PackedScalarReader &reader,
                   const RegisterDecoder &decoder)
      : q(q), reader(reader), decoder(decoder), scheme(reader.getScheme()),
        layout(reader.getLayout()), kt(kTileFor(scheme)),
        parts(codesExactInF16(scheme) ? 1 : 2) {}

  void emit(ImplicitLocOpBuilder &b) {
    MLIRContext *ctx = b.getContext();
    thread = gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX);
    warp = gpu::GPUWarpMappingAttr::get(ctx, gpu::MappingId::DimX);
    int64_t rowTiles = (q.m + kTile - 1) / kTile;
    int64_t colTiles = (q.n + kTile - 1) / kTile;
    auto block = gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX);
    createGpuForall(
        b, rowTiles * colTiles, block, [&](ImplicitLocOpBuilder &tb, Value id) {
          firstCol = mulIdx(
              tb, arith::RemUIOp::create(tb, id, cIdx(tb, colTiles)), kTile);
          firstRow = firstTileRow(tb, id, colTiles, kTile, rowTiles);
          createBlockScope(tb, [&](ImplicitLocOpBuilder &sb) { emitTile(sb); });
        });
  }

private:
  void emitTile(ImplicitLocOpBuilder &b) {
    Type f16 = b.getF16Type(), f32 = b.getF32Type();
    xs = memref::AllocaOp::create(b,
                                  MemRefType::get({kTile, kt + kRowPad}, f16));
    ws.clear();
    for (int64_t p = 0; p < parts; ++p)
      ws.push_back(memref::AllocaOp::create(
          b, MemRefType::get({kTile, kt + kRowPad}, f16)));
    sc = memref::AllocaOp::create(b, MemRefType::get({kTile}, f32));
    ds = memref::AllocaOp::create(
        b, MemRefType::get({kTile, kTile + kSumPad}, f32));
    acc = memref::AllocaOp::create(b, MemRefType::get({kTile, kTile}, f32));

    // Threads own a column j of the y tile and 32 of its rows in the
    // elementwise stages: a warp touches 32 consecutive words (no bank
    // conflicts) and stores y coalesced.
    forEachOwned(b, [&](ImplicitLocOpBuilder &ib, Value i, Value j) {
      memref::StoreOp::create(ib, gpuF32(ib, 0.0f), acc, ValueRange{i, j});
    });
    scf::ForOp::create(b, cIdx(b, 0), cIdx(b, q.k), cIdx(b, kt), ValueRange{},
                       [&](OpBuilder &nb, Location loc, Value k0, ValueRange) {
                         ImplicitLocOpBuilder lb(loc, nb);
                         emitKTile(lb, k0);
                         scf::YieldOp::create(lb);
                       });
    forEachOwned(b, [&](ImplicitLocOpBuilder &ib, Value i, Value j) {
      Value row = addIdx(ib, firstCol, j);
      Value xRow = addIdx(ib, firstRow, i);
      Value inside = arith::AndIOp::create(ib, cmpLt(ib, row, cIdx(ib, q.n)),
                                           cmpLt(ib, xRow, cIdx(ib, q.m)));
      emitIfThen(ib, inside, [&](ImplicitLocOpBuilder &sb) {
        storeGpuOutput(sb, q, xRow, row,
                       memref::LoadOp::create(sb, acc, ValueRange{i, j}));
      });
    });
  }

  /// body(i, j) for the 32 entries of a 64 x 64 tile that thread t owns:
  /// column t % 64, rows 32 * (t / 64) ... + 31.
  void
  forEachOwned(ImplicitLocOpBuilder &b,
               function_ref<void(ImplicitLocOpBuilder &, Value, Value)> body) {
    createGpuForall(
        b, kThreads, thread, [&](ImplicitLocOpBuilder &tb, Value t) {
          Value j = arith::RemUIOp::create(tb, t, cIdx(tb, kTile));
          Value group = arith::DivUIOp::create(tb, t, cIdx(tb, kTile));
          forRange(tb, kTile / 2, [&](ImplicitLocOpBuilder &lb, Value r) {
            body(lb, addIdx(lb, mulIdx(lb, group, kTile / 2), r), j);
          });
        });
  }

  void emitKTile(ImplicitLocOpBuilder &b, Value k0) {
    createGpuForall(
        b, kThreads, thread, [&](ImplicitLocOpBuilder &tb, Value t) {
          Value i = arith::DivUIOp::create(tb, t, cIdx(tb, 2));
          Value col =
              mulIdx(tb, arith::RemUIOp::create(tb, t, cIdx(tb, 2)), kt / 2);
          loadXTile(tb, i, k0, col);
          decodeWTile(tb, i, k0, col);
        });
    createGpuForall(
        b, kThreads / kGpuWarpSize, warp,
        [&](ImplicitLocOpBuilder &wb, Value w) { emitWarpMma(wb, w); });
    forEachOwned(b, [&](ImplicitLocOpBuilder &ib, Value i, Value j) {
      Value s = memref::LoadOp::create(ib, sc, ValueRange{j});
      Value d = memref::LoadOp::create(ib, ds, ValueRange{i, j});
      Value a = memref::LoadOp::create(ib, acc, ValueRange{i, j});
      memref::StoreOp::create(ib, math::FmaOp::create(ib, s, d, a), acc,
                              ValueRange{i, j});
    });
  }

  /// Whether the last K tile runs past K (per-channel rows only).
  bool hasKTail() const { return q.k % kt != 0; }

  /// xs[i, col ...] = x[firstRow + i, k0 + col ...] (zeros past K).
  void loadXTile(ImplicitLocOpBuilder &b, Value i, Value k0, Value col) {
    int64_t count = kt / 2;
    auto type = VectorType::get({count}, b.getF16Type());
    Value xRow = clampRow(b, addIdx(b, firstRow, i), q.m);
    Value k = addIdx(b, k0, col);
    Value v;
    if (hasKTail()) {
      Value pad = arith::ConstantOp::create(b, b.getZeroAttr(b.getF16Type()));
      v = vector::TransferReadOp::create(b, type, q.x, ValueRange{xRow, k}, pad,
                                         ArrayRef<bool>{false});
    } else {
      v = vector::LoadOp::create(
          b, type, q.x, ValueRange{xRow, k},
          /*nontemporal=*/false,
          llvm::MaybeAlign(gpuCommonAlignment({q.k * 2, count * 2})));
    }
    vector::StoreOp::create(
        b, v, xs, ValueRange{i, col}, /*nontemporal=*/false,
        llvm::MaybeAlign(gpuCommonAlignment({(kt + kRowPad) * 2, count * 2})));
  }

  /// ws[p][j, col ...] = part p of f16(t(q) - zero) for row firstCol + j of
  /// W, codes k0 + col ...; sc[j] = the block's scale.
  void decodeWTile(ImplicitLocOpBuilder &b, Value j, Value k0, Value col) {
    int64_t count = kt / 2;
    int64_t bits = decoder.getBits();
    int64_t bytes = decoder.bytesFor(count);
    Value row = clampRow(b, addIdx(b, firstCol, j), q.n);
    Value k = addIdx(b, k0, col);
    Value offset = addIdx(
        b, cIdx(b, int64_t(layout.codes.offset)),
        addIdx(b, mulIdx(b, row, int64_t(layout.rowBytes)),
               arith::DivUIOp::create(b, mulIdx(b, k, bits), cIdx(b, 8))));
    auto rawType = VectorType::get({bytes}, b.getI8Type());
    Value raw;
    if (hasKTail()) {
      // The last tile's codes may run past the buffer; the values past K
      // are replaced by zeros below.
      Value pad = arith::ConstantOp::create(b, b.getI8IntegerAttr(0));
      raw = vector::TransferReadOp::create(
          b, rawType, q.weight, ValueRange{offset}, pad, ArrayRef<bool>{false});
    } else {
      raw = vector::LoadOp::create(b, rawType, q.weight, ValueRange{offset},
                                   /*nontemporal=*/false,
                                   llvm::MaybeAlign(gpuCommonAlignment(
                                       {int64_t(layout.codes.offset),
                                        int64_t(layout.rowBytes), bytes})));
    }
    Value values = decoder.codeValues(b, raw, count);
    auto f32Vec = cast<VectorType>(values.getType());
    Value blockIndex =
        scheme.isPerChannel()
            ? row
            : addIdx(b, mulIdx(b, row, layout.blocksPerRow),
                     arith::DivUIOp::create(b, k0, cIdx(b, scheme.blockSize)));
    if (scheme.zeroPoint == nx::ZeroPoint::Int)
      values = arith::SubFOp::create(
          b, values,
          vector::BroadcastOp::create(b, f32Vec,
                                      reader.loadIntZeroPoint(b, blockIndex)));
    if (hasKTail()) {
      Value limit = vector::BroadcastOp::create(
          b, VectorType::get({count}, b.getIndexType()),
          arith::SubIOp::create(b, cIdx(b, q.k), k));
      Value lanes =
          vector::StepOp::create(b, VectorType::get({count}, b.getIndexType()));
      Value inside =
          arith::CmpIOp::create(b, arith::CmpIPredicate::slt, lanes, limit);
      values = arith::SelectOp::create(
          b, inside, values,
          arith::ConstantOp::create(b, b.getZeroAttr(f32Vec)));
    }
    auto f16Vec = VectorType::get({count}, b.getF16Type());
    int64_t align = gpuCommonAlignment({(kt + kRowPad) * 2, count * 2});
    Value rest = values;
    for (int64_t p = 0; p < parts; ++p) {
      Value part = arith::TruncFOp::create(b, f16Vec, rest);
      vector::StoreOp::create(b, part, ws[p], ValueRange{j, col},
                              /*nontemporal=*/false, llvm::MaybeAlign(align));
      if (p + 1 < parts)
        rest = arith::SubFOp::create(b, rest,
                                     arith::ExtFOp::create(b, f32Vec, part));
    }
    // The first thread of the row's pair reads and stores the scale.
    emitIfThen(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, col, cIdx(b, 0)),
        [&](ImplicitLocOpBuilder &ib) {
          memref::StoreOp::create(ib, reader.loadBlockScale(ib, blockIndex), sc,
                                  ValueRange{j});
        });
  }

  /// Warp w's 32 x 32 quarter of ds: 2 x 4 sub-tiles of 16 x 8, each the
  /// sum over the K tile of 16 x 16 (x) by 8 x 16 (W) contractions.
  void emitWarpMma(ImplicitLocOpBuilder &b, Value w) {
    MLIRContext *ctx = b.getContext();
    // Indices are affine.apply ops: the conversion to mma.sync treats
    // arith ops in the warp's code as elementwise matrix operations.
    AffineExpr wd = getAffineDimExpr(0, ctx), md = getAffineDimExpr(1, ctx);
    AffineExpr m, n, kd;
    bindDims(ctx, m, n, kd);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, kd}, ctx),
                                   AffineMap::get(3, 0, {n, kd}, ctx),
                                   AffineMap::get(3, 0, {m, n}, ctx)};
    auto iterators = b.getArrayAttr(
        {vector::IteratorTypeAttr::get(ctx, vector::IteratorType::parallel),
         vector::IteratorTypeAttr::get(ctx, vector::IteratorType::parallel),
         vector::IteratorTypeAttr::get(ctx, vector::IteratorType::reduction)});
    auto aType = VectorType::get({kMmaM, kMmaK}, b.getF16Type());
    auto bType = VectorType::get({kMmaN, kMmaK}, b.getF16Type());
    auto cType = VectorType::get({kMmaM, kMmaN}, b.getF32Type());
    Value padF16 = arith::ConstantOp::create(b, b.getZeroAttr(b.getF16Type()));
    // Loops, not unrolled code: the CPU form stays small. A sub-tile of x
    // is read once for the 4 sub-tiles of W it meets.
    forRange(b, kWarpTile / kMmaM, [&](ImplicitLocOpBuilder &mb, Value mi) {
      Value r0 = affine::AffineApplyOp::create(
          mb,
          AffineMap::get(2, 0, {wd.floorDiv(2) * kWarpTile + md * kMmaM}, ctx),
          ValueRange{w, mi});
      SmallVector<Value> xTiles;
      for (int64_t kk = 0; kk < kt; kk += kMmaK)
        xTiles.push_back(vector::TransferReadOp::create(
            mb, aType, xs, ValueRange{r0, cIdx(mb, kk)}, padF16,
            ArrayRef<bool>{true, true}));
      forRange(mb, kWarpTile / kMmaN, [&](ImplicitLocOpBuilder &nb, Value ni) {
        Value c0 = affine::AffineApplyOp::create(
            nb, AffineMap::get(2, 0, {(wd % 2) * kWarpTile + md * kMmaN}, ctx),
            ValueRange{w, ni});
        Value sum = arith::ConstantOp::create(nb, nb.getZeroAttr(cType));
        for (int64_t kk = 0; kk < kt; kk += kMmaK) {
          for (Value part : ws) {
            Value bv = vector::TransferReadOp::create(
                nb, bType, part, ValueRange{c0, cIdx(nb, kk)}, padF16,
                ArrayRef<bool>{true, true});
            sum = vector::ContractionOp::create(nb, xTiles[kk / kMmaK], bv, sum,
                                                nb.getAffineMapArrayAttr(maps),
                                                iterators);
          }
        }
        vector::TransferWriteOp::create(nb, sum, ds, ValueRange{r0, c0},
                                        ArrayRef<bool>{true, true});
      });
    });
  }

  const GpuMatmulBuffers &q;
  PackedScalarReader &reader;
  const RegisterDecoder &decoder;
  const nx::Scheme &scheme;
  const nx::PackedLayout &layout;
  int64_t kt;
  int64_t parts;
  Attribute thread, warp;
  Value firstRow, firstCol;
  Value xs, sc, ds, acc;
  SmallVector<Value> ws;
};

} // namespace

bool useMmaKernel(QTensorType weight, Type xElement) {
  nx::Scheme scheme = weight.getScheme().toNumerics();
  return xElement.isF16() && scheme.zeroPoint != nx::ZeroPoint::Min &&
         (scheme.isPerChannel() || scheme.blockSize % kMmaK == 0);
}

void emitMmaQMatmul(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q,
                    PackedScalarReader &reader,
                    const RegisterDecoder &decoder) {
  MmaKernelBuilder(q, reader, decoder).emit(b);
}

} // namespace mlir::lowbit
