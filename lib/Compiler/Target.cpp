//===- Target.cpp - LLVM IR, optimization and object emission -------------===//

#include "lowbit/Compiler/Compiler.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/TargetParser/Triple.h"

#include <mutex>

namespace lowbit {
namespace compiler {

static llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const TargetOptions &options) {
  // Every target libLLVM was built with, so --mtriple can cross-compile.
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  });
  if (options.optLevel > 3)
    return error("optimization level " + llvm::Twine(options.optLevel) +
                 " is not 0, 1, 2 or 3");

  std::string hostTriple = llvm::sys::getDefaultTargetTriple();
  llvm::Triple triple(llvm::Triple::normalize(
      options.triple.empty() ? hostTriple : options.triple));
  bool host = triple == llvm::Triple(llvm::Triple::normalize(hostTriple));
  std::string lookupError;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target)
    return error("unknown target triple '" + options.triple +
                 "': " + lookupError);
  if (triple.getArch() == llvm::Triple::UnknownArch || !triple.isArch64Bit())
    return error("target triple '" + triple.str() +
                 "' is not a 64-bit target; lowbit-compile lowers index "
                 "arithmetic to 64 bits");

  // The host's CPU and features unless told otherwise; a named CPU brings
  // its own features.
  bool hostCpu = options.cpu.empty() || options.cpu == "native";
  std::string cpu = hostCpu ? (host ? llvm::sys::getHostCPUName().str()
                                    : std::string("generic"))
                            : options.cpu;
  // Asked with the default CPU: an unknown one would print warnings.
  std::unique_ptr<llvm::MCSubtargetInfo> subtarget(
      target->createMCSubtargetInfo(triple, "", ""));
  if (!subtarget)
    return error("the target of '" + triple.str() +
                 "' has no subtarget information");
  if (!subtarget->isCPUStringValid(cpu))
    return error("unknown CPU '" + cpu + "' for " + triple.str() +
                 " (llc -mtriple=" + triple.str() +
                 " -mcpu=help lists the known ones)");
  llvm::StringSet<> known;
  for (const llvm::SubtargetFeatureKV &feature :
       subtarget->getAllProcessorFeatures())
    known.insert(feature.Key);

  llvm::SubtargetFeatures features;
  if (hostCpu && host)
    for (const auto &feature : llvm::sys::getHostCPUFeatures())
      if (known.contains(feature.getKey()))
        features.AddFeature(feature.getKey(), feature.getValue());
  llvm::SmallVector<llvm::StringRef> requested;
  llvm::StringRef(options.features)
      .split(requested, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  for (llvm::StringRef feature : requested) {
    feature = feature.trim();
    if (feature.empty())
      continue;
    if (!feature.starts_with("+") && !feature.starts_with("-"))
      return error("target feature '" + feature +
                   "' must start with '+' or '-' (e.g. +avx2)");
    if (!known.contains(feature.drop_front()))
      return error("unknown target feature '" + feature.drop_front() +
                   "' for " + triple.str() + " (llc -mtriple=" + triple.str() +
                   " -mattr=help lists the known ones)");
    features.AddFeature(feature);
  }

  llvm::TargetOptions targetOptions;
  std::optional<llvm::CodeGenOptLevel> level =
      llvm::CodeGenOpt::getLevel(options.optLevel);
  // Position-independent code links into executables (PIE) and shared
  // libraries alike.
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, cpu, features.getString(), targetOptions, llvm::Reloc::PIC_,
      std::nullopt, *level));
  if (!machine)
    return error("cannot create a target machine for " + triple.str());
  return machine;
}

llvm::Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                  llvm::TargetMachine &machine) {
  mlir::DialectRegistry registry;
  mlir::registerAllToLLVMIRTranslations(registry);
  module->getContext()->appendDialectRegistry(registry);

  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "lowbit");
  if (!llvmModule)
    return error("translation to LLVM IR failed");
  llvmModule->setTargetTriple(machine.getTargetTriple());
  llvmModule->setDataLayout(machine.createDataLayout());
  // Recorded on each function too, so the IR compiles the same elsewhere.
  for (llvm::Function &func : *llvmModule) {
    if (func.isDeclaration())
      continue;
    func.addFnAttr("target-cpu", machine.getTargetCPU());
    if (!machine.getTargetFeatureString().empty())
      func.addFnAttr("target-features", machine.getTargetFeatureString());
  }
  std::string message;
  llvm::raw_string_ostream os(message);
  if (llvm::verifyModule(*llvmModule, &os))
    return error("the translated LLVM IR does not verify: " + message);
  return llvmModule;
}

llvm::Error optimize(llvm::Module &module, llvm::TargetMachine &machine,
                     unsigned optLevel) {
  static const llvm::OptimizationLevel levels[] = {
      llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
      llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  if (optLevel > 3)
    return error("optimization level " + llvm::Twine(optLevel) +
                 " is not 0, 1, 2 or 3");
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgsccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = optLevel >= 2;
  tuning.SLPVectorization = optLevel >= 2;
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgsccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgsccs, modules);
  llvm::ModulePassManager passes =
      optLevel == 0 ? builder.buildO0DefaultPipeline(levels[0])
                    : builder.buildPerModuleDefaultPipeline(levels[optLevel]);
  passes.run(module, modules);
  return llvm::Error::success();
}

