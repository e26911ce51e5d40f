//===- Models.h - Architecture builders -------------------------*- C++ -*-===//

#ifndef LOWBIT_LIB_IMPORT_MODELS_H
#define LOWBIT_LIB_IMPORT_MODELS_H

#include "ModelBuilder.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <functional>

namespace lowbit::import {

/// Creates `func.func @forward` with named arguments at the end of `module`
/// and positions the builder in its body.
mlir::func::FuncOp createForward(mlir::OpBuilder &b, mlir::ModuleOp module,
                                 llvm::ArrayRef<mlir::Type> inputs,
                                 llvm::ArrayRef<std::string> names,
                                 mlir::Type result);

/// BERT (config.json model_type "bert").
Status buildBert(mlir::ModuleOp module, const ConfigFields &config,
                 const std::string &modelDir, ModelBuilder &mb,
                 const ImportOptions &options, ImportSummary &summary);

/// Llama hyperparameters and tensor names, from config.json or GGUF
/// metadata.
struct LlamaSpec {
  int64_t hidden = 0, intermediate = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, vocab = 0;
  double eps = 1e-6, theta = 10000.0;
  bool tied = false;
  RopeLayout rope = RopeLayout::HalfSplit;
  /// Where the hyperparameters come from, for messages.
  std::string configFile;

  // Tensor names (layer-relative names take the layer index).
  std::string embed, finalNorm, lmHead;
  std::function<std::string(int64_t)> layerPrefix;
  std::string inputNorm, postNorm, q, k, v, o, gate, up, down;
};

/// Reads a Llama config.json.
Result<LlamaSpec> llamaSpecFromConfig(const ConfigFields &config);

/// Llama (config.json model_type "llama", or GGUF general.architecture
/// "llama").
Status buildLlama(mlir::ModuleOp module, const LlamaSpec &spec,
                  ModelBuilder &mb, const ImportOptions &options,
                  ImportSummary &summary);

/// A GGUF file of general.architecture "llama": its spec (tensor names of
/// llama.cpp, interleaved rotary pairs).
Result<LlamaSpec> llamaSpecFromGguf(const modelio::GgufFile &file,
                                    const TensorSource &tensors);

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_MODELS_H
