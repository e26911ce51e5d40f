// RUN: lowbit-opt %s | FileCheck %s
// Round trip through the generic form, too.
// RUN: lowbit-opt %s -mlir-print-op-generic | lowbit-opt | FileCheck %s

// Every element format, block form, scale type, zero point and double
// quantization variant of #lowbit.scheme, carried by !lowbit.qtensor.

// CHECK-LABEL: func @schemes
func.func @schemes(
    // CHECK-SAME: #lowbit.scheme<i8, per_channel, scale = f32>
    %i8: !lowbit.qtensor<16x64xf32, #lowbit.scheme<i8, per_channel>>,
    // CHECK-SAME: #lowbit.scheme<i4, block = 32, scale = f16>
    %i4: !lowbit.qtensor<16x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>,
    // CHECK-SAME: #lowbit.scheme<i3, block = 64, scale = bf16>
    %i3: !lowbit.qtensor<16x64xbf16, #lowbit.scheme<i3, block = 64, scale = bf16>>,
    // CHECK-SAME: #lowbit.scheme<i2, block = 16, scale = f32>
    %i2: !lowbit.qtensor<16x64xf32, #lowbit.scheme<i2, block = 16, scale = f32>>,
    // CHECK-SAME: #lowbit.scheme<u8, block = 64, scale = f32, zero_point = int>
    %u8: !lowbit.qtensor<16x64xf32, #lowbit.scheme<u8, block = 64, zero_point = int>>,
    // CHECK-SAME: #lowbit.scheme<u4, block = 128, scale = f16, zero_point = int>
    %u4: !lowbit.qtensor<16x128xf16, #lowbit.scheme<u4, block = 128, scale = f16, zero_point = int>>,
    // CHECK-SAME: #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>
    %q41: !lowbit.qtensor<16x64xf16, #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>>,
    // CHECK-SAME: #lowbit.scheme<u3, block = 64, scale = f16, zero_point = int>
    %u3: !lowbit.qtensor<16x64xf16, #lowbit.scheme<u3, block = 64, zero_point = int, scale = f16>>,
    // CHECK-SAME: #lowbit.scheme<u2, per_channel, scale = f16, zero_point = int>
    %u2: !lowbit.qtensor<16x64xf16, #lowbit.scheme<u2, per_channel, scale = f16, zero_point = int>>,
    // CHECK-SAME: #lowbit.scheme<nf4, block = 64, scale = f32>
    %nf4: !lowbit.qtensor<16x64xbf16, #lowbit.scheme<nf4, block = 64>>,
    // CHECK-SAME: #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>
    %nf4dq: !lowbit.qtensor<16x64xbf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>,
    // CHECK-SAME: #lowbit.scheme<nf4, block = 64, scale = f32, dq = <i8, block = 256>>
    %nf4dqi8: !lowbit.qtensor<16x64xf16, #lowbit.scheme<nf4, block = 64, dq = <i8>>>,
    // CHECK-SAME: #lowbit.scheme<fp4, block = 32, scale = bf16, dq = <fp8, block = 128>>
    %fp4: !lowbit.qtensor<16x64xf16, #lowbit.scheme<fp4, block = 32, scale = bf16, dq = <fp8, block = 128>>>,
    // CHECK-SAME: #lowbit.scheme<fp8, block = 128, scale = f32>
    %fp8: !lowbit.qtensor<16x128xf16, #lowbit.scheme<fp8, block = 128, scale = f32>>,
    // CHECK-SAME: #lowbit.scheme<lut<[-1.0, -0.6961928, -0.52507305, -0.3949175, -0.28444138, -0.18477343, -0.091050036, 0.0, 0.0795803, 0.1609302, 0.2461123, 0.33791524, 0.44070983, 0.562617, 0.72295684, 1.0]>, block = 64, scale = f16>
    %lut: !lowbit.qtensor<16x64xf16, #lowbit.scheme<lut<[-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]>, block = 64, scale = f16>>,
    // CHECK-SAME: #lowbit.scheme<lut<[-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 1.0e+01]>, block = 32, scale = f32>
    %lut2: !lowbit.qtensor<2x3x64xf32, #lowbit.scheme<lut<[-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0]>, block = 32>>) {
  return
}

// A scheme can be named by an alias.
#nf4dq = #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>
!w = !lowbit.qtensor<32x64xf16, #nf4dq>

// CHECK-LABEL: func @weights
func.func @weights() -> (!w, !w, !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>) {
  // CHECK: lowbit.weight external "layers.0.mlp" in "model.safetensors" : !lowbit.qtensor<32x64xf16
  %a = lowbit.weight external "layers.0.mlp" in "model.safetensors" : !w
  // CHECK: lowbit.weight external "layers.1.mlp" in "b.safetensors" {note = "kept"} : !lowbit.qtensor<32x64xf16
  %b = lowbit.weight external "layers.1.mlp" in "b.safetensors" {note = "kept"} : !w
  // 2 rows x 16 bytes of codes, then 2 rows x 1 f32 scale at offset 64.
  // CHECK: lowbit.weight inline dense_resource<blob1> : tensor<72xi8> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f32>>
  %c = lowbit.weight inline dense_resource<blob1> : tensor<72xi8>
         -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return %a, %b, %c : !w, !w, !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
}

