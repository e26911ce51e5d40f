//===- lowbit-compile.cpp - ahead-of-time compiler driver -----------------===//
//
// lowbit-compile --target=cpu model.mlir -o model.o --emit-header model.h
// lowbit-compile --target=cuda --gpu-chip=sm_90 model.mlir -o model.so
//
// Compiles the public functions of a module (lowbit ops or plain tensor
// code) into an object file or shared library with one plain C function
// per entry point, for the CPU or for NVIDIA GPUs through the lowbit CUDA
// runtime. docs/Compile.md describes the options and the ABI,
// docs/CudaRuntime.md the cuda target.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
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
static cl::opt<std::string>
    target("target",
           cl::desc("What to compile for: cpu, or cuda (NVIDIA GPUs; the "
                    "code calls liblowbit_cuda_runtime)"),
           cl::init("cpu"), cl::cat(category));
static cl::opt<std::string>
    gpuChip("gpu-chip",
            cl::desc("--target=cuda: the GPU architecture (sm_80, sm_90, ...)"),
            cl::init("sm_90"), cl::cat(category));
static cl::opt<std::string> gpuFormat(
    "gpu-format",
    cl::desc("--target=cuda: the embedded kernels: fatbin (default), bin "
             "(cubin) or isa (PTX, compiled by the driver at run time)"),
    cl::init("fatbin"), cl::cat(category));
static cl::opt<std::string>
    cudaPath("cuda-path",
             cl::desc("--target=cuda: the CUDA toolkit whose ptxas and "
                      "fatbinary build the kernels (default: the one found "
                      "when lowbit was configured)"),
             cl::init(""), cl::cat(category));
static cl::opt<std::string> cudaRuntime(
    "cuda-runtime",
    cl::desc("--target=cuda: the liblowbit_cuda_runtime.so a shared library "
             "links against (default: ../lib/ next to lowbit-compile)"),
    cl::value_desc("path"), cl::init(""), cl::cat(category));
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
static cl::opt<std::string> hessians(
    "hessians",
    cl::desc("Calibration Hessians (safetensors, from lowbit.calibrate): "
             "quantize the weights that have one with GPTQ; needs --preset "
             "or --quantize"),
    cl::value_desc("path"), cl::init(""), cl::cat(category));
static cl::list<std::string> keepFloat(
    "keep-float",
    cl::desc("Keep the weight matmuls whose lowbit.name (or function or "
             "location name) matches this regular expression in float: the "
             "quantize pipeline's skip=; with --preset or --quantize "
             "(repeatable)"),
    cl::value_desc("regex"), cl::cat(category));
static cl::opt<bool> exposeMatmulInputs(
    "expose-matmul-inputs",
    cl::desc("Also return the input of every named weight matmul, labelled "
             "with its name (lowbit-expose-matmul-inputs): the artifact "
             "lowbit.calibrate runs"),
    cl::init(false), cl::cat(category));
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

