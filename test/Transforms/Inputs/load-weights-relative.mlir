// A weight whose file is relative: found through --lowbit-load-weights'
// weights-dir option (see ../load-weights.mlir).
func.func @relative() -> tensor<2x4xf32> {
  %w = lowbit.weight external "fc.weight" in "model.safetensors" : tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}
