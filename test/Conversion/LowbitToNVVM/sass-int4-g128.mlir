// REQUIRES: ptxas, cuobjdump
// Static efficiency of the decode loop: SASS instructions per weight
// element of the innermost loop that holds the 128-bit weight load
// (32 codes per load, with four 128-bit loads of the f16 x), from the sm_90 cubin that lowbit-gpu-pipeline
// builds with the toolkit's ptxas. Recorded: 5.44 (bench/RESULTS.md, "GPU:
// static SASS counts"); fails above the recorded value + 20%.
// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_90 format=bin" | %python %S/Inputs/gpu_object.py %t.cubin
// RUN: %cuobjdump -sass %t.cubin > %t.sass
// RUN: %python %S/Inputs/sass_loop.py %t.sass 32 int4_g128 --x-bytes 2 --max 6.53 | FileCheck %s
// CHECK: int4_g128: {{[0-9]+}} SASS instructions, 1 x LDG.E.128 of weights, 4 of x,

func.func @int4_g128(%x: tensor<1x4096xf16>) -> tensor<1x8xf16> {
  %w = lowbit.weight inline dense<17> : tensor<16896xi8> -> !lowbit.qtensor<8x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x4096xf16>, !lowbit.qtensor<8x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}
