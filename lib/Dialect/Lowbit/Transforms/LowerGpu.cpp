//===- LowerGpu.cpp - Decode-regime GPU kernel form of lowbit.qmatmul -----===//
//
// lowbit.qmatmul with a static batch of 1 to 16 rows becomes a target-
// independent GPU kernel written with upstream ops (docs/CodegenGPU.md):
//
//   scf.forall %tile in (ceil(N / 4))              #gpu.block<x>
//     memref.alloca_scope
//       %partial = memref.alloca : [M, 128] f32    block-level: shared memory
//       scf.forall %t in (128)                     #gpu.thread<x>
//         warp n = tile * 4 + t / 32, lane = t % 32
//         for chunk c = lane; c < K / C; c += 32   16 packed bytes per step
//           bytes = vector.load W[row n, chunk c]  vector<16xi8>
//           w = decode(bytes) * scale ...          vector<C x f32>, bit-exact
//           acc[m] = fma(x[m, c*C + i], w[i], acc[m])   for every m, i
//         %partial[m, t] = acc[m]
//       scf.forall %t in (128)                     #gpu.thread<x>
//         s[m] = gpu.subgroup_reduce add %partial[m, t] cluster(size = 32)
//         lane 0: y[m, n] = s[m] + bias[n] + scale * xa[m, :]·B[n, :]
//
// The kernel form runs on the CPU (foralls become loops; the CPU pipeline
// replaces each subgroup reduction by the sum of the lanes' partials, which
// the previous forall stored) and on NVIDIA GPUs (foralls become a
// gpu.launch, the subgroup reduction warp shuffles).
//
//===----------------------------------------------------------------------===//

#include "GpuDecode.h"
#include "PackedAccess.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <numeric>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERGPU
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// A warp per row of W, four warps per block; a thread reads 16 packed
/// bytes per step (one 128-bit load), the widest load a GPU thread issues.
constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 4;
constexpr int64_t kThreads = kWarpSize * kWarpsPerBlock;
constexpr int64_t kChunkBytes = 16;
/// The decode regime: every row of x is multiplied with each decoded chunk.
constexpr int64_t kMaxBatch = 16;

Value cIdx(ImplicitLocOpBuilder &b, int64_t v) {
  return arith::ConstantIndexOp::create(b, v);
}
Value cF32(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(v));
}
Value toF32(ImplicitLocOpBuilder &b, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, b.getF32Type(), v);
}

/// Largest power of two dividing every value, at most 16.
int64_t commonAlignment(ArrayRef<int64_t> values) {
  int64_t g = kChunkBytes;
  for (int64_t v : values)
    g = std::gcd(g, v);
  return g & -g;
}

Value toBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType()), tensor,
      /*read_only=*/true);
}

/// scf.forall %iv in (count) with `mapping`, body built by `body(iv)`.
void createForall(ImplicitLocOpBuilder &b, int64_t count, Attribute mapping,
                  function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
  scf::ForallOp::create(b, ArrayRef<OpFoldResult>{b.getIndexAttr(count)},
                        ValueRange{}, b.getArrayAttr({mapping}),
                        [&](OpBuilder &nb, Location loc, ValueRange ivs) {
                          ImplicitLocOpBuilder ib(loc, nb);
                          body(ib, ivs[0]);
                          scf::InParallelOp::create(ib);
                        });
}

