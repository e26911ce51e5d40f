// RUN: lowbit-opt %s -canonicalize -cse -split-input-file | FileCheck %s

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>

// A LoRA branch scaled by zero is dropped.
// CHECK-LABEL: func @zero_scaled_lora
// CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<3x64xf16>, !lowbit.qtensor<{{.*}}>, tensor<32xf16>) -> tensor<3x32xf16>
// CHECK-NOT: lora
func.func @zero_scaled_lora(%x: tensor<3x64xf16>, %w: !w, %bias: tensor<32xf16>,
                            %a: tensor<8x64xf16>, %b: tensor<32x8xf16>) -> tensor<3x32xf16> {
  %y = lowbit.qmatmul %x, %w bias(%bias) lora(%a, %b) scale 0.0
         : (tensor<3x64xf16>, !w, tensor<32xf16>, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<3x32xf16>
  return %y : tensor<3x32xf16>
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>

// A non-zero scale (and the default scale of 1) keeps the branch.
// CHECK-LABEL: func @nonzero_lora
// CHECK: lora(%{{.*}}, %{{.*}}) scale 5.000000e-01
// CHECK: lora(%{{.*}}, %{{.*}}) :
func.func @nonzero_lora(%x: tensor<3x64xf16>, %w: !w, %a: tensor<8x64xf16>,
                        %b: tensor<32x8xf16>) -> (tensor<3x32xf16>, tensor<3x32xf16>) {
  %y = lowbit.qmatmul %x, %w lora(%a, %b) scale 0.5
         : (tensor<3x64xf16>, !w, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<3x32xf16>
  %z = lowbit.qmatmul %x, %w lora(%a, %b)
         : (tensor<3x64xf16>, !w, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<3x32xf16>
  return %y, %z : tensor<3x32xf16>, tensor<3x32xf16>
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>

// Identical weights and matmuls are pure and common-subexpression eliminated;
// unused ones disappear.
// CHECK-LABEL: func @pure_ops
// CHECK-COUNT-1: = lowbit.weight
// CHECK-COUNT-1: = lowbit.qmatmul
// CHECK-NOT: = lowbit.
func.func @pure_ops(%x: tensor<3x64xf16>) -> (tensor<3x32xf16>, tensor<3x32xf16>) {
  %w0 = lowbit.weight external "w" in "f.safetensors" : !w
  %w1 = lowbit.weight external "w" in "f.safetensors" : !w
  %unused = lowbit.weight external "v" in "f.safetensors" : !w
  %y0 = lowbit.qmatmul %x, %w0 : (tensor<3x64xf16>, !w) -> tensor<3x32xf16>
  %y1 = lowbit.qmatmul %x, %w1 : (tensor<3x64xf16>, !w) -> tensor<3x32xf16>
  return %y0, %y1 : tensor<3x32xf16>, tensor<3x32xf16>
}

// -----

// R·R = I: two rotations with the same blocks fold away; different blocks
// do not.
// CHECK-LABEL: func @hadamard_twice
//  CHECK-SAME: (%[[X:.*]]: tensor<4x64xf32>)
//       CHECK: %[[A:.*]] = lowbit.hadamard %[[X]] block 16
//       CHECK: %[[B:.*]] = lowbit.hadamard %[[A]] block 32
//       CHECK: return %[[X]], %[[B]]
func.func @hadamard_twice(%x: tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<4x64xf32>) {
  %a = lowbit.hadamard %x block 16 : tensor<4x64xf32>
  %b = lowbit.hadamard %a block 16 : tensor<4x64xf32>
  %c = lowbit.hadamard %a block 32 : tensor<4x64xf32>
  return %b, %c : tensor<4x64xf32>, tensor<4x64xf32>
}
