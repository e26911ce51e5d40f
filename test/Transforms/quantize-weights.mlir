// RUN: lowbit-opt %s -split-input-file -verify-diagnostics \
// RUN:   -lowbit-quantize-weights="format=int8 block-size=32" | FileCheck %s
// RUN: lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="format=int8 block-size=32 stats" -o /dev/null 2>&1 \
// RUN:   | %sum_counter weights-quantized | FileCheck %s --check-prefix=STATS
// STATS: weights-quantized=12
// RUN: lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="format=int8 block-size=32 stats" -o /dev/null 2>&1 \
// RUN:   | %sum_counter bytes-before | FileCheck %s --check-prefix=BYTES
// Seven f32 weights and five f16/bf16 ones (2 bytes an element, also when
// widened to f32 on the way to the matmul).
// BYTES: bytes-before=62464

// The filters apply to widened weights as to others: by name, and by size.
// RUN: lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="format=int8 block-size=32 skip=layers.0.q_proj" \
// RUN:   | FileCheck %s --check-prefix=SKIP
// RUN: lowbit-opt %s -split-input-file \
// RUN:   -lowbit-quantize-weights="format=int8 block-size=32 min-size=1025" \
// RUN:   | FileCheck %s --check-prefix=MIN-SIZE

// A plain matmul reads its weight [K, N]; the packed weight is [N, K].
// CHECK-LABEL: func @matmul_kn
//       CHECK: %[[W:.*]] = lowbit.weight inline dense_resource<{{.*}}> : tensor<1088xi8> -> !lowbit.qtensor<16x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %arg0, %[[W]] : (tensor<4x64xf32>, !lowbit.qtensor<16x64xf32, {{.*}}>) -> tensor<4x16xf32>
//       CHECK: return %[[Y]]
func.func @matmul_kn(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.25> : tensor<64x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                     outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A transposed-B matmul reads its weight [N, K] as stored.
// CHECK-LABEL: func @matmul_transpose_b
//       CHECK: lowbit.qmatmul %arg0, %{{.*}} : (tensor<4x64xf32>, !lowbit.qtensor<16x64xf32, {{.*}}>) -> tensor<4x16xf32>
//   CHECK-NOT: linalg.matmul
func.func @matmul_transpose_b(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<-1.5> : tensor<16x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<4x64xf32>, tensor<16x64xf32>)
         outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A batch matmul whose weight is one matrix broadcast over the batch.
// CHECK-LABEL: func @batch_matmul_broadcast
//       CHECK: lowbit.qmatmul %arg0, %{{.*}} : (tensor<3x4x64xf32>, !lowbit.qtensor<16x64xf32, {{.*}}>) -> tensor<3x4x16xf32>
//   CHECK-NOT: linalg.batch_matmul
func.func @batch_matmul_broadcast(%x: tensor<3x4x64xf32>) -> tensor<3x4x16xf32> {
  %w = arith.constant dense<0.5> : tensor<64x16xf32>
  %eb = tensor.empty() : tensor<3x64x16xf32>
  %wb = linalg.broadcast ins(%w : tensor<64x16xf32>) outs(%eb : tensor<3x64x16xf32>) dimensions = [0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x4x16xf32>) -> tensor<3x4x16xf32>
  %y = linalg.batch_matmul ins(%x, %wb : tensor<3x4x64xf32>, tensor<3x64x16xf32>)
                           outs(%init : tensor<3x4x16xf32>) -> tensor<3x4x16xf32>
  return %y : tensor<3x4x16xf32>
}

// -----

// A generic contraction with two leading dimensions and an f16 weight; the
// qtensor stands for f16 values.
// CHECK-LABEL: func @generic_contraction
//       CHECK: lowbit.qmatmul %arg0, %{{.*}} : (tensor<2x3x64xf16>, !lowbit.qtensor<8x64xf16, #lowbit.scheme<i8, block = 32, scale = f16>>) -> tensor<2x3x8xf16>
//   CHECK-NOT: linalg.generic
func.func @generic_contraction(%x: tensor<2x3x64xf16>) -> tensor<2x3x8xf16> {
  %w = arith.constant dense<0.125> : tensor<8x64xf16>
  %zero = arith.constant 0.0 : f16
  %e = tensor.empty() : tensor<2x3x8xf16>
  %init = linalg.fill ins(%zero : f16) outs(%e : tensor<2x3x8xf16>) -> tensor<2x3x8xf16>
  %y = linalg.generic {
      indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>,
                       affine_map<(b, m, n, k) -> (n, k)>,
                       affine_map<(b, m, n, k) -> (b, m, n)>],
      iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<2x3x64xf16>, tensor<8x64xf16>) outs(%init : tensor<2x3x8xf16>) {
  ^bb0(%a: f16, %b: f16, %acc: f16):
    %p = arith.mulf %a, %b : f16
    %s = arith.addf %acc, %p : f16
    linalg.yield %s : f16
  } -> tensor<2x3x8xf16>
  return %y : tensor<2x3x8xf16>
}

