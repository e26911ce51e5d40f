//===- ModelBuilder.h - Weights, linear layers, LoRA adapters ---*- C++ -*-===//
//
// What the architecture builders share: references to checkpoint tensors
// (`lowbit.weight external` or inline constants) with dtype and shape checks,
// linear layers in the form lowbit-quantize-weights recognizes, PEFT LoRA
// branches in the form lowbit-fuse-lora recognizes, and the bookkeeping for
// the summary. Errors are sticky: the first one is kept, later calls return
// placeholders so that building can continue to the next check point.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_MODELBUILDER_H
#define LOWBIT_LIB_IMPORT_MODELBUILDER_H

#include "ConfigFields.h"
#include "Graph.h"
#include "TensorSource.h"

#include "lowbit/Import/Import.h"
#include "lowbit/ModelIO/AdapterConfig.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace lowbit::import {

/// A PEFT LoRA adapter: its config and the lora_A/lora_B tensors by module.
struct Adapter {
  struct Module {
    const SourceTensor *a = nullptr;
    const SourceTensor *b = nullptr;
    bool used = false;
  };

  static Result<std::unique_ptr<Adapter>> open(const std::string &dir);

  std::string configPath;
  modelio::AdapterConfig config;
  std::unique_ptr<TensorSource> tensors;
  /// Module path as PEFT names it, without "base_model.model.".
  std::map<std::string, Module> modules;
};

class ModelBuilder {
public:
  ModelBuilder(Graph &graph, const TensorSource &source,
               const ImportOptions &options, ImportSummary &summary,
               Adapter *adapter);

  Graph &graph() { return g; }
  /// Where the expected sizes come from (config.json, GGUF metadata), for
  /// messages.
  void setSizesFrom(const std::string &file) { sizesFrom = file; }
  const TensorSource &source() const { return src; }

  /// The first error, if any.
  bool failed() const { return !firstError.empty(); }
  const std::string &error() const { return firstError; }
  void fail(const std::string &message);
  Status status() const {
    return failed() ? Status::error(firstError) : Status::ok();
  }

  bool has(const std::string &name) const { return src.find(name); }
  /// The tensor `name`, which must be a float tensor of shape `expected`;
  /// `why` says where the expected shape comes from (for messages). Its
  /// element type is the stored one. A quantized GGUF tensor (an embedding
  /// table) gives the `lowbit.dequantize` of its qtensor weight, in f32.
  /// The same name gives the same value.
  Value weight(const std::string &name, llvm::ArrayRef<int64_t> expected,
               const std::string &why = "");
  /// Whether `name` is a GGUF tensor in blocks lowbit imports losslessly
  /// (Q4_0, Q4_1, Q8_0, Q4_K).
  bool isQuantized(const std::string &name) const;
  /// The quantized tensor `name` (see isQuantized) of shape `expected` as a
  /// `!lowbit.qtensor` weight; null after an error. The same name gives the
  /// same value.
  Value quantizedWeight(const std::string &name,
                        llvm::ArrayRef<int64_t> expected,
                        const std::string &why = "");
  /// The tensor `name` when present, else null.
  Value optionalWeight(const std::string &name,
                       llvm::ArrayRef<int64_t> expected,
                       const std::string &why = "");

  /// y = x·Wᵀ (+ LoRA) (+ b) for the linear layer `module` (tensors
  /// "<module>.weight" [out, in] and optionally "<module>.bias" [out]);
  /// x is [T, in] f32, y [T, out] f32. `weightName` overrides the weight's
  /// tensor name (tied embeddings, GGUF). A quantized weight is multiplied
  /// by a `lowbit.qmatmul` instead of the `linalg.matmul`.
  Value linear(Value x, const std::string &module, int64_t out, int64_t in,
               const std::string &weightName = "",
               const std::string &biasName = "");

  /// After the graph is built: every adapter module was applied and every
  /// target module matched a linear layer.
  Status finishAdapter();

  /// Counts the checkpoint tensors not read.
  void finishSummary();

private:
  Value emitWeight(const SourceTensor &t, const std::string &blobName);
  /// The tensor `name` when it exists, has an importable type and the shape
  /// `expected`; null after reporting the problem.
  const SourceTensor *checkedTensor(const std::string &name,
                                    llvm::ArrayRef<int64_t> expected,
                                    const std::string &why);
  /// Counts a model tensor in the summary, once.
  void countUse(const SourceTensor &t);
  Value placeholder(llvm::ArrayRef<int64_t> shape);
  Adapter::Module *findAdapterModule(const std::string &module,
                                     std::string &adapterName);
  bool isTargeted(const std::string &module) const;
  Value adapterFactor(const SourceTensor *t, llvm::ArrayRef<int64_t> expected,
                      const std::string &module);

  Graph &g;
  const TensorSource &src;
  const ImportOptions &options;
  ImportSummary &summary;
  Adapter *adapter;
  std::string firstError;
  std::string sizesFrom;
  std::map<std::string, Value> cache;        // model tensors by name
  std::map<std::string, Value> quantCache;   // their qtensor weights
  std::map<std::string, Value> adapterCache; // adapter tensors by name
  std::set<std::string> used;
  std::vector<std::string> linearModules;
};

/// dims as "[a, b]".
std::string shapeString(llvm::ArrayRef<int64_t> shape);

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_MODELBUILDER_H
