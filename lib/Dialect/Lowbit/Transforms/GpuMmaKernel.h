//===- GpuMmaKernel.h - Tensor-core kernel form of lowbit.qmatmul -*- C++ -*-=//
//
// Batches above the decode regime with f16 activations: tiles of x and of
// decoded W go through shared memory into warp-level vector.contract ops,
// which the GPU pipeline turns into mma.sync on tensor cores and the CPU
// pipeline into loops. See docs/CodegenGPU.md.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUMMAKERNEL_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUMMAKERNEL_H

#include "GpuDecode.h"
#include "GpuKernelSupport.h"

namespace mlir::lowbit {

/// Whether the tensor-core kernel computes lowbit.qmatmul with these
/// weights and activations of element type `xElement` (f16 activations,
/// no min-offset zero point, blocks a multiple of 16 or per-channel).
bool useMmaKernel(QTensorType weight, Type xElement);

/// Emits the tensor-core kernel form for `q` (see the .cpp file).
void emitMmaQMatmul(ImplicitLocOpBuilder &b, const GpuMatmulBuffers &q,
                    PackedScalarReader &reader, const RegisterDecoder &decoder);

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_GPUMMAKERNEL_H