// -----

// An accumulator that is not zero is added after the quantized matmul.
// CHECK-LABEL: func @nonzero_init
//  CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>, %[[ACC:.*]]: tensor<4x16xf32>)
//       CHECK: %[[Q:.*]] = lowbit.qmatmul %[[X]]
//       CHECK: %[[Y:.*]] = arith.addf %[[ACC]], %[[Q]] : tensor<4x16xf32>
//       CHECK: return %[[Y]]
func.func @nonzero_init(%x: tensor<4x64xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.25> : tensor<64x16xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                     outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A weight that is not a constant stays a float matmul.
// CHECK-LABEL: func @runtime_weight
//       CHECK: linalg.matmul
//   CHECK-NOT: lowbit.
func.func @runtime_weight(%x: tensor<4x64xf32>, %w: tensor<64x16xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                     outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// K = 48 is not a multiple of the block size: the weight stays float.
// CHECK-LABEL: func @block_does_not_divide_k
//       CHECK: linalg.matmul
func.func @block_does_not_divide_k(%x: tensor<4x48xf32>, %acc: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.25> : tensor<48x16xf32>
  // expected-remark @+1 {{weight not quantized: block size 32 does not divide the reduction dimension 48}}
  %y = linalg.matmul ins(%x, %w : tensor<4x48xf32>, tensor<48x16xf32>)
                     outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// The factors of a LoRA branch added to a matmul of the same input stay in
// float; lowbit-fuse-lora folds them into the quantized matmul later.
// CHECK-LABEL: func @lora_factors_stay_float
//       CHECK: %[[BASE:.*]] = lowbit.qmatmul %arg0
//       CHECK: linalg.matmul
//       CHECK: linalg.matmul
//       CHECK: arith.addf %[[BASE]]
func.func @lora_factors_stay_float(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w = arith.constant dense<0.25> : tensor<32x64xf32>
  %a = arith.constant dense<0.01> : tensor<8x64xf32>
  %b = arith.constant dense<0.02> : tensor<32x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %er = tensor.empty() : tensor<4x8xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%er : tensor<4x8xf32>) -> tensor<4x8xf32>
  %base = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%x, %w : tensor<4x64xf32>, tensor<32x64xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %xa = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%x, %a : tensor<4x64xf32>, tensor<8x64xf32>) outs(%zr : tensor<4x8xf32>) -> tensor<4x8xf32>
  %xab = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%xa, %b : tensor<4x8xf32>, tensor<32x8xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = arith.addf %base, %xab : tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// Several weights in one function, including a 3-D batch of activations.
// CHECK-LABEL: func @two_layers
// CHECK-COUNT-2: lowbit.qmatmul
func.func @two_layers(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w1 = arith.constant dense<0.25> : tensor<64x64xf32>
  %w2 = arith.constant dense<0.5> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4x64xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x64xf32>) -> tensor<4x64xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<4x64xf32>, tensor<64x64xf32>) outs(%z1 : tensor<4x64xf32>) -> tensor<4x64xf32>
  %e2 = tensor.empty() : tensor<4x32xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = linalg.matmul ins(%h, %w2 : tensor<4x64xf32>, tensor<64x32xf32>) outs(%z2 : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// An f16 weight widened to f32 by arith.extf on the tensor (what
// lowbit-import emits for f16 checkpoints) is quantized from its f16
// values; the qtensor stands for f16 values and the activation stays f32.
// CHECK-LABEL: func @extf_f16_weight
//       CHECK: %[[W:.*]] = lowbit.weight inline dense_resource<{{.*}}> : tensor<1088xi8> -> !lowbit.qtensor<16x64xf16, #lowbit.scheme<i8, block = 32, scale = f16>>
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %arg0, %[[W]] : (tensor<4x64xf32>, !lowbit.qtensor<16x64xf16, {{.*}}>) -> tensor<4x16xf32>
//       CHECK: return %[[Y]]
// SKIP-LABEL: func @extf_f16_weight
//       SKIP: linalg.matmul {{.*}}lowbit.name = "layers.0.q_proj"
// SKIP-NOT: lowbit.qmatmul
// MIN-SIZE-LABEL: func @extf_f16_weight
//       MIN-SIZE: linalg.matmul
// MIN-SIZE-NOT: lowbit.qmatmul
func.func @extf_f16_weight(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w16 = arith.constant dense<-1.5> : tensor<16x64xf16>
  %w = arith.extf %w16 : tensor<16x64xf16> to tensor<16x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         {lowbit.name = "layers.0.q_proj"}
         ins(%x, %w : tensor<4x64xf32>, tensor<16x64xf32>)
         outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A bf16 weight [K, N] widened by an elementwise linalg.generic whose body
// is one arith.extf.
// CHECK-LABEL: func @generic_extf_bf16_weight
//       CHECK: lowbit.qmatmul %arg0, %{{.*}} : (tensor<4x64xf32>, !lowbit.qtensor<32x64xbf16, #lowbit.scheme<i8, block = 32, scale = f16>>) -> tensor<4x32xf32>
//   CHECK-NOT: linalg.matmul
// SKIP-LABEL: func @generic_extf_bf16_weight
//       SKIP: lowbit.qmatmul
// MIN-SIZE-LABEL: func @generic_extf_bf16_weight
//       MIN-SIZE: lowbit.qmatmul
func.func @generic_extf_bf16_weight(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w16 = arith.constant dense<0.375> : tensor<64x32xbf16>
  %ew = tensor.empty() : tensor<64x32xf32>
  %w = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%w16 : tensor<64x32xbf16>) outs(%ew : tensor<64x32xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %v = arith.extf %in : bf16 to f32
    linalg.yield %v : f32
  } -> tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf32>, tensor<64x32xf32>)
                     outs(%init : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// The same with linalg.map, in a batch matmul whose weight is the widened
// tensor broadcast over the batch.
// CHECK-LABEL: func @map_extf_broadcast_weight
//       CHECK: lowbit.qmatmul %arg0, %{{.*}} : (tensor<3x4x64xf32>, !lowbit.qtensor<16x64xf16, {{.*}}>) -> tensor<3x4x16xf32>
//   CHECK-NOT: linalg.batch_matmul
func.func @map_extf_broadcast_weight(%x: tensor<3x4x64xf32>) -> tensor<3x4x16xf32> {
  %w16 = arith.constant dense<0.5> : tensor<64x16xf16>
  %ew = tensor.empty() : tensor<64x16xf32>
  %w = linalg.map { arith.extf } ins(%w16 : tensor<64x16xf16>) outs(%ew : tensor<64x16xf32>)
  %eb = tensor.empty() : tensor<3x64x16xf32>
  %wb = linalg.broadcast ins(%w : tensor<64x16xf32>) outs(%eb : tensor<3x64x16xf32>) dimensions = [0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<3x4x16xf32>) -> tensor<3x4x16xf32>
  %y = linalg.batch_matmul ins(%x, %wb : tensor<3x4x64xf32>, tensor<3x64x16xf32>)
                           outs(%init : tensor<3x4x16xf32>) -> tensor<3x4x16xf32>
  return %y : tensor<3x4x16xf32>
}

// -----

// Not an extension: the generic also scales the values, so the weight is
// not a constant and stays float; so does a widened function argument.
// CHECK-LABEL: func @not_an_extension
//       CHECK: linalg.matmul
//       CHECK: linalg.matmul
//   CHECK-NOT: lowbit.
func.func @not_an_extension(%x: tensor<4x64xf32>, %arg: tensor<16x64xf16>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %w16 = arith.constant dense<0.25> : tensor<16x64xf16>
  %ew = tensor.empty() : tensor<16x64xf32>
  %two = arith.constant 2.0 : f32
  %w = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%w16 : tensor<16x64xf16>) outs(%ew : tensor<16x64xf32>) {
  ^bb0(%in: f16, %out: f32):
    %v = arith.extf %in : f16 to f32
    %s = arith.mulf %v, %two : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                      affine_map<(m, n, k) -> (n, k)>,
                                      affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %w : tensor<4x64xf32>, tensor<16x64xf32>)
         outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %wa = arith.extf %arg : tensor<16x64xf16> to tensor<16x64xf32>
  %y2 = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                                       affine_map<(m, n, k) -> (n, k)>,
                                       affine_map<(m, n, k) -> (m, n)>]
         ins(%x, %wa : tensor<4x64xf32>, tensor<16x64xf32>)
         outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y, %y2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// LoRA factors behind an extension stay float like the base's are
// quantized.
// CHECK-LABEL: func @extf_lora_factors_stay_float
//       CHECK: %[[BASE:.*]] = lowbit.qmatmul %arg0, %{{.*}} : (tensor<4x64xf32>, !lowbit.qtensor<32x64xf16, {{.*}}>)
//       CHECK: linalg.matmul
//       CHECK: linalg.matmul
//       CHECK: arith.addf %[[BASE]]
func.func @extf_lora_factors_stay_float(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
  %w16 = arith.constant dense<0.25> : tensor<32x64xf16>
  %a16 = arith.constant dense<0.01> : tensor<8x64xf16>
  %b16 = arith.constant dense<0.02> : tensor<32x8xf16>
  %w = arith.extf %w16 : tensor<32x64xf16> to tensor<32x64xf32>
  %a = arith.extf %a16 : tensor<8x64xf16> to tensor<8x64xf32>
  %b = arith.extf %b16 : tensor<32x8xf16> to tensor<32x8xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %er = tensor.empty() : tensor<4x8xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%er : tensor<4x8xf32>) -> tensor<4x8xf32>
  %base = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%x, %w : tensor<4x64xf32>, tensor<32x64xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %xa = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%x, %a : tensor<4x64xf32>, tensor<8x64xf32>) outs(%zr : tensor<4x8xf32>) -> tensor<4x8xf32>
  %xab = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
            ins(%xa, %b : tensor<4x8xf32>, tensor<32x8xf32>) outs(%z : tensor<4x32xf32>) -> tensor<4x32xf32>
  %y = arith.addf %base, %xab : tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// A weight widened to f64 would need a qmatmul on f64 tensors: it stays
// float, with a remark.
// CHECK-LABEL: func @extf_to_f64
//       CHECK: linalg.matmul
//   CHECK-NOT: lowbit.
func.func @extf_to_f64(%x: tensor<4x64xf64>, %acc: tensor<4x16xf64>) -> tensor<4x16xf64> {
  %w16 = arith.constant dense<0.25> : tensor<64x16xf16>
  %w = arith.extf %w16 : tensor<64x16xf16> to tensor<64x16xf64>
  // expected-remark @+1 {{weight not quantized: the matmul computes in a type other than f32, f16 or bf16}}
  %y = linalg.matmul ins(%x, %w : tensor<4x64xf64>, tensor<64x16xf64>)
                     outs(%acc : tensor<4x16xf64>) -> tensor<4x16xf64>
  return %y : tensor<4x16xf64>
}
