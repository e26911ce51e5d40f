//===- ModelBuilder.cpp - Weights, linear layers and LoRA adapters --------===//

#include "ModelBuilder.h"
#include "QuantizedWeight.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

namespace lowbit::import {

using namespace mlir;

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

static bool endsWithComponent(StringRef name, StringRef suffix) {
  return name == suffix ||
         (name.size() > suffix.size() && name.ends_with(suffix) &&
          name[name.size() - suffix.size() - 1] == '.');
}

//===----------------------------------------------------------------------===//
// Adapter
//===----------------------------------------------------------------------===//

Result<std::unique_ptr<Adapter>> Adapter::open(const std::string &dir) {
  std::string abs = absolutePath(dir);
  if (!isDirectory(abs))
    return Status::error(abs + ": the adapter directory does not exist");
  auto adapter = std::make_unique<Adapter>();
  llvm::SmallString<256> config(abs), weights(abs), bin(abs);
  llvm::sys::path::append(config, "adapter_config.json");
  llvm::sys::path::append(weights, "adapter_model.safetensors");
  llvm::sys::path::append(bin, "adapter_model.bin");
  adapter->configPath = std::string(config);
  if (!fileExists(adapter->configPath))
    return Status::error(abs + ": no adapter_config.json in the adapter "
                               "directory");
  Result<modelio::AdapterConfig> cfg =
      modelio::readAdapterConfig(adapter->configPath);
  if (!cfg)
    return cfg.status();
  adapter->config = std::move(*cfg);
  if (adapter->config.fanInFanOut)
    return Status::error(adapter->configPath +
                         ": 'fan_in_fan_out' is true; adapters with "
                         "transposed factors (GPT-2 Conv1D) are not "
                         "supported");
  if (!fileExists(std::string(weights)))
    return Status::error(
        abs + ": no adapter_model.safetensors in the adapter directory" +
        (fileExists(std::string(bin))
             ? " (adapter_model.bin, a pickle, is not read; convert it)"
             : ""));
  Result<std::unique_ptr<TensorSource>> tensors =
      TensorSource::openSafetensorsFile(std::string(weights));
  if (!tensors)
    return tensors.status();
  adapter->tensors = std::move(*tensors);

  // base_model.model.<module>.lora_{A,B}[.<adapter name>].weight
  const std::string &file = adapter->tensors->describe();
  for (const auto &[name, tensor] : adapter->tensors->tensors()) {
    StringRef n(name);
    auto notFactor = [&](const std::string &why) {
      return Status::error(file + ": tensor '" + name + "' " + why +
                           "; expected base_model.model.<module>.lora_A."
                           "weight and .lora_B.weight");
    };
    if (!n.consume_front("base_model.model.") || !n.consume_back(".weight"))
      return notFactor("is not a LoRA factor");
    SmallVector<StringRef> parts;
    n.split(parts, '.');
    int pos = -1;
    for (int i = int(parts.size()) - 1; i >= 0 && i >= int(parts.size()) - 2;
         --i)
      if (parts[i] == "lora_A" || parts[i] == "lora_B")
        pos = i;
    if (pos <= 0)
      return notFactor("is not a LoRA factor");
    std::string module = llvm::join(ArrayRef(parts).take_front(pos), ".");
    Module &m = adapter->modules[module];
    const SourceTensor *&slot = parts[pos] == "lora_A" ? m.a : m.b;
    if (slot)
      return Status::error(file + ": module '" + module + "' has two " +
                           parts[pos].str() + " tensors ('" + slot->name +
                           "' and '" + name + "')");
    slot = &tensor;
  }
  if (adapter->modules.empty())
    return Status::error(file + ": no LoRA tensors in the adapter");
  for (const auto &[module, m] : adapter->modules)
    if (!m.a || !m.b)
      return Status::error(file + ": module '" + module + "' has " +
                           (m.a ? "lora_A but no lora_B"
                                : "lora_B but no "
                                  "lora_A"));
  return adapter;
}

//===----------------------------------------------------------------------===//
// ModelBuilder
//===----------------------------------------------------------------------===//

ModelBuilder::ModelBuilder(Graph &graph, const TensorSource &source,
                           const ImportOptions &options, ImportSummary &summary,
                           Adapter *adapter)
    : g(graph), src(source), options(options), summary(summary),
      adapter(adapter) {}

void ModelBuilder::fail(const std::string &message) {
  if (firstError.empty())
    firstError = message;
}

Value ModelBuilder::placeholder(ArrayRef<int64_t> shape) {
  return g.empty(shape);
}

static Type floatType(Builder &b, FloatKind kind) {
  switch (kind) {
  case FloatKind::F16:
    return b.getF16Type();
  case FloatKind::BF16:
    return b.getBF16Type();
  default:
    return b.getF32Type();
  }
}

Value ModelBuilder::emitWeight(const SourceTensor &t,
                               const std::string &blobName) {
  OpBuilder &b = g.builder();
  auto type = RankedTensorType::get(t.shape, floatType(b, t.kind));
  if (options.inlineWeights) {
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        ArrayRef<char>(reinterpret_cast<const char *>(t.bytes.data),
                       size_t(t.bytes.size)),
        /*align=*/64);
    auto data = DenseResourceElementsAttr::get(type, blobName, std::move(blob));
    return arith::ConstantOp::create(b, g.location(), type, data);
  }
  return mlir::lowbit::WeightOp::create(b, g.location(), type, ElementsAttr(),
                                        b.getStringAttr(t.name),
                                        b.getStringAttr(t.file));
}

