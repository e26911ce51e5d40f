// REQUIRES: ptxas
// ptxas accepts the tensor-core kernels for sm_80 and sm_90 without spills
// or local memory, within the 48 KB of static shared memory a block may
// have (NF4's two f16 weight tiles make its kernel the largest).
// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_80 format=isa" > %t.sm_80.mlir
// RUN: %python %S/Inputs/gpu_object.py %t.int4.sm_80.ptx int4_g128_prefill_kernel < %t.sm_80.mlir
// RUN: %ptxas -v -arch=sm_80 %t.int4.sm_80.ptx -o %t.int4.sm_80.cubin 2>&1 | FileCheck %s --check-prefix=INT4
// RUN: %python %S/Inputs/gpu_object.py %t.nf4.sm_80.ptx nf4_g64_dq_prefill_kernel < %t.sm_80.mlir
// RUN: %ptxas -v -arch=sm_80 %t.nf4.sm_80.ptx -o %t.nf4.sm_80.cubin 2>&1 | FileCheck %s --check-prefix=NF4
// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_90 format=isa" > %t.sm_90.mlir
// RUN: %python %S/Inputs/gpu_object.py %t.int4.sm_90.ptx int4_g128_prefill_kernel < %t.sm_90.mlir
// RUN: %ptxas -v -arch=sm_90 %t.int4.sm_90.ptx -o %t.int4.sm_90.cubin 2>&1 | FileCheck %s --check-prefix=INT4
// RUN: %python %S/Inputs/gpu_object.py %t.nf4.sm_90.ptx nf4_g64_dq_prefill_kernel < %t.sm_90.mlir
// RUN: %ptxas -v -arch=sm_90 %t.nf4.sm_90.ptx -o %t.nf4.sm_90.cubin 2>&1 | FileCheck %s --check-prefix=NF4

// INT4: Compiling entry function 'int4_g128_prefill_kernel'
// INT4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// INT4-NOT: lmem
// INT4: Used {{[0-9]+}} registers, used 1 barriers, 43776 bytes smem

// NF4: Compiling entry function 'nf4_g64_dq_prefill_kernel'
// NF4: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// NF4-NOT: lmem
// NF4: Used {{[0-9]+}} registers, used 1 barriers, 48896 bytes smem

func.func @int4_g128_prefill(%x: tensor<128x4096xf16>) -> tensor<128x256xf16> {
  %w = lowbit.weight inline dense<17> : tensor<540672xi8> -> !lowbit.qtensor<256x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<128x4096xf16>, !lowbit.qtensor<256x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<128x256xf16>
  return %y : tensor<128x256xf16>
}

func.func @nf4_g64_dq_prefill(%x: tensor<64x4096xf16>) -> tensor<64x256xf16> {
  %w = lowbit.weight inline dense<17> : tensor<540932xi8> -> !lowbit.qtensor<256x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>
  %y = lowbit.qmatmul %x, %w : (tensor<64x4096xf16>, !lowbit.qtensor<256x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>) -> tensor<64x256xf16>
  return %y : tensor<64x256xf16>
}