llvm::Error emitCode(llvm::Module &module, llvm::TargetMachine &machine,
                     llvm::raw_pwrite_stream &os, bool assembly) {
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, os, nullptr,
                                  assembly ? llvm::CodeGenFileType::AssemblyFile
                                           : llvm::CodeGenFileType::ObjectFile))
    return error("the target cannot emit " +
                 llvm::Twine(assembly ? "assembly" : "object files"));
  passes.run(module);
  return llvm::Error::success();
}

std::string kernelIsa(const llvm::TargetMachine &machine) {
  if (!machine.getTargetTriple().isX86())
    return "generic";
  const llvm::MCSubtargetInfo *subtarget = machine.getMCSubtargetInfo();
  if (subtarget->checkFeatures("+avx512f"))
    return "avx512";
  if (subtarget->checkFeatures("+avx2,+fma"))
    return "avx2";
  return "generic";
}

std::optional<std::string> pipelineOption(llvm::StringRef pipelineOptions,
                                          llvm::StringRef key) {
  // Options are space-separated `key=value` pairs (values without spaces);
  // the key must start a word ("isa=" is not the end of "xisa=").
  llvm::SmallVector<llvm::StringRef> words;
  pipelineOptions.split(words, ' ', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  std::string prefix = (key + "=").str();
  for (llvm::StringRef word : words)
    if (word.consume_front(prefix))
      return word.trim("{}").str();
  return std::nullopt;
}

bool supportsInt8Dot(const llvm::TargetMachine &machine) {
  return machine.getTargetTriple().isX86() &&
         machine.getMCSubtargetInfo()->checkFeatures(
             "+avx512f,+avx512bw,+avx512vnni");
}

bool supportsVbmi(const llvm::TargetMachine &machine) {
  return machine.getTargetTriple().isX86() &&
         machine.getMCSubtargetInfo()->checkFeatures("+avx512vbmi");
}

bool isaSupported(llvm::StringRef isa, llvm::StringRef supported) {
  auto rank = [](llvm::StringRef name) {
    return llvm::StringSwitch<int>(name)
        .Case("generic", 0)
        .Case("avx2", 1)
        .Case("avx512", 2)
        .Case("host", 2)
        .Default(-1);
  };
  // Unknown names are left to the pipeline's own option check.
  return rank(isa) < 0 || rank(isa) <= rank(supported);
}

std::string defaultCudaRuntimeLibrary(const char *argv0, void *mainAddress) {
  std::string executable = llvm::sys::fs::getMainExecutable(argv0, mainAddress);
  llvm::SmallString<256> path(executable);
  llvm::sys::path::remove_filename(path); // bin
  llvm::sys::path::remove_filename(path); // the prefix
  llvm::sys::path::append(path, "lib", "liblowbit_cuda_runtime.so");
  return std::string(path);
}

bool usesOpenMP(const llvm::Module &module) {
  for (const llvm::Function &f : module)
    if (f.isDeclaration() && f.getName().starts_with("__kmpc_"))
      return true;
  return false;
}

llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef libraryPath, bool openMP,
                              llvm::StringRef runtimeLibrary) {
  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return error("linking a shared library needs the C compiler driver 'cc' "
                 "on PATH; write an object file (-o out.o) and link it "
                 "yourself instead");
  llvm::SmallVector<llvm::StringRef> args = {*cc, "-shared", "-o", libraryPath,
                                             objectPath};
  // The library then loads LLVM's OpenMP runtime itself.
  if (openMP)
    args.push_back("-lomp");
  // A runtime library is linked by path (its SONAME is what the output
  // records) and found at run time next to the output, else where it is
  // now. No shell runs: "$ORIGIN" reaches the linker as written.
  std::string runtimeRpath; // outlives args, which refers to it
  if (!runtimeLibrary.empty()) {
    if (!llvm::sys::fs::exists(runtimeLibrary))
      return error("the runtime library '" + runtimeLibrary +
                   "' does not exist (build the lowbit_cuda_runtime target, "
                   "or name it with --cuda-runtime)");
    llvm::SmallString<256> dir(runtimeLibrary);
    llvm::sys::fs::make_absolute(dir);
    llvm::sys::path::remove_filename(dir);
    runtimeRpath = "-Wl,-rpath," + std::string(dir);
    args.push_back(runtimeLibrary);
    args.push_back("-Wl,-rpath,$ORIGIN");
    args.push_back(runtimeRpath);
  }
  std::string message;
  int rc =
      llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    std::string detail = message.empty()
                             ? " (exit code " + std::to_string(rc) + ")"
                             : ": " + message;
    return error("'" + *cc + " -shared' failed" + detail);
  }
  return llvm::Error::success();
}

} // namespace compiler
} // namespace lowbit
