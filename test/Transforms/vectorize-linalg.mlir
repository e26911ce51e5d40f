// RUN: lowbit-opt %s -split-input-file -lowbit-vectorize-linalg -cse | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -lowbit-vectorize-linalg=stats -o /dev/null 2>&1 | FileCheck %s --check-prefix=STATS
// RUN: lowbit-opt %s -split-input-file -lowbit-cpu-pipeline | FileCheck %s --check-prefix=LLVM
// RUN: lowbit-opt %s -split-input-file -lowbit-cpu-pipeline=vectorize-linalg=0 | FileCheck %s --check-prefix=SCALAR

// Numerics: the same program through the CPU pipeline with and without the
// pass and through the reference pipeline prints the same numbers (exact
// inputs; see the Inputs file).
// RUN: lowbit-opt %S/Inputs/vectorize-linalg-run.mlir -lowbit-cpu-pipeline \
// RUN:   | %mlir_runner | FileCheck %s --check-prefix=EXEC
// RUN: lowbit-opt %S/Inputs/vectorize-linalg-run.mlir -lowbit-cpu-pipeline=vectorize-linalg=0 \
// RUN:   | %mlir_runner | FileCheck %s --check-prefix=EXEC
// RUN: lowbit-opt %S/Inputs/vectorize-linalg-run.mlir -lowbit-reference-pipeline \
// RUN:   | %mlir_runner | FileCheck %s --check-prefix=EXEC

// EXEC:      sizes = [16, 3]
// EXEC-NEXT: [20, -612.5, 316.5],
// EXEC-NEXT: [182, 272.5, -688.5],
// EXEC-NEXT: [-601, -543.5, 385.5],
// EXEC-NEXT: [-61, 19.5, 444.5],
// EXEC-NEXT: [-88, 211.5, -497.5],
// EXEC-NEXT: [326, -422.5, 191.5],
// EXEC-NEXT: [173, 777.5, -120.5],
// EXEC:      sizes = [4, 4, 4]
// EXEC-NEXT: [72, 66, -3, -135],
// EXEC-NEXT: [0, 63, 63, 0],
// EXEC-NEXT: [-135, -3, 66, 72],
// EXEC-NEXT: [129, -125, -1, 60]],
// EXEC-NEXT: [59, 63, 4, -132],
// EXEC:      [63, 59, 6, -124],
// EXEC-NEXT: [0, 65, 60, -1],
// EXEC-NEXT: [-126, -6, 72, 66],
// EXEC-NEXT: [126, -126, 0, 63]]]
// EXEC:      sizes = [4, 4]
// EXEC-NEXT: [72, 63, 72, 129],
// EXEC-NEXT: [63, 63, 65, 132],
// EXEC-NEXT: [63, 72, 65, 124],
// EXEC-NEXT: [63, 65, 72, 126]]
// EXEC:      sizes = [4, 4]
// EXEC-NEXT: [-288, -126, -288, -453],
// EXEC-NEXT: [-258, -120, -263, -456],
// EXEC-NEXT: [-252, -159, -261, -431],
// EXEC-NEXT: [-248, -136, -282, -441]]
// EXEC:      sizes = [4, 8]
// EXEC-NEXT: [0.554603, 1.4337, 1, 0.678477, 1.69731, 1.20187, 0.826214, 0.554603],
// EXEC-NEXT: [1, 0.678477, 1.69731, 1.20187, 0.826214, 0.554603, 1.4337, 1],
// EXEC-NEXT: [1.69731, 1.20187, 0.826214, 0.554603, 1.4337, 1, 0.678477, 1.69731],
// EXEC-NEXT: [0.826214, 0.554603, 1.4337, 1, 0.678477, 1.69731, 1.20187, 0.826214]]
// EXEC:      sizes = [64]
// EXEC-NEXT: [-3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3, 0, 3, -1, 2, -2, 1, -3]

// A float matmul becomes register blocks of 8 rows x 32 columns: the 8
// accumulator rows (vector<32xf32>) are iter_args of the K loop, which
// steps by 4; per K step, one row of B is read as a vector and each element
// of A is broadcast into an FMA. No loop nest of scalars is left.
// CHECK-LABEL: func @matmul
//   CHECK-NOT:   linalg.matmul
//       CHECK:   scf.for %[[M:[a-z0-9]+]] = %{{.*}} to %{{.*}} step %c8
//       CHECK:     scf.for %[[N:[a-z0-9]+]] = %{{.*}} to %{{.*}} step %c32
//       CHECK:       scf.for %[[K:[a-z0-9]+]] = %{{.*}} to %{{.*}} step %c4 iter_args({{.*}}) -> (vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>)
//       CHECK:         vector.transfer_read %{{.*}}[%[[M]], %[[K]]]{{.*}} : tensor<16x64xf32>, vector<4xf32>
//       CHECK:         %[[B:.*]] = vector.transfer_read %{{.*}}[%[[K]], %[[N]]]{{.*}} : tensor<64x64xf32>, vector<32xf32>
//       CHECK:         %[[A:.*]] = vector.extract %{{.*}}[0] : f32 from vector<4xf32>
//       CHECK:         %[[AA:.*]] = vector.broadcast %[[A]] : f32 to vector<32xf32>
//       CHECK:         vector.fma %[[AA]], %[[B]], %{{.*}} : vector<32xf32>
//   CHECK-NOT:         scf.for
//       CHECK:         scf.yield {{.*}} : vector<32xf32>, vector<32xf32>
//   CHECK-COUNT-8:   vector.transfer_write {{.*}} : vector<32xf32>, tensor<16x64xf32>

