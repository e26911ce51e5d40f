//===- lowbit-compile.cpp - ahead-of-time compiler driver -----------------===//
//
// lowbit-compile --target=cpu model.mlir -o model.o --emit-header model.h
//
// Compiles the public functions of a module (lowbit ops or plain tensor
// code) into an object file or shared library with one plain C function
// per entry point. docs/Compile.md describes the options and the ABI.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"
#include "lowbit/InitLowbit.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <cstdlib>

using namespace llvm;
namespace compiler = lowbit::compiler;

static cl::OptionCategory category("lowbit-compile options");

static cl::opt<std::string> inputFilename(cl::Positional,
                                          cl::desc("<input .mlir>"),
                                          cl::init("-"), cl::cat(category));
static cl::opt<std::string>
    outputFilename("o", cl::desc("Output file (.o, .so, .s, .ll, .mlir)"),
                   cl::value_desc("path"), cl::init("-"), cl::cat(category));
static cl::opt<std::string> target("target",
                                   cl::desc("What to compile for: cpu"),
                                   cl::init("cpu"), cl::cat(category));
static cl::opt<std::string>
    emit("emit",
         cl::desc("obj, so, asm, llvm or mlir (LLVM dialect); default from "
                  "the extension of -o, else obj"),
         cl::init(""), cl::cat(category));
