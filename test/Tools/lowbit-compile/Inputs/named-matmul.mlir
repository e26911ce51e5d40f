// One weight matmul named layer.3.a (options.test: --keep-float).
func.func @f(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %w = arith.constant dense<1.0> : tensor<32x64xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x32xf32>
  %i = linalg.fill ins(%z : f32) outs(%e : tensor<2x32xf32>) -> tensor<2x32xf32>
  %y = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>] {lowbit.name = "layer.3.a"} ins(%x, %w : tensor<2x64xf32>, tensor<32x64xf32>) outs(%i : tensor<2x32xf32>) -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
