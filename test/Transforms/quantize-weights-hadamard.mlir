// lowbit-quantize-weights hadamard-block-size: rotated weights and inputs.
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics \
// RUN:   -lowbit-quantize-pipeline="format=int4 block-size=32 hadamard-block-size=64 int8=keep" \
// RUN:   | FileCheck %s
// RUN: lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="format=int4 block-size=32 hadamard-block-size=64 int8=keep stats" \
// RUN:   -o /dev/null 2>&1 | %sum_counter weights-rotated | FileCheck %s --check-prefix=STATS
// STATS: weights-rotated=4
// RUN: not lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="hadamard-block-size=24" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BAD
// BAD: error: lowbit-quantize-weights: hadamard-block-size must be 0 or a power of two of at least 2, got 24

// Two matmuls on one input share its rotation; the weight matched by int8
// reads the input unrotated.
// CHECK-LABEL: func @shared_input
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>)
//       CHECK: %[[R:.*]] = lowbit.hadamard %[[X]] block 64 : tensor<2x64xf32>
//   CHECK-NOT: lowbit.hadamard
//   CHECK-DAG: lowbit.qmatmul %[[R]], %{{.*}} : (tensor<2x64xf32>, !lowbit.qtensor<16x64xf32, #lowbit.scheme<i4, block = 32, scale = f16>>)
//   CHECK-DAG: lowbit.qmatmul %[[R]], %{{.*}} : (tensor<2x64xf32>, !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32, scale = f16>>)
//   CHECK-DAG: lowbit.qmatmul %[[X]], %{{.*}} : (tensor<2x64xf32>, !lowbit.qtensor<4x64xf32, #lowbit.scheme<i8, per_channel, scale = f32>>)
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
func.func @shared_input(%x: tensor<2x64xf32>) -> (tensor<2x16xf32>, tensor<2x8xf32>, tensor<2x4xf32>) {
  %z = arith.constant 0.0 : f32
  %w1 = arith.constant dense<0.5> : tensor<16x64xf32>
  %w2 = arith.constant dense<-0.25> : tensor<8x64xf32>
  %w3 = arith.constant dense<1.0> : tensor<4x64xf32>
  %e1 = tensor.empty() : tensor<2x16xf32>
  %f1 = linalg.fill ins(%z : f32) outs(%e1 : tensor<2x16xf32>) -> tensor<2x16xf32>
  %y1 = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "a"}
        ins(%x, %w1 : tensor<2x64xf32>, tensor<16x64xf32>)
        outs(%f1 : tensor<2x16xf32>) -> tensor<2x16xf32>
  %e2 = tensor.empty() : tensor<2x8xf32>
  %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %y2 = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "b"}
        ins(%x, %w2 : tensor<2x64xf32>, tensor<8x64xf32>)
        outs(%f2 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %e3 = tensor.empty() : tensor<2x4xf32>
  %f3 = linalg.fill ins(%z : f32) outs(%e3 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %y3 = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "keep"}
        ins(%x, %w3 : tensor<2x64xf32>, tensor<4x64xf32>)
        outs(%f3 : tensor<2x4xf32>) -> tensor<2x4xf32>
  return %y1, %y2, %y3 : tensor<2x16xf32>, tensor<2x8xf32>, tensor<2x4xf32>
}

// -----

// K = 96 is a multiple of the quantization block but not of the rotation (64):
// quantized unrotated, with a remark. A batched f16 input is rotated in
// its own type.
// CHECK-LABEL: func @not_rotated
//   CHECK-NOT: lowbit.hadamard
//       CHECK: lowbit.qmatmul %arg0
// CHECK-LABEL: func @batched_f16
//       CHECK: %[[R:.*]] = lowbit.hadamard %arg0 block 64 : tensor<3x2x64xf16>
//       CHECK: lowbit.qmatmul %[[R]]
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
func.func @not_rotated(%x: tensor<2x96xf32>) -> tensor<2x8xf32> {
  %z = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<8x96xf32>
  %e = tensor.empty() : tensor<2x8xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<2x8xf32>) -> tensor<2x8xf32>
  // expected-remark @+1 {{weight not rotated: K = 96 is not a multiple of hadamard-block-size 64}}
  %y = linalg.matmul indexing_maps = [#mk, #nk, #mn]
       ins(%x, %w : tensor<2x96xf32>, tensor<8x96xf32>)
       outs(%f : tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
func.func @batched_f16(%x: tensor<3x2x64xf16>) -> tensor<3x2x8xf16> {
  %z = arith.constant 0.0 : f16
  %w = arith.constant dense<0.5> : tensor<8x64xf16>
  %wb = tensor.empty() : tensor<3x8x64xf16>
  %wbb = linalg.broadcast ins(%w : tensor<8x64xf16>) outs(%wb : tensor<3x8x64xf16>) dimensions = [0]
  %e = tensor.empty() : tensor<3x2x8xf16>
  %f = linalg.fill ins(%z : f16) outs(%e : tensor<3x2x8xf16>) -> tensor<3x2x8xf16>
  %y = linalg.batch_matmul
       indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>,
                        affine_map<(b, m, n, k) -> (b, n, k)>,
                        affine_map<(b, m, n, k) -> (b, m, n)>]
       ins(%x, %wbb : tensor<3x2x64xf16>, tensor<3x8x64xf16>)
       outs(%f : tensor<3x2x8xf16>) -> tensor<3x2x8xf16>
  return %y : tensor<3x2x8xf16>
}

// -----

// A LoRA branch reads the unrotated input, so it is not fused into the
// rotated weight's qmatmul (which would apply it to x·R): it stays a pair
// of float matmuls added to the result.
// CHECK-LABEL: func @lora_branch_stays
//       CHECK: %[[R:.*]] = lowbit.hadamard %arg0 block 64
//       CHECK: %[[BASE:.*]] = lowbit.qmatmul %[[R]], %{{[^ ]*}} :
//       CHECK: linalg.matmul {{.*}}ins(%arg0, %arg1
//       CHECK: linalg.matmul
//       CHECK: arith.addf %[[BASE]]
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
func.func @lora_branch_stays(%x: tensor<2x64xf32>, %a: tensor<8x64xf32>, %b: tensor<32x8xf32>) -> tensor<2x32xf32> {
  %z = arith.constant 0.0 : f32
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %e = tensor.empty() : tensor<2x32xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<2x32xf32>) -> tensor<2x32xf32>
  %base = linalg.matmul indexing_maps = [#mk, #nk, #mn]
          ins(%x, %w : tensor<2x64xf32>, tensor<32x64xf32>)
          outs(%f : tensor<2x32xf32>) -> tensor<2x32xf32>
  %e1 = tensor.empty() : tensor<2x8xf32>
  %i1 = linalg.fill ins(%z : f32) outs(%e1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xa = linalg.matmul indexing_maps = [#mk, #nk, #mn]
        ins(%x, %a : tensor<2x64xf32>, tensor<8x64xf32>)
        outs(%i1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul indexing_maps = [#mk, #nk, #mn]
         ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
         outs(%f : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = arith.addf %base, %xab : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