static std::string dtypeProblem(const SourceTensor &t, bool gguf) {
  if (gguf)
    return "has GGML type " + t.dtypeName +
           ": not supported yet: " + t.dtypeName +
           " (lowbit-import reads F32, F16, Q8_0, Q4_0, Q4_1 and Q4_K GGUF "
           "tensors)";
  return "has dtype " + t.dtypeName +
         "; lowbit-import reads F32, F16 and BF16 tensors";
}

const SourceTensor *ModelBuilder::checkedTensor(const std::string &name,
                                                ArrayRef<int64_t> expected,
                                                const std::string &why) {
  const SourceTensor *t = src.find(name);
  if (!t) {
    fail(src.describe() + ": tensor '" + name + "' is missing");
    return nullptr;
  }
  if (t->kind == FloatKind::Unsupported && !t->quant) {
    fail(t->file + ": tensor '" + name + "' " +
         dtypeProblem(*t, src.gguf() != nullptr));
    return nullptr;
  }
  if (t->shape != std::vector<int64_t>(expected.begin(), expected.end())) {
    fail(t->file + ": tensor '" + name + "' has shape " +
         shapeString(t->shape) + ", expected " + shapeString(expected) +
         (why.empty() ? "" : " (" + why + ")"));
    return nullptr;
  }
  return t;
}

void ModelBuilder::countUse(const SourceTensor &t) {
  if (!used.insert(t.name).second)
    return;
  summary.parameters += t.elements();
  summary.tensors += 1;
  summary.bytesPerDType[t.dtypeName] += t.bytes.size;
}

/// The shape of a tensor or qtensor value.
static SmallVector<int64_t> shapeOfValue(Value v) {
  if (auto q = dyn_cast<mlir::lowbit::QTensorType>(v.getType()))
    return SmallVector<int64_t>(q.getShape());
  return Graph::shapeOf(v);
}

Value ModelBuilder::weight(const std::string &name, ArrayRef<int64_t> expected,
                           const std::string &why) {
  auto it = cache.find(name);
  if (it != cache.end()) {
    if (Graph::shapeOf(it->second) != SmallVector<int64_t>(expected))
      fail(src.describe() + ": tensor '" + name + "' is used with shapes " +
           shapeString(Graph::shapeOf(it->second)) + " and " +
           shapeString(expected));
    return it->second;
  }
  const SourceTensor *t = checkedTensor(name, expected, why);
  if (!t)
    return placeholder(expected);
  Value v;
  if (t->quant) {
    // Used as a float tensor (an embedding table): its exact f32 values.
    Value q = quantizedWeight(name, expected, why);
    if (!q)
      return placeholder(expected);
    v = mlir::lowbit::DequantizeOp::create(g.builder(), g.location(),
                                           g.tensorType(expected), q);
  } else {
    v = emitWeight(*t, name);
    countUse(*t);
  }
  cache[name] = v;
  return v;
}

