//===- Import.h - Hugging Face / GGUF models to MLIR ------------*- C++ -*-===//
//
// Turns a model directory (config.json + safetensors, possibly sharded, and
// optionally a PEFT LoRA adapter) or a GGUF file into an MLIR module with one
// public `func.func @forward` on static-shape tensors, written with
// func/arith/math/tensor/linalg ops and `lowbit.weight` references to the
// model's tensors. docs/Import.md describes the emitted IR and the options.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_IMPORT_H
#define LOWBIT_IMPORT_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace lowbit::import {

enum class Pooling { Auto, Mean, Cls, None };
enum class Normalize { Auto, On, Off };

struct ImportOptions {
  /// A directory with config.json and model.safetensors (or
  /// model.safetensors.index.json), or a .gguf file.
  std::string modelPath;
  /// Static sequence length and batch size of @forward's inputs.
  int64_t seqLen = 0;
  int64_t batch = 1;
  /// A PEFT LoRA adapter directory (adapter_config.json +
  /// adapter_model.safetensors); empty for none.
  std::string adapterPath;
  /// BERT only: the pooling and L2 normalization of the output. Auto takes
  /// them from the sentence-transformers files (modules.json,
  /// 1_Pooling/config.json), and without them returns the last hidden state.
  Pooling pooling = Pooling::Auto;
  Normalize normalize = Normalize::Auto;
  /// Emit weights as `arith.constant` tensors instead of `lowbit.weight
  /// external` references (for small models and tests).
  bool inlineWeights = false;
  /// Called with one line of progress per layer (no trailing newline).
  std::function<void(const std::string &)> progress;
};

/// What was imported, for the summary line.
struct ImportSummary {
  std::string architecture; ///< "bert", "llama"
  std::string source;       ///< "safetensors", "sharded safetensors", "gguf"
  /// One line: layers, sizes, the output and its options.
  std::string description;
  /// Elements and bytes of the distinct model tensors the module reads,
  /// and the adapter's, by stored dtype name ("F32", "F16", "BF16").
  uint64_t parameters = 0;
  uint64_t tensors = 0;
  std::map<std::string, uint64_t> bytesPerDType;
  uint64_t adapterParameters = 0;
  uint64_t adapterTensors = 0;
  /// Tensors of the checkpoint the module does not read (e.g. BERT's
  /// pooler, position_ids buffers).
  uint64_t unusedTensors = 0;
};

/// Imports the model. On failure returns null and sets `error` to a message
/// that names the file and the field or tensor at fault. The module is
/// verified before it is returned. The context must have (or be able to
/// load) the func, arith, math, tensor, linalg and lowbit dialects.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ImportOptions &options,
                                              ImportSummary &summary,
                                              std::string &error);

/// Registers the dialects the importer emits.
void registerImportDialects(mlir::DialectRegistry &registry);

} // namespace lowbit::import

#endif // LOWBIT_IMPORT_IMPORT_H
