//===- Passes.td - lowbit transformation passes ------------*- tablegen -*-===//

#ifndef LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_TD
#define LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowbitQuantizeWeights : Pass<"lowbit-quantize-weights", "ModuleOp"> {
  let summary = "Quantize the constant float weights of matmuls";
  let description = [{
    Finds matmuls whose weight operand is a float constant and rewrites them
    to `lowbit.qmatmul` on a `lowbit.weight` packed by the numerics core
    (round-to-nearest). Recognized forms, with `x` the activation and `W` the
    constant: `linalg.matmul(x, Wᵀ-constant)` ([K, N] weight),
    `linalg.matmul` with a transposed-B indexing map, `linalg.matmul_transpose_b`,
    `linalg.batch_matmul` whose weight is a broadcast of one constant, and
    `linalg.generic` contractions of the same shapes.

    Options mirror bitsandbytes and AutoGPTQ. Example:

    ```
    lowbit-opt --lowbit-quantize-weights="format=nf4 block-size=64 double-quant"
    ```

    turns

    ```mlir
    %w = arith.constant dense<...> : tensor<64x128xf32>   // [K, N]
    %y = linalg.matmul ins(%x, %w : tensor<1x64xf32>, tensor<64x128xf32>)
                       outs(%init : tensor<1x128xf32>) -> tensor<1x128xf32>
    ```

    into

    ```mlir
    %q = lowbit.weight inline dense_resource<...> : tensor<4424xi8>
           -> !lowbit.qtensor<128x64xf32, #lowbit.scheme<nf4, block = 64, scale = f16, dq = <dyn8, block = 256>>>
    %y = lowbit.qmatmul %x, %q : (...) -> tensor<1x128xf32>
    ```

    Weights matched by `int8` are quantized to per-channel int8 (f32
    scales) instead: mixed precision, as llama.cpp's `_M` types keep their
    most sensitive tensors in more bits. Weights below `min-size` elements
    or matched by `skip` stay float
    (counted as skipped); a weight that cannot be quantized under the scheme
    (e.g. K not divisible by the block size) stays float with a remark.

    With `hessians`, a safetensors file of calibration Hessians (one f32
    [K, K] tensor H = Σ x xᵀ per matmul, named by its `lowbit.name`, as
    `lowbit.calibrate` writes them), weights that have one are quantized
    with GPTQ instead of round-to-nearest: each column's rounding error is
    spread over the columns not yet rounded so that the layer's outputs on
    the calibration inputs change least (numerics `quantizeGptq`; block
    parameters as round-to-nearest chooses them, so the layout and the
    kernels are the same). `gptq-damping` and `gptq-act-order` are
    AutoGPTQ's `damp_percent` / 100 and `desc_act`; `gptq-clip` first
    narrows each block's range (factors 1 to 0.55) where that lowers the
    round-to-nearest error weighted by the Hessian's diagonal.
    `gptq-refine=n` then runs up to n coordinate-descent passes over the
    codes (QuantEase): each code in turn moves to the level that minimizes
    the same calibration error with all others fixed, which never raises
    it; passes stop early once nothing changes. A weight without a
    Hessian in the file is rounded to nearest with a remark; a Hessian of
    the wrong shape or type is an error.

    A file from asymmetric calibration (`lowbit.calibrate(...,
    asymmetric=...)`) holds, per matmul, H̃ = Σ x̃ x̃ᵀ over the inputs x̃ the
    layer sees in the partly quantized model and, named `<name>#cross`,
    C = Σ x̃ xᵀ pairing them with the float model's inputs x. GPTQ then
    quantizes (1 − b)·W + b·W* with b = `gptq-target-blend`, where W* is
    the least-squares weight for the float model's outputs on those inputs
    (minimizing ‖X·Wᵀ − X̃·W*ᵀ‖², as GPTAQ), damped toward W:
    W*·(H̃ + D) = W·Cᵀ + W·D with GPTQ's diagonal damping D. Each layer
    thus also corrects what the quantized layers before it changed. The
    target is formed before any rotation.

    With `hadamard-block-size=b` (a power of two), weights of the main
    scheme whose K is a multiple of b are rotated before they are
    quantized: `W·R` is quantized, where `R` is the normalized
    Walsh-Hadamard matrix of order b repeated along the diagonal, and the
    matmul reads `lowbit.hadamard %x block b` instead of `x`, so that
    `(x·R)·(W·R)ᵀ = x·Wᵀ`. The rotation mixes each input channel with the
    others of its block, which evens out the magnitudes a block scale must
    cover (QuaRot); a Hessian is rotated with the weight (`R·H·R`). Weights
    matched by `int8` are not rotated, nor (with a remark) weights whose K
    is not a multiple of b. Matmuls that read the same input share one
    rotation after CSE. A LoRA branch of a rotated weight reads the
    unrotated input, so `lowbit-fuse-lora` leaves it unfused.

    With `stats`, a remark reports `weights-quantized`, `weights-skipped`,
    `bytes-before`, `bytes-after`, `mean-relative-rms-error-ppm` (the
    mean over weights of ‖W − dequant(quant(W))‖ / ‖W‖, in parts per
    million), `weights-int8` (how many of the quantized weights `int8`
    matched), `weights-gptq` (how many had a Hessian) and, with Hessians,
    `mean-output-error-ppm`: the mean over those weights of
    ‖X·(W − Q)ᵀ‖² / ‖X·Wᵀ‖² on the calibration inputs X, the quantity GPTQ
    minimizes (against the asymmetric target where there is one),
    `weights-rotated` and `weights-asymmetric`. Errors of rotated weights are
    measured in the rotated basis, where they are the same.
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"int4\"",
           "Element format: int8, int4, int3, int2, nf4, fp4 or fp8">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Elements along K that share a scale">,
    Option<"perChannel", "per-channel", "bool", /*default=*/"false",
           "One scale per output row instead of per block">,
    Option<"symmetric", "symmetric", "bool", /*default=*/"true",
           "Integer formats: symmetric (signed) or with a zero point">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f16\"",
           "Type of the stored block scales: f32, f16 or bf16">,
    Option<"doubleQuant", "double-quant", "bool", /*default=*/"false",
           "Quantize the block scales again (QLoRA double quantization)">,
    Option<"doubleQuantFormat", "double-quant-format", "std::string",
           /*default=*/"\"dyn8\"",
           "Format of double-quantized scales: dyn8, i8 or fp8">,
    Option<"doubleQuantBlockSize", "double-quant-block-size", "int64_t",
           /*default=*/"256", "Scales per double-quantization block">,
    ListOption<"skip", "skip", "std::string",
               "Regular expressions; a matmul whose function name, "
               "`lowbit.name` attribute or location name matches one stays "
               "float (e.g. skip=lm_head)">,
    ListOption<"int8", "int8", "std::string",
               "Regular expressions, matched like skip; a matching matmul "
               "is quantized to per-channel int8 with f32 scales instead of "
               "the scheme (mixed precision for the layers most sensitive "
               "to quantization, e.g. int8=layer\\.[2-5]\\.)">,
    Option<"minSize", "min-size", "int64_t", /*default=*/"0",
           "Weights with fewer elements stay float">,
    Option<"hessians", "hessians", "std::string", /*default=*/"\"\"",
           "Safetensors file of calibration Hessians: weights with one are "
           "quantized with GPTQ">,
    Option<"gptqDamping", "gptq-damping", "double", /*default=*/"0.01",
           "GPTQ: added to the Hessian's diagonal, as a fraction of its "
           "mean">,
    Option<"gptqActOrder", "gptq-act-order", "bool", /*default=*/"true",
           "GPTQ: round the columns with the largest Hessian diagonal "
           "first">,
    Option<"gptqClip", "gptq-clip", "bool", /*default=*/"true",
           "GPTQ: first narrow each block's range where that lowers the "
           "error weighted by the Hessian's diagonal">,
    Option<"gptqRefine", "gptq-refine", "unsigned", /*default=*/"0",
           "GPTQ: coordinate-descent passes over the codes afterwards "
           "(0: none)">,
    Option<"gptqTargetBlend", "gptq-target-blend", "double",
           /*default=*/"0.5",
           "GPTQ: for weights with a cross-covariance in the Hessians file "
           "(asymmetric calibration), how far to move from W to the "
           "least-squares weight for the quantized model's inputs (0 to "
           "1)">,
    Option<"hadamardBlockSize", "hadamard-block-size", "int64_t",
           /*default=*/"0",
           "Rotate weights and their inputs by blockwise Hadamard matrices "
           "of this order (a power of two; 0: no rotation)">,
    Option<"threads", "threads", "unsigned", /*default=*/"0",
           "Threads used to quantize one weight (0: all cores)">,
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitExposeMatmulInputs
    : Pass<"lowbit-expose-matmul-inputs", "ModuleOp"> {
  let summary = "Return the inputs of named weight matmuls (for calibration)";
  let description = [{
    Calibration (GPTQ) needs what each linear layer sees: this pass makes
    every public function also return the activation x of each matmul that
    `lowbit-quantize-weights` would quantize (a float weight that is a
    constant or a `lowbit.weight`, LoRA factors excepted) and that has a
    `lowbit.name`, as a [rows, K] tensor (leading dimensions collapsed),
    labelled with that name in a `lowbit.name` result attribute. Compiled
    (`lowbit-compile --expose-matmul-inputs`), the labels reach the
    artifact's manifest, and `lowbit.calibrate` sums xᵀx per label into the
    Hessians that `lowbit-quantize-weights hessians=` reads.

    ```mlir
    func.func @f(%x: tensor<4x64xf32>) -> tensor<4x32xf32> {
      %y = linalg.matmul ... ins(%x, %w ...) {lowbit.name = "fc1"}
      return %y : tensor<4x32xf32>
    }
    // becomes
    func.func @f(%x: tensor<4x64xf32>)
        -> (tensor<4x32xf32>, tensor<4x64xf32> {lowbit.name = "fc1"}) {
      ...
      return %y, %x : tensor<4x32xf32>, tensor<4x64xf32>
    }
    ```

    Matmuls nested in regions (loops, branches) and functions with more
    than one block are left alone with a remark: their x does not reach the
    return.
  }];
  let options = [
    ListOption<"names", "names", "std::string",
               "Regular expressions; expose only matmuls whose lowbit.name "
               "matches one (default: all named matmuls)">,
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def LowbitFuseDequantMatmul : Pass<"lowbit-fuse-dequant-matmul"> {
  let summary = "Fold explicit dequantization into lowbit.qmatmul";
  let description = [{
    Recognizes a weight that is dequantized and then used only by a matmul,
    and folds both into `lowbit.qmatmul` so that no dequantized weight is
    materialized. Matmuls: `linalg.matmul` with transposed-B maps (weight
    [N, K]), `linalg.matmul` whose [K, N] weight is a `linalg.transpose` of
    the dequantized [N, K] one, `linalg.batch_matmul` whose weight is a
    `linalg.broadcast` of the 2-D weight over the batch, and `linalg.generic`
    contractions of these shapes; x may have any leading dims. A zero init
    (`linalg.fill` of 0 or a zero constant) is dropped, any other init is
    added with `arith.addf`. Handled producers of the dequantized weight:

    - `lowbit.dequantize` of a quantized tensor;
    - the explicit form of group-quantizing frontends,
      `w = (tofp(ext(codes)) - zero) * scale` with `codes` a constant
      `tensor<NxKxiB>` (B = 8, 4, 3, 2), `extsi`/`extui` optional,
      `sitofp`/`uitofp`, the `subf` of a zero point optional (unsigned codes
      only), and `scale`/`zero` constants of shape [N, K/block] read at
      `(n, k floordiv block)`, [N] / [N, 1] (per channel) or splats. The
      ops may be arith ops on tensors or the scalar body of elementwise
      `linalg.generic`s; the per-block tensors may be expanded by generic
      indexing maps, `linalg.broadcast`, `tensor.collapse_shape` and
      `tensor.expand_shape`. The result is a `lowbit.weight` with an
      `iB`/`uB` scheme (`zero_point = int` for unsigned codes) and scales in
      the frontend's float type, holding exactly the frontend's codes,
      scales and zero points (numerics `packCodes`). Zero points must be
      integer codes in range; a scale below the smallest normal f32 is
      rejected with a remark;
    - `quant.dcast` of `quant.scast` of an integer constant (the upstream
      quant dialect), for a [N, K] tensor of
      `!quant.uniform` per tensor (`<i8:f32, 0.5>`), per axis along N
      (`<i8:f32:0, {...}>`), or sub-channel with blocks along K
      (`<i4:f16:{0:1, 1:32}, {{...}}>`, scales [N, K/32]; a block size on
      dimension 0 other than 1 shares parameters between rows). Storage
      i8/i4/i3/i2 with zero points 0 gives an `iB` scheme, u8/u4/u3/u2 a
      `uB` scheme with `zero_point = int`; the qtensor element type is the
      expressed type (f32, f16 or bf16). The double scales are stored as
      f32 (`scale = f32`), so the weight decodes as `(q - z) * f32(scale)`
      rounded once to the expressed type. Per-axis quantization along K,
      non-zero zero points with signed storage, other storage widths, and
      scales that are not normal f32 numbers are reported with a remark; a
      constant whose type is the quantized tensor itself (only string
      elements parse) is not supported.

    ```mlir
    %d = lowbit.dequantize %q : !lowbit.qtensor<128x64xf32, #s> -> tensor<128x64xf32>
    %y = linalg.matmul indexing_maps = [...(m, k), ...(n, k), ...(m, n)]
           ins(%x, %d : ...) outs(%zero : ...)
    // becomes
    %y = lowbit.qmatmul %x, %q : (...) -> tensor<1x128xf32>
    ```

    A dequantized value with other users, a [K, N] weight used as plain B
    (its blocks would run along N), non-constant codes (or a `quant.dcast`
    of a non-constant tensor), or a scale that is not broadcast along whole
    blocks, is left unchanged.
  }];
  let options = [
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitFuseLora : Pass<"lowbit-fuse-lora"> {
  let summary = "Fold LoRA adapter branches into lowbit.qmatmul";
  let description = [{
    Recognizes `base(x) + s · ((x·Aᵀ)·Bᵀ)` (the scale on either side of the
    product, or folded into a factor) added to a `lowbit.qmatmul` of the
    same `x`, and moves the factors into the qmatmul's LoRA operands.
    Several adapters on the same matmul are concatenated along the rank
    (`tensor.concat`), each scale folded into its B with `arith.mulf`.

    The branch is two matmuls as `lowbit-fuse-dequant-matmul` recognizes
    them (transposed-B `linalg.matmul`, plain `linalg.matmul` on [K, r] and
    [r, N] factors, for which `linalg.transpose`s are looked through or
    materialized, batch matmuls on broadcast factors, generic
    contractions), both with zero inits. Scales are splat constants (or
    fills) multiplied by `arith.mulf`, `linalg.mul` or an elementwise
    generic, on x, on x·Aᵀ or on the product; the add is `arith.addf`,
    `linalg.add` or an elementwise generic. Only a `lowbit.qmatmul` base is
    handled (not a float matmul). A branch reading another x, with
    intermediate values used elsewhere, or whose shapes do not match W
    stays unchanged.

    ```mlir
    %base = lowbit.qmatmul %x, %w : (...) -> tensor<1x128xf32>
    %xa = linalg.matmul_transpose_b ins(%x, %a ...)     // [1, r]
    %xab = linalg.matmul_transpose_b ins(%xa, %b ...)   // [1, 128]
    %s = linalg.mul / arith.mulf by a splat 2.0
    %y = arith.addf %base, %s
    // becomes
    %y = lowbit.qmatmul %x, %w lora(%a, %b) scale 2.0 : (...)
    ```
  }];
  let options = [
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitLoadWeights : Pass<"lowbit-load-weights", "ModuleOp"> {
  let summary = "Read external weights from their safetensors or GGUF files into the module";
  let description = [{
    Replaces every `lowbit.weight external "name"` by the tensor's contents:
    a float weight becomes an `arith.constant`, a quantized one an inline
    `lowbit.weight` of its packed bytes. The file is the op's `in "file"`
    or the module's `lowbit.weights_file`; relative paths are resolved
    against `weights-dir`. Each file is memory-mapped and validated once.
    A file that starts with the `GGUF` magic (or, when it cannot be read,
    whose name ends in `.gguf`) is read as GGUF v3; any other as
    safetensors.

    The stored tensor must match the op's type. From safetensors: a float
    weight needs the same dtype (F32, F16 or BF16) and shape; a quantized
    weight needs U8 or I8 data of exactly the packed size of its scheme (any
    shape). From GGUF, whose dimensions are listed contiguous-first and are
    compared reversed (`ne` `[K, N]` is shape `[N, K]`): a float weight
    needs an F32 or F16 tensor of its element type and shape; a quantized
    weight needs Q4_0, Q4_1, Q8_0 or Q4_K blocks of its shape whose type
    converts to exactly its scheme (Q8_0: `i8, block = 32, scale = f16`;
    Q4_0: `i4, block = 32, scale = f16`; Q4_1: `u4, block = 32, scale = f16,
    zero_point = min`; Q4_K: `u4, block = 32, scale = f32, zero_point =
    min`), and the blocks are converted to the canonical packed layout
    without loss (every weight dequantizes to the bits llama.cpp computes).
    Missing files and tensors, unreadable files and every mismatch are
    errors at the op.

    ```mlir
    %w = lowbit.weight external "fc.weight" in "model.safetensors" : tensor<64x128xf32>
    // becomes
    %w = arith.constant dense<...> : tensor<64x128xf32>

    %q = lowbit.weight external "blk.0.attn_q.weight" in "model.gguf"
           : !lowbit.qtensor<64x128xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
    // becomes (the Q8_0 blocks in the canonical layout)
    %q = lowbit.weight inline dense_resource<blk.0.attn_q.weight> : tensor<8704xi8>
           -> !lowbit.qtensor<64x128xf32, #lowbit.scheme<i8, block = 32, scale = f16>>
    ```
  }];
  let options = [
    Option<"weightsDir", "weights-dir", "std::string", /*default=*/"\"\"",
           "Directory that relative weight file names are resolved against "
           "(default: the current directory)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::lowbit::LowbitDialect"];
}

def LowbitMergeLora : Pass<"lowbit-merge-lora", "ModuleOp"> {
  let summary = "Merge LoRA adapters into quantized weights (deploy time)";
  let description = [{
    For a `lowbit.qmatmul` with inline weight and constant LoRA factors,
    computes `W' = dequant(W) + s·B·A` in f32 and requantizes it with the
    weight's scheme (or the scheme given by `format`), as in L4Q, so the
    deployed model is fully quantized. The relative error the requantization
    adds, `‖W' − dequant(quant(W'))‖ / ‖W'‖`, is reported; above `max-error`
    the adapter is left fused instead.

    With `stats`, a remark reports `adapters-merged`, `adapters-refused` and
    `max-relative-error-ppm`.
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"\"",
           "Requantize with this format instead of the weight's own "
           "(int8, int4, int3, int2, nf4, fp4, fp8)">,
    Option<"maxError", "max-error", "double", /*default=*/"1.0",
           "Largest relative RMS error a merge may add">,
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = ["::mlir::lowbit::LowbitDialect"];
}

def LowbitDecompose : Pass<"lowbit-decompose", "ModuleOp"> {
  let summary = "Lower lowbit ops to plain arith/linalg/tensor (reference)";
  let description = [{
    Rewrites every lowbit op into upstream ops that compute exactly what the
    numerics core defines: packed weights become `arith.constant` byte
    tensors, `lowbit.quantize` of a run-time tensor becomes block
    reductions, per-element encoding and bit packing that produce the same
    bytes as the numerics core, codes are unpacked with shifts and masks,
    decoded with `tensor.extract` from a codebook, scaled per block, and
    `lowbit.qmatmul` becomes `linalg.matmul`s accumulating in f32. This slow but obviously correct
    program is the reference every fused kernel is tested against.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect", "::mlir::math::MathDialect"
  ];
}

def LowbitLowerCpu : Pass<"lowbit-lower-cpu", "ModuleOp"> {
  let summary = "Lower lowbit.qmatmul to fused dequant-matmul vector kernels "
                "for CPUs";
  let description = [{
    Rewrites each `lowbit.qmatmul` into loops over output rows and K blocks
    whose body reads the packed weight bytes with `vector.transfer_read`,
    unpacks the codes with vector shifts, masks and shuffles, decodes them
    to f32 in registers (integer formats arithmetically, 16-entry
    codebooks with a select tree, FP8 by assembling the f32 bits), applies
    the block scale and zero point with the numerics core's f32 operations,
    and accumulates `x·wᵀ` with `vector.fma` into f32 vectors reduced by
    `vector.reduction`. The dequantized weight is never stored: each decoded
    chunk is used by up to `batch-tile` rows of `x` and dropped. Decoded
    weights are bit-exact; only the order of the f32 additions differs from
    `lowbit-decompose`. Every other lowbit op gets the reference lowering,
    so the result is plain arith/scf/tensor/vector/linalg on packed bytes.

    ```mlir
    %y = lowbit.qmatmul %x, %w
           : (tensor<1x64xf32>, !lowbit.qtensor<8x64xf32, #lowbit.scheme<i4, block = 32>>)
             -> tensor<1x8xf32>
    // becomes, per output row %n and K block %blk:
    %bytes = vector.transfer_read %packed[%off], %c0_i8 {in_bounds = [true]}
               : tensor<320xi8>, vector<8xi8>
    %lo = arith.andi %bytes, %c15 : vector<8xi8>
    %hi = arith.shrui %bytes, %c4 : vector<8xi8>
    %codes = vector.shuffle %lo, %hi [0, 8, 1, 9, ...] : vector<8xi8>, vector<8xi8>
    ...
    %acc1 = vector.fma %xv, %wv, %acc : vector<16xf32>
    ```

    Output columns are tiled (`n-tile`) into the iterations of an
    `scf.forall`, which `lowbit-cpu-pipeline{parallel=true}` runs on
    OpenMP threads. Static batches of `gemm-min-batch` rows or more take a
    GEMM strategy instead: per tile of `n-tile` output columns and 256
    columns of K, the weights are decoded (bit-exactly) into an f32 tile
    of at most 32 KiB that all rows of `x` share, multiplied by a
    `linalg.generic` contraction which `lowbit-vectorize-linalg` (next in
    `lowbit-cpu-pipeline`) register-blocks; bias, LoRA and the result type
    follow as elementwise ops. With `isa=avx512` or `isa=avx2`, codes of fewer than 8
    bits are decoded by a register permute (`vpermps`) of a per-block table
    holding the scaled value of every code, computed with the numerics
    core's f32 operations (still bit-exact); `isa=generic` uses only
    portable vector ops.

    `lowbit-cpu-pipeline` runs this pass and lowers the result to the LLVM
    dialect. See docs/CodegenCPU.md.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per chunk of K: 16 for AVX-512, 8 for AVX2 "
           "(a positive multiple of 8)">,
    Option<"batchTile", "batch-tile", "int64_t", /*default=*/"8",
           "Most rows of x that share one decode of the weights; a static "
           "batch uses its largest divisor not above this, a dynamic one 1">,
    Option<"nTile", "n-tile", "int64_t", /*default=*/"32",
           "Output columns (rows of W) per iteration of the scf.forall "
           "that threads may share">,
    Option<"isa", "isa", "std::string", /*default=*/"\"generic\"",
           "Instructions the kernels may call directly: generic (portable "
           "vector ops only), avx2 or avx512 (vpermps lookups of per-block "
           "scaled tables for codes of fewer than 8 bits)">,
    Option<"gemmMinBatch", "gemm-min-batch", "int64_t", /*default=*/"16",
           "Static batches of at least this many rows decode tiles of W "
           "once for all rows and multiply them with a contraction that "
           "lowbit-vectorize-linalg register-blocks (0: never)">,
    Option<"pairMinK", "pair-min-k", "int64_t", /*default=*/"8192",
           "K from which the GEMV kernels (batches of 1-2 rows, even N) "
           "decode two rows of W per pass over x, loading each chunk of x "
           "once for both (0: never)">,
    Option<"dot", "dot", "std::string", /*default=*/"\"f32\"",
           "Dot products of the kernels: f32 (exact decode, the "
           "default) or i8 (isa=avx512 only, every batch of the weights it "
           "covers: x quantized to int8 per 128 "
           "elements (256 for 2-bit codes) once per call, codes multiplied "
           "as bytes with "
           "AVX-512 VNNI vpdpbusd, for 2-, 4- and 8-bit integer and 4-bit "
           "codebook formats, 3-bit integers with vbmi)">,
    Option<"vbmi", "vbmi", "bool", /*default=*/"false",
           "The target has AVX-512 VBMI (vpermb, vpmultishiftqb): dot=i8 "
           "then also covers 3-bit integer codes">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect", "::mlir::math::MathDialect",
    "::mlir::LLVM::LLVMDialect"
  ];
}

def LowbitLowerGpu : Pass<"lowbit-lower-gpu", "ModuleOp"> {
  let summary = "Lower lowbit.qmatmul to a target-independent GPU kernel "
                "form (SIMT decode kernel; tensor-core kernel for larger "
                "f16 batches)";
  let description = [{
    Rewrites each `lowbit.qmatmul` with a static batch into a GPU kernel
    written with upstream ops. Two kernel forms:

    - **Decode** (batches of 1 to 16 rows, and larger batches the tensor-core
      kernel does not take, in tiles of 16 rows): an `scf.forall` over tiles
      of 4 rows of W mapped to `#gpu.block<x>`, and inside it two
      `scf.forall`s of 128 threads mapped to `#gpu.thread<x>` (a warp of 32
      lanes per row of W). In the first, each lane reads 16 packed weight
      bytes per step with one `vector.load` (a 128-bit load on a GPU),
      decodes them in registers bit-exactly as the numerics core does
      (integer codes arithmetically, 16-entry codebooks with a select tree,
      FP8 by assembling the f32 bits), applies the block scale and zero
      point, and accumulates `x·wᵀ` for every row of the tile with
      `math.fma`; it stores its partial sums in a block-level buffer
      (`memref.alloca`, shared memory on a GPU). In the second,
      `gpu.subgroup_reduce add ... cluster(size = 32)` sums the partials of
      a warp, and lane 0 adds the bias and the LoRA up-projection and
      rounds once to the result type.
    - **Tensor cores** (more than 16 rows of f16 activations; weights
      without a min offset, blocks a multiple of 16 or per-channel): blocks
      of 64 x 64 outputs step over K in tiles of 32; threads stage x and the
      decoded code values minus the zero point as f16 in shared memory
      (codebooks f16 cannot hold exactly, such as NF4, as two f16 parts),
      four warps (`#gpu.warp<x>`) contract 16 x 16 by 8 x 16 f16 tiles into
      f32 with `vector.contract` (`mma.sync` on NVIDIA GPUs), and threads
      apply each K tile's block scales to its sums in f32.

    `x·Aᵀ` of a LoRA branch is computed once by a small kernel of the decode
    kind. The forms run on the CPU (`lowbit-gpu-kernel-cpu-pipeline`: the
    foralls become loops) and compile for NVIDIA GPUs
    (`lowbit-gpu-pipeline`). A dynamic batch is reported as unsupported.
    Every other lowbit op gets the reference lowering. See
    docs/CodegenGPU.md.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect",
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def LowbitVectorizeLinalg : Pass<"lowbit-vectorize-linalg"> {
  let summary = "Tile and vectorize float linalg ops on tensors for CPUs";
  let description = [{
    Turns the float `linalg` ops that `lowbit-lower-cpu` leaves behind
    (float matmuls, attention's batch matmuls, softmax, LayerNorm, GELU,
    bias adds, transposes, fills) into tiled loops of vector code, on
    tensors, before bufferization. What is not handled stays as it is and
    is lowered to scalar loops by `convert-linalg-to-loops` as before.

    - **Contractions** (`linalg.matmul`, `linalg.batch_matmul`, their
      transposed-B forms and generic contractions with one M, N and K
      dimension, static shapes, float operands): a B read along K
      (`[N, K]` weights) is first transposed to `[K, N]` (folded at
      compile time when B is a constant), then the op is tiled into
      register blocks of `m-tile` rows by `n-tile` columns (the largest
      divisors of M and N not above them) and `k-tile` steps of K,
      vectorized into `vector.contract`, and the accumulators are kept in
      vector registers across the K loop. The contraction is lowered to
      outer products, i.e. one broadcast of an element of A and one FMA
      per row and K step.
    - **Other ops** (elementwise `linalg.generic` and named elementwise
      ops, reductions, `linalg.fill`, `linalg.transpose`,
      `linalg.broadcast`, `linalg.copy`) with static shapes and a float
      result are tiled to one row of the innermost loop dimension, at
      most `max-vector-size` elements (the largest divisor), and
      vectorized with `linalg::vectorize`; reductions become
      `vector.reduction`.

    Ops with dynamic shapes, gathers (`tensor.extract` in the body),
    integer results or other bodies the vectorizer rejects are left
    unchanged. Results are those of the scalar loops except for the order
    (reassociation) of f32 reductions and the fused multiply-adds of
    contractions. Tensor `arith` ops are converted to `linalg.generic`
    first (as `convert-elementwise-to-linalg` does) so they are vectorized
    too. The output has only 1-D vectors and transfers, which the rest of
    `lowbit-cpu-pipeline` lowers unchanged. See docs/CodegenCPU.md.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes of a vector register (16: AVX-512, 8: AVX2); "
           "matmul column tiles are preferably multiples of it">,
    Option<"mTile", "m-tile", "int64_t", /*default=*/"8",
           "Most rows of a matmul register block">,
    Option<"nTile", "n-tile", "int64_t", /*default=*/"0",
           "Most columns of a matmul register block (0: two vector "
           "registers, 2 x vector-width)">,
    Option<"kTile", "k-tile", "int64_t", /*default=*/"4",
           "Most K steps per iteration of a matmul's K loop">,
    Option<"maxVectorSize", "max-vector-size", "int64_t", /*default=*/"512",
           "Most elements of the vector of an elementwise or reduction "
           "tile">,
    Option<"stats", "stats", "bool", /*default=*/"false",
           "Report the pass's counters in a remark">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect", "::mlir::math::MathDialect",
    "::mlir::affine::AffineDialect", "::mlir::ub::UBDialect"
  ];
}

#endif // LOWBIT_DIALECT_LOWBIT_TRANSFORMS_PASSES_TD
