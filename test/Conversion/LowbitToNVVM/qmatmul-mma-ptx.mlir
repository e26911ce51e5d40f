// RUN: lowbit-opt %s --lowbit-gpu-pipeline="chip=sm_90 format=isa" | FileCheck %s

// Batches above 16 rows with f16 activations take the tensor-core kernel:
// blocks of 128 threads own 64 x 64 tiles of y, stage x and the decoded
// code values (f16) in 16-byte-aligned shared memory with 128-bit stores,
// and four warps multiply them with ldmatrix + mma.sync (f32 accumulators).
// Other activation types take row tiles of the decode kernel.

// int4: 128 x 256 outputs = 2 x 4 tiles; the LoRA down-projection first
// (16 rows of x per block, rank 16: 8 x 16 blocks of one warp).
// CHECK-LABEL: func.func @int4_g128_lora
// CHECK: gpu.launch_func @int4_g128_lora_kernel::@int4_g128_lora_kernel blocks in (%c128, %c1, %c1) threads in (%c32, %c1, %c1)
// CHECK: gpu.launch_func @int4_g128_lora_kernel_0::@int4_g128_lora_kernel blocks in (%c8, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.binary @int4_g128_lora_kernel_0
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_lora_kernel_0[5120]
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_lora_kernel_1[5120]
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_lora_kernel_2[256]
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_lora_kernel_3[16896]
// CHECK-SAME: .shared .align 16 .b8 __wg_int4_g128_lora_kernel_4[16384]
// CHECK-SAME: ld.global.v2.b32
// CHECK-SAME: st.shared.v4.b32
// CHECK-SAME: bar.sync
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-SAME: ldmatrix.sync.aligned.m8n8.x2.shared.b16
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-SAME: fma.rn.f32
// CHECK-NOT: .local

// NF4 values are not f16 values: two f16 parts, two weight tiles.
// CHECK-LABEL: func.func @nf4_g64_dq
// CHECK: gpu.launch_func @nf4_g64_dq_kernel::@nf4_g64_dq_kernel blocks in (%c4, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.binary @nf4_g64_dq_kernel
// CHECK-SAME: __wg_nf4_g64_dq_kernel_2[5120]
// CHECK-SAME: selp.f32
// CHECK-SAME: sub.rn.f32
// CHECK-SAME: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-NOT: .local

// bf16 activations: the decode kernel on 3 tiles of 16 rows x 64 tiles of
// 4 rows of W, no tensor cores.
// CHECK-LABEL: func.func @int4_g128_bf16
// CHECK: gpu.launch_func @int4_g128_bf16_kernel::@int4_g128_bf16_kernel blocks in (%c192, %c1, %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.binary @int4_g128_bf16_kernel
// CHECK-NOT: mma.sync
// CHECK-SAME: shfl.sync.bfly.b32
// CHECK-NOT: mma.sync

func.func @int4_g128_lora(%x: tensor<128x4096xf16>, %bias: tensor<256xf16>, %a: tensor<16x4096xf16>, %b: tensor<256x16xf16>) -> tensor<128x256xf16> {
  %w = lowbit.weight inline dense<17> : tensor<540672xi8> -> !lowbit.qtensor<256x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w bias(%bias) lora(%a, %b) scale 2.0 : (tensor<128x4096xf16>, !lowbit.qtensor<256x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>, tensor<256xf16>, tensor<16x4096xf16>, tensor<256x16xf16>) -> tensor<128x256xf16>
  return %y : tensor<128x256xf16>
}

func.func @nf4_g64_dq(%x: tensor<64x4096xf16>) -> tensor<64x256xf16> {
  %w = lowbit.weight inline dense<17> : tensor<540932xi8> -> !lowbit.qtensor<256x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>
  %y = lowbit.qmatmul %x, %w : (tensor<64x4096xf16>, !lowbit.qtensor<256x4096xf16, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>) -> tensor<64x256xf16>
  return %y : tensor<64x256xf16>
}

func.func @int4_g128_bf16(%x: tensor<40x4096xbf16>) -> tensor<40x256xbf16> {
  %w = lowbit.weight inline dense<17> : tensor<540672xi8> -> !lowbit.qtensor<256x4096xbf16, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<40x4096xbf16>, !lowbit.qtensor<256x4096xbf16, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<40x256xbf16>
  return %y : tensor<40x256xbf16>
}
