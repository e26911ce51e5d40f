// lowbit-quantize-weights with calibration Hessians (GPTQ).
// RUN: rm -rf %t && %python %S/Inputs/write_gptq_inputs.py %t
// RUN: sed 's|@DIR@|%t|' %s > %t/model.mlir
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32" -o %t/rtn.mlir
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/hessians.safetensors stats" \
// RUN:   -o %t/gptq.mlir 2>&1 | FileCheck %s --check-prefix=DIAG
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/diagonal.safetensors gptq-clip=false" \
// RUN:   -o %t/diagonal.mlir 2>/dev/null
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/hessians.safetensors gptq-refine=3" \
// RUN:   -o %t/refined.mlir 2>/dev/null
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/diagonal.safetensors gptq-clip=false gptq-refine=3" \
// RUN:   -o %t/diagonal-refined.mlir 2>/dev/null
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/asymmetric.safetensors stats" \
// RUN:   -o %t/asymmetric.mlir 2>&1 | FileCheck %s --check-prefix=ASYM
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/asymmetric.safetensors gptq-target-blend=0" \
// RUN:   -o %t/asymmetric-blend0.mlir 2>/dev/null
// RUN: lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="format=int4 block-size=32 hessians=%t/asymmetric-hessians-only.safetensors" \
// RUN:   -o %t/asymmetric-hessians-only.mlir 2>/dev/null
// RUN: FileCheck %s --input-file=%t/gptq.mlir

// GPTQ changes the codes of the weights it has Hessians for; with
// uncorrelated inputs (a diagonal Hessian) and no clip search it is
// round-to-nearest.
// RUN: not diff -q %t/rtn.mlir %t/gptq.mlir
// RUN: diff %t/rtn.mlir %t/diagonal.mlir
// Coordinate-descent passes (gptq-refine) move some codes on correlated
// inputs and none on uncorrelated ones (each is already the nearest level
// to its own optimum).
// RUN: not diff -q %t/gptq.mlir %t/refined.mlir
// RUN: diff %t/rtn.mlir %t/diagonal-refined.mlir

// Asymmetric calibration: with a cross-covariance beside a Hessian, GPTQ
// quantizes the blended least-squares target instead of W; with
// gptq-target-blend=0 the cross-covariances are read but W is quantized,
// as from a file without them. Every tensor of the file is used.
// RUN: not diff -q %t/asymmetric.mlir %t/asymmetric-hessians-only.mlir
// RUN: diff %t/asymmetric-blend0.mlir %t/asymmetric-hessians-only.mlir
// ASYM-NOT: name no quantized matmul
// ASYM: weights-gptq=2
// ASYM-SAME: weights-asymmetric=2

// Same scheme and layout as round-to-nearest: only codes differ.
// CHECK-LABEL: func.func @mlp
// CHECK-COUNT-3: lowbit.weight inline dense_resource<{{.*}}> : tensor<{{[0-9]+}}xi8> -> !lowbit.qtensor<{{.*}}, #lowbit.scheme<i4, block = 32, scale = f16>>

// fc2's Hessian is f64; other.weight has none and the matmul without a name
// cannot have one; one Hessian names no matmul.
// DIAG-DAG: remark: no Hessian named 'other' in {{.*}}hessians.safetensors; rounded to nearest
// DIAG-DAG: remark: no Hessian: the matmul has no lowbit.name; rounded to nearest
// DIAG-DAG: warning: 1 Hessians in {{.*}}hessians.safetensors name no quantized matmul: 'unused.layer'
// DIAG-DAG: weights-quantized=4
// DIAG-DAG: weights-gptq=2
// DIAG-DAG: mean-output-error-ppm={{[1-9]}}

// Bad input: a Hessian of the wrong shape, a missing file, a bad damping.
// RUN: not lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="block-size=32 hessians=%t/badshape.safetensors" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BADSHAPE
// BADSHAPE: error: Hessian 'fc1' in {{.*}}badshape.safetensors is F32 [3, 3], expected F32 or F64 [64, 64] for a weight with K = 64
// RUN: not lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="hessians=%t/missing.safetensors" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=MISSING
// MISSING: error: lowbit-quantize-weights: cannot read the Hessians: {{.*}}missing.safetensors
// RUN: not lowbit-opt %t/model.mlir \
// RUN:   --lowbit-quantize-weights="hessians=%t/hessians.safetensors gptq-damping=-1" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=DAMPING
// DAMPING: lowbit-quantize-weights: gptq-damping must be a finite number >= 0, got -1
// RUN: not lowbit-opt %t/model.mlir --lowbit-load-weights \
// RUN:   --lowbit-quantize-weights="block-size=32 hessians=%t/badcross.safetensors" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BADCROSS
// BADCROSS: error: Hessian 'fc1#cross' in {{.*}}badcross.safetensors is F32 [3, 3], expected F32 or F64 [64, 64] for a weight with K = 64
// RUN: not lowbit-opt %t/model.mlir \
// RUN:   --lowbit-quantize-weights="hessians=%t/asymmetric.safetensors gptq-target-blend=1.5" 2>&1 \
// RUN:   | FileCheck %s --check-prefix=BLEND
// BLEND: lowbit-quantize-weights: gptq-target-blend must be in [0, 1], got 1.5

#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
module attributes {lowbit.weights_file = "@DIR@/weights.safetensors"} {
  func.func @mlp(%x: tensor<4x64xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
    %zero = arith.constant 0.0 : f32
    %w1 = lowbit.weight external "fc1.weight" : tensor<32x64xf32>
    %e1 = tensor.empty() : tensor<4x32xf32>
    %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x32xf32>) -> tensor<4x32xf32>
    %h = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc1"}
         ins(%x, %w1 : tensor<4x64xf32>, tensor<32x64xf32>)
         outs(%i1 : tensor<4x32xf32>) -> tensor<4x32xf32>
    %w2 = lowbit.weight external "fc2.weight" : tensor<16x32xf32>
    %w3 = lowbit.weight external "other.weight" : tensor<16x32xf32>
    %e2 = tensor.empty() : tensor<4x16xf32>
    %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %y = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc2"}
         ins(%h, %w2 : tensor<4x32xf32>, tensor<16x32xf32>)
         outs(%i2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %z = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "other"}
         ins(%h, %w3 : tensor<4x32xf32>, tensor<16x32xf32>)
         outs(%i2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %u = linalg.matmul indexing_maps = [#mk, #nk, #mn]
         ins(%h, %w3 : tensor<4x32xf32>, tensor<16x32xf32>)
         outs(%i2 : tensor<4x16xf32>) -> tensor<4x16xf32>
    %s = arith.addf %z, %u : tensor<4x16xf32>
    return %y, %s : tensor<4x16xf32>, tensor<4x16xf32>
  }
}