bool ModelBuilder::isQuantized(const std::string &name) const {
  const SourceTensor *t = src.find(name);
  return t && t->quant;
}

Value ModelBuilder::quantizedWeight(const std::string &name,
                                    ArrayRef<int64_t> expected,
                                    const std::string &why) {
  auto it = quantCache.find(name);
  if (it != quantCache.end()) {
    SmallVector<int64_t> shape = shapeOfValue(it->second);
    if (shape != SmallVector<int64_t>(expected)) {
      fail(src.describe() + ": tensor '" + name + "' is used with shapes " +
           shapeString(shape) + " and " + shapeString(expected));
      return Value();
    }
    return it->second;
  }
  const SourceTensor *t = checkedTensor(name, expected, why);
  if (!t)
    return Value();
  if (!t->quant) {
    fail(t->file + ": tensor '" + name + "' has type " + t->dtypeName +
         ", expected a quantized GGUF type");
    return Value();
  }
  Result<Value> w = emitQuantizedWeight(g.builder(), g.location(), *t,
                                        options.inlineWeights, name);
  if (!w) {
    fail(w.message());
    return Value();
  }
  quantCache[name] = *w;
  countUse(*t);
  return *w;
}

Value ModelBuilder::optionalWeight(const std::string &name,
                                   ArrayRef<int64_t> expected,
                                   const std::string &why) {
  if (!has(name))
    return Value();
  return weight(name, expected, why);
}

/// PEFT's "all-linear": every linear layer but the output layer.
static bool isAllLinear(const modelio::AdapterConfig &cfg) {
  return cfg.targetIsRegex && cfg.targetModulesRegex == "all-linear";
}

static bool isOutputLayer(StringRef module) {
  return module == "lm_head" || module == "output";
}

bool ModelBuilder::isTargeted(const std::string &module) const {
  const modelio::AdapterConfig &cfg = adapter->config;
  if (isAllLinear(cfg))
    return !isOutputLayer(module);
  if (cfg.targetIsRegex) {
    llvm::Regex re("^(" + cfg.targetModulesRegex + ")$");
    return re.isValid() && re.match(module);
  }
  for (const std::string &t : cfg.targetModules)
    if (endsWithComponent(module, t))
      return true;
  return false;
}

Adapter::Module *ModelBuilder::findAdapterModule(const std::string &module,
                                                 std::string &adapterName) {
  // Exact names first, then names that differ by a leading prefix (a
  // checkpoint with "bert." against an adapter on BertModel, or back).
  auto exact = adapter->modules.find(module);
  if (exact != adapter->modules.end()) {
    adapterName = exact->first;
    return &exact->second;
  }
  for (auto &[name, m] : adapter->modules)
    if (endsWithComponent(module, name) || endsWithComponent(name, module)) {
      adapterName = name;
      return &m;
    }
  return nullptr;
}

Value ModelBuilder::adapterFactor(const SourceTensor *t,
                                  ArrayRef<int64_t> expected,
                                  const std::string &module) {
  auto it = adapterCache.find(t->name);
  if (it != adapterCache.end())
    return it->second;
  if (t->kind == FloatKind::Unsupported) {
    fail(t->file + ": tensor '" + t->name + "' " +
         dtypeProblem(*t, /*gguf=*/false));
    return placeholder(expected);
  }
  if (t->shape != std::vector<int64_t>(expected.begin(), expected.end())) {
    fail(t->file + ": tensor '" + t->name + "' has shape " +
         shapeString(t->shape) + ", expected " + shapeString(expected) +
         " (r = " + std::to_string(adapter->config.r) + " from " +
         adapter->configPath + ", linear layer '" + module + "')");
    return placeholder(expected);
  }
  Value v = emitWeight(*t, t->name);
  adapterCache[t->name] = v;
  summary.adapterParameters += t->elements();
  summary.adapterTensors += 1;
  return v;
}

