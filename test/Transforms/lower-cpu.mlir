// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu | FileCheck %s
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUF
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-cpu-pipeline=isa=generic | FileCheck %s --check-prefix=LLVM
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu=isa=avx512 | FileCheck %s --check-prefix=AVX512
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu="isa=avx2 vector-width=8" | FileCheck %s --check-prefix=AVX2
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-cpu-pipeline="parallel=true threads=2 n-tile=8 isa=generic" | FileCheck %s --check-prefix=OMP
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu=gemm-min-batch=0 | FileCheck %s --check-prefix=GEMV
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu=pair-min-k=64 | FileCheck %s --check-prefix=PAIR
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu=gemm-min-batch=-1 2>&1 | FileCheck %s --check-prefix=GEMMBATCH
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu=pair-min-k=-1 2>&1 | FileCheck %s --check-prefix=PAIRK
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu=vector-width=12 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu=isa=sse 2>&1 | FileCheck %s --check-prefix=ISA
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu="isa=avx512 dot=i8" | FileCheck %s --check-prefix=I8
// RUN: lowbit-opt %s -split-input-file -verify-diagnostics -lowbit-lower-cpu="isa=avx512 dot=i8 vbmi=true" | FileCheck %s --check-prefix=I8V
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu=dot=f16 2>&1 | FileCheck %s --check-prefix=DOT
// RUN: not lowbit-opt %s -split-input-file -lowbit-lower-cpu="isa=avx2 dot=i8" 2>&1 | FileCheck %s --check-prefix=I8ISA

// WIDTH: vector-width must be a positive multiple of 8 {{.*}} got 12
// ISA: isa must be generic, avx2 or avx512, got 'sse'
// GEMMBATCH: gemm-min-batch must not be negative, got -1
// PAIRK: pair-min-k must not be negative, got -1
// DOT: dot must be f32 or i8, got 'f16'
// I8ISA: dot=i8 needs isa=avx512 {{.*}} got isa=avx2

!i4 = !lowbit.qtensor<16x64xf16, #lowbit.scheme<i4, block = 32, scale = f16>>