// CHECK-LABEL: func @quantize_dequantize
func.func @quantize_dequantize(%x: tensor<4x128xbf16>) -> tensor<4x128xbf16> {
  // CHECK: lowbit.quantize %{{.*}} : tensor<4x128xbf16> -> !lowbit.qtensor<4x128xbf16
  %q = lowbit.quantize %x : tensor<4x128xbf16> -> !lowbit.qtensor<4x128xbf16, #lowbit.scheme<u4, block = 128, scale = bf16, zero_point = int>>
  // CHECK: lowbit.dequantize %{{.*}} : !lowbit.qtensor<4x128xbf16, {{.*}}> -> tensor<4x128xbf16>
  %d = lowbit.dequantize %q : !lowbit.qtensor<4x128xbf16, #lowbit.scheme<u4, block = 128, scale = bf16, zero_point = int>> -> tensor<4x128xbf16>
  return %d : tensor<4x128xbf16>
}

// CHECK-LABEL: func @qmatmul
func.func @qmatmul(%x: tensor<2x7x64xf16>, %x1: tensor<64xf32>, %xd: tensor<?x64xbf16>,
                   %w: !w, %bias: tensor<32xf16>,
                   %a: tensor<8x64xf16>, %b: tensor<32x8xf16>) {
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : (tensor<2x7x64xf16>, !lowbit.qtensor<32x64xf16, {{.*}}>) -> tensor<2x7x32xf16>
  %0 = lowbit.qmatmul %x, %w : (tensor<2x7x64xf16>, !w) -> tensor<2x7x32xf16>
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} bias(%{{.*}}) : (tensor<2x7x64xf16>, !lowbit.qtensor<32x64xf16, {{.*}}>, tensor<32xf16>) -> tensor<2x7x32xf16>
  %1 = lowbit.qmatmul %x, %w bias(%bias) : (tensor<2x7x64xf16>, !w, tensor<32xf16>) -> tensor<2x7x32xf16>
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} bias(%{{.*}}) lora(%{{.*}}, %{{.*}}) scale 2.000000e+00 :
  %2 = lowbit.qmatmul %x, %w bias(%bias) lora(%a, %b) scale 2.0
         : (tensor<2x7x64xf16>, !w, tensor<32xf16>, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<2x7x32xf16>
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} lora(%{{.*}}, %{{.*}}) : (tensor<2x7x64xf16>
  %3 = lowbit.qmatmul %x, %w lora(%a, %b)
         : (tensor<2x7x64xf16>, !w, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<2x7x32xf16>
  // Rank-1 input (a single vector) and f32 activations against an f16 weight.
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : (tensor<64xf32>, {{.*}}) -> tensor<32xf32>
  %4 = lowbit.qmatmul %x1, %w : (tensor<64xf32>, !w) -> tensor<32xf32>
  // Dynamic batch dimension.
  // CHECK: lowbit.qmatmul %{{.*}}, %{{.*}} : (tensor<?x64xbf16>, {{.*}}) -> tensor<?x32xbf16>
  %5 = lowbit.qmatmul %xd, %w : (tensor<?x64xbf16>, !w) -> tensor<?x32xbf16>
  return
}

// A Hadamard rotation of any float tensor whose last dimension the block
// divides.
// CHECK-LABEL: func @hadamard
//       CHECK: lowbit.hadamard %{{.*}} block 128 : tensor<2x3x384xf32>
//       CHECK: lowbit.hadamard %{{.*}} block 2 : tensor<?x64xbf16>
//       CHECK: lowbit.hadamard %{{.*}} block 64 : tensor<64xf16>
func.func @hadamard(%a: tensor<2x3x384xf32>, %b: tensor<?x64xbf16>, %c: tensor<64xf16>) {
  %0 = lowbit.hadamard %a block 128 : tensor<2x3x384xf32>
  %1 = lowbit.hadamard %b block 2 : tensor<?x64xbf16>
  %2 = lowbit.hadamard %c block 64 : tensor<64xf16>
  return
}

// CHECK-LABEL: module attributes {lowbit.weights_file = "weights.safetensors"}
module attributes {lowbit.weights_file = "weights.safetensors"} {
  // CHECK: lowbit.weight external "emb" :
  func.func @default_file() -> !w {
    %a = lowbit.weight external "emb" : !w
    return %a : !w
  }
}

{-#
  dialect_resources: {
    builtin: {
      blob1: "0x04000000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F00000000000000000000000000000000000000000000000000000000000000000000003F0000803F"
    }
  }
#-}
