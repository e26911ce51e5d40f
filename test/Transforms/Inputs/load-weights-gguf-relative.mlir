// A GGUF weight whose file is relative and not named .gguf: found through
// --lowbit-load-weights' weights-dir option and read by its magic (see
// ../load-weights-gguf.mlir).
func.func @relative() -> tensor<2x4xf32> {
  %w = lowbit.weight external "f32" in "weights.bin" : tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}
