// Each option set produces the scheme users expect from the bitsandbytes /
// AutoGPTQ knobs of the same name.
// RUN: lowbit-opt %s -lowbit-quantize-weights | FileCheck %s --check-prefix=DEFAULT
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=nf4 block-size=64 double-quant" | FileCheck %s --check-prefix=NF4DQ
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=nf4 block-size=64 double-quant double-quant-format=i8 double-quant-block-size=128 scale-type=f32" | FileCheck %s --check-prefix=NF4DQI8
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=int4 block-size=128 symmetric=false" | FileCheck %s --check-prefix=INT4ASYM
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=int3 block-size=64 scale-type=bf16" | FileCheck %s --check-prefix=INT3
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=int2 block-size=32 symmetric=false" | FileCheck %s --check-prefix=INT2
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=int8 per-channel scale-type=f32" | FileCheck %s --check-prefix=INT8
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=fp4 block-size=32" | FileCheck %s --check-prefix=FP4
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=fp8 block-size=128" | FileCheck %s --check-prefix=FP8
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=u4 block-size=128 symmetric=false" | FileCheck %s --check-prefix=INT4ASYM

// Filters: by function name, by the lowbit.name attribute, by location
// name, and by size.
// RUN: lowbit-opt %s -lowbit-quantize-weights="block-size=32 skip=^lm_" | FileCheck %s --check-prefix=SKIP-FUNC
// RUN: lowbit-opt %s -lowbit-quantize-weights="block-size=32 skip=down_proj" | FileCheck %s --check-prefix=SKIP-ATTR
// RUN: lowbit-opt %s -lowbit-quantize-weights="block-size=32 skip=gate.*" | FileCheck %s --check-prefix=SKIP-LOC
// RUN: lowbit-opt %s -lowbit-quantize-weights="block-size=32 min-size=10000 stats" 2>&1 | FileCheck %s --check-prefix=MIN-SIZE
// RUN: lowbit-opt %s -lowbit-quantize-weights="format=nf4 block-size=32 int8=down_proj,^lm_ stats" 2>&1 | FileCheck %s --check-prefix=MIXED
// RUN: lowbit-opt %s -lowbit-quantize-pipeline="format=nf4 block-size=32 int8=down_proj,gate skip=gate" | FileCheck %s --check-prefix=MIXED-PIPE

// Invalid options are rejected before the pass runs.
// RUN: not lowbit-opt %s -lowbit-quantize-weights="format=int5" 2>&1 | FileCheck %s --check-prefix=BAD-FORMAT
// RUN: not lowbit-opt %s -lowbit-quantize-weights="block-size=0" 2>&1 | FileCheck %s --check-prefix=BAD-BLOCK
// RUN: not lowbit-opt %s -lowbit-quantize-weights="format=int3 block-size=12" 2>&1 | FileCheck %s --check-prefix=BAD-BYTES
// RUN: not lowbit-opt %s -lowbit-quantize-weights="scale-type=f64" 2>&1 | FileCheck %s --check-prefix=BAD-SCALE
// RUN: not lowbit-opt %s -lowbit-quantize-weights="format=nf4 symmetric=false" 2>&1 | FileCheck %s --check-prefix=BAD-ASYM
// RUN: not lowbit-opt %s -lowbit-quantize-weights="double-quant double-quant-format=i4" 2>&1 | FileCheck %s --check-prefix=BAD-DQ
// RUN: not lowbit-opt %s -lowbit-quantize-weights="double-quant double-quant-block-size=0" 2>&1 | FileCheck %s --check-prefix=BAD-DQ-BLOCK
// RUN: not lowbit-opt %s -lowbit-quantize-weights="skip=(" 2>&1 | FileCheck %s --check-prefix=BAD-SKIP
// RUN: not lowbit-opt %s -lowbit-quantize-weights="int8=[a" 2>&1 | FileCheck %s --check-prefix=BAD-INT8
// RUN: not lowbit-opt %s -lowbit-quantize-weights="min-size=-1" 2>&1 | FileCheck %s --check-prefix=BAD-MIN
// RUN: not lowbit-opt %s -lowbit-quantize-weights="block-size=abc" 2>&1 | FileCheck %s --check-prefix=BAD-INT
// BAD-FORMAT: error: lowbit-quantize-weights: unknown format 'int5'; expected int8, int4, int3, int2, nf4, fp4 or fp8
// BAD-BLOCK: error: lowbit-quantize-weights: block-size must be positive (use per-channel for one scale per row), got 0
// BAD-BYTES: error: lowbit-quantize-weights: block size 12 of 3-bit codes does not end on a byte boundary; use a multiple of 8
// BAD-SCALE: error: lowbit-quantize-weights: unknown scale-type 'f64'; expected f32, f16 or bf16
// BAD-ASYM: error: lowbit-quantize-weights: symmetric=false needs an integer format, got 'nf4'
// BAD-DQ: error: lowbit-quantize-weights: unknown double-quant-format 'i4'; expected dyn8, i8 or fp8
// BAD-DQ-BLOCK: error: lowbit-quantize-weights: double quantization block size must be positive, got 0
// BAD-SKIP: error: lowbit-quantize-weights: invalid skip pattern '('
// BAD-INT8: error: lowbit-quantize-weights: invalid int8 pattern '[a'
// BAD-MIN: error: lowbit-quantize-weights: min-size must not be negative, got -1
// BAD-INT: 'abc' value invalid

