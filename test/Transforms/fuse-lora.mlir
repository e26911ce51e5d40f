// RUN: lowbit-opt %s -split-input-file -lowbit-fuse-lora | FileCheck %s
// The counters add up over the whole file (one remark per split).
// RUN: lowbit-opt %s -split-input-file -lowbit-fuse-lora=stats -o /dev/null 2>&1 \
// RUN:   | %sum_counter adapters-fused | FileCheck %s --check-prefix=STATS
// STATS: adapters-fused=9


// Transposed-B matmuls, the scale after the second one, arith.addf.
// CHECK-LABEL: func @lora_transpose_b
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A:.*]]: tensor<8x64xf32>, %[[B:.*]]: tensor<32x8xf32>)
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[A]], %[[B]]) scale 2.000000e+00 :
//   CHECK-NOT: linalg
//   CHECK-NOT: arith
//       CHECK: return %[[Y]]
func.func @lora_transpose_b(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %a: tensor<8x64xf32>, %b: tensor<32x8xf32>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x8xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xa = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%i1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %e2 = tensor.empty() : tensor<2x32xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %xab = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%i2 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s = arith.constant dense<2.0> : tensor<2x32xf32>
  %scaled = arith.mulf %xab, %s : tensor<2x32xf32>
  %y = arith.addf %base, %scaled : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// Factors stored [K, r] and [r, N] read by plain linalg.matmul: transposes
// are materialized. The scale sits on x·Aᵀ (linalg.mul by a fill), the add
// is linalg.add with the branch first, and the qmatmul's bias is kept.
// CHECK-LABEL: func @lora_plain_matmul
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[BIAS:.*]]: tensor<32xf32>, %[[A:.*]]: tensor<64x8xf32>, %[[B:.*]]: tensor<8x32xf32>)
//   CHECK-DAG: %[[AT:.*]] = linalg.transpose ins(%[[A]] : tensor<64x8xf32>) outs(%{{.*}} : tensor<8x64xf32>) permutation = [1, 0]
//   CHECK-DAG: %[[BT:.*]] = linalg.transpose ins(%[[B]] : tensor<8x32xf32>) outs(%{{.*}} : tensor<32x8xf32>) permutation = [1, 0]
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] bias(%[[BIAS]]) lora(%[[AT]], %[[BT]]) scale 5.000000e-01 :
//   CHECK-NOT: linalg.matmul
//   CHECK-NOT: linalg.add
//       CHECK: return %[[Y]]
func.func @lora_plain_matmul(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>, %bias: tensor<32xf32>,
    %a: tensor<64x8xf32>, %b: tensor<8x32xf32>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w bias(%bias) : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>, tensor<32xf32>) -> tensor<2x32xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<2x8xf32>
  %i1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xa = linalg.matmul ins(%x, %a : tensor<2x64xf32>, tensor<64x8xf32>)
                      outs(%i1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %half = arith.constant 0.5 : f32
  %hf = linalg.fill ins(%half : f32) outs(%e1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xas = linalg.mul ins(%xa, %hf : tensor<2x8xf32>, tensor<2x8xf32>)
                    outs(%e1 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %e2 = tensor.empty() : tensor<2x32xf32>
  %i2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %xab = linalg.matmul ins(%xas, %b : tensor<2x8xf32>, tensor<8x32xf32>)
                       outs(%i2 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = linalg.add ins(%xab, %base : tensor<2x32xf32>, tensor<2x32xf32>)
                  outs(%e2 : tensor<2x32xf32>) -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// [K, r] factors already behind linalg.transpose are used directly; no
// scale; the add is an elementwise linalg.generic.
// CHECK-LABEL: func @lora_generic_add_peeled_transposes
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf16>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A:.*]]: tensor<8x64xf16>, %[[B:.*]]: tensor<32x8xf16>)
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[A]], %[[B]]) : (
//   CHECK-NOT: linalg
//       CHECK: return %[[Y]]
func.func @lora_generic_add_peeled_transposes(%x: tensor<2x64xf16>,
    %w: !lowbit.qtensor<32x64xf16, #lowbit.scheme<nf4, block = 64>>,
    %a: tensor<8x64xf16>, %b: tensor<32x8xf16>) -> tensor<2x32xf16> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf16>, !lowbit.qtensor<32x64xf16, #lowbit.scheme<nf4, block = 64>>) -> tensor<2x32xf16>
  %ea = tensor.empty() : tensor<64x8xf16>
  %at = linalg.transpose ins(%a : tensor<8x64xf16>) outs(%ea : tensor<64x8xf16>) permutation = [1, 0]
  %eb = tensor.empty() : tensor<8x32xf16>
  %bt = linalg.transpose ins(%b : tensor<32x8xf16>) outs(%eb : tensor<8x32xf16>) permutation = [1, 0]
  %z1 = arith.constant dense<0.0> : tensor<2x8xf16>
  %xa = linalg.matmul ins(%x, %at : tensor<2x64xf16>, tensor<64x8xf16>)
                      outs(%z1 : tensor<2x8xf16>) -> tensor<2x8xf16>
  %z2 = arith.constant dense<0.0> : tensor<2x32xf16>
  %xab = linalg.matmul ins(%xa, %bt : tensor<2x8xf16>, tensor<8x32xf16>)
                       outs(%z2 : tensor<2x32xf16>) -> tensor<2x32xf16>
  %e = tensor.empty() : tensor<2x32xf16>
  %y = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>,
                       affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%base, %xab : tensor<2x32xf16>, tensor<2x32xf16>) outs(%e : tensor<2x32xf16>) {
  ^bb0(%p: f16, %q: f16, %o: f16):
    %s = arith.addf %p, %q : f16
    linalg.yield %s : f16
  } -> tensor<2x32xf16>
  return %y : tensor<2x32xf16>
}