Value ModelBuilder::linear(Value x, const std::string &module, int64_t out,
                           int64_t in, const std::string &weightName,
                           const std::string &biasName) {
  std::string wName = weightName.empty() ? module + ".weight" : weightName;
  std::string bName = biasName.empty() ? module + ".bias" : biasName;
  std::string from = sizesFrom.empty() ? "" : ", sizes from " + sizesFrom;
  std::string why = "a linear layer's [out, in]" + from;
  bool quantized = isQuantized(wName);
  Value w = quantized ? quantizedWeight(wName, {out, in}, why)
                      : weight(wName, {out, in}, why);
  Value bias =
      optionalWeight(bName, {out}, "a linear layer's bias [out]" + from);
  int64_t rows = Graph::shapeOf(x)[0];
  Value y;
  if (!w)
    y = placeholder({rows, out});
  else if (quantized)
    // The GGUF blocks as they are: x·Wᵀ with W decoded on the fly.
    y = mlir::lowbit::QMatmulOp::create(g.builder(), g.location(),
                                        g.tensorType({rows, out}), x, w,
                                        Value(), Value(), Value(), FloatAttr());
  else
    y = g.matmulTransposeB(x, g.toF32(w));
  // Names the layer for lowbit-quantize-weights' `skip` option.
  y.getDefiningOp()->setAttr("lowbit.name", g.builder().getStringAttr(module));
  linearModules.push_back(module);

  if (adapter) {
    std::string adapterName;
    Adapter::Module *m = findAdapterModule(module, adapterName);
    if (m) {
      m->used = true;
      int64_t r = adapter->config.r;
      Value a = adapterFactor(m->a, {r, in}, module);
      Value bf = adapterFactor(m->b, {out, r}, module);
      // s·((x·Aᵀ)·Bᵀ) added to x·Wᵀ, the form lowbit-fuse-lora folds into
      // lowbit.qmatmul once W is quantized.
      Value xa = g.matmulTransposeB(x, g.toF32(a));
      Value xab = g.matmulTransposeB(xa, g.toF32(bf));
      OpBuilder &b = g.builder();
      auto type = cast<RankedTensorType>(xab.getType());
      Value s = arith::ConstantOp::create(
          b, g.location(), type,
          DenseElementsAttr::get(
              type,
              b.getF32FloatAttr(float(adapter->config.scale())).getValue()));
      Value scaled = arith::MulFOp::create(b, g.location(), xab, s);
      y = arith::AddFOp::create(b, g.location(), y, scaled);
    } else if (isTargeted(module)) {
      fail(adapter->tensors->describe() +
           ": no LoRA tensors for the target "
           "module '" +
           module + "' (expected 'base_model.model." + module +
           ".lora_A.weight' and '.lora_B.weight')");
    }
  }

  if (bias)
    y = g.addRowVector(y, bias);
  return y;
}

Status ModelBuilder::finishAdapter() {
  if (!adapter || failed())
    return status();
  for (const auto &[name, m] : adapter->modules)
    if (!m.used)
      return Status::error(adapter->tensors->describe() + ": adapter module '" +
                           name + "' (tensor '" + m.a->name +
                           "') is not a linear layer of the model");
  const modelio::AdapterConfig &cfg = adapter->config;
  auto anyLinear = [&](auto pred) {
    for (const std::string &l : linearModules)
      if (pred(l))
        return true;
    return false;
  };
  if (isAllLinear(cfg))
    return Status::ok();
  if (cfg.targetIsRegex) {
    llvm::Regex re("^(" + cfg.targetModulesRegex + ")$");
    std::string why;
    if (!re.isValid(why))
      return Status::error(adapter->configPath + ": 'target_modules' regex '" +
                           cfg.targetModulesRegex + "' is invalid: " + why);
    if (!anyLinear([&](const std::string &l) { return re.match(l); }))
      return Status::error(adapter->configPath + ": 'target_modules' regex '" +
                           cfg.targetModulesRegex +
                           "' matches no linear layer of the model");
    return Status::ok();
  }
  for (const std::string &t : cfg.targetModules)
    if (!anyLinear(
            [&](const std::string &l) { return endsWithComponent(l, t); }))
      return Status::error(adapter->configPath + ": target module '" + t +
                           "' matches no linear layer of the model (e.g. '" +
                           (linearModules.empty() ? "" : linearModules[0]) +
                           "')");
  return Status::ok();
}

void ModelBuilder::finishSummary() {
  summary.unusedTensors = 0;
  for (const auto &[name, t] : src.tensors())
    if (!used.count(name))
      ++summary.unusedTensors;
}

} // namespace lowbit::import
