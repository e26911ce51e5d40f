// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-decompose | FileCheck %s

!w = !lowbit.qtensor<16x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>

// A quantized argument becomes its packed bytes; qmatmul becomes a decode
// generic (shift, mask, table lookup, scale) and f32 matmuls.
// CHECK-LABEL: func @qmatmul
//  CHECK-SAME: (%[[X:.*]]: tensor<2x3x64xf16>, %[[W:.*]]: tensor<576xi8>, %[[B:.*]]: tensor<16xf16>) -> tensor<2x3x16xf16>
//   CHECK-DAG: %[[TABLE:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00, {{.*}}, 7.000000e+00, -8.000000e+00, {{.*}}, -1.000000e+00]> : tensor<16xf32>
//       CHECK: %[[DEQ:.*]] = linalg.generic
//       CHECK:   tensor.extract %[[W]]
//       CHECK:   arith.shrui
//       CHECK:   arith.andi
//       CHECK:   tensor.extract %[[TABLE]]
//       CHECK:   arith.bitcast {{.*}} : i16 to f16
//       CHECK:   arith.mulf
//       CHECK: } -> tensor<16x64xf32>
//       CHECK: %[[XF:.*]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]]
//       CHECK: arith.extf
//       CHECK: linalg.matmul
//       CHECK: arith.addf
//       CHECK: arith.truncf
//       CHECK: tensor.expand_shape
//   CHECK-NOT: lowbit.
func.func @qmatmul(%x: tensor<2x3x64xf16>, %w: !w, %b: tensor<16xf16>) -> tensor<2x3x16xf16> {
  %y = lowbit.qmatmul %x, %w bias(%b) : (tensor<2x3x64xf16>, !w, tensor<16xf16>) -> tensor<2x3x16xf16>
  return %y : tensor<2x3x16xf16>
}

// -----

// LoRA: x·Aᵀ and its ·Bᵀ in f32, scaled, added.
// CHECK-LABEL: func @lora
//       CHECK: linalg.matmul
//       CHECK: linalg.matmul
//       CHECK: linalg.matmul
//       CHECK: arith.constant 5.000000e-01 : f32
//       CHECK: arith.mulf
//       CHECK: arith.addf
!w = !lowbit.qtensor<16x64xf32, #lowbit.scheme<nf4, block = 64, scale = f32, dq = <dyn8, block = 256>>>
func.func @lora(%x: tensor<64xf32>, %w: !w, %a: tensor<4x64xf32>, %b: tensor<16x4xf32>) -> tensor<16xf32> {
  %y = lowbit.qmatmul %x, %w lora(%a, %b) scale 0.5 : (tensor<64xf32>, !w, tensor<4x64xf32>, tensor<16x4xf32>) -> tensor<16xf32>
  return %y : tensor<16xf32>
}

// -----

// 3-bit codes straddle bytes: two bytes are read and combined.
// CHECK-LABEL: func @int3_zero_point
//       CHECK: linalg.generic
//       CHECK:   arith.minui
//       CHECK:   arith.shli
//       CHECK:   arith.ori
//       CHECK:   arith.uitofp
//       CHECK:   arith.subf
//       CHECK:   arith.mulf
!w = !lowbit.qtensor<8x64xbf16, #lowbit.scheme<u3, block = 64, scale = bf16, zero_point = int>>
func.func @int3_zero_point(%q: !w) -> tensor<8x64xbf16> {
  %d = lowbit.dequantize %q : !w -> tensor<8x64xbf16>
  return %d : tensor<8x64xbf16>
}

// -----

// Inline weights become byte constants; a constant quantized by
// lowbit.quantize is packed at compile time by the numerics core.
// CHECK-LABEL: func @constants
//       CHECK: arith.constant dense<0> : tensor<1088xi8>
//       CHECK: arith.constant dense<"0x{{[0-9A-F]+}}"> : tensor<1088xi8>
//   CHECK-NOT: lowbit.
!w = !lowbit.qtensor<16x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
func.func @constants() -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %w = lowbit.weight inline dense<0> : tensor<1088xi8> -> !w
  %c = arith.constant dense<1.5> : tensor<16x64xf32>
  %q = lowbit.quantize %c : tensor<16x64xf32> -> !w
  %a = lowbit.dequantize %w : !w -> tensor<16x64xf32>
  %b = lowbit.dequantize %q : !w -> tensor<16x64xf32>
  return %a, %b : tensor<16x64xf32>, tensor<16x64xf32>
}

// -----

!w = !lowbit.qtensor<16x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
func.func @external() -> tensor<16x64xf32> {
  // expected-error @+1 {{'lowbit.weight' op external weights cannot be decomposed: their bytes are only known at run time}}
  %w = lowbit.weight external "w" in "model.safetensors" : !w
  %d = lowbit.dequantize %w : !w -> tensor<16x64xf32>
  return %d : tensor<16x64xf32>
}

// -----

// A run-time tensor is quantized by IR: block statistics, scales, codes,
// bit packing, and the bytes inserted at the layout's section offsets.
// CHECK-LABEL: func @runtime_quantize
//  CHECK-SAME: (%[[X:.*]]: tensor<16x64xf32>) -> tensor<1088xi8>
//       CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
//       CHECK:   math.absf
//       CHECK: math.roundeven
//       CHECK: tensor.insert_slice {{.*}}[0] [1024] [1]
//       CHECK: tensor.insert_slice {{.*}}[1024] [64] [1]
//   CHECK-NOT: lowbit.
!w = !lowbit.qtensor<16x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
func.func @runtime_quantize(%x: tensor<16x64xf32>) -> !w {
  %q = lowbit.quantize %x : tensor<16x64xf32> -> !w
  return %q : !w
}

// -----

// A Hadamard rotation becomes one elementwise linalg.generic per butterfly
// stage, in f32, on views that put each pair at indices 0 and 1; the last
// stage scales by 1/sqrt(block) and rounds to the element type.
// CHECK-LABEL: func @hadamard
//       CHECK: %[[M:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<2x3x8xf16> into tensor<6x8xf16>
//       CHECK: %[[V1:.*]] = tensor.expand_shape %[[M]] {{\[}}[0], [1, 2, 3]] output_shape [6, 4, 2, 1]
//       CHECK: linalg.generic {indexing_maps = [#[[LO:.*]], #[[HI:.*]], #{{.*}}]
//  CHECK-SAME: ins(%[[V1]], %[[V1]] : tensor<6x4x2x1xf16>, tensor<6x4x2x1xf16>) outs({{.*}} : tensor<6x4x2x1xf32>)
//       CHECK:   arith.extf
//       CHECK:   arith.addf
//       CHECK:   arith.subf
//       CHECK:   linalg.index 2
//       CHECK:   arith.select
//   CHECK-NOT:   arith.mulf
//       CHECK: output_shape [6, 2, 2, 2]
//       CHECK: linalg.generic
//       CHECK: output_shape [6, 1, 2, 4]
//       CHECK: linalg.generic
//       CHECK:   arith.select
//       CHECK:   arith.mulf %{{.*}}, %{{.*}} : f32
//       CHECK:   arith.truncf %{{.*}} : f32 to f16
//       CHECK: tensor.expand_shape {{.*}} output_shape [2, 3, 8] : tensor<6x8xf16> into tensor<2x3x8xf16>
func.func @hadamard(%x: tensor<2x3x8xf16>) -> tensor<2x3x8xf16> {
  %y = lowbit.hadamard %x block 8 : tensor<2x3x8xf16>
  return %y : tensor<2x3x8xf16>
}