// DEFAULT: #lowbit.scheme<i4, block = 128, scale = f16>
// NF4DQ: #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>
// NF4DQI8: #lowbit.scheme<nf4, block = 64, scale = f32, dq = <i8, block = 128>>
// INT4ASYM: #lowbit.scheme<u4, block = 128, scale = f16, zero_point = int>
// INT3: #lowbit.scheme<i3, block = 64, scale = bf16>
// INT2: #lowbit.scheme<u2, block = 32, scale = f16, zero_point = int>
// INT8: #lowbit.scheme<i8, per_channel, scale = f32>
// FP4: #lowbit.scheme<fp4, block = 32, scale = f16>
// FP8: #lowbit.scheme<fp8, block = 128, scale = f16>

// SKIP-FUNC-LABEL: func @lm_head
// SKIP-FUNC: linalg.matmul
// SKIP-FUNC-LABEL: func @mlp
// SKIP-FUNC-COUNT-2: lowbit.qmatmul

// SKIP-ATTR-LABEL: func @lm_head
// SKIP-ATTR: lowbit.qmatmul
// SKIP-ATTR-LABEL: func @mlp
// SKIP-ATTR: lowbit.qmatmul
// SKIP-ATTR: linalg.matmul {{.*}}lowbit.name = "layers.0.down_proj"

// SKIP-LOC-LABEL: func @lm_head
// SKIP-LOC: lowbit.qmatmul
// SKIP-LOC-LABEL: func @mlp
// SKIP-LOC: linalg.matmul
// SKIP-LOC: lowbit.qmatmul

// MIN-SIZE: remark: lowbit-quantize-weights: weights-quantized=1 weights-skipped=2 bytes-before=131072 bytes-after=18432 mean-relative-rms-error-ppm={{[0-9]+}}
// Mixed precision: matmuls matched by int8 get per-channel int8, the
// others the scheme; skip wins over int8.
// MIXED: remark: lowbit-quantize-weights: weights-quantized=3 weights-skipped=0 {{.*}} weights-int8=2
// MIXED-LABEL: func @lm_head
// MIXED: lowbit.qmatmul {{.*}}#lowbit.scheme<i8, per_channel, scale = f32>
// MIXED-LABEL: func @mlp
// MIXED: lowbit.qmatmul {{.*}}#lowbit.scheme<nf4, block = 32, scale = f16>
// MIXED: lowbit.qmatmul {{.*}}#lowbit.scheme<i8, per_channel, scale = f32>
// MIXED-PIPE-LABEL: func @mlp
// MIXED-PIPE: linalg.matmul
// MIXED-PIPE: lowbit.qmatmul {{.*}}#lowbit.scheme<i8, per_channel, scale = f32>

// MIN-SIZE-LABEL: func @lm_head
// MIN-SIZE: lowbit.qmatmul
// MIN-SIZE-LABEL: func @mlp
// MIN-SIZE: linalg.matmul
// MIN-SIZE: linalg.matmul

func.func @lm_head(%x: tensor<1x256xf32>) -> tensor<1x128xf32> {
  %w = arith.constant dense<0.5> : tensor<256x128xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x128xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e : tensor<1x128xf32>) -> tensor<1x128xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x256xf32>, tensor<256x128xf32>)
                     outs(%z : tensor<1x128xf32>) -> tensor<1x128xf32>
  return %y : tensor<1x128xf32>
}

func.func @mlp(%x: tensor<1x256xf32>) -> tensor<1x256xf32> {
  %w1 = arith.constant dense<0.25> : tensor<256x32xf32>
  %w2 = arith.constant dense<0.5> : tensor<32x256xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<1x32xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x32xf32>) -> tensor<1x32xf32>
  %h = linalg.matmul ins(%x, %w1 : tensor<1x256xf32>, tensor<256x32xf32>)
                     outs(%z1 : tensor<1x32xf32>) -> tensor<1x32xf32> loc("gate_proj")
  %e2 = tensor.empty() : tensor<1x256xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x256xf32>) -> tensor<1x256xf32>
  %y = linalg.matmul {lowbit.name = "layers.0.down_proj"} ins(%h, %w2 : tensor<1x32xf32>, tensor<32x256xf32>)
                     outs(%z2 : tensor<1x256xf32>) -> tensor<1x256xf32>
  return %y : tensor<1x256xf32>
}
