//===- LowbitOps.td - lowbit operations --------------------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD
#define LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD

include "lowbit/Dialect/Lowbit/IR/LowbitBase.td"
include "lowbit/Dialect/Lowbit/IR/LowbitAttrs.td"
include "lowbit/Dialect/Lowbit/IR/LowbitTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

def Lowbit_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

def Lowbit_WeightOp : Lowbit_Op<"weight", [Pure]> {
  let summary = "A model weight: packed quantized bytes or a float tensor";
  let description = [{
    Produces a quantized tensor from packed bytes in the canonical layout of
    the result's scheme. The bytes are either inline (`inline`, a 1-D i8 or
    ui8 tensor attribute, usually a `dense_resource` blob) or a tensor of an
    external weights file found by name (`external "name"`, optionally
    `in "file"`; without a file the enclosing module's
    `lowbit.weights_file` attribute names it).

    An external weight may also be a plain f32/f16/bf16 tensor: a float
    model's parameter as a model file stores it (what `lowbit-import`
    writes). `lowbit-load-weights` reads external weights into the module
    (float ones become `arith.constant`s) so that the quantization and
    lowering passes see constants; inline float data is an `arith.constant`
    and has no `lowbit.weight` form.

    ```mlir
    %w = lowbit.weight inline dense_resource<w0> : tensor<2112xi8>
           -> !lowbit.qtensor<64x64xf16, #lowbit.scheme<nf4, block = 64, scale = f16>>
    %v = lowbit.weight external "layers.0.mlp.up_proj"
           : !lowbit.qtensor<11008x4096xf16, #lowbit.scheme<i4, block = 128, scale = f16>>
    %b = lowbit.weight external "layers.0.mlp.up_proj.bias" in "model.safetensors"
           : tensor<11008xf32>
    ```
  }];
  let arguments = (ins
    OptionalAttr<ElementsAttr>:$data,
    OptionalAttr<StrAttr>:$name,
    OptionalAttr<StrAttr>:$file
  );
  let results = (outs AnyTypeOf<[Lowbit_QTensorType, Lowbit_FloatTensor]>:$result);
  let extraClassDeclaration = [{
    /// The quantized result type, or null for a float weight.
    QTensorType getQType() { return ::llvm::dyn_cast<QTensorType>(getType()); }
    /// The result as a quantized tensor; the op must have a qtensor type.
    ::mlir::TypedValue<QTensorType> getQResult() {
      return ::llvm::cast<::mlir::TypedValue<QTensorType>>(getResult());
    }
  }];
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
}

def Lowbit_QuantizeOp : Lowbit_Op<"quantize", [Pure]> {
  let summary = "Quantizes a float tensor under the result's scheme";
  let description = [{
    Round-to-nearest quantization of `input`, exactly as the numerics core
    defines it for the result's scheme.

    ```mlir
    %q = lowbit.quantize %x : tensor<64x128xf32>
           -> !lowbit.qtensor<64x128xf32, #lowbit.scheme<i8, per_channel>>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input);
  let results = (outs Lowbit_QTensorType:$result);
  let assemblyFormat =
      "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Lowbit_DequantizeOp : Lowbit_Op<"dequantize", [Pure]> {
  let summary = "Expands a quantized tensor to the float tensor it stands for";
  let description = [{
    Reference semantics for tests and for frontends; the fusion passes fold
    it into its consumers so that no dequantized weight is materialized.

    ```mlir
    %x = lowbit.dequantize %q : !lowbit.qtensor<64x128xf16, #s> -> tensor<64x128xf16>
    ```
  }];
  let arguments = (ins Lowbit_QTensorType:$input);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat =
      "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Lowbit_QMatmulOp : Lowbit_Op<"qmatmul", [Pure, AttrSizedOperandSegments]> {
  let summary = "Matmul with a quantized weight, optional bias and LoRA branch";
  let description = [{
    Computes `y = x·Wᵀ + bias + s·(x·Aᵀ)·Bᵀ` where `x` is `[..., K]` (any
    number of batch dimensions), `W` is a quantized `[N, K]` weight, `bias`
    is `[N]`, and the LoRA factors are `A: [r, K]` and `B: [N, r]` with
    scale `s` (`α/r` in PEFT terms, default 1). `y` is `[..., N]`.
    Accumulation is in f32; the result is rounded to its element type.

    ```mlir
    %y = lowbit.qmatmul %x, %w bias(%b) lora(%a, %bb) scale 2.0
           : (tensor<1x4096xf16>, !lowbit.qtensor<11008x4096xf16, #s>,
              tensor<11008xf16>, tensor<16x4096xf16>, tensor<11008x16xf16>)
           -> tensor<1x11008xf16>
    ```
  }];
  let arguments = (ins
    Lowbit_FloatTensor:$input,
    Lowbit_QTensorType:$weight,
    Optional<Lowbit_FloatTensor>:$bias,
    Optional<Lowbit_FloatTensor>:$lora_a,
    Optional<Lowbit_FloatTensor>:$lora_b,
    OptionalAttr<F32Attr>:$lora_scale
  );
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `)`)?
    (`lora` `(` $lora_a^ `,` $lora_b `)`)? (`scale` $lora_scale^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    bool hasLora() { return static_cast<bool>(getLoraA()); }
    /// The LoRA scale, 1 when not given.
    float getLoraScaleValue() {
      return getLoraScale() ? getLoraScale()->convertToFloat() : 1.0f;
    }
  }];
}

def Lowbit_HadamardOp : Lowbit_Op<"hadamard",
    [Pure, SameOperandsAndResultType]> {
  let summary = "Rotates the last dimension by a blockwise Hadamard matrix";
  let description = [{
    Computes `x·R` where `R = diag(H_b/√b, H_b/√b, ...)` is the normalized
    Sylvester-Hadamard matrix of order `b = block_size` (a power of two
    that divides the last dimension) repeated along the diagonal: each run
    of `b` elements of the last dimension is mixed by a fast Walsh-Hadamard
    transform, computed in f32 in the order of operations
    lib/Numerics/Hadamard.cpp defines, then rounded to the element type.

    `lowbit-quantize-weights hadamard-block-size=b` quantizes `W·R` instead
    of `W` and feeds the matmul `x·R`, which leaves `x·Wᵀ` unchanged but
    spreads outlier channels over a block, so low-bit block scales fit the
    weight more tightly. `R` is its own inverse, so two rotations with the
    same block size fold away.

    ```mlir
    %xr = lowbit.hadamard %x block 128 : tensor<8x384xf32>
    %y = lowbit.qmatmul %xr, %w : (tensor<8x384xf32>, !lowbit.qtensor<...>)
           -> tensor<8x1536xf32>
    ```
  }];
  let arguments = (ins Lowbit_FloatTensor:$input, I64Attr:$block_size);
  let results = (outs Lowbit_FloatTensor:$result);
  let assemblyFormat =
      "$input `block` $block_size attr-dict `:` qualified(type($input))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

#endif // LOWBIT_DIALECT_LOWBIT_IR_LOWBITOPS_TD
