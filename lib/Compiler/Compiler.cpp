//===- Compiler.cpp - entry points, out-params and C wrappers -------------===//
//
// The C interface is built in two steps. Before lowering, each public
// function @f gets a twin @__lowbit_entry_f that takes its tensors as
// memrefs and writes its results into caller memrefs (bufferization ops
// the lowering pipelines already handle), so no lowered function returns a
// buffer the caller would have to free. After lowering, the C entry point
// `<prefix>f(const T *x, int64_t x_len, ..., T *result0, ...)` is written
// in the LLVM dialect: it checks every buffer and calls the twin with
// memref descriptors built from the raw pointers.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"
#include "WrapperBuilder.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Pipelines/GpuPipelines.h"
#include "lowbit/Pipelines/Pipelines.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/AsmParser/AsmParserState.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace lowbit {
namespace compiler {

static constexpr llvm::StringLiteral kEntryPrefix = "__lowbit_entry_";
static constexpr llvm::StringLiteral kCpuPipeline = "lowbit-cpu-pipeline";

//===----------------------------------------------------------------------===//
// Parsing
//===----------------------------------------------------------------------===//

OwningOpRef<ModuleOp> parseSourceWithArgNames(const llvm::SourceMgr &sourceMgr,
                                              MLIRContext *context,
                                              ArgNames &names) {
  Block block;
  ParserConfig config(context);
  // The parser state remembers where every value was named; SSA names are
  // not part of the IR, and the C prototypes read better with them.
  AsmParserState state;
  if (failed(parseAsmSourceFile(sourceMgr, &block, config, &state)))
    return nullptr;

  for (const AsmParserState::BlockDefinition &def : state.getBlockDefs()) {
    Block *defined = def.block;
    if (!defined || !defined->isEntryBlock())
      continue;
    auto func = dyn_cast_or_null<func::FuncOp>(defined->getParentOp());
    if (!func)
      continue;
    std::vector<std::string> argNames;
    for (const AsmParserState::SMDefinition &arg : def.arguments) {
      const char *begin = arg.loc.Start.getPointer();
      const char *end = arg.loc.End.getPointer();
      llvm::StringRef text =
          begin && end > begin ? llvm::StringRef(begin, end - begin) : "";
      argNames.push_back(text.starts_with("%") ? text.drop_front().str()
                                               : std::string());
    }
    names[func.getSymName()] = std::move(argNames);
  }

  if (llvm::hasSingleElement(block))
    if (auto module = dyn_cast<ModuleOp>(block.front())) {
      module->remove();
      return OwningOpRef<ModuleOp>(module);
    }
  // Top-level ops without a module: wrap them, as mlir-opt does.
  const llvm::MemoryBuffer *buffer =
      sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  Location loc =
      FileLineColLoc::get(context, buffer->getBufferIdentifier(), 1, 1);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getBody()->getOperations().splice(module->getBody()->end(),
                                            block.getOperations());
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

//===----------------------------------------------------------------------===//
// Entry points
//===----------------------------------------------------------------------===//

static bool isCIdentifier(llvm::StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

/// C and C++ keywords and names the header itself uses: a parameter with
/// one of these names would not compile.
static bool isReservedName(llvm::StringRef name) {
  static const llvm::StringSet<> reserved = {
      "auto",     "bool",     "break",     "case",      "catch",    "char",
      "class",    "const",    "constexpr", "continue",  "default",  "delete",
      "do",       "double",   "else",      "enum",      "explicit", "export",
      "extern",   "false",    "float",     "for",       "friend",   "goto",
      "if",       "inline",   "int",       "long",      "mutable",  "namespace",
      "new",      "operator", "private",   "protected", "public",   "register",
      "restrict", "return",   "short",     "signed",    "sizeof",   "static",
      "struct",   "switch",   "template",  "this",      "throw",    "true",
      "try",      "typedef",  "typename",  "union",     "unsigned", "using",
      "virtual",  "void",     "volatile",  "while",     "int8_t",   "int32_t",
      "int64_t",  "uint16_t", "NULL",      "and",       "or",       "not",
      "xor",      "asm",      "typeof",    "alignas",   "alignof",  "nullptr",
      "noexcept", "decltype", "wchar_t"};
  // Names starting with "__" or "_X" are the implementation's.
  if (name.starts_with("__") ||
      (name.size() > 1 && name[0] == '_' && llvm::isUpper(name[1])))
    return true;
  return reserved.contains(name);
}

/// The C type of a buffer element, or "" when the element type has none.
static std::string cTypeOf(Type type) {
  if (type.isF32())
    return "float";
  if (type.isF64())
    return "double";
  if (type.isF16() || type.isBF16())
    return "uint16_t";
  if (type.isSignlessInteger(8))
    return "int8_t";
  if (type.isSignlessInteger(32))
    return "int32_t";
  if (type.isSignlessInteger(64))
    return "int64_t";
  return "";
}

static std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

/// Fills `buffer` from a tensor type, or explains at `func` why the type
/// has no C interface.
static LogicalResult makeBuffer(func::FuncOp func, Type type,
                                llvm::StringRef what, Buffer &buffer) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return func.emitError()
           << what << " has type " << type
           << ": the C interface takes ranked tensors with static shapes "
              "(make the function private to keep it out of the C interface)";
  if (!tensor.hasStaticShape())
    return func.emitError() << what << " has the dynamic shape " << type
                            << ": lowbit-compile supports static shapes only";
  if (tensor.getEncoding())
    return func.emitError() << what << " has type " << type
                            << ": tensors with an encoding are not supported";
  buffer.cType = cTypeOf(tensor.getElementType());
  if (buffer.cType.empty())
    return func.emitError()
           << what << " has element type " << tensor.getElementType()
           << ": supported element types are f32, f64, f16, bf16, i8, i32 "
              "and i64";
  buffer.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
  buffer.elementType = tensor.getElementType();
  buffer.numElements = tensor.getNumElements();
  buffer.mlirType = typeString(type);
  return success();
}

FailureOr<std::vector<EntryPoint>> collectEntryPoints(ModuleOp module,
                                                      const ArgNames &names,
                                                      llvm::StringRef prefix) {
  if (!isCIdentifier(prefix))
    return module.emitError()
           << "the prefix '" << prefix << "' is not a C identifier";
  std::vector<EntryPoint> entries;
  bool failed = false;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isDeclaration() || !func.isPublic())
      continue;
    EntryPoint entry;
    entry.funcName = func.getSymName().str();
    entry.cName = (prefix + func.getSymName()).str();
    if (!isCIdentifier(entry.cName)) {
      func.emitError() << "function name '" << func.getSymName()
                       << "' does not make a C identifier (" << entry.cName
                       << "); rename it or make it private";
      failed = true;
      continue;
    }
    FunctionType type = func.getFunctionType();
    entry.args.resize(type.getNumInputs());
    entry.results.resize(type.getNumResults());
    bool ok = true;
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      ok &= succeeded(
          makeBuffer(func, t, "argument #" + std::to_string(i), entry.args[i]));
    for (auto [i, t] : llvm::enumerate(type.getResults()))
      ok &= succeeded(makeBuffer(func, t, "result #" + std::to_string(i),
                                 entry.results[i]));
    if (!ok) {
      failed = true;
      continue;
    }

    // Parameter names: results are result<i>; arguments keep their source
    // names where those make distinct, unreserved C identifiers.
    llvm::StringSet<> used;
    auto claim = [&](const std::string &name) {
      if (!isCIdentifier(name) || isReservedName(name) || used.contains(name) ||
          used.contains(name + "_len") || isReservedName(name + "_len"))
        return false;
      used.insert(name);
      used.insert(name + "_len");
      return true;
    };
    for (auto [i, result] : llvm::enumerate(entry.results)) {
      if (auto label = func.getResultAttrOfType<StringAttr>(
              i, mlir::lowbit::LowbitDialect::kNameAttrName))
        result.label = label.str();
      result.name = "result" + std::to_string(i);
      while (!claim(result.name))
        result.name += "_";
    }
    auto it = names.find(func.getSymName());
    for (auto [i, arg] : llvm::enumerate(entry.args)) {
      std::string source;
      if (it != names.end() && i < it->second.size())
        source = it->second[i];
      arg.name = source;
      if (source.empty() || !claim(arg.name)) {
        arg.name = "arg" + std::to_string(i);
        while (!claim(arg.name))
          arg.name += "_";
      }
    }
    entries.push_back(std::move(entry));
  }
  if (failed)
    return failure();
  if (entries.empty())
    return module.emitError()
           << "no public func.func with a body: nothing to compile";
  return entries;
}

