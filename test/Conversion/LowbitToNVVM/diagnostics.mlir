// RUN: lowbit-opt %s --lowbit-lower-gpu --split-input-file --verify-diagnostics

func.func @dynamic_batch(%x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %w = lowbit.weight inline dense<0> : tensor<320xi8> -> !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32>>
  // expected-error @+1 {{lowbit-lower-gpu: a dynamic batch is not supported yet; the GPU kernels need a static number of rows}}
  %y = lowbit.qmatmul %x, %w : (tensor<?x64xf32>, !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @external(%x: tensor<1x64xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{external weights are not supported by lowbit-lower-gpu}}
  %w = lowbit.weight external "w" in "m.safetensors" : !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x64xf32>, !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