/// A block of `threads` threads that each compute `m` partial sums and then
/// reduce them across groups of 32 lanes:
///   partial(t) -> m values; finish(t, sums) for the reduced sums.
void emitBlockReduction(
    ImplicitLocOpBuilder &b, int64_t m, int64_t threads,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value)> partial,
    function_ref<void(ImplicitLocOpBuilder &, Value, ArrayRef<Value>)> finish) {
  MLIRContext *ctx = b.getContext();
  auto thread = gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX);
  // Scoped so that a CPU loop over blocks reuses one stack buffer.
  auto scope = memref::AllocaScopeOp::create(b, TypeRange{});
  OpBuilder::InsertionGuard guard(b);
  b.createBlock(&scope.getBodyRegion());
  ImplicitLocOpBuilder &sb = b;
  Value partials = memref::AllocaOp::create(
      sb, MemRefType::get({m, threads}, sb.getF32Type()));
  createForall(sb, threads, thread, [&](ImplicitLocOpBuilder &tb, Value t) {
    SmallVector<Value> values = partial(tb, t);
    for (int64_t i = 0; i < m; ++i)
      memref::StoreOp::create(tb, values[i], partials,
                              ValueRange{cIdx(tb, i), t});
  });
  createForall(sb, threads, thread, [&](ImplicitLocOpBuilder &tb, Value t) {
    SmallVector<Value> sums;
    for (int64_t i = 0; i < m; ++i) {
      Value v =
          memref::LoadOp::create(tb, partials, ValueRange{cIdx(tb, i), t});
      sums.push_back(gpu::SubgroupReduceOp::create(
          tb, v, gpu::AllReduceOperation::ADD, /*uniform=*/false,
          uint32_t(kWarpSize)));
    }
    finish(tb, t, sums);
  });
  memref::AllocaScopeReturnOp::create(sb);
}

struct GpuQMatmulLowering : OpConversionPattern<QMatmulOp> {
  GpuQMatmulLowering(const TypeConverter &converter, MLIRContext *ctx)
      : OpConversionPattern(converter, ctx, /*benefit=*/2) {}

  LogicalResult
  matchAndRewrite(QMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    QTensorType weightType = op.getWeight().getType();
    int64_t n = weightType.getShape()[0], k = weightType.getShape()[1];
    RankedTensorType resultType = op.getType();
    Type resultElement = resultType.getElementType();

    Value x = collapseToMatrix(b, b.getLoc(), op.getInput()); // [M, K]
    int64_t m = cast<RankedTensorType>(x.getType()).getDimSize(0);
    if (ShapedType::isDynamic(m) || m > kMaxBatch)
      return rewriter.notifyMatchFailure(op, "not a decode-regime batch");

    // The kernel form works on buffers: foralls without results, as the GPU
    // mapping expects. Bufferization folds these into the real buffers.
    Value xm = toBuffer(b, x);
    Value wm = toBuffer(b, adaptor.getWeight());
    PackedScalarReader reader(b, b.getLoc(), weightType, adaptor.getWeight(),
                              /*wordReads=*/true);
    RegisterDecoder decoder(weightType);
    Value bias = op.getBias() ? toBuffer(b, op.getBias()) : Value();
    Value loraB = op.hasLora() ? toBuffer(b, op.getLoraB()) : Value();
    int64_t rank =
        op.hasLora() ? op.getLoraA().getType().getShape()[0] : int64_t(0);
    Value y =
        memref::AllocOp::create(b, MemRefType::get({m, n}, resultElement));

    Value xa;
    if (op.hasLora()) {
      xa = memref::AllocOp::create(b,
                                   MemRefType::get({m, rank}, b.getF32Type()));
      emitLoraDown(b, xm, toBuffer(b, op.getLoraA()), xa, m, k, rank);
    }

    auto block =
        gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX);
    int64_t tiles = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
    createForall(b, tiles, block, [&](ImplicitLocOpBuilder &tb, Value tile) {
      // Row of W of thread t, and whether it exists (the last tile may be
      // partial; its idle warps still take part in the block's barriers).
      auto rowOf = [&](ImplicitLocOpBuilder &ib, Value t) {
        Value warp = arith::DivUIOp::create(ib, t, cIdx(ib, kWarpSize));
        Value row = arith::AddIOp::create(
            ib, arith::MulIOp::create(ib, tile, cIdx(ib, kWarpsPerBlock)),
            warp);
        Value valid = arith::CmpIOp::create(ib, arith::CmpIPredicate::ult, row,
                                            cIdx(ib, n));
        return std::make_pair(row, valid);
      };
      emitBlockReduction(
          tb, m, kThreads,
          [&](ImplicitLocOpBuilder &ib, Value t) {
            auto [row, valid] = rowOf(ib, t);
            Value lane = arith::RemUIOp::create(ib, t, cIdx(ib, kWarpSize));
            SmallVector<Type> types(m, ib.getF32Type());
            auto ifOp = scf::IfOp::create(ib, types, valid, /*else=*/true);
            {
              OpBuilder::InsertionGuard guard(ib);
              ib.setInsertionPointToStart(ifOp.thenBlock());
              scf::YieldOp::create(
                  ib, emitRowDots(ib, reader, decoder, wm, xm, m, row, lane));
              ib.setInsertionPointToStart(ifOp.elseBlock());
              scf::YieldOp::create(ib, SmallVector<Value>(m, cF32(ib, 0.0f)));
            }
            return SmallVector<Value>(ifOp.getResults());
          },
          [&](ImplicitLocOpBuilder &ib, Value t, ArrayRef<Value> sums) {
            auto [row, valid] = rowOf(ib, t);
            Value lane = arith::RemUIOp::create(ib, t, cIdx(ib, kWarpSize));
            Value first = arith::CmpIOp::create(ib, arith::CmpIPredicate::eq,
                                                lane, cIdx(ib, 0));
            auto ifOp = scf::IfOp::create(
                ib, TypeRange{}, arith::AndIOp::create(ib, valid, first),
                /*else=*/false);
            OpBuilder::InsertionGuard guard(ib);
            ib.setInsertionPointToStart(ifOp.thenBlock());
            for (int64_t i = 0; i < m; ++i) {
              Value total = sums[i];
              if (bias)
                total = arith::AddFOp::create(
                    ib, total,
                    toF32(ib,
                          memref::LoadOp::create(ib, bias, ValueRange{row})));
              if (xa) {
                Value lora = cF32(ib, 0.0f);
                for (int64_t j = 0; j < rank; ++j)
                  lora = math::FmaOp::create(
                      ib,
                      memref::LoadOp::create(
                          ib, xa, ValueRange{cIdx(ib, i), cIdx(ib, j)}),
                      toF32(ib, memref::LoadOp::create(
                                    ib, loraB, ValueRange{row, cIdx(ib, j)})),
                      lora);
                total = arith::AddFOp::create(
                    ib, total,
                    arith::MulFOp::create(
                        ib, cF32(ib, float(op.getLoraScaleValue())), lora));
              }
              if (resultElement != ib.getF32Type())
                total = arith::TruncFOp::create(ib, resultElement, total);
              memref::StoreOp::create(ib, total, y,
                                      ValueRange{cIdx(ib, i), row});
            }
          });
    });