// -----

// Two adapters on one matmul: the first becomes the qmatmul's LoRA, the
// second is stacked along r with each scale folded into its B.
// CHECK-LABEL: func @lora_two_adapters
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A1:.*]]: tensor<8x64xf32>, %[[B1:.*]]: tensor<32x8xf32>, %[[A2:.*]]: tensor<4x64xf32>, %[[B2:.*]]: tensor<32x4xf32>)
//   CHECK-DAG: %[[S1:.*]] = arith.constant dense<2.000000e+00> : tensor<32x8xf32>
//   CHECK-DAG: %[[S2:.*]] = arith.constant dense<2.500000e-01> : tensor<32x4xf32>
//       CHECK: %[[A:.*]] = tensor.concat dim(0) %[[A1]], %[[A2]] : (tensor<8x64xf32>, tensor<4x64xf32>) -> tensor<12x64xf32>
//       CHECK: %[[B1S:.*]] = arith.mulf %[[B1]], %[[S1]] : tensor<32x8xf32>
//       CHECK: %[[B2S:.*]] = arith.mulf %[[B2]], %[[S2]] : tensor<32x4xf32>
//       CHECK: %[[B:.*]] = tensor.concat dim(1) %[[B1S]], %[[B2S]] : (tensor<32x8xf32>, tensor<32x4xf32>) -> tensor<32x12xf32>
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[A]], %[[B]]) : (
//   CHECK-NOT: linalg.matmul
//       CHECK: return %[[Y]]
func.func @lora_two_adapters(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %a1: tensor<8x64xf32>, %b1: tensor<32x8xf32>,
    %a2: tensor<4x64xf32>, %b2: tensor<32x4xf32>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z4 = arith.constant dense<0.0> : tensor<2x4xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa1 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a1 : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab1 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa1, %b1 : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s1 = arith.constant dense<2.0> : tensor<2x32xf32>
  %l1 = arith.mulf %s1, %xab1 : tensor<2x32xf32>
  %y1 = arith.addf %base, %l1 : tensor<2x32xf32>
  %xa2 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a2 : tensor<2x64xf32>, tensor<4x64xf32>)
      outs(%z4 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %xab2 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa2, %b2 : tensor<2x4xf32>, tensor<32x4xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s2 = arith.constant dense<0.25> : tensor<2x32xf32>
  %l2 = arith.mulf %xab2, %s2 : tensor<2x32xf32>
  %y = arith.addf %y1, %l2 : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// The branch reads another x: nothing changes.
// CHECK-LABEL: func @lora_other_input
//       CHECK: lowbit.qmatmul %arg0, %arg1 :
//       CHECK: linalg.matmul
//       CHECK: arith.addf
func.func @lora_other_input(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %x2: tensor<2x64xf32>, %a: tensor<8x64xf32>, %b: tensor<32x8xf32>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x2, %a : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = arith.addf %base, %xab : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// x·Aᵀ has another user: nothing changes.
// CHECK-LABEL: func @lora_branch_other_user
//       CHECK: lowbit.qmatmul %arg0, %arg1 :
//       CHECK: linalg.matmul
//       CHECK: arith.addf
func.func @lora_branch_other_user(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %a: tensor<8x64xf32>, %b: tensor<32x8xf32>) -> (tensor<2x32xf32>, tensor<2x8xf32>) {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = arith.addf %base, %xab : tensor<2x32xf32>
  return %y, %xa : tensor<2x32xf32>, tensor<2x8xf32>
}

// -----

// The branch's x is [2, 32], not the qmatmul's [2, 64] (a LoRA meant for
// another layer): nothing changes.
// CHECK-LABEL: func @lora_shape_mismatch
//       CHECK: lowbit.qmatmul %arg0, %arg1 :
//       CHECK: linalg.matmul
//       CHECK: arith.addf
func.func @lora_shape_mismatch(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %h: tensor<2x32xf32>, %a: tensor<8x32xf32>, %b: tensor<32x8xf32>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%h, %a : tensor<2x32xf32>, tensor<8x32xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = arith.addf %base, %xab : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// f16 factors widened to f32 by arith.extf (lowbit-import's 16-bit
// adapters) enter the qmatmul as stored; it widens them itself.
// CHECK-LABEL: func @lora_extf_f16
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A:.*]]: tensor<8x64xf16>, %[[B:.*]]: tensor<32x8xf16>)
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[A]], %[[B]]) scale 2.000000e+00 : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf16, {{.*}}>, tensor<8x64xf16>, tensor<32x8xf16>) -> tensor<2x32xf32>
//   CHECK-NOT: linalg
//       CHECK: return %[[Y]]
func.func @lora_extf_f16(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>,
    %a16: tensor<8x64xf16>, %b16: tensor<32x8xf16>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf16, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %a = arith.extf %a16 : tensor<8x64xf16> to tensor<8x64xf32>
  %b = arith.extf %b16 : tensor<32x8xf16> to tensor<32x8xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa, %b : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s = arith.constant dense<2.0> : tensor<2x32xf32>
  %scaled = arith.mulf %xab, %s : tensor<2x32xf32>
  %y = arith.addf %base, %scaled : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// bf16 factors stored [K, r] and [r, N], widened by elementwise generics
// whose body is one arith.extf: the transposes are materialized in bf16.
// CHECK-LABEL: func @lora_generic_extf_bf16
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A:.*]]: tensor<64x8xbf16>, %[[B:.*]]: tensor<8x32xbf16>)
//   CHECK-DAG: %[[AT:.*]] = linalg.transpose ins(%[[A]] : tensor<64x8xbf16>) outs(%{{.*}} : tensor<8x64xbf16>) permutation = [1, 0]
//   CHECK-DAG: %[[BT:.*]] = linalg.transpose ins(%[[B]] : tensor<8x32xbf16>) outs(%{{.*}} : tensor<32x8xbf16>) permutation = [1, 0]
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[AT]], %[[BT]]) : (tensor<2x64xf32>, !lowbit.qtensor<{{.*}}>, tensor<8x64xbf16>, tensor<32x8xbf16>) -> tensor<2x32xf32>
//   CHECK-NOT: linalg.matmul
//       CHECK: return %[[Y]]
func.func @lora_generic_extf_bf16(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %a16: tensor<64x8xbf16>, %b16: tensor<8x32xbf16>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %ea = tensor.empty() : tensor<64x8xf32>
  %a = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%a16 : tensor<64x8xbf16>) outs(%ea : tensor<64x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %v = arith.extf %in : bf16 to f32
    linalg.yield %v : f32
  } -> tensor<64x8xf32>
  %eb = tensor.empty() : tensor<8x32xf32>
  %b = linalg.generic {
      indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
      iterator_types = ["parallel", "parallel"]}
      ins(%b16 : tensor<8x32xbf16>) outs(%eb : tensor<8x32xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %v = arith.extf %in : bf16 to f32
    linalg.yield %v : f32
  } -> tensor<8x32xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa = linalg.matmul ins(%x, %a : tensor<2x64xf32>, tensor<64x8xf32>)
                      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab = linalg.matmul ins(%xa, %b : tensor<2x8xf32>, tensor<8x32xf32>)
                       outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = arith.addf %base, %xab : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// Two f16 adapters behind extensions: the first enters as stored; stacking
