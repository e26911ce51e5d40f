//===- LowerGpu.cpp - GPU kernel forms of lowbit.qmatmul ------------------===//
//
// lowbit.qmatmul with a static batch becomes a target-independent GPU
// kernel written with upstream ops (docs/CodegenGPU.md). Batches of more
// than 16 rows with f16 activations take the tensor-core kernel
// (GpuMmaKernel.h); every other batch this decode kernel, in tiles of up to
// 16 rows of x:
//
//   scf.forall %tile in (ceil(N / 4) * row tiles)  #gpu.block<x>
//     memref.alloca_scope
//       %partial = memref.alloca : [R, 128] f32    block-level: shared memory
//       scf.forall %t in (128)                     #gpu.thread<x>
//         warp n = tile * 4 + t / 32, lane = t % 32
//         for chunk c = lane; c < K / C; c += 32   16 packed bytes per step
//           bytes = vector.load W[row n, chunk c]  vector<16xi8>
//           w = decode(bytes) * scale ...          vector<C x f32>, bit-exact
//           acc[m] = fma(x[m, c*C + i], w[i], acc[m])   for the tile's rows
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

#include "CpuKernelSupport.h"
#include "GpuDecode.h"
#include "GpuKernelSupport.h"
#include "GpuMmaKernel.h"
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
constexpr int64_t kWarpsPerBlock = 4;
constexpr int64_t kThreads = kGpuWarpSize * kWarpsPerBlock;
constexpr int64_t kChunkBytes = 16;
/// Rows of x per block of the decode kernel: each decoded chunk of W is
/// multiplied with all of them. Larger batches take several row tiles or,
/// with f16 activations, the tensor-core kernel.
constexpr int64_t kRowTile = 16;

struct GpuQMatmulLowering : OpConversionPattern<QMatmulOp> {
  GpuQMatmulLowering(const TypeConverter &converter, MLIRContext *ctx)
      : OpConversionPattern(converter, ctx, /*benefit=*/2) {}

  LogicalResult
  matchAndRewrite(QMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    QTensorType weightType = op.getWeight().getType();
    RankedTensorType resultType = op.getType();
    Type resultElement = resultType.getElementType();

    Value x = collapseToMatrix(b, b.getLoc(), op.getInput()); // [M, K]
    GpuMatmulBuffers q;
    q.m = cast<RankedTensorType>(x.getType()).getDimSize(0);
    q.n = weightType.getShape()[0];
    q.k = weightType.getShape()[1];
    if (ShapedType::isDynamic(q.m))
      return rewriter.notifyMatchFailure(op, "dynamic batch");

    // The kernel form works on buffers: foralls without results, as the GPU
    // mapping expects. Bufferization folds these into the real buffers.
    q.x = gpuToBuffer(b, x);
    q.weight = gpuToBuffer(b, adaptor.getWeight());
    PackedScalarReader reader(b, b.getLoc(), weightType, adaptor.getWeight(),
                              /*wordReads=*/true);
    RegisterDecoder decoder(weightType);
    q.bias = op.getBias() ? gpuToBuffer(b, op.getBias()) : Value();
    q.y =
        memref::AllocOp::create(b, MemRefType::get({q.m, q.n}, resultElement));
    if (op.hasLora()) {
      q.rank = op.getLoraA().getType().getShape()[0];
      q.loraB = gpuToBuffer(b, op.getLoraB());
      q.loraScale = op.getLoraScaleValue();
      q.xa = memref::AllocOp::create(
          b, MemRefType::get({q.m, q.rank}, b.getF32Type()));
      emitGpuLoraDown(b, q, gpuToBuffer(b, op.getLoraA()));
    }

    Type xElement = cast<RankedTensorType>(x.getType()).getElementType();
    if (q.m > kRowTile && useMmaKernel(weightType, xElement))
      emitMmaQMatmul(b, q, reader, decoder);
    else
      emitDecodeKernel(b, q, reader, decoder);

    Value result = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({q.m, q.n}, resultElement), q.y,
        b.getUnitAttr(), b.getUnitAttr());
    rewriter.replaceOp(op, restoreBatchDims(b, b.getLoc(), result,
                                            op.getInput(), resultType, q.n));
    return success();
  }