    Value result = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({m, n}, resultElement), y, b.getUnitAttr(),
        b.getUnitAttr());
    rewriter.replaceOp(op, restoreBatchDims(b, b.getLoc(), result,
                                            op.getInput(), resultType, n));
    return success();
  }

private:
  /// xa = x·Aᵀ [M, r] in f32: one block of one warp per row of A, lanes
  /// striding over K.
  static void emitLoraDown(ImplicitLocOpBuilder &b, Value xm, Value a, Value xa,
                           int64_t m, int64_t k, int64_t rank) {
    auto block =
        gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX);
    createForall(b, rank, block, [&](ImplicitLocOpBuilder &tb, Value j) {
      emitBlockReduction(
          tb, m, kWarpSize,
          [&](ImplicitLocOpBuilder &ib, Value t) {
            auto loop = scf::ForOp::create(
                ib, t, cIdx(ib, k), cIdx(ib, kWarpSize),
                SmallVector<Value>(m, cF32(ib, 0.0f)),
                [&](OpBuilder &nb, Location loc, Value col, ValueRange accs) {
                  ImplicitLocOpBuilder lb(loc, nb);
                  Value av = toF32(
                      lb, memref::LoadOp::create(lb, a, ValueRange{j, col}));
                  SmallVector<Value> next;
                  for (int64_t i = 0; i < m; ++i)
                    next.push_back(math::FmaOp::create(
                        lb,
                        toF32(lb, memref::LoadOp::create(
                                      lb, xm, ValueRange{cIdx(lb, i), col})),
                        av, accs[i]));
                  scf::YieldOp::create(lb, next);
                });
            return SmallVector<Value>(loop.getResults());
          },
          [&](ImplicitLocOpBuilder &ib, Value t, ArrayRef<Value> sums) {
            Value first = arith::CmpIOp::create(ib, arith::CmpIPredicate::eq, t,
                                                cIdx(ib, 0));
            auto ifOp = scf::IfOp::create(ib, TypeRange{}, first, false);
            OpBuilder::InsertionGuard guard(ib);
            ib.setInsertionPointToStart(ifOp.thenBlock());
            for (int64_t i = 0; i < m; ++i)
              memref::StoreOp::create(ib, sums[i], xa,
                                      ValueRange{cIdx(ib, i), j});
          });
    });
  }

  /// Lane `lane`'s share of Σ_k x[i, k] · W[row, k] for every row i of x:
  /// chunks lane, lane + 32, ... of the row's codes, each decoded once.
  static SmallVector<Value> emitRowDots(ImplicitLocOpBuilder &b,
                                        PackedScalarReader &reader,
                                        const RegisterDecoder &decoder,
                                        Value wm, Value xm, int64_t m,
                                        Value row, Value lane) {
    const nx::Scheme &scheme = reader.getScheme();
    const nx::PackedLayout &layout = reader.getLayout();
    int64_t bits = decoder.getBits();
    int64_t k = layout.k;
    int64_t blockSize = k / layout.blocksPerRow;
    // Codes per step: 16 bytes' worth (12 bytes, 32 codes, for 3-bit codes
    // so that a step ends on a byte). A step lies inside one block: blocks
    // smaller than a step, or not a multiple of it, shrink the step to
    // their common divisor; a per-channel row keeps full steps and a tail.
    int64_t codes = bits == 3 ? 32 : kChunkBytes * 8 / bits;
    bool perChannel = layout.blocksPerRow == 1;
    if (!perChannel)
      codes = std::gcd(codes, blockSize);
    int64_t full = k / codes, tail = perChannel ? k % codes : 0;
    int64_t stepBytes = codes * bits / 8;
    int64_t align = commonAlignment(
        {int64_t(layout.codes.offset), int64_t(layout.rowBytes), stepBytes});
    Value rowBase = arith::AddIOp::create(
        b, cIdx(b, layout.codes.offset),
        arith::MulIOp::create(b, row, cIdx(b, layout.rowBytes)));

    auto step = [&](ImplicitLocOpBuilder &ib, Value chunk, int64_t count,
                    int64_t alignment, ValueRange accs) {
      Value col = arith::MulIOp::create(ib, chunk, cIdx(ib, codes));
      Value offset = arith::AddIOp::create(
          ib, rowBase, arith::MulIOp::create(ib, chunk, cIdx(ib, stepBytes)));
      Value raw = vector::LoadOp::create(
          ib, VectorType::get({decoder.bytesFor(count)}, ib.getI8Type()), wm,
          ValueRange{offset}, /*nontemporal=*/false,
          llvm::MaybeAlign(alignment));
      Value values = decoder.codeValues(ib, raw, count);
      Value blockIndex =
          perChannel
              ? row
              : arith::AddIOp::create(
                    ib,
                    arith::MulIOp::create(ib, row,
                                          cIdx(ib, layout.blocksPerRow)),
                    arith::DivUIOp::create(ib, col, cIdx(ib, blockSize)));
      Value scale = reader.loadBlockScale(ib, blockIndex);
      Value zero;
      if (scheme.zeroPoint == nx::ZeroPoint::Int)
        zero = reader.loadIntZeroPoint(ib, blockIndex);
      else if (scheme.zeroPoint == nx::ZeroPoint::Min)
        zero = reader.loadMinZeroPoint(ib, blockIndex);
      // A chunk lies in one block, so its scale can multiply the chunk's
      // dot product instead of every weight (one FMUL per chunk, not per
      // element): s·Σ x·(q − z). Decoded weights stay exact (one-hot rows
      // of x give q·s); only the rounding of the sum changes, within the
      // f32-accumulation bound. A min offset (q·s + m) would need Σ x too:
      // those scale per element.
      bool scaleAfter = scheme.zeroPoint != nx::ZeroPoint::Min;
      Value w = values;
      if (!scaleAfter)
        w = decoder.applyScale(ib, values, scale, zero);
      else if (scheme.zeroPoint == nx::ZeroPoint::Int)
        w = arith::SubFOp::create(
            ib, values,
            vector::BroadcastOp::create(ib, values.getType(), zero));
      Type xElement = cast<MemRefType>(xm.getType()).getElementType();
      // Rows of x start K elements apart and chunks `codes` elements
      // apart: with the buffer itself 16-byte aligned (the runtime's
      // device allocations are), the loads are 128-bit, not one per
      // element.
      int64_t xBytes = xElement.getIntOrFloatBitWidth() / 8;
      int64_t xAlign = commonAlignment({k * xBytes, codes * xBytes});
      SmallVector<Value> next(accs);
      for (int64_t i = 0; i < m; ++i) {
        Value xv = vector::LoadOp::create(
            ib, VectorType::get({count}, xElement), xm,
            ValueRange{cIdx(ib, i), col}, /*nontemporal=*/false,
            llvm::MaybeAlign(xAlign));
        if (!xElement.isF32())
          xv = arith::ExtFOp::create(
              ib, VectorType::get({count}, ib.getF32Type()), xv);
        Value sum = scaleAfter ? cF32(ib, 0.0f) : next[i];
        for (int64_t e = 0; e < count; ++e)
          sum = math::FmaOp::create(
              ib, vector::ExtractOp::create(ib, xv, ArrayRef<int64_t>{e}),
              vector::ExtractOp::create(ib, w, ArrayRef<int64_t>{e}), sum);
        next[i] =
            scaleAfter ? math::FmaOp::create(ib, scale, sum, next[i]) : sum;
      }
      return next;
    };

    SmallVector<Value> accs(m, cF32(b, 0.0f));
    auto loop = scf::ForOp::create(
        b, lane, cIdx(b, full), cIdx(b, kWarpSize), accs,
        [&](OpBuilder &nb, Location loc, Value chunk, ValueRange args) {
          ImplicitLocOpBuilder lb(loc, nb);
          scf::YieldOp::create(lb, step(lb, chunk, codes, align, args));
        });
    SmallVector<Value> result(loop.getResults());
    if (tail) {
      // The short last chunk of a per-channel row, on the lane whose turn
      // it is.
      Value mine = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane,
                                         cIdx(b, full % kWarpSize));
      auto ifOp = scf::IfOp::create(b, SmallVector<Type>(m, b.getF32Type()),
                                    mine, /*else=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      scf::YieldOp::create(b, step(b, cIdx(b, full), tail,
                                   commonAlignment({align, full * stepBytes}),
                                   result));
      b.setInsertionPointToStart(ifOp.elseBlock());
      scf::YieldOp::create(b, result);
      b.setInsertionPointAfter(ifOp);
      result.assign(ifOp.getResults().begin(), ifOp.getResults().end());
    }
    return result;
  }
};

struct LowerGpuPass : mlir::lowbit::impl::LowbitLowerGpuBase<LowerGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    WalkResult checked = module.walk([&](QMatmulOp op) {
      auto x = op.getInput().getType();
      int64_t m = 1;
      for (int64_t i = 0; i + 1 < x.getRank(); ++i) {
        if (x.isDynamicDim(i)) {
          op.emitOpError("lowbit-lower-gpu: a dynamic batch is not supported "
                         "yet; the decode-regime kernel needs a static batch "
                         "of 1 to ")
              << kMaxBatch << " rows";
          return WalkResult::interrupt();
        }
        m *= x.getDimSize(i);
      }
      if (m > kMaxBatch) {
        op.emitOpError("lowbit-lower-gpu: batch ")
            << m << " is not supported yet; the decode-regime kernel handles "
            << "1 to " << kMaxBatch
            << " rows (a tensor-core prefill kernel is future work)";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (checked.wasInterrupted() ||
        failed(checkPackedBytesKnown(module, "lowbit-lower-gpu")))
      return signalPassFailure();
    PackedBytesTypeConverter converter;
    RewritePatternSet patterns(&getContext());
    populateReferenceLoweringPatterns(converter, patterns);
    patterns.add<GpuQMatmulLowering>(converter, &getContext());
    if (failed(
            applyPackedBytesConversion(module, converter, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