/// Checks the options of --target=cuda; for a shared library, finds the
/// runtime it links against.
static Error checkCudaOptions(Emit kind, std::string &runtimeLibrary,
                              const char *argv0) {
  auto error = [](const Twine &message) {
    return createStringError(inconvertibleErrorCode(), message);
  };
  if (pipeline.getNumOccurrences() && pipeline != "auto")
    return error("--pipeline=" + pipeline +
                 " does not apply to --target=cuda (it uses "
                 "lowbit-gpu-pipeline)");
  if (!pipelineOptions.empty())
    return error("--pipeline-options does not apply to --target=cuda");
  if (threads.getNumOccurrences())
    return error("--num-threads does not apply to --target=cuda");
  StringRef chip = gpuChip;
  StringRef digits = chip.starts_with("sm_") ? chip.drop_front(3) : "";
  if (digits.ends_with("a") || digits.ends_with("f"))
    digits = digits.drop_back();
  if (digits.empty() || !all_of(digits, isDigit))
    return error("--gpu-chip=" + gpuChip +
                 " is not an NVIDIA architecture (sm_80, sm_90, ...)");
  if (gpuFormat != "fatbin" && gpuFormat != "bin" && gpuFormat != "isa")
    return error("unknown --gpu-format=" + gpuFormat +
                 "; expected fatbin, bin or isa");
  if (kind != Emit::Shared)
    return Error::success();
  void *self = reinterpret_cast<void *>(reinterpret_cast<intptr_t>(&fail));
  runtimeLibrary = cudaRuntime.empty()
                       ? compiler::defaultCudaRuntimeLibrary(argv0, self)
                       : std::string(cudaRuntime);
  if (!sys::fs::exists(runtimeLibrary))
    return error("the lowbit CUDA runtime '" + runtimeLibrary +
                 "' does not exist; build the lowbit_cuda_runtime target or "
                 "name it with --cuda-runtime");
  return Error::success();
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

  bool cuda = target == "cuda";
  if (target != "cpu" && !cuda)
    return fail("unknown --target=" + target + "; expected cpu or cuda");
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
  if (!hessians.empty() && !presetQuantize && !quantize.getNumOccurrences())
    return fail("--hessians needs --preset or --quantize: the Hessians "
                "choose how weights are rounded, not whether");
  if (!keepFloat.empty() && !presetQuantize && !quantize.getNumOccurrences())
    return fail("--keep-float needs --preset or --quantize");
  for (const std::string &pattern : keepFloat)
    if (pattern.find_first_of("{},") != std::string::npos)
      return fail("--keep-float pattern '" + pattern +
                  "' contains {, } or ,; write one pattern per "
                  "--keep-float, with alternatives joined by |");
  if (hessians.getValue().find_first_of("{}") != std::string::npos)
    return fail("--hessians: a path with '{' or '}' is not supported");
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
  std::string runtimeLibrary;
  if (cuda) {
    if (Error err = checkCudaOptions(*kind, runtimeLibrary, argv[0]))
      return fail(toString(std::move(err)));
  } else {
    for (cl::Option *option : {static_cast<cl::Option *>(&gpuChip),
                               static_cast<cl::Option *>(&gpuFormat),
                               static_cast<cl::Option *>(&cudaPath),
                               static_cast<cl::Option *>(&cudaRuntime)})
      if (option->getNumOccurrences())
        return fail("--" + option->ArgStr + " needs --target=cuda");
  }

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
  if (exposeMatmulInputs) {
    mlir::PassManager pm(&context);
    pm.addPass(mlir::lowbit::createLowbitExposeMatmulInputs());
    if (failed(pm.run(*module)))
      return 1;
  }
  mlir::FailureOr<std::vector<compiler::EntryPoint>> entries =
      compiler::collectEntryPoints(*module, names, prefix);
  if (failed(entries))
    return 1;

  bool external =
      (weightsMode == "external" ||
       (weightsMode == "auto" &&
        (compiler::hasExternalWeights(*module) || !weightsFilename.empty())));
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
  lowering.target = target;
  lowering.gpuChip = gpuChip;
  lowering.gpuFormat = gpuFormat;
  lowering.cudaPath = cudaPath;
  if (quantize.getNumOccurrences())
    lowering.quantize = quantize;
  else if (presetQuantize)
    lowering.quantize = *presetQuantize;
  if (!hessians.empty())
    *lowering.quantize += " hessians={" + hessians + "}";
  for (const std::string &pattern : keepFloat)
    *lowering.quantize += " skip={" + pattern + "}";
  if (inputFilename != "-")
    lowering.weightsDir =
        sys::path::parent_path(inputFilename.getValue()).str();
  lowering.externalMinBytes =
      external ? std::max<uint64_t>(externalMinBytes, 1) : 0;
  lowering.pipeline = pipeline;
  lowering.pipelineOptions = pipelineOptions;
  // The kernels use the instructions of the machine compiled for, not of
  // the machine compiling (lowbit-lower-cpu's `isa=host`).
  if (!cuda && compiler::resolvePipeline(pipeline) == "cpu") {
    std::string supported = compiler::kernelIsa(**machine);
    std::optional<std::string> requested =
        compiler::pipelineOption(lowering.pipelineOptions, "isa");
    if (!requested)
      lowering.pipelineOptions +=
          (lowering.pipelineOptions.empty() ? "" : " ") + std::string("isa=") +
          supported;
    else if (!compiler::isaSupported(*requested, supported))
      return fail("--pipeline-options isa=" + *requested +
                  " needs instructions the target lacks (--mcpu=" +
                  (**machine).getTargetCPU().str() +
                  " supports isa=" + supported + ")");
    if (compiler::pipelineOption(lowering.pipelineOptions, "dot") == "i8" &&
        !compiler::supportsInt8Dot(**machine))
      return fail("--pipeline-options dot=i8 needs AVX-512 VNNI and BW, "
                  "which the target lacks (--mcpu=" +
                  (**machine).getTargetCPU().str() + ")");
    // Likewise VBMI (3-bit codes on the int8 kernels): the target's, not
    // the compiling machine's.
    std::optional<std::string> vbmi =
        compiler::pipelineOption(lowering.pipelineOptions, "vbmi");
    if (!vbmi)
      lowering.pipelineOptions +=
          std::string(" vbmi=") +
          (compiler::supportsVbmi(**machine) ? "true" : "false");
    else if (*vbmi == "true" && !compiler::supportsVbmi(**machine))
      return fail("--pipeline-options vbmi=true needs AVX-512 VBMI, which "
                  "the target lacks (--mcpu=" +
                  (**machine).getTargetCPU().str() + ")");
  }
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
        *entries, prefix, sys::path::filename(headerFilename), source, target);
  }

  if (*kind == Emit::MLIR) {
    module->print(output->os());
  } else {
    LLVMContext llvmContext;
    Expected<std::unique_ptr<Module>> llvmModule =
        compiler::translateToLLVMIR(*module, llvmContext, **machine);
    if (!llvmModule)
      return fail(toString(llvmModule.takeError()));
    if (cuda)
      compiler::placeGpuBinaries(**llvmModule);
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
              objectPath, outputFilename, compiler::usesOpenMP(**llvmModule),
              runtimeLibrary))
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
