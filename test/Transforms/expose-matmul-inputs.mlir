// RUN: lowbit-opt %s -split-input-file -verify-diagnostics \
// RUN:   --lowbit-expose-matmul-inputs | FileCheck %s
// RUN: lowbit-opt %s -split-input-file \
// RUN:   --lowbit-expose-matmul-inputs="names=fc2" | FileCheck %s --check-prefix=NAMES
// RUN: not lowbit-opt %s --lowbit-expose-matmul-inputs="names=(" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BADREGEX
// BADREGEX: lowbit-expose-matmul-inputs: invalid names pattern '('

// Both weight layouts, x of rank 3 collapsed to rows, a widened f16 weight;
// an unnamed matmul and a matmul of two activations are not exposed.
// CHECK-LABEL: func.func @mlp
// CHECK-SAME: -> (tensor<2x3x8xf32>, tensor<6x16xf32> {lowbit.name = "fc1"}, tensor<6x32xf32> {lowbit.name = "fc2"})
// CHECK: %[[X1:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<2x3x16xf32> into tensor<6x16xf32>
// CHECK: %[[X2:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x3x32xf32> into tensor<6x32xf32>
// CHECK: return %{{.*}}, %[[X1]], %[[X2]]
// NAMES-LABEL: func.func @mlp
// NAMES-SAME: -> (tensor<2x3x8xf32>, tensor<6x32xf32> {lowbit.name = "fc2"})
#nk = affine_map<(b, m, n, k) -> (b, n, k)>
#mk = affine_map<(b, m, n, k) -> (b, m, k)>
#mn = affine_map<(b, m, n, k) -> (b, m, n)>
func.func @mlp(%x: tensor<2x3x16xf32>) -> tensor<2x3x8xf32> {
  %zero = arith.constant 0.0 : f32
  %w1 = arith.constant dense<0.5> : tensor<32x16xf32>
  %ew1 = tensor.empty() : tensor<2x32x16xf32>
  %b1 = linalg.broadcast ins(%w1 : tensor<32x16xf32>) outs(%ew1 : tensor<2x32x16xf32>) dimensions = [0]
  %e1 = tensor.empty() : tensor<2x3x32xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x3x32xf32>) -> tensor<2x3x32xf32>
  %h = linalg.batch_matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc1"}
       ins(%x, %b1 : tensor<2x3x16xf32>, tensor<2x32x16xf32>)
       outs(%i1 : tensor<2x3x32xf32>) -> tensor<2x3x32xf32>
  // Attention-like: both operands are activations.
  %es = tensor.empty() : tensor<2x3x3xf32>
  %s = linalg.batch_matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "scores"}
       ins(%h, %h : tensor<2x3x32xf32>, tensor<2x3x32xf32>)
       outs(%es : tensor<2x3x3xf32>) -> tensor<2x3x3xf32>
  %w2 = arith.constant dense<0.25> : tensor<8x32xf16>
  %w2f = arith.extf %w2 : tensor<8x32xf16> to tensor<8x32xf32>
  %ew2 = tensor.empty() : tensor<2x8x32xf32>
  %b2 = linalg.broadcast ins(%w2f : tensor<8x32xf32>) outs(%ew2 : tensor<2x8x32xf32>) dimensions = [0]
  %e2 = tensor.empty() : tensor<2x3x8xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  %y = linalg.batch_matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc2"}
       ins(%h, %b2 : tensor<2x3x32xf32>, tensor<2x8x32xf32>)
       outs(%i2 : tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  // Unnamed: the Hessians could not be matched to it.
  %z = linalg.batch_matmul indexing_maps = [#mk, #nk, #mn]
       ins(%h, %b2 : tensor<2x3x32xf32>, tensor<2x8x32xf32>)
       outs(%y : tensor<2x3x8xf32>) -> tensor<2x3x8xf32>
  return %z : tensor<2x3x8xf32>
}

// -----

// A 2-D x is returned as it is; an external weight counts; a private
// function is not an entry point and keeps its signature.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME: -> tensor<4x16xf32>
// CHECK-LABEL: func.func @plain
// CHECK-SAME: -> (tensor<4x16xf32>, tensor<4x64xf32> {lowbit.name = "proj"})
// CHECK: return %{{.*}}, %arg0 : tensor<4x16xf32>, tensor<4x64xf32>
// NAMES-LABEL: func.func @plain
// NAMES-SAME: -> tensor<4x16xf32>
module attributes {lowbit.weights_file = "model.safetensors"} {
  func.func private @helper(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
    %w = arith.constant dense<0.25> : tensor<64x16xf32>
    %zero = arith.constant 0.0 : f32
    %e = tensor.empty() : tensor<4x16xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
    %y = linalg.matmul {lowbit.name = "inner"} ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                       outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
    return %y : tensor<4x16xf32>
  }
  func.func @plain(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
    %w = lowbit.weight external "proj.weight" : tensor<64x16xf32>
    %zero = arith.constant 0.0 : f32
    %e = tensor.empty() : tensor<4x16xf32>
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
    %y = linalg.matmul {lowbit.name = "proj"} ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                       outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
    return %y : tensor<4x16xf32>
  }
}

// -----

// A matmul in a loop body: its x does not reach the return.
// CHECK-LABEL: func.func @in_loop
// CHECK-SAME: -> tensor<4x16xf32>
func.func @in_loop(%x: tensor<4x64xf32>) -> tensor<4x16xf32> {
  %w = arith.constant dense<0.25> : tensor<64x16xf32>
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %e = tensor.empty() : tensor<4x16xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %r = scf.for %i = %c0 to %c2 step %c1 iter_args(%acc = %init) -> tensor<4x16xf32> {
    // expected-remark @below {{input not exposed: the matmul is not in the function's only block}}
    %y = linalg.matmul {lowbit.name = "looped"} ins(%x, %w : tensor<4x64xf32>, tensor<64x16xf32>)
                       outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
    scf.yield %y : tensor<4x16xf32>
  }
  return %r : tensor<4x16xf32>
}
