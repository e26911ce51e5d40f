// One int3 lowbit.qmatmul (blocks of 128, f16 scales, constant data) for
// the target feature tests of the dot=i8 kernels.
func.func @int3_g128(%x: tensor<1x256xf32>) -> tensor<1x8xf32> {
  %w = lowbit.weight inline dense<35> : tensor<800xi8> -> !lowbit.qtensor<8x256xf32, #lowbit.scheme<i3, block = 128, scale = f16>>
  %y = lowbit.qmatmul %x, %w : (tensor<1x256xf32>, !lowbit.qtensor<8x256xf32, #lowbit.scheme<i3, block = 128, scale = f16>>) -> tensor<1x8xf32>
  return %y : tensor<1x8xf32>
}