private:
  /// The SIMT kernel: blocks of 4 warps, a warp per row of W and all rows of
  /// a tile of up to 16 rows of x, lanes striding over the row's chunks.
  static void emitDecodeKernel(ImplicitLocOpBuilder &b,
                               const GpuMatmulBuffers &q,
                               PackedScalarReader &reader,
                               const RegisterDecoder &decoder) {
    int64_t rows = std::min(q.m, kRowTile);
    int64_t rowTiles = (q.m + rows - 1) / rows;
    int64_t colTiles = (q.n + kWarpsPerBlock - 1) / kWarpsPerBlock;
    auto block =
        gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX);
    createGpuForall(
        b, colTiles * rowTiles, block, [&](ImplicitLocOpBuilder &tb, Value id) {
          Value tile = arith::RemUIOp::create(tb, id, cIdx(tb, colTiles));
          Value firstRow = firstTileRow(tb, id, colTiles, rows, rowTiles);
          SmallVector<Value> xRows;
          for (int64_t i = 0; i < rows; ++i)
            xRows.push_back(
                clampRow(tb, addIdx(tb, firstRow, cIdx(tb, i)), q.m));
          // Row of W of thread t, and whether it exists (the last tile may
          // be partial; its idle warps still take part in the barriers).
          auto rowOf = [&](ImplicitLocOpBuilder &ib, Value t) {
            Value warp = arith::DivUIOp::create(ib, t, cIdx(ib, kGpuWarpSize));
            Value row = addIdx(ib, mulIdx(ib, tile, kWarpsPerBlock), warp);
            Value valid = arith::CmpIOp::create(ib, arith::CmpIPredicate::ult,
                                                row, cIdx(ib, q.n));
            return std::make_pair(row, valid);
          };
          emitWarpSums(
              tb, rows, kThreads,
              [&](ImplicitLocOpBuilder &ib, Value t) {
                auto [row, valid] = rowOf(ib, t);
                Value lane =
                    arith::RemUIOp::create(ib, t, cIdx(ib, kGpuWarpSize));
                SmallVector<Type> types(rows, ib.getF32Type());
                auto ifOp = scf::IfOp::create(ib, types, valid, /*else=*/true);
                OpBuilder::InsertionGuard guard(ib);
                ib.setInsertionPointToStart(ifOp.thenBlock());
                scf::YieldOp::create(ib,
                                     emitRowDots(ib, reader, decoder, q.weight,
                                                 q.x, xRows, row, lane));
                ib.setInsertionPointToStart(ifOp.elseBlock());
                scf::YieldOp::create(
                    ib, SmallVector<Value>(rows, gpuF32(ib, 0.0f)));
                return SmallVector<Value>(ifOp.getResults());
              },
              [&](ImplicitLocOpBuilder &ib, Value t, ArrayRef<Value> sums) {
                auto [row, valid] = rowOf(ib, t);
                Value lane =
                    arith::RemUIOp::create(ib, t, cIdx(ib, kGpuWarpSize));
                Value first = arith::CmpIOp::create(
                    ib, arith::CmpIPredicate::eq, lane, cIdx(ib, 0));
                emitIfThen(ib, arith::AndIOp::create(ib, valid, first),
                           [&](ImplicitLocOpBuilder &lb) {
                             forEachTileRow(lb, rows, firstRow, q.m,
                                            [&](ImplicitLocOpBuilder &sb,
                                                Value xRow, int64_t i) {
                                              storeGpuOutput(sb, q, xRow, row,
                                                             sums[i]);
                                            });
                           });
              });
        });
  }

  /// Lane `lane`'s share of Σ_k x[i, k] · W[row, k] for every row i of x:
  /// chunks lane, lane + 32, ... of the row's codes, each decoded once.
  static SmallVector<Value>
  emitRowDots(ImplicitLocOpBuilder &b, PackedScalarReader &reader,
              const RegisterDecoder &decoder, Value wm, Value xm,
              ArrayRef<Value> xRows, Value row, Value lane) {
    int64_t m = xRows.size();
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
    int64_t align = gpuCommonAlignment(
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
      int64_t xAlign = gpuCommonAlignment({k * xBytes, codes * xBytes});
      SmallVector<Value> next(accs);
      for (int64_t i = 0; i < m; ++i) {
        Value xv = vector::LoadOp::create(
            ib, VectorType::get({count}, xElement), xm,
            ValueRange{xRows[i], col}, /*nontemporal=*/false,
            llvm::MaybeAlign(xAlign));
        if (!xElement.isF32())
          xv = arith::ExtFOp::create(
              ib, VectorType::get({count}, ib.getF32Type()), xv);
        Value sum = scaleAfter ? gpuF32(ib, 0.0f) : next[i];
        for (int64_t e = 0; e < count; ++e)
          sum = math::FmaOp::create(
              ib, vector::ExtractOp::create(ib, xv, ArrayRef<int64_t>{e}),
              vector::ExtractOp::create(ib, w, ArrayRef<int64_t>{e}), sum);
        next[i] =
            scaleAfter ? math::FmaOp::create(ib, scale, sum, next[i]) : sum;
      }
      return next;
    };

    SmallVector<Value> accs(m, gpuF32(b, 0.0f));
    auto loop = scf::ForOp::create(
        b, lane, cIdx(b, full), cIdx(b, kGpuWarpSize), accs,
        [&](OpBuilder &nb, Location loc, Value chunk, ValueRange args) {
          ImplicitLocOpBuilder lb(loc, nb);
          scf::YieldOp::create(lb, step(lb, chunk, codes, align, args));
        });
    SmallVector<Value> result(loop.getResults());
    if (tail) {
      // The short last chunk of a per-channel row, on the lane whose turn
      // it is.
      Value mine = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane,
                                         cIdx(b, full % kGpuWarpSize));
      auto ifOp = scf::IfOp::create(b, SmallVector<Type>(m, b.getF32Type()),
                                    mine, /*else=*/true);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      scf::YieldOp::create(
          b, step(b, cIdx(b, full), tail,
                  gpuCommonAlignment({align, full * stepBytes}), result));
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
      for (int64_t i = 0; i + 1 < x.getRank(); ++i) {
        if (x.isDynamicDim(i)) {
          op.emitOpError("lowbit-lower-gpu: a dynamic batch is not supported "
                         "yet; the GPU kernels need a static number of rows");
          return WalkResult::interrupt();
        }
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
