// Executed by vectorize-linalg.mlir through lowbit-cpu-pipeline (with and
// without lowbit-vectorize-linalg) and lowbit-reference-pipeline; all
// three print the same numbers. Inputs are small integers, so every sum of
// products is exact in f32 whatever the order of the additions; erf and
// exp are the same libm calls per element on every path.

#id2 = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (j)>
#col = affine_map<(i, j) -> (i)>

// [rows, cols] of small integers: ((i * a + j * b) mod 7) - 3.
func.func @ints16x64(%a: index, %b: index) -> tensor<16x64xf32> {
  %e = tensor.empty() : tensor<16x64xf32>
  %r = linalg.generic {indexing_maps = [#id2], iterator_types = ["parallel", "parallel"]}
      outs(%e : tensor<16x64xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %ia = arith.muli %i, %a : index
    %jb = arith.muli %j, %b : index
    %s = arith.addi %ia, %jb : index
    %c7 = arith.constant 7 : index
    %m = arith.remui %s, %c7 : index
    %n = arith.index_cast %m : index to i32
    %c3 = arith.constant 3 : i32
    %d = arith.subi %n, %c3 : i32
    %f = arith.sitofp %d : i32 to f32
    linalg.yield %f : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

func.func @print(%t: tensor<*xf32>) {
  %m = bufferization.to_buffer %t : tensor<*xf32> to memref<*xf32>
  call @printMemrefF32(%m) : (memref<*xf32>) -> ()
  return
}

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c5 = arith.constant 5 : index
  %zero = arith.constant 0.0 : f32
  %x = call @ints16x64(%c3, %c5) : (index, index) -> tensor<16x64xf32>
  %w = call @ints16x64(%c2, %c1) : (index, index) -> tensor<16x64xf32>

  // y = x·wᵀ + bias with w [N, K] computed at run time (transposed by a
  // vectorized linalg.transpose), then a [K, N] constant weight.
  %e16 = tensor.empty() : tensor<16x16xf32>
  %f16 = linalg.fill ins(%zero : f32) outs(%e16 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
       ins(%x, %w : tensor<16x64xf32>, tensor<16x64xf32>) outs(%f16 : tensor<16x16xf32>) -> tensor<16x16xf32>
  %bias = arith.constant dense<[1.0, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.0, 4.0]> : tensor<16xf32>
  %yb = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %bias : tensor<16x16xf32>, tensor<16xf32>) outs(%e16 : tensor<16x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<16x16xf32>
  %w2 = arith.constant dense<[[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, -2.0, 1.0], [1.0, 1.0, 1.0],
                              [-1.0, 0.0, 2.0], [0.0, 3.0, -1.0], [2.0, -1.0, 0.0], [1.0, 0.0, 0.0],
                              [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-2.0, 1.0, 1.0], [1.0, -1.0, 1.0],
                              [3.0, 0.0, 0.0], [0.0, 2.0, 2.0], [1.0, 2.0, 3.0], [-1.0, -1.0, -1.0]]> : tensor<16x3xf32>
  %e3 = tensor.empty() : tensor<16x3xf32>
  %f3 = linalg.fill ins(%zero : f32) outs(%e3 : tensor<16x3xf32>) -> tensor<16x3xf32>
  %z = linalg.matmul ins(%yb, %w2 : tensor<16x16xf32>, tensor<16x3xf32>) outs(%f3 : tensor<16x3xf32>) -> tensor<16x3xf32>
  %zu = tensor.cast %z : tensor<16x3xf32> to tensor<*xf32>
  call @print(%zu) : (tensor<*xf32>) -> ()

  // Attention-like scores: batch_matmul with transposed B, 4 x [4, 16]
  // from the rows of x and w; row max and the exact row sum of s - max.
  %q = tensor.expand_shape %x [[0, 1], [2]] output_shape [4, 4, 64] : tensor<16x64xf32> into tensor<4x4x64xf32>
  %k = tensor.expand_shape %w [[0, 1], [2]] output_shape [4, 4, 64] : tensor<16x64xf32> into tensor<4x4x64xf32>
  %e444 = tensor.empty() : tensor<4x4x4xf32>
  %f444 = linalg.fill ins(%zero : f32) outs(%e444 : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %s = linalg.batch_matmul indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, n, k)>, affine_map<(b, m, n, k) -> (b, m, n)>]
       ins(%q, %k : tensor<4x4x64xf32>, tensor<4x4x64xf32>) outs(%f444 : tensor<4x4x4xf32>) -> tensor<4x4x4xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %e44 = tensor.empty() : tensor<4x4xf32>
  %m0 = linalg.fill ins(%ninf : f32) outs(%e44 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %max = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s : tensor<4x4x4xf32>) outs(%m0 : tensor<4x4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  %s0 = linalg.fill ins(%zero : f32) outs(%e44 : tensor<4x4xf32>) -> tensor<4x4xf32>
  %sum = linalg.generic {indexing_maps = [affine_map<(b, i, j) -> (b, i, j)>, affine_map<(b, i, j) -> (b, i)>, affine_map<(b, i, j) -> (b, i)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s, %max : tensor<4x4x4xf32>, tensor<4x4xf32>) outs(%s0 : tensor<4x4xf32>) {
  ^bb0(%a: f32, %mx: f32, %acc: f32):
    %d = arith.subf %a, %mx : f32
    %r = arith.addf %acc, %d : f32
    linalg.yield %r : f32
  } -> tensor<4x4xf32>
  %su = tensor.cast %s : tensor<4x4x4xf32> to tensor<*xf32>
  call @print(%su) : (tensor<*xf32>) -> ()
  %maxu = tensor.cast %max : tensor<4x4xf32> to tensor<*xf32>
  call @print(%maxu) : (tensor<*xf32>) -> ()
  %sumu = tensor.cast %sum : tensor<4x4xf32> to tensor<*xf32>
  call @print(%sumu) : (tensor<*xf32>) -> ()

  // GELU (math.erf) and exp on x / 8, then the mean of each row of x
  // (reduction over a non-innermost dimension of the transposed view).
  %e1664 = tensor.empty() : tensor<16x64xf32>
  %act = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<16x64xf32>) outs(%e1664 : tensor<16x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %eighth = arith.constant 0.125 : f32
    %rs2 = arith.constant 0.707106769 : f32
    %half = arith.constant 0.5 : f32
    %one = arith.constant 1.0 : f32
    %v = arith.mulf %a, %eighth : f32
    %t = arith.mulf %v, %rs2 : f32
    %er = math.erf %t : f32
    %p = arith.addf %er, %one : f32
    %hv = arith.mulf %v, %half : f32
    %g = arith.mulf %hv, %p : f32
    %ex = math.exp %v : f32
    %r = arith.addf %g, %ex : f32
    linalg.yield %r : f32
  } -> tensor<16x64xf32>
  %actc = tensor.extract_slice %act[0, 0] [4, 8] [1, 1] : tensor<16x64xf32> to tensor<4x8xf32>
  %actu = tensor.cast %actc : tensor<4x8xf32> to tensor<*xf32>
  call @print(%actu) : (tensor<*xf32>) -> ()
  %e64 = tensor.empty() : tensor<64xf32>
  %c0s = linalg.fill ins(%zero : f32) outs(%e64 : tensor<64xf32>) -> tensor<64xf32>
  %colsum = linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<16x64xf32>) outs(%c0s : tensor<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<64xf32>
  %colu = tensor.cast %colsum : tensor<64xf32> to tensor<*xf32>
  call @print(%colu) : (tensor<*xf32>) -> ()
  return
}
