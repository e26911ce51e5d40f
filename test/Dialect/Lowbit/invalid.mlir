// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{unknown element format 'int5'; expected i8, i4, i3, i2, u8, u4, u3, u2, nf4, fp4, fp8 or lut<[...]>}}
func.func @unknown_format(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<int5, block = 32>>)

// -----

// expected-error @+1 {{block size 32 does not divide the reduction dimension 48}}
func.func @block_not_dividing_k(%w: !lowbit.qtensor<4x48xf16, #lowbit.scheme<i4, block = 32>>)

// -----

// expected-error @+1 {{lut codebook of a 4-bit code must have 16 entries, got 3}}
func.func @lut_size(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<lut<[-1.0, 0.0, 1.0]>, block = 32>>)

// -----

// expected-error @+1 {{zero point given for symmetric format 'i4'; use the unsigned format u4 for asymmetric quantization}}
func.func @zero_point_on_symmetric(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 32, zero_point = int>>)

// -----

// expected-error @+1 {{unsigned format 'u4' requires a zero point (int or min)}}
func.func @unsigned_without_zero_point(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<u4, block = 32>>)

// -----

// expected-error @+1 {{scale type must be f32, f16 or bf16, got 'f64'}}
func.func @bad_scale_type(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 32, scale = f64>>)

// -----

// expected-error @+1 {{scale type must be f32, f16 or bf16, got 'i32'}}
func.func @integer_scale_type(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 32, scale = i32>>)

// -----

// expected-error @+1 {{block size 12 of 3-bit codes does not end on a byte boundary; use a multiple of 8}}
func.func @block_not_byte_aligned(%w: !lowbit.qtensor<4x48xf16, #lowbit.scheme<i3, block = 12>>)

// -----

// expected-error @+1 {{block size must be positive (write per_channel for one scale per row), got 0}}
func.func @zero_block(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 0>>)

// -----

// expected-error @+1 {{double quantization block size must be positive, got -4}}
func.func @bad_dq_block(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<nf4, block = 64, dq = <i8, block = -4>>>)

// -----

// expected-error @+1 {{unknown double quantization format 'i4'; expected i8, fp8 or dyn8}}
func.func @bad_dq_format(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<nf4, block = 64, dq = <i4>>>)

// -----

// expected-error @+1 {{double quantization of scales is not supported with a 'min' zero point}}
func.func @dq_with_min(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<u4, block = 32, zero_point = min, dq = <i8>>>)

// -----

// expected-error @+1 {{lookup table values must be finite}}
func.func @lut_not_finite(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<lut<[0x7FF8000000000000, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]>, block = 32>>)

// -----

// expected-error @+1 {{lookup table must have a non-zero value}}
func.func @lut_all_zero(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<lut<[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]>, block = 32>>)

// -----

// expected-error @+1 {{unknown scheme parameter 'group'; expected scale, zero_point or dq}}
func.func @unknown_key(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 32, group = 4>>)

// -----

// expected-error @+1 {{'scale' given more than once}}
func.func @duplicate_key(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i4, block = 32, scale = f16, scale = f32>>)

// -----

// expected-error @+1 {{unknown zero point kind 'float'; expected int or min}}
func.func @bad_zero_point(%w: !lowbit.qtensor<4x64xf16, #lowbit.scheme<u4, block = 32, zero_point = float>>)

// -----

// expected-error @+1 {{quantized tensor must stand for f32, f16 or bf16 values, got 'i32'}}
func.func @integer_element_type(%w: !lowbit.qtensor<4x64xi32, #lowbit.scheme<i4, block = 32>>)

// -----

// expected-error @+1 {{quantized tensor must stand for f32, f16 or bf16 values, got 'f64'}}
func.func @f64_element_type(%w: !lowbit.qtensor<4x64xf64, #lowbit.scheme<i4, block = 32>>)

// -----

// expected-error @+1 {{expected static shape}}
func.func @dynamic_dim(%w: !lowbit.qtensor<?x64xf16, #lowbit.scheme<i4, block = 32>>)

// -----

// expected-error @+1 {{quantized tensor dimensions must be static and positive, got 0}}
func.func @zero_dim(%w: !lowbit.qtensor<0x64xf16, #lowbit.scheme<i4, block = 32>>)

// -----

// expected-error @+1 {{expected a #lowbit.scheme, got 64 : i64}}
func.func @not_a_scheme(%w: !lowbit.qtensor<4x64xf16, 64>)

// -----

// expected-error @+1 {{quantized tensor has too many elements}}
func.func @overflow(%w: !lowbit.qtensor<4294967296x4294967296xf32, #lowbit.scheme<i8, per_channel>>)

// -----

func.func @inline_size_mismatch() {
  // expected-error @+1 {{'lowbit.weight' op inline data has 64 bytes but the packed layout of '!lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f32>>' needs 72}}
  %w = lowbit.weight inline dense<0> : tensor<64xi8> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

func.func @blob_size_mismatch() {
  // expected-error @+1 {{'lowbit.weight' op resource blob 'short' holds 8 bytes but the packed layout of '!lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f32>>' needs 72}}
  %w = lowbit.weight inline dense_resource<short> : tensor<72xi8> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}
{-#
  dialect_resources: { builtin: { short: "0x040000000102030405060708" } }
#-}

// -----

func.func @inline_not_bytes() {
  // expected-error @+1 {{'lowbit.weight' op inline data must be a 1-D tensor of i8 or ui8 bytes, got 'tensor<18xi32>'}}
  %w = lowbit.weight inline dense<0> : tensor<18xi32> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

func.func @external_without_file() {
  // expected-error @+1 {{'lowbit.weight' op external weight 'w0' has no file: write `in "file"` or set 'lowbit.weights_file' on the module}}
  %w = lowbit.weight external "w0" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

func.func @both_data_and_name() {
  // expected-error @+1 {{'lowbit.weight' op has both inline data and an external name; give one}}
  %w = "lowbit.weight"() {data = dense<0> : tensor<72xi8>, name = "w"} : () -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

func.func @neither_data_nor_name() {
  // expected-error @+1 {{'lowbit.weight' op needs inline data or an external name}}
  %w = "lowbit.weight"() : () -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

func.func @empty_name() {
  // expected-error @+1 {{'lowbit.weight' op external tensor name must not be empty}}
  %w = lowbit.weight external "" in "f.safetensors" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32>>
  return
}

// -----

// expected-error @+1 {{'lowbit.weights_file' must be a non-empty string naming the weights file}}
module attributes {lowbit.weights_file = 3 : i32} {}

// -----

func.func @quantize_shape(%x: tensor<4x64xf16>) {
  // expected-error @+1 {{'lowbit.quantize' op input shape [4, 64] does not match the quantized shape [8, 64]}}
  %q = lowbit.quantize %x : tensor<4x64xf16> -> !lowbit.qtensor<8x64xf16, #lowbit.scheme<i8, per_channel>>
  return
}

// -----

func.func @dequantize_type(%q: !lowbit.qtensor<4x64xf16, #lowbit.scheme<i8, per_channel>>) {
  // expected-error @+1 {{'lowbit.dequantize' op result element type 'f32' does not match the quantized tensor's 'f16'}}
  %x = lowbit.dequantize %q : !lowbit.qtensor<4x64xf16, #lowbit.scheme<i8, per_channel>> -> tensor<4x64xf32>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_k(%x: tensor<1x48xf16>, %w: !w) {
  // expected-error @+1 {{'lowbit.qmatmul' op input reduction dimension 48 does not match the weight's K = 64}}
  %y = lowbit.qmatmul %x, %w : (tensor<1x48xf16>, !w) -> tensor<1x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_result(%x: tensor<3x64xf16>, %w: !w) {
  // expected-error @+1 {{'lowbit.qmatmul' op result shape [3, 64] should be [3, 32] (input batch dimensions, then N)}}
  %y = lowbit.qmatmul %x, %w : (tensor<3x64xf16>, !w) -> tensor<3x64xf16>
  return
}

// -----

!w = !lowbit.qtensor<2x32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_weight_rank(%x: tensor<3x64xf16>, %w: !w) {
  // expected-error @+1 {{'lowbit.qmatmul' op weight must be a 2-D [N, K] quantized tensor, got rank 3}}
  %y = lowbit.qmatmul %x, %w : (tensor<3x64xf16>, !w) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_bias(%x: tensor<3x64xf16>, %w: !w, %b: tensor<64xf16>) {
  // expected-error @+1 {{'lowbit.qmatmul' op bias must have shape [32], got [64]}}
  %y = lowbit.qmatmul %x, %w bias(%b) : (tensor<3x64xf16>, !w, tensor<64xf16>) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_lora_a(%x: tensor<3x64xf16>, %w: !w, %a: tensor<8x32xf16>, %b: tensor<32x8xf16>) {
  // expected-error @+1 {{'lowbit.qmatmul' op LoRA factor A must have shape [r, 64], got [8, 32]}}
  %y = lowbit.qmatmul %x, %w lora(%a, %b) : (tensor<3x64xf16>, !w, tensor<8x32xf16>, tensor<32x8xf16>) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_lora_b(%x: tensor<3x64xf16>, %w: !w, %a: tensor<8x64xf16>, %b: tensor<32x16xf16>) {
  // expected-error @+1 {{'lowbit.qmatmul' op LoRA factor B must have shape [32, 8] to match A, got [32, 16]}}
  %y = lowbit.qmatmul %x, %w lora(%a, %b) : (tensor<3x64xf16>, !w, tensor<8x64xf16>, tensor<32x16xf16>) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_scale_without_lora(%x: tensor<3x64xf16>, %w: !w) {
  // expected-error @+1 {{'lowbit.qmatmul' op LoRA scale given without LoRA factors}}
  %y = lowbit.qmatmul %x, %w scale 2.0 : (tensor<3x64xf16>, !w) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_one_lora_factor(%x: tensor<3x64xf16>, %w: !w, %a: tensor<8x64xf16>) {
  // expected-error @+1 {{'lowbit.qmatmul' op LoRA needs both factors A [r, K] and B [N, r]}}
  %y = "lowbit.qmatmul"(%x, %w, %a) {operandSegmentSizes = array<i32: 1, 1, 0, 1, 0>} : (tensor<3x64xf16>, !w, tensor<8x64xf16>) -> tensor<3x32xf16>
  return
}

// -----

!w = !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>
func.func @qmatmul_int_input(%x: tensor<3x64xi8>, %w: !w) {
  // expected-error @+1 {{'lowbit.qmatmul' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %y = lowbit.qmatmul %x, %w : (tensor<3x64xi8>, !w) -> tensor<3x32xf16>
  return
}

// -----

// expected-error @+1 {{unknown lowbit attribute 'lowbit.nmae'; expected 'lowbit.weights_file', 'lowbit.name' or 'lowbit.device_weight'}}
func.func private @misspelled() attributes {lowbit.nmae = "x"}

// -----

// expected-error @+1 {{'lowbit.name' must be a string naming the op}}
func.func private @name_not_string() attributes {lowbit.name = 3 : i32}

// -----

// expected-error @+1 {{'lowbit.device_weight' must be a unit attribute of an LLVM global}}
func.func private @device_weight_on_func() attributes {lowbit.device_weight}

// -----

// A function result may be labelled with a string lowbit.name, nothing else.
// expected-error @+1 {{result #1: 'lowbit.name' is not a lowbit result attribute; expected 'lowbit.name' with a string}}
func.func private @result_name_not_string() -> (tensor<2xf32>, tensor<2xf32> {lowbit.name = 3 : i32})

// -----

// expected-error @+1 {{result #0: 'lowbit.weights_file' is not a lowbit result attribute; expected 'lowbit.name' with a string}}
func.func private @result_weights_file() -> (tensor<2xf32> {lowbit.weights_file = "w"})

// -----

func.func @hadamard_block_not_power_of_two(%x: tensor<2x96xf32>) {
  // expected-error @+1 {{'lowbit.hadamard' op Hadamard block size must be a power of two of at least 2, got 48}}
  %y = lowbit.hadamard %x block 48 : tensor<2x96xf32>
  return
}

// -----

func.func @hadamard_block_does_not_divide(%x: tensor<2x96xf32>) {
  // expected-error @+1 {{'lowbit.hadamard' op Hadamard block size 64 does not divide the dimension 96}}
  %y = lowbit.hadamard %x block 64 : tensor<2x96xf32>
  return
}

// -----

func.func @hadamard_dynamic_last_dim(%x: tensor<2x?xf32>) {
  // expected-error @+1 {{'lowbit.hadamard' op needs a static last dimension}}
  %y = lowbit.hadamard %x block 64 : tensor<2x?xf32>
  return
}

// -----

func.func @hadamard_integer(%x: tensor<2x64xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %y = lowbit.hadamard %x block 64 : tensor<2x64xi32>
  return
}