// int4: output columns in tiles of an scf.forall (threads may share them);
// per output row and K block, one f16 scale read as one 2-byte word; per
// block of 32 codes, 16 packed bytes read as one vector, split into nibbles
// and interleaved, sign-extended as (q ^ 8) - 8 and scaled; each 16-lane
// half is FMA'd with both rows of x (batch 2 shares the decode) into its
// own accumulator per row (independent FMA chains). The [16, 64] weight is
// never materialized.
// CHECK-LABEL: func @i4_bias_lora
//  CHECK-SAME: (%[[X:.*]]: tensor<2x64xf16>, %[[W:.*]]: tensor<576xi8>, %[[B:.*]]: tensor<16xf16>
//   CHECK-NOT: tensor<16x64xf32>
//       CHECK: scf.for {{.*}} -> (tensor<2x3xf32>)
//       CHECK: vector.fma {{.*}} : vector<16xf32>
//       CHECK: scf.forall ({{.*}}) in (1) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<2x16xf16>)
//       CHECK: %[[SLICE:.*]] = tensor.extract_slice %[[OUT]]
//       CHECK: scf.for {{.*}} iter_args(%{{.*}} = %[[SLICE]]) -> (tensor<2x?xf16>)
//       CHECK: scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}}) -> (tensor<2x?xf16>)
//       CHECK:   scf.for %[[BLK:.*]] = {{.*}} iter_args(%[[A0:.*]] = %{{.*}}, %[[A1:.*]] = %{{.*}}, %[[A2:.*]] = %{{.*}}, %[[A3:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
//       CHECK:     %[[SW:.*]] = vector.transfer_read %[[W]]{{.*}} : tensor<576xi8>, vector<2xi8>
//       CHECK:     vector.bitcast %[[SW]] : vector<2xi8> to vector<1xi16>
//       CHECK:     arith.bitcast {{.*}} : i16 to f16
//   CHECK-NOT:     scf.for
//       CHECK:     %[[BYTES:.*]] = vector.transfer_read %[[W]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<576xi8>, vector<16xi8>
//       CHECK:     %[[LO:.*]] = arith.andi %[[BYTES]], %{{.*}} : vector<16xi8>
//       CHECK:     %[[HI:.*]] = arith.shrui %[[BYTES]], %{{.*}} : vector<16xi8>
//       CHECK:     %[[CODES:.*]] = vector.shuffle %[[LO]], %[[HI]] [0, 16, 1, 17, 2, 18, {{.*}}, 15, 31]
//       CHECK:     %[[FLIP:.*]] = arith.xori %[[CODES]]
//       CHECK:     %[[SIGNED:.*]] = arith.subi %[[FLIP]]
//       CHECK:     %[[VALUES:.*]] = arith.sitofp %[[SIGNED]] : vector<32xi8> to vector<32xf32>
//       CHECK:     %[[SCALED:.*]] = arith.mulf %[[VALUES]], {{.*}} : vector<32xf32>
//       CHECK:     %[[WV:.*]] = vector.extract_strided_slice %[[SCALED]] {offsets = [0], sizes = [16], strides = [1]}
//       CHECK:     %[[X0:.*]] = vector.transfer_read %[[X]]{{.*}} : tensor<2x64xf16>, vector<16xf16>
//       CHECK:     %[[X0F:.*]] = arith.extf %[[X0]]
//       CHECK:     vector.fma %[[X0F]], %[[WV]], %[[A0]] : vector<16xf32>
//       CHECK:     vector.transfer_read %[[X]]{{.*}} : tensor<2x64xf16>, vector<16xf16>
//       CHECK:     vector.fma {{.*}}, %[[WV]], %[[A2]] : vector<16xf32>
//       CHECK:     %[[WV1:.*]] = vector.extract_strided_slice %[[SCALED]] {offsets = [16], sizes = [16], strides = [1]}
//       CHECK:     vector.fma {{.*}}, %[[WV1]], %[[A1]] : vector<16xf32>
//       CHECK:     vector.fma {{.*}}, %[[WV1]], %[[A3]] : vector<16xf32>
//       CHECK:   arith.addf {{.*}} : vector<16xf32>
//       CHECK:   vector.reduction <add>, {{.*}} : vector<16xf32> into f32
//       CHECK:   tensor.extract %[[B]]
//       CHECK:   arith.addf
//       CHECK:   arith.mulf
//       CHECK:   arith.addf
//       CHECK:   arith.truncf {{.*}} : f32 to f16
//       CHECK:   tensor.insert
//       CHECK: scf.forall.in_parallel
//       CHECK:   tensor.parallel_insert_slice
//   CHECK-NOT: linalg.
//   CHECK-NOT: lowbit.
//       CHECK: return
// BUF-LABEL: func @i4_bias_lora
//   BUF-NOT: memref<16x64xf32>
//       BUF: memref.alloc() {{.*}} : memref<2x16xf16>
//   BUF-NOT: memref<16x64xf32>
//       BUF: return
// LLVM-LABEL: llvm.func @i4_bias_lora
//       LLVM: llvm.load {{.*}} : !llvm.ptr -> vector<16xi8>
//       LLVM: llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
//       LLVM: "llvm.intr.vector.reduce.fadd"({{.*}}) <{fastmathFlags = #llvm.fastmath<reassoc>}> : (f32, vector<16xf32>) -> f32
// AVX-512: integer codes go through the per-block scaled table too (entry q
// = (q's two's complement value) * scale), so no conversion per element.
// AVX512-LABEL: func @i4_bias_lora
//       AVX512: %[[I4:.*]] = arith.constant dense<[0.000000e+00, 1.000000e+00, {{.*}}, -1.000000e+00]> : vector<16xf32>
//       AVX512: %[[T:.*]] = arith.mulf %[[I4]], %{{.*}} : vector<16xf32>
//   AVX512-NOT: arith.sitofp
//       AVX512: llvm.call @__lowbit_llvm_x86_avx512_permvar_sf_512(%[[T]], %{{.*}})
//       AVX512: vector.fma
// With parallel=true the output tiles (two of 8 columns) are an OpenMP
// worksharing loop.
// OMP-LABEL: llvm.func @i4_bias_lora
//       OMP: %[[NT:.*]] = llvm.mlir.constant(2 : i32) : i32
//       OMP: omp.parallel num_threads(%[[NT]] : i32)
//       OMP: omp.wsloop
//       OMP: omp.loop_nest
//       OMP: llvm.intr.fmuladd
func.func @i4_bias_lora(%x: tensor<2x64xf16>, %w: !i4, %bias: tensor<16xf16>,
                        %a: tensor<3x64xf16>, %b: tensor<16x3xf16>) -> tensor<2x16xf16> {
  %y = lowbit.qmatmul %x, %w bias(%bias) lora(%a, %b) scale 0.5
         : (tensor<2x64xf16>, !i4, tensor<16xf16>, tensor<3x64xf16>, tensor<16x3xf16>) -> tensor<2x16xf16>
  return %y : tensor<2x16xf16>
}

