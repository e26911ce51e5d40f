// REQUIRES: ptxas, cuobjdump
// Static efficiency of the decode loop: SASS instructions per weight
// element of the innermost loop that holds the 128-bit weight load
// (32 codes per load, with four 128-bit loads of the f16 x), from the sm_90 cubin that lowbit-gpu-pipeline
// builds with the toolkit's ptxas. Recorded: 19.31 (bench/RESULTS.md, "GPU:
// static SASS counts"); fails above the recorded value + 20%.
// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_90 format=bin" | %python %S/Inputs/gpu_object.py %t.cubin
// RUN: %cuobjdump -sass %t.cubin > %t.sass
// RUN: %python %S/Inputs/sass_loop.py %t.sass 32 nf4_g64_dq --x-bytes 2 --max 23.17 | FileCheck %s
// CHECK: nf4_g64_dq: {{[0-9]+}} SASS instructions, 1 x LDG.E.128 of weights, 4 of x,

func.func @nf4_g64_dq(%x: tensor<1x4096xf16>) -> tensor<1x8xf16> {
  %w = lowbit.weight inline dense<17> : tensor<16964xi8> -> !lowbit.qtensor<8x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x4096xf16>, !lowbit.qtensor<8x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}
