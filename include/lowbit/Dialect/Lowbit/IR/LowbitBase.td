//===- LowbitBase.td - lowbit dialect definition -----------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD

include "mlir/IR/OpBase.td"

def Lowbit_Dialect : Dialect {
  let name = "lowbit";
  let cppNamespace = "::mlir::lowbit";
  let summary = "Low-bit quantized tensors, their block scales and fused "
                "quantized matmuls";
  let description = [{
    The lowbit dialect gives low-bit weights first-class types. A
    `#lowbit.scheme` attribute says how a float tensor is quantized (element
    format, block size along the reduction axis, scale type, zero point,
    double quantization of the scales); `!lowbit.qtensor` is a tensor
    quantized under a scheme, whose packed bytes follow the canonical layout
    of docs/Formats.md. `lowbit.qmatmul` computes `x·Wᵀ` with a quantized
    `W`, an optional bias and an optional LoRA branch; it is the form that
    fusion passes produce and code generation starts from.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
  let hasOperationAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Module attribute naming the default external weights file.
    static constexpr ::llvm::StringLiteral kWeightsFileAttrName =
        "lowbit.weights_file";
    /// Op attribute naming an op (e.g. a model layer) for skip lists and
    /// Hessian lookup; on a function result, what the result holds.
    static constexpr ::llvm::StringLiteral kNameAttrName = "lowbit.name";
    /// Unit attribute of the host globals that hold the bytes of GPU
    /// weights kept out of the kernels' binaries (lowbit-gpu-pipeline's
    /// external-weights-min-bytes); the global's name is the device
    /// global's.
    static constexpr ::llvm::StringLiteral kDeviceWeightAttrName =
        "lowbit.device_weight";

  private:
    void registerAttributes();
    void registerTypes();

  public:
  }];
}

class Lowbit_Op<string mnemonic, list<Trait> traits = []>
    : Op<Lowbit_Dialect, mnemonic, traits>;

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITBASE_TD
