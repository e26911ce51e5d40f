//===- GpuKernelSupport.cpp - Builders shared by the GPU kernels ----------===//

#include "GpuKernelSupport.h"
#include "CpuKernelSupport.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>
#include <numeric>

using namespace mlir;

namespace mlir::lowbit {

/// Rows of x that one block of the LoRA down-projection handles.
constexpr int64_t kLoraRowTile = 16;

Value gpuF32(ImplicitLocOpBuilder &b, float v) {
  return arith::ConstantFloatOp::create(b, b.getF32Type(), APFloat(v));
}

int64_t gpuCommonAlignment(ArrayRef<int64_t> values) {
  int64_t g = 16;
  for (int64_t v : values)
    g = std::gcd(g, v);
  return g & -g;
}

Value firstTileRow(ImplicitLocOpBuilder &b, Value id, int64_t colTiles,
                   int64_t rows, int64_t rowTiles) {
  if (rowTiles == 1)
    return cIdx(b, 0);
  return mulIdx(b, arith::DivUIOp::create(b, id, cIdx(b, colTiles)), rows);
}

Value gpuToBuffer(ImplicitLocOpBuilder &b, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  return bufferization::ToBufferOp::create(
      b, MemRefType::get(type.getShape(), type.getElementType()), tensor,
      /*read_only=*/true);
}

void createGpuForall(ImplicitLocOpBuilder &b, int64_t count, Attribute mapping,
                     function_ref<void(ImplicitLocOpBuilder &, Value)> body) {
  scf::ForallOp::create(b, ArrayRef<OpFoldResult>{b.getIndexAttr(count)},
                        ValueRange{}, b.getArrayAttr({mapping}),
                        [&](OpBuilder &nb, Location loc, ValueRange ivs) {
                          ImplicitLocOpBuilder ib(loc, nb);
                          body(ib, ivs[0]);
                          scf::InParallelOp::create(ib);
                        });
}

void createBlockScope(ImplicitLocOpBuilder &b,
                      function_ref<void(ImplicitLocOpBuilder &)> body) {
  auto scope = memref::AllocaScopeOp::create(b, TypeRange{});
  OpBuilder::InsertionGuard guard(b);
  b.createBlock(&scope.getBodyRegion());
  body(b);
  memref::AllocaScopeReturnOp::create(b);
}

Value clampRow(ImplicitLocOpBuilder &b, Value row, int64_t count) {
  return arith::MinUIOp::create(b, row, cIdx(b, count - 1));
}

void emitIfThen(ImplicitLocOpBuilder &b, Value cond,
                function_ref<void(ImplicitLocOpBuilder &)> body) {
  auto ifOp = scf::IfOp::create(b, TypeRange{}, cond, /*else=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  body(b);
}

void forEachTileRow(
    ImplicitLocOpBuilder &b, int64_t rows, Value firstRow, int64_t m,
    function_ref<void(ImplicitLocOpBuilder &, Value, int64_t)> body) {
  for (int64_t i = 0; i < rows; ++i) {
    Value row = addIdx(b, firstRow, cIdx(b, i));
    if (m % rows == 0) {
      body(b, row, i);
      continue;
    }
    emitIfThen(
        b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, row, cIdx(b, m)),
        [&](ImplicitLocOpBuilder &ib) { body(ib, row, i); });
  }
}

void storeGpuOutput(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q, Value i,
                    Value row, Value sum) {
  Value total = sum;
  if (q.bias)
    total = arith::AddFOp::create(
        b, total, toF32(b, memref::LoadOp::create(b, q.bias, ValueRange{row})));
  if (q.xa) {
    Value lora = gpuF32(b, 0.0f);
    for (int64_t j = 0; j < q.rank; ++j)
      lora = math::FmaOp::create(
          b, memref::LoadOp::create(b, q.xa, ValueRange{i, cIdx(b, j)}),
          toF32(b, memref::LoadOp::create(b, q.loraB,
                                          ValueRange{row, cIdx(b, j)})),
          lora);
    total = arith::AddFOp::create(
        b, total,
        arith::MulFOp::create(b, gpuF32(b, float(q.loraScale)), lora));
  }
  Type element = cast<MemRefType>(q.y.getType()).getElementType();
  if (element != b.getF32Type())
    total = arith::TruncFOp::create(b, element, total);
  memref::StoreOp::create(b, total, q.y, ValueRange{i, row});
}

void emitWarpSums(
    ImplicitLocOpBuilder &b, int64_t m, int64_t threads,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value)> partial,
    function_ref<void(ImplicitLocOpBuilder &, Value, ArrayRef<Value>)> finish) {
  auto thread =
      gpu::GPUThreadMappingAttr::get(b.getContext(), gpu::MappingId::DimX);
  createBlockScope(b, [&](ImplicitLocOpBuilder &sb) {
    Value partials = memref::AllocaOp::create(
        sb, MemRefType::get({m, threads}, sb.getF32Type()));
    createGpuForall(sb, threads, thread,
                    [&](ImplicitLocOpBuilder &tb, Value t) {
                      SmallVector<Value> values = partial(tb, t);
                      for (int64_t i = 0; i < m; ++i)
                        memref::StoreOp::create(tb, values[i], partials,
                                                ValueRange{cIdx(tb, i), t});
                    });
    createGpuForall(sb, threads, thread,
                    [&](ImplicitLocOpBuilder &tb, Value t) {
                      SmallVector<Value> sums;
                      for (int64_t i = 0; i < m; ++i) {
                        Value v = memref::LoadOp::create(
                            tb, partials, ValueRange{cIdx(tb, i), t});
                        sums.push_back(gpu::SubgroupReduceOp::create(
                            tb, v, gpu::AllReduceOperation::ADD,
                            /*uniform=*/false, uint32_t(kGpuWarpSize)));
                      }
                      finish(tb, t, sums);
                    });
  });
}