// LLVM-LABEL: llvm.func @matmul
//       LLVM:   llvm.intr.fmuladd({{.*}}) : (vector<32xf32>, vector<32xf32>, vector<32xf32>) -> vector<32xf32>
// SCALAR-LABEL: llvm.func @matmul
//   SCALAR-NOT:   vector<
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=1 ops-vectorized=1 ops-left=0 nd-vector-ops=0
func.func @matmul(%a: tensor<16x64xf32>, %b: tensor<64x64xf32>) -> tensor<16x64xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<16x64xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<16x64xf32>) -> tensor<16x64xf32>
  %r = linalg.matmul ins(%a, %b : tensor<16x64xf32>, tensor<64x64xf32>) outs(%f : tensor<16x64xf32>) -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// lowbit-import's linear layers read a [N, K] weight (transposed-B maps). A
// constant weight is transposed at compile time, so that a row of B along
// N is one vector load.
// CHECK-LABEL: func @linear_const
//       CHECK:   %[[WT:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00, 7.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
//   CHECK-NOT:   linalg.
//       CHECK:   vector.transfer_read %[[WT]][%c0, %c0]{{.*}} : tensor<2x4xf32>, vector<4xf32>
//       CHECK:   vector.fma {{.*}} : vector<4xf32>
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=1 ops-vectorized=1 ops-left=0
func.func @linear_const(%x: tensor<8x2xf32>) -> tensor<8x4xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]> : tensor<4x2xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %r = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
     ins(%x, %w : tensor<8x2xf32>, tensor<4x2xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

// -----

// Attention's scores: a batch matmul with transposed B whose B is computed
// at run time. B is transposed by a vectorized linalg.transpose (16 x 8
// tiles transposed in registers), then the batch matmul runs in blocks of
// 8 x 8 (40 has no larger divisor that is a multiple of 8).
// CHECK-LABEL: func @scores
//   CHECK-NOT:   linalg.
//       CHECK:   %[[BT:.*]] = scf.for {{.*}} -> (tensor<24x32x40xf32>)
//       CHECK:   scf.for {{.*}} -> (tensor<24x40x40xf32>)
//       CHECK:     scf.for {{.*}} step %c8
//       CHECK:       scf.for {{.*}} step %c8
//       CHECK:         scf.for {{.*}} step %c4 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
//       CHECK:           vector.transfer_read %[[BT]]{{.*}} : tensor<24x32x40xf32>, vector<8xf32>
//       CHECK:           vector.fma {{.*}} : vector<8xf32>
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=1 ops-vectorized=1 ops-left=0
func.func @scores(%q: tensor<24x40x32xf32>, %k: tensor<24x40x32xf32>, %init: tensor<24x40x40xf32>) -> tensor<24x40x40xf32> {
  %r = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
     ins(%q, %k : tensor<24x40x32xf32>, tensor<24x40x32xf32>) outs(%init : tensor<24x40x40xf32>) -> tensor<24x40x40xf32>
  return %r : tensor<24x40x40xf32>
}

// -----

// Softmax's row maximum: one vector.reduction per row.
// CHECK-LABEL: func @row_max
//   CHECK-NOT:   linalg.
//       CHECK:   scf.for
//       CHECK:     %[[ROW:.*]] = vector.transfer_read {{.*}} : tensor<4x40xf32>, vector<40xf32>
//       CHECK:     vector.reduction <maximumf>, %[[ROW]], %{{.*}} : vector<40xf32> into f32
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=0 ops-vectorized=1 ops-left=0
func.func @row_max(%x: tensor<4x40xf32>, %init: tensor<4xf32>) -> tensor<4xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<4x40xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// GELU: vectors of 64 (4 x vector-width); math.erf has no LLVM intrinsic,
// so each lane calls it as a scalar (libm's erff, as the scalar loops do).
// CHECK-LABEL: func @gelu
//   CHECK-NOT:   linalg.
//       CHECK:   scf.for
//       CHECK:     scf.for {{.*}} step %c64
//       CHECK:       %[[X:.*]] = vector.transfer_read {{.*}} : tensor<8x128xf32>, vector<64xf32>
//       CHECK:       %[[S:.*]] = arith.mulf %[[X]], %{{.*}} : vector<64xf32>
//       CHECK:       %[[E:.*]]:64 = vector.to_elements %[[S]] : vector<64xf32>
//       CHECK:       math.erf %[[E]]#0 : f32
//       CHECK:       math.erf %[[E]]#63 : f32
//       CHECK:       vector.from_elements {{.*}} : vector<64xf32>
//       CHECK:       vector.transfer_write {{.*}} : vector<64xf32>, tensor<8x128xf32>
// LLVM-LABEL: llvm.func @gelu
//       LLVM:   llvm.call @erff({{.*}}) : (f32) -> f32
func.func @gelu(%x: tensor<8x128xf32>) -> tensor<8x128xf32> {
  %e = tensor.empty() : tensor<8x128xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x128xf32>) outs(%e : tensor<8x128xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = arith.constant 0.707106769 : f32
    %h = arith.constant 0.5 : f32
    %one = arith.constant 1.0 : f32
    %s = arith.mulf %a, %c : f32
    %er = math.erf %s : f32
    %p = arith.addf %er, %one : f32
    %ha = arith.mulf %a, %h : f32
    %g = arith.mulf %ha, %p : f32
    linalg.yield %g : f32
  } -> tensor<8x128xf32>
  return %r : tensor<8x128xf32>
}