//===----------------------------------------------------------------------===//
// Out-parameter twins (tensor level)
//===----------------------------------------------------------------------===//

/// Adds @__lowbit_entry_<f> for every entry point and makes @f private.
/// Returns the twins' names by entry.
static FailureOr<std::vector<std::string>>
addOutParamTwins(ModuleOp module, llvm::ArrayRef<EntryPoint> entries) {
  SymbolTable symbols(module);
  std::vector<std::string> twins;
  for (const EntryPoint &entry : entries) {
    auto func = symbols.lookup<func::FuncOp>(entry.funcName);
    if (!func)
      return module.emitError()
             << "entry point @" << entry.funcName << " disappeared";
    Location loc = func.getLoc();
    OpBuilder b(func);
    b.setInsertionPointAfter(func);
    SmallVector<Type> types;
    for (const Buffer &buffer : entry.args)
      types.push_back(MemRefType::get(buffer.shape, buffer.elementType));
    for (const Buffer &buffer : entry.results)
      types.push_back(MemRefType::get(buffer.shape, buffer.elementType));
    auto twin =
        func::FuncOp::create(b, loc, kEntryPrefix.str() + entry.funcName,
                             b.getFunctionType(types, {}));
    twins.push_back(symbols.insert(twin).getValue().str());
    Block *body = twin.addEntryBlock();
    b.setInsertionPointToStart(body);

    FunctionType type = func.getFunctionType();
    SmallVector<Value> inputs;
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      // Inputs are read-only: writing to one makes bufferization copy it.
      inputs.push_back(bufferization::ToTensorOp::create(
          b, loc, t, body->getArgument(i), /*restrict=*/true,
          /*writable=*/false));
    auto call = func::CallOp::create(b, loc, func, inputs);
    for (auto [i, result] : llvm::enumerate(call.getResults()))
      bufferization::MaterializeInDestinationOp::create(
          b, loc, TypeRange(), result,
          body->getArgument(type.getNumInputs() + i), /*restrict=*/true,
          /*writable=*/true);
    func::ReturnOp::create(b, loc);
    func.setPrivate();
  }
  return twins;
}

