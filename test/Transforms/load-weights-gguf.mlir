// RUN: %python %S/Inputs/write_load_weights_gguf.py %t.gguf %t-truncated.gguf
// The files' paths are only known when the test runs: substitute them.
// RUN: sed -e 's|@GGUF@|%t.gguf|' -e 's|@TRUNCATED@|%t-truncated.gguf|' %s \
// RUN:   | lowbit-opt -split-input-file --lowbit-load-weights -verify-diagnostics \
// RUN:   | FileCheck %s
// A relative name is found in weights-dir; GGUF is told by its magic, not
// its name.
// RUN: mkdir -p %t.dir && cp %t.gguf %t.dir/weights.bin
// RUN: lowbit-opt %S/Inputs/load-weights-gguf-relative.mlir \
// RUN:   --lowbit-load-weights="weights-dir=%t.dir" | FileCheck %s --check-prefix=REL

// lowbit-load-weights reads llama.cpp GGUF files (Inputs/write_load_weights_gguf.py):
// Q8_0, Q4_0, Q4_1 and Q4_K blocks become inline weights of their canonical
// scheme, F32 and F16 tensors constants. test/Transforms/load-weights-gguf-exact.py
// checks that the converted bytes decode to exactly what the gguf package
// decodes.

// REL: arith.constant dense<{{\[}}[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00]]> : tensor<2x4xf32>

// CHECK-LABEL: func.func @float_weights
// GGUF lists dims contiguous-first: ne [4, 2] is a [2, 4] tensor.
// CHECK-DAG: arith.constant dense<{{\[}}[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00]]> : tensor<2x4xf32>
// CHECK-DAG: arith.constant dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf16>
// CHECK-NOT: lowbit.weight
// CHECK: return
func.func @float_weights() -> (tensor<2x4xf32>, tensor<2xf16>) {
  %w = lowbit.weight external "f32" in "@GGUF@" : tensor<2x4xf32>
  %b = lowbit.weight external "f16" in "@GGUF@" : tensor<2xf16>
  return %w, %b : tensor<2x4xf32>, tensor<2xf16>
}

// -----

// Each block type converts to its canonical scheme; discardable attributes
// stay. The module attribute names the file.
// CHECK-LABEL: func.func @blocks
// CHECK: lowbit.weight inline dense_resource<{{.*}}> : tensor<68xi8> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>> {lowbit.name = "q8"}
// CHECK: lowbit.weight inline dense_resource<{{.*}}> : tensor<72xi8> -> !lowbit.qtensor<2x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>
// CHECK: lowbit.weight inline dense_resource<{{.*}}> : tensor<132xi8> -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>>
// CHECK: lowbit.weight inline dense_resource<{{.*}}> : tensor<224xi8> -> !lowbit.qtensor<1x256xf32, #lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>>
// CHECK-NOT: lowbit.weight external
module attributes {lowbit.weights_file = "@GGUF@"} {
  func.func @blocks() -> (!lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>>,
                          !lowbit.qtensor<2x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>,
                          !lowbit.qtensor<2x32xf32, #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>>,
                          !lowbit.qtensor<1x256xf32, #lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>>) {
    %a = lowbit.weight external "q8" {lowbit.name = "q8"} : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
    %b = lowbit.weight external "q4_0" : !lowbit.qtensor<2x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>
    %c = lowbit.weight external "q4_1" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>>
    %d = lowbit.weight external "q4_k" : !lowbit.qtensor<1x256xf32, #lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>>
    return %a, %b, %c, %d : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>>,
                            !lowbit.qtensor<2x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>,
                            !lowbit.qtensor<2x32xf32, #lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>>,
                            !lowbit.qtensor<1x256xf32, #lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>>
  }
}

// -----

func.func @missing_tensor() -> tensor<2x4xf32> {
  // expected-error @+1 {{tensor 'nope' is not in}}
  %w = lowbit.weight external "nope" in "@GGUF@" : tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}

// -----

func.func @scheme_mismatch() -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f16>> {
  // expected-error @+1 {{has GGML type Q8_0, which converts to #lowbit.scheme<i8, block = 32, scale = f16>, but the op's scheme is #lowbit.scheme<i4, block = 32, scale = f16>}}
  %q = lowbit.weight external "q8" in "@GGUF@" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f16>>
  return %q : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i4, block = 32, scale = f16>>
}

// -----

func.func @block_mismatch() -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, per_channel, scale = f16>> {
  // expected-error @+1 {{has GGML type Q8_0, which converts to #lowbit.scheme<i8, block = 32, scale = f16>, but the op's scheme is #lowbit.scheme<i8, per_channel, scale = f16>}}
  %q = lowbit.weight external "q8" in "@GGUF@" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, per_channel, scale = f16>>
  return %q : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, per_channel, scale = f16>>
}

// -----

// The same elements, but GGUF's dims must be the op's shape reversed.
func.func @shape_mismatch() -> !lowbit.qtensor<1x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>> {
  // expected-error @+1 {{has shape [2, 32] (GGUF ne [32, 2]) but the op's type is '!lowbit.qtensor<1x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>'}}
  %q = lowbit.weight external "q8" in "@GGUF@" : !lowbit.qtensor<1x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
  return %q : !lowbit.qtensor<1x64xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
}

// -----

func.func @float_shape_mismatch() -> tensor<4x2xf32> {
  // expected-error @+1 {{has shape [2, 4] (GGUF ne [4, 2]) but the op's type is 'tensor<4x2xf32>'}}
  %w = lowbit.weight external "f32" in "@GGUF@" : tensor<4x2xf32>
  return %w : tensor<4x2xf32>
}

// -----

func.func @float_as_quantized() -> !lowbit.qtensor<2x4xf32, #lowbit.scheme<i8, per_channel>> {
  // expected-error @+1 {{has GGML type F32; a quantized weight needs Q4_0, Q4_1, Q8_0 or Q4_K blocks}}
  %q = lowbit.weight external "f32" in "@GGUF@" : !lowbit.qtensor<2x4xf32, #lowbit.scheme<i8, per_channel>>
  return %q : !lowbit.qtensor<2x4xf32, #lowbit.scheme<i8, per_channel>>
}

// -----

func.func @quantized_as_float() -> tensor<2x32xf32> {
  // expected-error @+1 {{has GGML type Q8_0 but the op's type is 'tensor<2x32xf32>'}}
  %w = lowbit.weight external "q8" in "@GGUF@" : tensor<2x32xf32>
  return %w : tensor<2x32xf32>
}

// -----

func.func @float_type_mismatch() -> tensor<2xf32> {
  // expected-error @+1 {{has GGML type F16 but the op's type is 'tensor<2xf32>'}}
  %w = lowbit.weight external "f16" in "@GGUF@" : tensor<2xf32>
  return %w : tensor<2xf32>
}

// -----

func.func @unsupported_blocks() -> !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>> {
  // expected-error @+1 {{has GGML type Q5_0; a quantized weight needs Q4_0, Q4_1, Q8_0 or Q4_K blocks}}
  %q = lowbit.weight external "q5_0" in "@GGUF@" : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
  return %q : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
}

// -----

// The reader checks every tensor against the file before any is used.
func.func @truncated() -> tensor<2x4xf32> {
  // expected-error-re @+1 {{cannot read the weights file: {{.*}}truncated.gguf: tensor 'q4_k': data [384, +144) runs past the end of the data section}}
  %w = lowbit.weight external "f32" in "@TRUNCATED@" : tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}
