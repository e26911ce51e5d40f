//===- Import.cpp - Model directory or GGUF file to an MLIR module --------===//

#include "lowbit/Import/Import.h"

#include "Models.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>

namespace lowbit::import {

using namespace mlir;

void registerImportDialects(DialectRegistry &registry) {
  registry.insert<func::FuncDialect, arith::ArithDialect, math::MathDialect,
                  tensor::TensorDialect, linalg::LinalgDialect,
                  mlir::lowbit::LowbitDialect>();
}

func::FuncOp createForward(OpBuilder &b, ModuleOp module, ArrayRef<Type> inputs,
                           ArrayRef<std::string> names, Type result) {
  b.setInsertionPointToEnd(module.getBody());
  auto type = b.getFunctionType(inputs, {result});
  auto func = func::FuncOp::create(b, module.getLoc(), "forward", type);
  Block *entry = func.addEntryBlock();
  for (size_t i = 0; i < names.size(); ++i)
    entry->getArgument(i).setLoc(
        NameLoc::get(b.getStringAttr(names[i]), module.getLoc()));
  b.setInsertionPointToStart(entry);
  return func;
}

/// True when `path` starts with the GGUF magic.
static bool looksLikeGguf(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

static Status importInto(ModuleOp module, const ImportOptions &options,
                         ImportSummary &summary) {
  if (options.seqLen <= 0)
    return Status::error("--seq-len must be a positive integer (got " +
                         std::to_string(options.seqLen) + ")");
  if (options.batch <= 0)
    return Status::error("--batch must be a positive integer (got " +
                         std::to_string(options.batch) + ")");
  if (options.seqLen > (int64_t(1) << 20) || options.batch > (int64_t(1) << 20))
    return Status::error("--seq-len and --batch must be at most 1048576");
  if (options.seqLen * options.batch > (int64_t(1) << 24))
    return Status::error("--batch × --seq-len must be at most 16777216 "
                         "tokens");

  std::string path = absolutePath(options.modelPath);
  bool gguf = !isDirectory(path);
  if (gguf && !fileExists(path))
    return Status::error(path + ": no such model directory or GGUF file");
  if (gguf && !looksLikeGguf(path))
    return Status::error(path + ": not a model directory (config.json + "
                                "safetensors) or a GGUF file");

  std::unique_ptr<Adapter> adapter;
  if (!options.adapterPath.empty()) {
    Result<std::unique_ptr<Adapter>> a = Adapter::open(options.adapterPath);
    if (!a)
      return a.status();
    adapter = std::move(*a);
  }

  OpBuilder b(module.getContext());
  Graph graph(b, module.getLoc());

  if (gguf) {
    if (options.pooling != Pooling::Auto ||
        options.normalize != Normalize::Auto)
      return Status::error("--pooling and --normalize apply to BERT models "
                           "only");
    Result<std::unique_ptr<TensorSource>> src = TensorSource::openGguf(path);
    if (!src)
      return src.status();
    Result<LlamaSpec> spec = llamaSpecFromGguf(*(*src)->gguf(), **src);
    if (!spec)
      return spec.status();
    ModelBuilder mb(graph, **src, options, summary, adapter.get());
    mb.setSizesFrom("the GGUF metadata");
    summary.source = (*src)->kind();
    if (Status st = buildLlama(module, *spec, mb, options, summary); !st)
      return st;
    if (Status st = mb.finishAdapter(); !st)
      return st;
    mb.finishSummary();
    return Status::ok();
  }

  llvm::SmallString<256> configPath(path);
  llvm::sys::path::append(configPath, "config.json");
  if (!fileExists(std::string(configPath)))
    return Status::error(path + ": no config.json in the model directory");
  Result<ConfigFields> config = ConfigFields::read(std::string(configPath));
  if (!config)
    return config.status();
  Result<std::string> modelType = config->string("model_type");
  if (!modelType)
    return modelType.status();
  if (*modelType != "bert" && *modelType != "llama")
    return config->error("model_type '" + *modelType +
                         "' is not supported (supported: bert, llama)");
  if (*modelType == "llama" && (options.pooling != Pooling::Auto ||
                                options.normalize != Normalize::Auto))
    return Status::error("--pooling and --normalize apply to BERT models "
                         "only; " +
                         config->path() + " has model_type 'llama'");

  Result<std::unique_ptr<TensorSource>> src =
      TensorSource::openSafetensorsDir(path);
  if (!src)
    return src.status();
  summary.source = (*src)->kind();
  ModelBuilder mb(graph, **src, options, summary, adapter.get());
  mb.setSizesFrom(config->path());
  if (*modelType == "bert") {
    if (Status st = buildBert(module, *config, path, mb, options, summary); !st)
      return st;
  } else {
    Result<LlamaSpec> spec = llamaSpecFromConfig(*config);
    if (!spec)
      return spec.status();
    if (Status st = buildLlama(module, *spec, mb, options, summary); !st)
      return st;
  }
  if (Status st = mb.finishAdapter(); !st)
    return st;
  mb.finishSummary();
  return Status::ok();
}

OwningOpRef<ModuleOp> importModel(MLIRContext &context,
                                  const ImportOptions &options,
                                  ImportSummary &summary, std::string &error) {
  context.loadDialect<func::FuncDialect, arith::ArithDialect, math::MathDialect,
                      tensor::TensorDialect, linalg::LinalgDialect,
                      mlir::lowbit::LowbitDialect>();
  Location loc = FileLineColLoc::get(&context, absolutePath(options.modelPath),
                                     /*line=*/0, /*column=*/0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  if (Status st = importInto(*module, options, summary); !st) {
    error = st.message();
    return nullptr;
  }

  // The module must verify; collect what the verifier says.
  std::string diagnostics;
  {
    llvm::raw_string_ostream os(diagnostics);
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      os << "\n  " << diag.str();
      for (Diagnostic &note : diag.getNotes())
        os << "\n    note: " << note.str();
      return success();
    });
    if (failed(verify(*module))) {
      error =
          "internal error: the generated module does not verify:" + diagnostics;
      return nullptr;
    }
  }
  return module;
}

} // namespace lowbit::import