// the second folds the scales into the Bs, so both are stacked in f32 (the
// first widened back) and the scales do not round to f16.
// CHECK-LABEL: func @lora_extf_two_adapters
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf32>, %[[W:.*]]: !lowbit.qtensor<{{.*}}>, %[[A1:.*]]: tensor<8x64xf16>, %[[B1:.*]]: tensor<32x8xf16>, %[[A2:.*]]: tensor<4x64xf16>, %[[B2:.*]]: tensor<32x4xf16>)
//   CHECK-DAG: %[[A2W:.*]] = arith.extf %[[A2]] : tensor<4x64xf16> to tensor<4x64xf32>
//   CHECK-DAG: %[[B2W:.*]] = arith.extf %[[B2]] : tensor<32x4xf16> to tensor<32x4xf32>
//   CHECK-DAG: %[[A1W:.*]] = arith.extf %[[A1]] : tensor<8x64xf16> to tensor<8x64xf32>
//   CHECK-DAG: %[[B1W:.*]] = arith.extf %[[B1]] : tensor<32x8xf16> to tensor<32x8xf32>
//   CHECK-DAG: %[[A:.*]] = tensor.concat dim(0) %[[A1W]], %[[A2W]] : (tensor<8x64xf32>, tensor<4x64xf32>) -> tensor<12x64xf32>
//   CHECK-DAG: %[[B1S:.*]] = arith.mulf %[[B1W]], %{{.*}} : tensor<32x8xf32>
//   CHECK-DAG: %[[B2S:.*]] = arith.mulf %[[B2W]], %{{.*}} : tensor<32x4xf32>
//       CHECK: %[[B:.*]] = tensor.concat dim(1) %[[B1S]], %[[B2S]] : (tensor<32x8xf32>, tensor<32x4xf32>) -> tensor<32x12xf32>
//       CHECK: %[[Y:.*]] = lowbit.qmatmul %[[X]], %[[W]] lora(%[[A]], %[[B]]) : (tensor<2x64xf32>, !lowbit.qtensor<{{.*}}>, tensor<12x64xf32>, tensor<32x12xf32>) -> tensor<2x32xf32>
//   CHECK-NOT: linalg.matmul
//       CHECK: return %[[Y]]
func.func @lora_extf_two_adapters(%x: tensor<2x64xf32>,
    %w: !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>,
    %a1h: tensor<8x64xf16>, %b1h: tensor<32x8xf16>,
    %a2h: tensor<4x64xf16>, %b2h: tensor<32x4xf16>) -> tensor<2x32xf32> {
  %base = lowbit.qmatmul %x, %w : (tensor<2x64xf32>, !lowbit.qtensor<32x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<2x32xf32>
  %a1 = arith.extf %a1h : tensor<8x64xf16> to tensor<8x64xf32>
  %b1 = arith.extf %b1h : tensor<32x8xf16> to tensor<32x8xf32>
  %a2 = arith.extf %a2h : tensor<4x64xf16> to tensor<4x64xf32>
  %b2 = arith.extf %b2h : tensor<32x4xf16> to tensor<32x4xf32>
  %z8 = arith.constant dense<0.0> : tensor<2x8xf32>
  %z4 = arith.constant dense<0.0> : tensor<2x4xf32>
  %z32 = arith.constant dense<0.0> : tensor<2x32xf32>
  %xa1 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a1 : tensor<2x64xf32>, tensor<8x64xf32>)
      outs(%z8 : tensor<2x8xf32>) -> tensor<2x8xf32>
  %xab1 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa1, %b1 : tensor<2x8xf32>, tensor<32x8xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s1 = arith.constant dense<2.0> : tensor<2x32xf32>
  %l1 = arith.mulf %s1, %xab1 : tensor<2x32xf32>
  %y1 = arith.addf %base, %l1 : tensor<2x32xf32>
  %xa2 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %a2 : tensor<2x64xf32>, tensor<4x64xf32>)
      outs(%z4 : tensor<2x4xf32>) -> tensor<2x4xf32>
  %xab2 = linalg.matmul
      indexing_maps = [affine_map<(m, n, k) -> (m, k)>,
                       affine_map<(m, n, k) -> (n, k)>,
                       affine_map<(m, n, k) -> (m, n)>]
      ins(%xa2, %b2 : tensor<2x4xf32>, tensor<32x4xf32>)
      outs(%z32 : tensor<2x32xf32>) -> tensor<2x32xf32>
  %s2 = arith.constant dense<0.3> : tensor<2x32xf32>
  %l2 = arith.mulf %xab2, %s2 : tensor<2x32xf32>
  %y = arith.addf %y1, %l2 : tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