// -----

!i3 = !lowbit.qtensor<5x40xf32, #lowbit.scheme<i3, per_channel, scale = bf16>>

// int3, dynamic batch (one row of x per decode): 8 codes fill 3 bytes, so
// the row's two full chunks (32 codes) are 12 bytes, spread to 16-bit lanes
// (low and high byte), shifted per lane and masked; K = 40 leaves a static
// 8-code tail, padded to 16 lanes with zeros.
// CHECK-LABEL: func @i3_dynamic_batch
//  CHECK-SAME: (%[[X:.*]]: tensor<?x40xf32>, %[[W:.*]]: tensor<138xi8>) -> tensor<?x5xf32>
//       CHECK: %[[BYTES:.*]] = vector.transfer_read %[[W]]{{.*}} : tensor<138xi8>, vector<12xi8>
//       CHECK: vector.shuffle %[[BYTES]], %[[BYTES]] [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 6,
//       CHECK: arith.extui {{.*}} : vector<32xi8> to vector<32xi16>
//       CHECK: vector.shuffle %[[BYTES]], %[[BYTES]] [1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6,
//       CHECK: arith.shrui {{.*}} : vector<32xi16>
//       CHECK: arith.andi {{.*}} : vector<32xi16>
//       CHECK: vector.fma
//       CHECK: vector.transfer_read %[[W]]{{.*}} : tensor<138xi8>, vector<3xi8>
//       CHECK: vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8, 8, 8, 8] : vector<8xf32>, vector<8xf32>
//       CHECK: vector.fma {{.*}} : vector<16xf32>
//       CHECK: vector.reduction <add>
func.func @i3_dynamic_batch(%x: tensor<?x40xf32>, %w: !i3) -> tensor<?x5xf32> {
  %y = lowbit.qmatmul %x, %w : (tensor<?x40xf32>, !i3) -> tensor<?x5xf32>
  return %y : tensor<?x5xf32>
}

// -----

!nf4 = !lowbit.qtensor<8x64xf32, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 4>>>

