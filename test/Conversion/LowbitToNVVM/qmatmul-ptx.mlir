// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_90 format=isa" | FileCheck %s

// Decode-regime kernels (batch 1, f16 activations, K = 4096) compiled to
// PTX: each lane reads 16 packed weight bytes with one 128-bit global load,
// warps reduce with butterfly shuffles, nothing lives in local memory.

// CHECK-LABEL: func.func @int4_g128
// CHECK: gpu.launch_func @int4_g128_kernel::@int4_g128_kernel blocks in (%c2, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.binary @int4_g128_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90">
// CHECK-SAME: .target sm_90
// CHECK-SAME: .entry int4_g128_kernel(
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_kernel_0[512]
// CHECK-SAME: ld.global.v4.{{[bu]}}32
// CHECK-SAME: fma.rn.f32
// CHECK-SAME: bar.sync
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-NOT: .local

// CHECK-LABEL: func.func @nf4_g64_dq
// CHECK: gpu.launch_func @nf4_g64_dq_kernel::@nf4_g64_dq_kernel
// CHECK: gpu.binary @nf4_g64_dq_kernel
// CHECK-SAME: ld.global.v4.{{[bu]}}32
// CHECK-SAME: selp.f32
// CHECK-SAME: fma.rn.f32
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-NOT: .local

func.func @int4_g128(%x: tensor<1x4096xf16>) -> tensor<1x8xf16> {
  %w = lowbit.weight inline dense<17> : tensor<16896xi8> -> !lowbit.qtensor<8x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x4096xf16>, !lowbit.qtensor<8x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}

func.func @nf4_g64_dq(%x: tensor<1x4096xf16>) -> tensor<1x8xf16> {
  %w = lowbit.weight inline dense<17> : tensor<16964xi8> -> !lowbit.qtensor<8x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x4096xf16>, !lowbit.qtensor<8x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>) -> tensor<1x8xf16>
  return %y : tensor<1x8xf16>
}