void emitGpuLoraDown(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q,
                     Value loraA) {
  int64_t rows = std::min(q.m, kLoraRowTile);
  int64_t rowTiles = (q.m + rows - 1) / rows;
  auto block =
      gpu::GPUBlockMappingAttr::get(b.getContext(), gpu::MappingId::DimX);
  createGpuForall(
      b, q.rank * rowTiles, block, [&](ImplicitLocOpBuilder &tb, Value id) {
        Value j = arith::RemUIOp::create(tb, id, cIdx(tb, q.rank));
        Value first = firstTileRow(tb, id, q.rank, rows, rowTiles);
        SmallVector<Value> xRows;
        for (int64_t i = 0; i < rows; ++i)
          xRows.push_back(clampRow(tb, addIdx(tb, first, cIdx(tb, i)), q.m));
        emitWarpSums(
            tb, rows, kGpuWarpSize,
            [&](ImplicitLocOpBuilder &ib, Value t) {
              auto loop = scf::ForOp::create(
                  ib, t, cIdx(ib, q.k), cIdx(ib, kGpuWarpSize),
                  SmallVector<Value>(rows, gpuF32(ib, 0.0f)),
                  [&](OpBuilder &nb, Location loc, Value col, ValueRange accs) {
                    ImplicitLocOpBuilder lb(loc, nb);
                    Value av = toF32(lb, memref::LoadOp::create(
                                             lb, loraA, ValueRange{j, col}));
                    SmallVector<Value> next;
                    for (int64_t i = 0; i < rows; ++i)
                      next.push_back(math::FmaOp::create(
                          lb,
                          toF32(lb, memref::LoadOp::create(
                                        lb, q.x, ValueRange{xRows[i], col})),
                          av, accs[i]));
                    scf::YieldOp::create(lb, next);
                  });
              return SmallVector<Value>(loop.getResults());
            },
            [&](ImplicitLocOpBuilder &ib, Value t, ArrayRef<Value> sums) {
              Value lead = arith::CmpIOp::create(ib, arith::CmpIPredicate::eq,
                                                 t, cIdx(ib, 0));
              emitIfThen(ib, lead, [&](ImplicitLocOpBuilder &lb) {
                forEachTileRow(
                    lb, rows, first, q.m,
                    [&](ImplicitLocOpBuilder &sb, Value row, int64_t i) {
                      memref::StoreOp::create(sb, sums[i], q.xa,
                                              ValueRange{row, j});
                    });
              });
            });
      });
}

} // namespace mlir::lowbit