// NF4: the codebook lookup is a tree of 15 selects on the code bits between
// splat constants; only the per-block dyn8 scale code reads a table.
// CHECK-LABEL: func @nf4_select_tree
//       CHECK: vector.transfer_read {{.*}} : tensor<{{.*}}xi8>, vector<32xi8>
//       CHECK: %[[CODES:.*]] = vector.shuffle
//       CHECK: %[[BIT0:.*]] = arith.andi %[[CODES]]
//       CHECK: %[[SET0:.*]] = arith.cmpi ne, %[[BIT0]]
// CHECK-COUNT-8: arith.select %[[SET0]], {{.*}} : vector<64xi1>, vector<64xf32>
//       CHECK: arith.andi %[[CODES]]
// CHECK-COUNT-4: arith.select {{.*}} : vector<64xi1>, vector<64xf32>
//       CHECK: arith.andi %[[CODES]]
// CHECK-COUNT-2: arith.select {{.*}} : vector<64xi1>, vector<64xf32>
//       CHECK: arith.andi %[[CODES]]
//       CHECK: arith.select {{.*}} : vector<64xi1>, vector<64xf32>
//   CHECK-NOT: tensor.extract
//       CHECK: vector.fma
// With AVX-512 each block first scales the 16 table values (the same f32
// ops as the numerics core, so entry q is exactly code q's value); then
// every 16 bytes (32 codes) are widened to i32 lanes and index that table
// twice with vpermps (which reads only the low 4 bits of an index): once
// as they are (the even codes) and once shifted right by 4 (the odd
// codes), FMA'd with x reordered once per call into even and odd halves
// of each 32 elements. vpermps is called through an always-inlined
// wrapper (buffer deallocation rejects a bare intrinsic call). With AVX2,
// two 8-entry vpermps and a select on bit 3 per 8 codes.
// AVX512: llvm.func internal @__lowbit_llvm_x86_avx512_permvar_sf_512({{.*}}) -> vector<16xf32> attributes {always_inline}
// AVX512:   llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
// AVX512-LABEL: func @nf4_select_tree
//  AVX512-SAME: (%[[X:.*]]: tensor<1x64xf32>, %[[W:.*]]: tensor<388xi8>)
//       AVX512: %[[XV:.*]] = vector.transfer_read %[[X]]{{.*}} : tensor<1x64xf32>, vector<32xf32>
//       AVX512: %[[XS:.*]] = vector.shuffle %[[XV]], %[[XV]] [0, 2, 4, {{.*}}, 30, 1, 3, {{.*}}, 29, 31]
//       AVX512: vector.transfer_write %[[XS]]
//       AVX512: scf.forall
//       AVX512: %[[NF4:.*]] = arith.constant dense<[-1.000000e+00, {{.*}}, 1.000000e+00]> : vector<16xf32>
//       AVX512: %[[TABLE:.*]] = arith.mulf %[[NF4]], %{{.*}} : vector<16xf32>
//       AVX512: %[[BYTES:.*]] = vector.transfer_read %[[W]]{{.*}} : tensor<388xi8>, vector<16xi8>
//       AVX512: %[[IDX:.*]] = arith.extui %[[BYTES]] : vector<16xi8> to vector<16xi32>
//       AVX512: %[[HIGH:.*]] = arith.shrui %[[IDX]], %{{.*}} : vector<16xi32>
//       AVX512: %[[EVEN:.*]] = llvm.call @__lowbit_llvm_x86_avx512_permvar_sf_512(%[[TABLE]], %[[IDX]])
//       AVX512: %[[ODD:.*]] = llvm.call @__lowbit_llvm_x86_avx512_permvar_sf_512(%[[TABLE]], %[[HIGH]])
//   AVX512-NOT: arith.select
//       AVX512: vector.fma {{.*}}, %[[EVEN]], %{{.*}} : vector<16xf32>
//       AVX512: vector.fma {{.*}}, %[[ODD]], %{{.*}} : vector<16xf32>
// AVX2: llvm.func internal @__lowbit_llvm_x86_avx2_permps({{.*}}) -> vector<8xf32> attributes {always_inline}
// AVX2-LABEL: func @nf4_select_tree
//       AVX2: %[[TABLE:.*]] = arith.mulf {{.*}} : vector<16xf32>
//       AVX2: %[[IDX:.*]] = vector.shuffle {{.*}} : vector<32xi32>, vector<32xi32>
//       AVX2: %[[TLO:.*]] = vector.shuffle %[[TABLE]], %[[TABLE]] [0, 1, 2, 3, 4, 5, 6, 7]
//       AVX2: %[[LO:.*]] = llvm.call @__lowbit_llvm_x86_avx2_permps(%[[TLO]], %[[IDX]])
//       AVX2: %[[THI:.*]] = vector.shuffle %[[TABLE]], %[[TABLE]] [8, 9, 10, 11, 12, 13, 14, 15]
//       AVX2: %[[HI:.*]] = llvm.call @__lowbit_llvm_x86_avx2_permps(%[[THI]], %[[IDX]])
//       AVX2: arith.andi %[[IDX]]
//       AVX2: %[[UP:.*]] = arith.cmpi ne
//       AVX2: arith.select %[[UP]], %[[HI]], %[[LO]] : vector<8xi1>, vector<8xf32>
//       AVX2: vector.fma {{.*}} : vector<8xf32>
func.func @nf4_select_tree(%x: tensor<1x64xf32>, %w: !nf4) -> tensor<1x8xf32> {
  %y = lowbit.qmatmul %x, %w : (tensor<1x64xf32>, !nf4) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

!fp8 = !lowbit.qtensor<4x32xf32, #lowbit.scheme<fp8, block = 32, scale = f32>>

// FP8 E4M3: the f32 bits are assembled from exponent and mantissa, and the
// two NaN codes are selected.
// CHECK-LABEL: func @fp8_bits
//       CHECK: vector.transfer_read {{.*}} : tensor<{{.*}}xi8>, vector<32xi8>
//       CHECK: arith.extui {{.*}} : vector<32xi8> to vector<32xi32>
//       CHECK: arith.uitofp {{.*}} : vector<32xi32> to vector<32xf32>
//       CHECK: arith.select {{.*}} : vector<32xi1>, vector<32xi32>
//       CHECK: arith.bitcast {{.*}} : vector<32xi32> to vector<32xf32>
//       CHECK: arith.select {{.*}} : vector<32xi1>, vector<32xf32>
//       CHECK: arith.select {{.*}} : vector<32xi1>, vector<32xf32>
//       CHECK: vector.fma
func.func @fp8_bits(%x: tensor<32xf32>, %w: !fp8) -> tensor<4xf32> {
  %y = lowbit.qmatmul %x, %w : (tensor<32xf32>, !fp8) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Standalone dequantize keeps the reference lowering (it materializes the
// float tensor by definition).
// CHECK-LABEL: func @dequantize_reference
//       CHECK: linalg.generic
func.func @dequantize_reference(%w: !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32>>) -> tensor<2x32xf32> {
  %d = lowbit.dequantize %w : !lowbit.qtensor<2x32xf32, #lowbit.scheme<i8, block = 32>> -> tensor<2x32xf32>
  return %d : tensor<2x32xf32>
}

// -----

func.func @external(%x: tensor<1x64xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{'lowbit.weight' op external weights are not supported by lowbit-lower-cpu: their bytes are only known at run time}}
  %w = lowbit.weight external "w" in "model.safetensors"
         : !lowbit.qtensor<16x64xf32, #lowbit.scheme<i4, block = 32>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x64xf32>, !lowbit.qtensor<16x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// A static batch of 64 rows (>= gemm-min-batch) takes the GEMM strategy:
// per tile of 32 output columns and 256 columns of K, the weight tile is
// decoded once into an f32 [32, 256] tensor and contracted with all 64
// rows; the accumulator is the forall's slice of the result (in place).
// CHECK-LABEL: func @gemm_int4
//       CHECK:   scf.forall (%[[T:.*]]) in (2) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<64x64xf32>)
//       CHECK:     %[[DST:.*]] = tensor.extract_slice %[[OUT]][0, %{{.*}}] [64, 32] [1, 1]
//       CHECK:     %[[ACC:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[DST]] : tensor<64x32xf32>)
//       CHECK:     scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[ACC]]) -> (tensor<64x32xf32>)
//       CHECK:       tensor.empty() : tensor<32x256xf32>
//       CHECK:       scf.for
//       CHECK:         vector.transfer_write %{{.*}} : vector<64xf32>, tensor<32x256xf32>
//       CHECK:       tensor.extract_slice %{{.*}}[0, %[[K0]]] [64, 256] [1, 1] : tensor<64x512xf32> to tensor<64x256xf32>
//       CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]
//  CHECK-SAME:         ins(%{{.*}}, %{{.*}} : tensor<64x256xf32>, tensor<32x256xf32>) outs(%{{.*}} : tensor<64x32xf32>)
//       CHECK:     tensor.parallel_insert_slice %{{.*}} into %[[OUT]][0, %{{.*}}] [64, 32] [1, 1]
// After the pipeline: register-blocked FMAs, and no call of an MLIR runtime
// helper (a strided copy would call memrefCopy).
// LLVM-LABEL: llvm.func @gemm_int4
//       LLVM:   llvm.intr.fmuladd({{.*}}) : (vector<32xf32>, vector<32xf32>, vector<32xf32>) -> vector<32xf32>
//   LLVM-NOT:   memrefCopy
// With gemm-min-batch=0 the same batch takes the GEMV strategy.
// GEMV-LABEL: func @gemm_int4
//   GEMV-NOT:   linalg.generic
//       GEMV:   vector.fma
func.func @gemm_int4(%x: tensor<64x512xf32>) -> tensor<64x64xf32> {
  %w = lowbit.weight inline dense<35> : tensor<16896xi8> -> !lowbit.qtensor<64x512xf32, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<64x512xf32>, !lowbit.qtensor<64x512xf32, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<64x64xf32>
  return %y : tensor<64x64xf32>
}

// -----

// f16 results: the accumulator is f32 and the final cast writes the
// result slice; bias and LoRA update the f32 tile first.
// CHECK-LABEL: func @gemm_nf4_f16_bias_lora
//       CHECK:   scf.forall
//       CHECK:     %[[DST:.*]] = tensor.extract_slice
//       CHECK:     scf.for
//       CHECK:     arith.extf {{.*}} : f16 to f32
//       CHECK:     arith.addf
//       CHECK:     linalg.generic {{.*}} outs(%[[DST]] : tensor<32x16xf16>)
//       CHECK:       arith.truncf {{.*}} : f32 to f16
func.func @gemm_nf4_f16_bias_lora(%x: tensor<32x128xf16>, %bias: tensor<16xf16>, %a: tensor<4x128xf16>, %b: tensor<16x4xf16>) -> tensor<32x16xf16> {
  %w = lowbit.weight inline dense<35> : tensor<1088xi8> -> !lowbit.qtensor<16x128xf16, #lowbit.scheme<nf4, block = 64, scale = f16>>
  %y = lowbit.qmatmul %x, %w bias(%bias) lora(%a, %b) scale 0.5
         : (tensor<32x128xf16>, !lowbit.qtensor<16x128xf16, #lowbit.scheme<nf4, block = 64, scale = f16>>, tensor<16xf16>, tensor<4x128xf16>, tensor<16x4xf16>) -> tensor<32x16xf16>
  return %y : tensor<32x16xf16>
}

// -----

// Long K (here from pair-min-k=64): two rows of W per pass over x. The
// loop over output columns steps by 2, both rows' block scales are read,
// and each chunk of x feeds one FMA per row of W (accumulators per row of
// W and chain).
// PAIR-LABEL: func @pair_int4
//       PAIR:   scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2
//       PAIR:     scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
//       PAIR:       vector.bitcast {{.*}} : vector<2xi8> to vector<1xi16>
//       PAIR:       vector.bitcast {{.*}} : vector<2xi8> to vector<1xi16>
//       PAIR:       %[[X0:.*]] = vector.transfer_read %arg0{{.*}} : tensor<1x128xf32>, vector<16xf32>
//       PAIR:       vector.fma %[[X0]], %{{.*}}, %{{.*}} : vector<16xf32>
//       PAIR:       vector.fma %[[X0]], %{{.*}}, %{{.*}} : vector<16xf32>
//       PAIR:     vector.reduction <add>
//       PAIR:     vector.reduction <add>
func.func @pair_int4(%x: tensor<1x128xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<528xi8> -> !lowbit.qtensor<8x128xf32, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x128xf32>, !lowbit.qtensor<8x128xf32, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// dot=i8, NF4 with blocks of 64: x is quantized to int8 per 128 elements
// once per call (absmax, round to nearest even, even elements then odd
// ones), outside the parallel loop. The 4 f32 scales of the blocks of the
// two chunks are loaded as one vector; per chunk, 64 bytes of codes are
// split into nibbles, mapped through the int8 codebook with vpshufb and
// multiplied with x's bytes by two vpdpbusd; the int32 lanes are scaled by
// the chunk's two scales spread to lanes 0-7 and 8-15, times x's scale.
// The offset terms of the 4 blocks are one vector FMA with x's block sums.
// I8-LABEL: func @int8_dot_nf4
//       I8:   vector.reduction <maximumf>
//       I8:   math.roundeven
//       I8:   arith.fptosi {{.*}} : vector<128xf32> to vector<128xi8>
//       I8:   vector.shuffle {{.*}} [0, 2, 4, {{.*}}, 126, 1, 3, {{.*}}, 127]
//       I8:   scf.forall
//       I8:     %[[SB:.*]] = vector.transfer_read {{.*}} : tensor<1152xi8>, vector<16xi8>
//       I8:     %[[SW:.*]] = vector.bitcast %[[SB]] : vector<16xi8> to vector<4xi32>
//       I8:     %[[S:.*]] = arith.bitcast %[[SW]] : vector<4xi32> to vector<4xf32>
//       I8:     vector.shuffle %{{.*}}, %{{.*}} [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1] : vector<4xf32>, vector<4xf32>
//       I8:     %[[RAW:.*]] = vector.transfer_read {{.*}} : tensor<{{[0-9]+}}xi8>, vector<64xi8>
//       I8:     %[[LO:.*]] = arith.andi %[[RAW]]
//       I8:     %[[HI:.*]] = arith.shrui %[[RAW]]
//       I8:     %[[ULO:.*]] = llvm.call @__lowbit_llvm_x86_avx512_pshuf_b_512(%{{.*}}, %[[LO]])
//       I8:     %[[UHI:.*]] = llvm.call @__lowbit_llvm_x86_avx512_pshuf_b_512(%{{.*}}, %[[HI]])
//       I8:     %[[A:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[ULO]], %{{.*}})
//       I8:     %[[B:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%[[A]], %[[UHI]], %{{.*}})
//       I8:     arith.sitofp %[[B]] : vector<16xi32> to vector<16xf32>
//       I8:     vector.fma
//       I8:     vector.shuffle %{{.*}}, %{{.*}} [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3] : vector<4xf32>, vector<4xf32>
//       I8:     vector.fma {{.*}} : vector<4xf32>
//   I8-NOT:     permvar
func.func @int8_dot_nf4(%x: tensor<1x256xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<1152xi8> -> !lowbit.qtensor<8x256xf32, #lowbit.scheme<nf4, block = 64, scale = f32>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x256xf32>, !lowbit.qtensor<8x256xf32, #lowbit.scheme<nf4, block = 64, scale = f32>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// dot=i8, int4: two's complement codes become offset binary by one XOR of
// the bytes (0x88), no table; the offset 8 is taken off through x's sums.
// I8-LABEL: func @int8_dot_i4
//       I8:   scf.forall
//       I8:     %[[RAW:.*]] = vector.transfer_read {{.*}} : tensor<{{[0-9]+}}xi8>, vector<64xi8>
//       I8:     arith.xori %[[RAW]], %{{.*}} : vector<64xi8>
//   I8-NOT:     pshuf
//       I8:     llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512
//       I8:     llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512
//       I8:     arith.mulf
//       I8:     vector.fma {{.*}} : vector<16xf32>
//       I8:     vector.fma {{.*}} : vector<1xf32>
//       I8:   vector.reduction <add>
//       I8:   vector.reduction <add>
//       I8:   arith.subf {{.*}} : f32
func.func @int8_dot_i4(%x: tensor<1x128xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<528xi8> -> !lowbit.qtensor<8x128xf32, #lowbit.scheme<i4, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x128xf32>, !lowbit.qtensor<8x128xf32, #lowbit.scheme<i4, block = 128, scale = f16>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// dot=i8 covers 3-bit codes only with vbmi (nor K that is not a multiple
// of 128): without it they keep the f32 kernel.
// I8-LABEL: func @int8_dot_fallback_i3
//   I8-NOT:   vpdpbusd
//       I8:   vector.fma
//   I8-NOT:   vpdpbusd
//       I8:   return
// With vbmi, 48 bytes of 3-bit codes (128 codes) are spread to 6 bytes per
// qword, and two vpmultishiftqb pick codes 0-7 and 8-15 of each qword
// into bytes (shifts 3j and 24 + 3j), masked to 3 bits and made offset
// binary (^ 4); x's chunk is stored in the same order.
// I8V-LABEL: func @int8_dot_fallback_i3
//       I8V:   vector.shuffle {{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, {{.*}}, 119, 8, 9, {{.*}}, 127] : vector<128xi8>, vector<128xi8>
//       I8V:   scf.forall
//       I8V:     %[[RAW:.*]] = vector.transfer_read {{.*}} : tensor<400xi8>, vector<48xi8>
//       I8V:     %[[Q:.*]] = vector.shuffle %[[RAW]], %[[RAW]] [0, 1, 2, 3, 4, 5, 5, 5, 6, 7, {{.*}}, 47, 47, 47] : vector<48xi8>, vector<48xi8>
//       I8V:     %[[A:.*]] = llvm.call @__lowbit_llvm_x86_avx512_pmultishift_qb_512(%{{.*}}, %[[Q]])
//       I8V:     %[[AM:.*]] = arith.andi %[[A]]
//       I8V:     %[[AU:.*]] = arith.xori %[[AM]]
//       I8V:     %[[B:.*]] = llvm.call @__lowbit_llvm_x86_avx512_pmultishift_qb_512(%{{.*}}, %[[Q]])
//       I8V:     %[[BM:.*]] = arith.andi %[[B]]
//       I8V:     %[[BU:.*]] = arith.xori %[[BM]]
//       I8V:     %[[D:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%{{.*}}, %[[AU]], %{{.*}})
//       I8V:     llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%[[D]], %[[BU]], %{{.*}})
func.func @int8_dot_fallback_i3(%x: tensor<1x128xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<400xi8> -> !lowbit.qtensor<8x128xf32, #lowbit.scheme<i3, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x128xf32>, !lowbit.qtensor<8x128xf32, #lowbit.scheme<i3, block = 128, scale = f16>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// dot=i8, int2: a chunk is 256 elements of x; 64 bytes of codes are
// offset by one XOR (0xAA), split four ways by shifts of 2, 4 and 6 and a
// mask, and summed by four vpdpbusd into one accumulator.
// I8-LABEL: func @int8_dot_i2
//       I8:   arith.fptosi {{.*}} : vector<256xf32> to vector<256xi8>
//       I8:   scf.forall
//       I8:     %[[RAW:.*]] = vector.transfer_read {{.*}} : tensor<{{[0-9]+}}xi8>, vector<64xi8>
//       I8:     %[[U:.*]] = arith.xori %[[RAW]], %{{.*}} : vector<64xi8>
//       I8:     arith.shrui %[[U]]
//       I8:     arith.shrui %[[U]]
//       I8:     arith.shrui %[[U]]
//       I8:     %[[A:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512
//       I8:     %[[B:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%[[A]]
//       I8:     %[[C:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%[[B]]
//       I8:     %[[D:.*]] = llvm.call @__lowbit_llvm_x86_avx512_vpdpbusd_512(%[[C]]
//       I8:     arith.sitofp %[[D]]
func.func @int8_dot_i2(%x: tensor<1x256xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<544xi8> -> !lowbit.qtensor<8x256xf32, #lowbit.scheme<i2, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x256xf32>, !lowbit.qtensor<8x256xf32, #lowbit.scheme<i2, block = 128, scale = f16>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}

// -----

// A Hadamard rotation runs in registers: per row and block of 32, two
// f32 vectors; stages within a vector are a lane swap and an FMA with ±1,
// the stage across vectors an add and a subtract; the last multiplies by
// 1/sqrt(32). With 8 lanes (AVX2) the block is four vectors.
// CHECK-LABEL: func @hadamard
//       CHECK: scf.for %[[ROW:.*]] = %{{.*}} to %{{.*}} step
//       CHECK:   scf.for %[[BASE:.*]] = %{{.*}} to %{{.*}} step
//       CHECK:     %[[A:.*]] = vector.transfer_read %arg0[%[[ROW]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<4x64xf32>, vector<16xf32>
//       CHECK:     %[[B:.*]] = vector.transfer_read %arg0[%[[ROW]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<4x64xf32>, vector<16xf32>
//       CHECK:     %[[S:.*]] = vector.shuffle %[[A]], %[[A]] [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
//       CHECK:     vector.fma %[[A]], %{{.*}}, %[[S]] : vector<16xf32>
// CHECK-COUNT-7:   vector.fma
//       CHECK:     %[[SUM:.*]] = arith.addf %{{.*}}, %{{.*}} : vector<16xf32>
//       CHECK:     %[[DIFF:.*]] = arith.subf %{{.*}}, %{{.*}} : vector<16xf32>
//       CHECK:     %[[SCALE:.*]] = arith.constant dense<0.176776692> : vector<16xf32>
//       CHECK:     arith.mulf %[[SUM]], %[[SCALE]]
//       CHECK:     vector.transfer_write
//       CHECK:     arith.mulf %[[DIFF]], %[[SCALE]]
//       CHECK:     vector.transfer_write
//   CHECK-NOT: linalg.generic
// AVX2-LABEL: func @hadamard
// AVX2-COUNT-4: vector.transfer_read %arg0{{.*}} : tensor<4x64xf32>, vector<8xf32>
// AVX2-COUNT-12: vector.fma
// AVX2-COUNT-4: arith.addf {{.*}} : vector<8xf32>
func.func @hadamard(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %y = lowbit.hadamard %x block 32 : tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