//===----------------------------------------------------------------------===//
// Lowering
//===----------------------------------------------------------------------===//

std::string resolvePipeline(llvm::StringRef pipeline) {
  if (pipeline != "auto")
    return pipeline.str();
  return PassPipelineInfo::lookup(kCpuPipeline) ? "cpu" : "reference";
}

bool hasExternalWeights(ModuleOp module) {
  bool found = false;
  module.walk([&](mlir::lowbit::WeightOp op) {
    found |= bool(op.getName());
    return found ? WalkResult::interrupt() : WalkResult::advance();
  });
  return found;
}

LogicalResult lowerToLLVMDialect(ModuleOp module,
                                 llvm::ArrayRef<EntryPoint> entries,
                                 llvm::StringRef prefix,
                                 const LoweringOptions &options,
                                 std::vector<OutlinedWeight> &weights) {
  MLIRContext *context = module.getContext();
  bool cuda = options.target == "cuda";
  if (options.target != "cpu" && !cuda)
    return module.emitError()
           << "unknown target '" << options.target << "'; expected cpu or cuda";
  if (cuda && options.pipeline != "auto")
    return module.emitError() << "the cuda target has its own lowering "
                                 "(lowbit-gpu-pipeline); --pipeline="
                              << options.pipeline << " does not apply";
  auto configure = [&](PassManager &pm) -> LogicalResult {
    return options.configurePassManager ? options.configurePassManager(pm)
                                        : success();
  };

  if (hasExternalWeights(module)) {
    PassManager pm(context);
    if (failed(configure(pm)))
      return failure();
    mlir::lowbit::LowbitLoadWeightsOptions load;
    load.weightsDir = options.weightsDir;
    pm.addPass(mlir::lowbit::createLowbitLoadWeights(load));
    if (failed(pm.run(module)))
      return failure();
  }

  if (options.quantize) {
    auto quantize =
        QuantizePipelineOptions::createFromString(*options.quantize);
    if (!quantize)
      return module.emitError()
             << "invalid quantize options '" << *options.quantize << "'";
    PassManager pm(context);
    if (failed(configure(pm)))
      return failure();
    buildQuantizePipeline(pm, *quantize);
    if (failed(pm.run(module)))
      return failure();
  }

  FailureOr<std::vector<std::string>> twins = addOutParamTwins(module, entries);
  if (failed(twins))
    return failure();

  PassManager pm(context);
  if (failed(configure(pm)))
    return failure();
  // The public functions are now private and called once each: inlining
  // them into their twins lets bufferization write results in place.
  pm.addPass(createInlinerPass());
  pm.addPass(createSymbolDCEPass());
  std::string pipeline =
      cuda ? std::string("cuda") : resolvePipeline(options.pipeline);
  if (pipeline == "cuda") {
    if (!options.pipelineOptions.empty())
      return module.emitError()
             << "the cuda target takes no pipeline options (got '"
             << options.pipelineOptions << "')";
    GpuPipelineOptions gpu;
    gpu.chip = options.gpuChip;
    gpu.format = options.gpuFormat;
    if (!options.cudaPath.empty())
      gpu.cudaPath = options.cudaPath;
    gpu.lowerHost = true;
    // Weights the kernels read become device globals filled at bind time.
    gpu.externalWeightsMinBytes = int64_t(options.externalMinBytes);
    buildGpuPipeline(pm, gpu);
  } else if (pipeline == "reference") {
    if (!options.pipelineOptions.empty())
      return module.emitError()
             << "the reference pipeline takes no options (got '"
             << options.pipelineOptions << "')";
    buildReferencePipeline(pm);
  } else if (pipeline == "cpu") {
    // Looked up by name: the CPU pipeline is optional in this build.
    const PassPipelineInfo *info = PassPipelineInfo::lookup(kCpuPipeline);
    if (!info)
      return module.emitError() << "this build has no " << kCpuPipeline
                                << "; use --pipeline=reference";
    std::string message;
    llvm::raw_string_ostream os(message);
    auto errorHandler = [&](const llvm::Twine &msg) {
      os << msg;
      return failure();
    };
    if (failed(info->addToPipeline(pm, options.pipelineOptions, errorHandler)))
      return module.emitError()
             << "invalid options '" << options.pipelineOptions << "' for "
             << kCpuPipeline << (message.empty() ? "" : ": ") << message;
  } else {
    return module.emitError() << "unknown pipeline '" << pipeline
                              << "'; expected cpu, reference or auto";
  }
  if (failed(pm.run(module)))
    return failure();

  // Host weights first (their table index is their position), then the
  // weights of the kernels (cuda).
  std::vector<OutlinedWeight> outlined;
  if (options.externalMinBytes > 0) {
    FailureOr<std::vector<OutlinedWeight>> device =
        collectDeviceWeights(module, 0);
    if (failed(device))
      return failure();
    FailureOr<std::vector<OutlinedWeight>> moved =
        outlineWeights(module, prefix, options.externalMinBytes);
    if (failed(moved))
      return failure();
    outlined = std::move(*moved);
    for (OutlinedWeight &weight : *device) {
      weight.name = "w" + std::to_string(outlined.size());
      outlined.push_back(std::move(weight));
    }
  }

  WrapperBuilder wrappers(module, prefix);
  if (cuda)
    wrappers.enableDeviceCalls();
  if (failed(wrappers.buildErrorState()) ||
      failed(wrappers.buildWeightBinding(outlined)))
    return failure();
  for (auto [entry, twin] : llvm::zip_equal(entries, *twins))
    if (failed(wrappers.buildEntry(entry, twin)) ||
        failed(wrappers.buildPackedEntry(entry)))
      return failure();
  if (failed(wrappers.buildManifest(
          manifestJson(entries, prefix, options.target, outlined))))
    return failure();
  wrappers.internalizeEverythingElse();
  for (OutlinedWeight &weight : outlined)
    weights.push_back(std::move(weight));
  return verify(module);
}

} // namespace compiler
} // namespace lowbit
