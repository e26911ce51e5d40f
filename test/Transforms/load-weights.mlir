// RUN: %python %S/Inputs/write_load_weights_file.py %t.safetensors
// The weights file's path is only known when the test runs: substitute it.
// RUN: sed 's|@WEIGHTS@|%t.safetensors|' %s \
// RUN:   | lowbit-opt -split-input-file --lowbit-load-weights -verify-diagnostics \
// RUN:   | FileCheck %s
// RUN: mkdir -p %t.dir && cp %t.safetensors %t.dir/model.safetensors
// RUN: lowbit-opt %S/Inputs/load-weights-relative.mlir \
// RUN:   --lowbit-load-weights="weights-dir=%t.dir" | FileCheck %s --check-prefix=REL
// RUN: not lowbit-opt %S/Inputs/load-weights-relative.mlir \
// RUN:   --lowbit-load-weights 2>&1 | FileCheck %s --check-prefix=NOFILE

// REL: arith.constant dense<{{\[}}[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00]
// NOFILE: error: 'lowbit.weight' op cannot read the weights file: model.safetensors

// CHECK-LABEL: func.func @float_weights
// CHECK-DAG: arith.constant dense<{{\[}}[0.000000e+00, 1.000000e+00, 2.000000e+00, 3.000000e+00], [4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00]]> : tensor<2x4xf32>
// CHECK-DAG: arith.constant dense<[1.500000e+00, -2.000000e+00]> : tensor<2xf16>
// CHECK-NOT: lowbit.weight
// CHECK: return
func.func @float_weights() -> (tensor<2x4xf32>, tensor<2xf16>) {
  %w = lowbit.weight external "fc.weight" in "@WEIGHTS@" : tensor<2x4xf32>
  %b = lowbit.weight external "fc.bias" in "@WEIGHTS@" : tensor<2xf16>
  return %w, %b : tensor<2x4xf32>, tensor<2xf16>
}

// -----

// The module attribute names the file; packed bytes become an inline weight.
// CHECK-LABEL: func.func @packed_weight
// CHECK: lowbit.weight inline dense_resource<{{.*}}> : tensor<72xi8> -> !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel, scale = f32>>
module attributes {lowbit.weights_file = "@WEIGHTS@"} {
  func.func @packed_weight() -> !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>> {
    %q = lowbit.weight external "q.packed" : !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>>
    return %q : !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>>
  }
}

// -----

func.func @missing_tensor() -> tensor<2x4xf32> {
  // expected-error @+1 {{tensor 'nope' is not in}}
  %w = lowbit.weight external "nope" in "@WEIGHTS@" : tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}

// -----

func.func @wrong_dtype() -> tensor<3xf32> {
  // expected-error @+1 {{has dtype I32 but the op's type is 'tensor<3xf32>'}}
  %w = lowbit.weight external "wrong.dtype" in "@WEIGHTS@" : tensor<3xf32>
  return %w : tensor<3xf32>
}

// -----

func.func @wrong_shape() -> tensor<4xf32> {
  // expected-error @+1 {{has shape [3] but the op's type is 'tensor<4xf32>'}}
  %w = lowbit.weight external "wrong.shape" in "@WEIGHTS@" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

func.func @float_as_packed() -> !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>> {
  // expected-error @+1 {{has dtype F32; packed weights are stored as U8 or I8 bytes}}
  %q = lowbit.weight external "fc.weight" in "@WEIGHTS@" : !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>>
  return %q : !lowbit.qtensor<2x16xf32, #lowbit.scheme<i8, per_channel>>
}

// -----

func.func @wrong_packed_size() -> !lowbit.qtensor<4x32xf32, #lowbit.scheme<i8, per_channel>> {
  // expected-error @+1 {{has 72 bytes but the packed layout of}}
  %q = lowbit.weight external "q.packed" in "@WEIGHTS@" : !lowbit.qtensor<4x32xf32, #lowbit.scheme<i8, per_channel>>
  return %q : !lowbit.qtensor<4x32xf32, #lowbit.scheme<i8, per_channel>>
}