static cl::opt<std::string>
    headerFilename("emit-header", cl::desc("Also write the C header here"),
                   cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::opt<std::string>
    pipeline("pipeline",
             cl::desc("Lowering: cpu, reference, or auto (cpu when "
                      "lowbit-cpu-pipeline exists)"),
             cl::init("auto"), cl::cat(category));
static cl::opt<std::string>
    pipelineOptions("pipeline-options",
                    cl::desc("Options of the cpu pipeline, e.g. "
                             "\"vector-width=8\""),
                    cl::init(""), cl::cat(category));
static cl::opt<std::string>
    quantize("quantize",
             cl::desc("Run lowbit-quantize-pipeline first with these "
                      "options, e.g. \"format=nf4 block-size=64\""),
             cl::init(""), cl::cat(category));
static cl::opt<int> threads(
    "num-threads",
    cl::desc("Run the kernels on threads: N threads, 0 = OpenMP's default "
             "(OMP_NUM_THREADS or all cores); the code then needs libomp. "
             "Default: single-threaded, no runtime dependency"),
    cl::init(-1), cl::cat(category));
static cl::opt<std::string> preset(
    "preset",
    cl::desc("A named quantization (instead of --quantize): nf4-dq-bf16 "
             "(bitsandbytes QLoRA NF4), nf4, int4-g128 (GPTQ-style, zero "
             "points), int4-g32, int8 (per-channel)"),
    cl::init(""), cl::cat(category));
static cl::opt<std::string> weightsMode(
    "weights",
    cl::desc("Where weights go: inline (in the code), external (a weights "
             "file bound at run time), or auto (external when the input "
             "references weights files)"),
    cl::init("auto"), cl::cat(category));
static cl::opt<std::string> weightsFilename(
    "weights-file",
    cl::desc("The weights file to write (default: the output's name with "
             ".weights.safetensors)"),
    cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::opt<uint64_t> externalMinBytes(
    "external-min-bytes",
    cl::desc("Constants at least this large go to the weights file"),
    cl::init(4096), cl::cat(category));
static cl::opt<std::string>
    mtriple("mtriple", cl::desc("Target triple (default: the host's)"),
            cl::init(""), cl::cat(category));
static cl::opt<std::string>
    mcpu("mcpu",
         cl::desc("Target CPU (default: the host's, with its "
                  "features)"),
         cl::init(""), cl::cat(category));
static cl::opt<std::string>
    mattr("mattr", cl::desc("Target features to add or remove: +f,-g"),
          cl::init(""), cl::cat(category));
static cl::opt<unsigned> optLevel("O", cl::desc("Optimization level 0-3"),
                                  cl::Prefix, cl::init(2), cl::cat(category));
static cl::opt<std::string>
    prefix("prefix",
           cl::desc("Prefix of the C function names (default lowbit_)"),
           cl::init("lowbit_"), cl::cat(category));

namespace {
enum class Emit { Object, Shared, Assembly, LLVM, MLIR };
} // namespace

static int fail(const Twine &message) {
  errs() << "lowbit-compile: error: " << message << "\n";
  return 1;
}

static std::optional<Emit> emitKind(std::string &error) {
  std::string kind = emit;
  if (kind.empty()) {
    StringRef ext = sys::path::extension(outputFilename.getValue());
    kind = StringSwitch<std::string>(ext)
               .Case(".so", "so")
               .Case(".dylib", "so")
               .Case(".s", "asm")
               .Case(".ll", "llvm")
               .Case(".mlir", "mlir")
               .Default("obj");
  }
  std::optional<Emit> result = StringSwitch<std::optional<Emit>>(kind)
                                   .Case("obj", Emit::Object)
                                   .Case("so", Emit::Shared)
                                   .Case("asm", Emit::Assembly)
                                   .Case("llvm", Emit::LLVM)
                                   .Case("mlir", Emit::MLIR)
                                   .Default(std::nullopt);
  if (!result)
    error = "unknown --emit=" + kind + "; expected obj, so, asm, llvm or mlir";
  return result;
}

/// The quantize-pipeline options of a preset, or nothing for an unknown
/// name. "bf16" in nf4-dq-bf16 is bitsandbytes' compute type: lowbit
/// computes in f32 from f32 activations.
static std::optional<std::string> presetOptions(StringRef name) {
  return StringSwitch<std::optional<std::string>>(name)
      .Case("nf4-dq-bf16", "format=nf4 block-size=64 double-quant "
                           "double-quant-format=dyn8 "
                           "double-quant-block-size=256")
      .Case("nf4", "format=nf4 block-size=64 scale-type=f32")
      .Case("int4-g128", "format=int4 block-size=128 symmetric=false")
      .Case("int4-g32", "format=int4 block-size=32 symmetric=false")
      .Case("int8", "format=int8 per-channel scale-type=f32")
      .Default(std::nullopt);
}

/// `model.so` -> `model.weights.safetensors`, next to the output.
static std::string defaultWeightsPath(StringRef output) {
  SmallString<256> path(output);
  sys::path::replace_extension(path, "weights.safetensors");
  return std::string(path);
}

static std::unique_ptr<ToolOutputFile> openOutput(StringRef path) {
  std::string message;
  auto file = mlir::openOutputFile(path, &message);
  if (!file)
    fail(message);
  return file;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // LLVM reports some impossible requests (a feature set the backend
  // cannot compile for) as fatal errors: say so and exit, do not crash.
  install_fatal_error_handler([](void *, const char *reason, bool) {
    errs() << "lowbit-compile: error: " << reason << "\n";
    sys::RunInterruptHandlers();
    std::_Exit(1);
  });

  mlir::registerAllPasses();
  lowbit::registerAllLowbitPasses();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerAsmPrinterCLOptions();
  cl::ParseCommandLineOptions(
      argc, argv,
      "lowbit ahead-of-time compiler: MLIR -> object file + C header\n");

  if (target != "cpu")
    return fail("unknown --target=" + target + "; supported: cpu");
  std::string error;
  std::optional<Emit> kind = emitKind(error);
  if (!kind)
    return fail(error);
  if (*kind == Emit::Shared && outputFilename == "-")
    return fail("a shared library needs an output file (-o out.so)");
  if (optLevel > 3)
    return fail("-O" + Twine(optLevel) + " is not 0, 1, 2 or 3");
  std::optional<std::string> presetQuantize;
  if (!preset.empty()) {
    if (quantize.getNumOccurrences())
      return fail("give --preset or --quantize, not both");
    presetQuantize = presetOptions(preset);
    if (!presetQuantize)
      return fail("unknown --preset=" + preset +
                  "; expected nf4-dq-bf16, nf4, int4-g128, int4-g32 or int8");
  }
  if (threads < -1)
    return fail("--num-threads=" + Twine(threads.getValue()) +
                " is negative; give a thread count, or 0 for OpenMP's "
                "default");
  if (weightsMode != "auto" && weightsMode != "inline" &&
      weightsMode != "external")
    return fail("unknown --weights=" + weightsMode +
                "; expected auto, inline or external");
  if (!weightsFilename.empty() && weightsMode == "inline")
    return fail("--weights-file needs external weights, not --weights=inline");
  if (std::string resolved = compiler::resolvePipeline(pipeline);
      resolved != "cpu" && resolved != "reference")
    return fail("unknown --pipeline=" + pipeline +
                "; expected cpu, reference or auto");

  // The target first: a wrong CPU should not wait for the lowering.
  compiler::TargetOptions targetOptions;
  targetOptions.triple = mtriple;
  targetOptions.cpu = mcpu;
  targetOptions.features = mattr;
  targetOptions.optLevel = optLevel;
  Expected<std::unique_ptr<TargetMachine>> machine =
      compiler::createTargetMachine(targetOptions);
  if (!machine)
    return fail(toString(machine.takeError()));

  std::string message;
  std::unique_ptr<MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &message);
  if (!input)
    return fail(message);

  // Outputs are opened before the work so a bad path fails fast; they are
  // deleted again unless everything succeeds.
  std::unique_ptr<ToolOutputFile> output = openOutput(outputFilename);
  if (!output)
    return 1;
  std::unique_ptr<ToolOutputFile> header;
  if (!headerFilename.empty() && !(header = openOutput(headerFilename)))
    return 1;

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  lowbit::registerAllLowbitDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Errors point at the source line; the generic form of the op adds noise.
  context.printOpOnDiagnostic(false);

  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  compiler::ArgNames names;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      compiler::parseSourceWithArgNames(sourceMgr, &context, names);
  if (!module)
    return 1;
  mlir::FailureOr<std::vector<compiler::EntryPoint>> entries =
      compiler::collectEntryPoints(*module, names, prefix);
  if (failed(entries))
    return 1;

  bool external = weightsMode == "external" ||
                  (weightsMode == "auto" &&
                   (compiler::hasExternalWeights(*module) ||
                    !weightsFilename.empty()));
  std::string weightsPath;
  if (external) {
    weightsPath = weightsFilename.empty() ? defaultWeightsPath(outputFilename)
                                          : std::string(weightsFilename);
    if (weightsFilename.empty() && outputFilename == "-")
      return fail("external weights need --weights-file when the output is "
                  "stdout");
    if (*kind == Emit::Object && weightsFilename.empty() &&
        outputFilename == "-")
      return fail("external weights need --weights-file");
  }

  compiler::LoweringOptions lowering;
  if (quantize.getNumOccurrences())
    lowering.quantize = quantize;
  else if (presetQuantize)
    lowering.quantize = *presetQuantize;
  if (inputFilename != "-")
    lowering.weightsDir =
        sys::path::parent_path(inputFilename.getValue()).str();
  lowering.externalMinBytes = external ? std::max<uint64_t>(externalMinBytes, 1)
                                       : 0;
  lowering.pipeline = pipeline;
  lowering.pipelineOptions = pipelineOptions;
  if (threads >= 0) {
    if (compiler::resolvePipeline(pipeline) != "cpu")
      return fail("--num-threads needs the cpu pipeline");
    lowering.pipelineOptions += (lowering.pipelineOptions.empty() ? "" : " ") +
                                std::string("parallel=true threads=") +
                                std::to_string(threads);
  }
  lowering.configurePassManager = [](mlir::PassManager &pm) {
    return mlir::applyPassManagerCLOptions(pm);
  };
  std::vector<compiler::OutlinedWeight> weights;
  if (failed(compiler::lowerToLLVMDialect(*module, *entries, prefix, lowering,
                                          weights)))
    return 1;
  if (external) {
    if (Error err = compiler::writeWeightsFile(
            weightsPath, weights, sys::path::filename(outputFilename)))
      return fail(toString(std::move(err)));
  }

  if (header) {
    std::string source = inputFilename == "-"
                             ? "<stdin>"
                             : sys::path::filename(inputFilename).str();
    header->os() << compiler::emitHeader(
        *entries, prefix, sys::path::filename(headerFilename), source);
  }

  if (*kind == Emit::MLIR) {
    module->print(output->os());
  } else {
    LLVMContext llvmContext;
    Expected<std::unique_ptr<Module>> llvmModule =
        compiler::translateToLLVMIR(*module, llvmContext, **machine);
    if (!llvmModule)
      return fail(toString(llvmModule.takeError()));
    if (Error err = compiler::optimize(**llvmModule, **machine, optLevel))
      return fail(toString(std::move(err)));

    if (*kind == Emit::LLVM) {
      (*llvmModule)->print(output->os(), nullptr);
    } else if (*kind == Emit::Shared) {
      SmallString<128> objectPath;
      int fd;
      if (std::error_code ec = sys::fs::createTemporaryFile(
              "lowbit-compile", "o", fd, objectPath))
        return fail("cannot create a temporary object file: " + ec.message());
      FileRemover remover(objectPath);
      {
        raw_fd_ostream object(fd, /*shouldClose=*/true);
        if (Error err = compiler::emitCode(**llvmModule, **machine, object,
                                           /*assembly=*/false))
          return fail(toString(std::move(err)));
        if (object.has_error())
          return fail("cannot write '" + objectPath + "'");
      }
      // cc writes the library itself; close our handle on it first.
      output->os().close();
      if (Error err = compiler::linkSharedLibrary(
              objectPath, outputFilename, compiler::usesOpenMP(**llvmModule)))
        return fail(toString(std::move(err)));
    } else {
      if (Error err = compiler::emitCode(**llvmModule, **machine, output->os(),
                                         *kind == Emit::Assembly))
        return fail(toString(std::move(err)));
    }
  }

  if (output->os().has_error())
    return fail("cannot write '" + outputFilename + "'");
  output->keep();
  if (header) {
    if (header->os().has_error())
      return fail("cannot write '" + headerFilename + "'");
    header->keep();
  }
  return 0;
}