// -----

// Mean pooling sums over the sequence, which is not the contiguous
// dimension of x: vectors run along the hidden dimension and the sequence
// is a loop whose accumulator row stays in a register.
// CHECK-LABEL: func @pool
//       CHECK:   scf.for %[[B:[a-z0-9]+]] = {{.*}} -> (tensor<2x64xf32>)
//       CHECK:     %[[INIT:.*]] = vector.transfer_read {{.*}} : tensor<2x64xf32>, vector<64xf32>
//       CHECK:     %[[SUM:.*]] = scf.for %[[S:[a-z0-9]+]] = {{.*}} iter_args(%[[ACC:.*]] = %[[INIT]]) -> (vector<64xf32>)
//       CHECK:       %[[X:.*]] = vector.transfer_read %{{.*}}[%[[B]], %[[S]], %c0]{{.*}} : tensor<2x12x64xf32>, vector<64xf32>
//       CHECK:       %[[NEW:.*]] = arith.addf %[[ACC]], %[[X]] : vector<64xf32>
//       CHECK:       scf.yield %[[NEW]] : vector<64xf32>
//       CHECK:     vector.transfer_write %[[SUM]], {{.*}} : vector<64xf32>, tensor<2x64xf32>
func.func @pool(%x: tensor<2x12x64xf32>, %init: tensor<2x64xf32>) -> tensor<2x64xf32> {
  %r = linalg.generic {indexing_maps = [affine_map<(b, h, s) -> (b, s, h)>, affine_map<(b, h, s) -> (b, h)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : tensor<2x12x64xf32>) outs(%init : tensor<2x64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<2x64xf32>
  return %r : tensor<2x64xf32>
}

// -----

// Left alone (and lowered to scalar loops by the pipeline): the embedding
// gather (tensor.extract in the body), dynamic shapes, integer results.
// CHECK-LABEL: func @gather
//       CHECK:   linalg.generic
//       CHECK:     tensor.extract
// CHECK-LABEL: func @dynamic
//       CHECK:   linalg.matmul
// CHECK-LABEL: func @integer
//       CHECK:   linalg.generic
//       CHECK:     arith.addi {{.*}} : i32
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=0 ops-vectorized=0 ops-left=3
func.func @gather(%ids: tensor<2x8xi64>, %table: tensor<100x32xf32>) -> tensor<2x8x32xf32> {
  %e = tensor.empty() : tensor<2x8x32xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(b, s, h) -> (b, s)>, affine_map<(b, s, h) -> (b, s, h)>], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids : tensor<2x8xi64>) outs(%e : tensor<2x8x32xf32>) {
  ^bb0(%id: i64, %o: f32):
    %row = arith.index_cast %id : i64 to index
    %col = linalg.index 2 : index
    %v = tensor.extract %table[%row, %col] : tensor<100x32xf32>
    linalg.yield %v : f32
  } -> tensor<2x8x32xf32>
  return %r : tensor<2x8x32xf32>
}
func.func @dynamic(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>, %c: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x64xf32>, tensor<64x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}
func.func @integer(%a: tensor<8x64xi32>, %b: tensor<8x64xi32>) -> tensor<8x64xi32> {
  %r = arith.addi %a, %b : tensor<8x64xi32>
  return %r : tensor<8x64xi32>
}

// -----

// A transpose whose tiles would be a single column (19 is prime) stays a
// linalg op for the scalar loops: its vector form would be a gather.
// CHECK-LABEL: func @transpose_prime
//       CHECK:   linalg.transpose
// STATS: remark: lowbit-vectorize-linalg: contractions-vectorized=0 ops-vectorized=0 ops-left=1 nd-vector-ops=0
func.func @transpose_prime(%a: tensor<19x128xf32>) -> tensor<128x19xf32> {
  %e = tensor.empty() : tensor<128x19xf32>
  %t = linalg.transpose ins(%a : tensor<19x128xf32>) outs(%e : tensor<128x19xf32>) permutation = [1, 0]
  return %t : tensor<128x19xf32>
}
