//===- Compiler.h - ahead-of-time compilation for the CPU -------*- C++ -*-===//
//
// The pieces of lowbit-compile as a library, so other drivers (the Python
// package) can reuse them: find the public functions of a module and check
// that they have a C interface, lower the module to the LLVM dialect with
// caller-provided result buffers, add the plain C entry points, write the C
// header, and turn the LLVM dialect into an object file for a target.
// docs/Compile.md describes the ABI.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_COMPILER_COMPILER_H
#define LOWBIT_COMPILER_COMPILER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
class SourceMgr;
class TargetMachine;
class raw_pwrite_stream;
} // namespace llvm

namespace mlir {
class MLIRContext;
class PassManager;
} // namespace mlir

namespace lowbit {
namespace compiler {

/// Return codes of the generated entry points (also written to the header).
enum ErrorCode : int {
  kOk = 0,
  kErrorNullPointer = 1,
  kErrorBadLength = 2,
  kErrorWeightsNotBound = 3,
  kErrorBadWeights = 4,
  /// --target=cuda only: the GPU or the CUDA runtime failed (no driver, no
  /// device, out of memory, ...); the message is the runtime's.
  kErrorDevice = 5,
};

/// Alignment of every tensor in a weights file, and the most a weight
/// moved there may need.
constexpr uint64_t kWeightAlignment = 64;

/// One tensor argument or result of an entry point, as the C caller sees
/// it: a pointer to a dense row-major buffer and its element count.
struct Buffer {
  std::string name;           // C parameter name ("x", "arg1", "result0")
  std::vector<int64_t> shape; // static shape
  mlir::Type elementType;     // f32, f16, bf16, f64, i8, i32 or i64
  std::string cType;          // "float", "uint16_t", ...
  int64_t numElements = 0;    // product of the shape
  std::string mlirType;       // "tensor<2x128xf32>", for messages/comments
  std::string label; // a result's `lowbit.name` (the matmul whose input it
                     // is, from lowbit-expose-matmul-inputs); may be empty
};

/// A public function and the C function that calls it.
struct EntryPoint {
  std::string funcName; // the func.func symbol
  std::string cName;    // prefix + funcName
  std::vector<Buffer> args;
  std::vector<Buffer> results;
};

/// A constant moved out of the code into the weights file.
struct OutlinedWeight {
  std::string name;           // "w0", "w1", ... in the order of the table
  std::string type;           // the MLIR type of its value, for inspection
  std::vector<uint8_t> bytes; // its bytes as laid out in memory
  std::string deviceSymbol;   // the device global it fills (cuda), or ""
};

/// Names of the entry-block arguments of functions as written in the
/// source (`%x` → "x"), by function name; parseSourceWithArgNames fills it.
using ArgNames = llvm::StringMap<std::vector<std::string>>;

/// Parses MLIR from the source manager's main buffer into a module (ops at
/// top level are wrapped in one), recording argument names. Diagnostics go
/// to the context's handler; returns null on failure.
mlir::OwningOpRef<mlir::ModuleOp>
parseSourceWithArgNames(const llvm::SourceMgr &sourceMgr,
                        mlir::MLIRContext *context, ArgNames &names);

/// The public func.func definitions of `module` as entry points, in order.
/// Emits an error at the function and fails when one cannot have a C
/// interface (dynamic shapes, non-tensor arguments, unsupported element
/// types, names that are not C identifiers) or when there is none.
mlir::FailureOr<std::vector<EntryPoint>>
collectEntryPoints(mlir::ModuleOp module, const ArgNames &names,
                   llvm::StringRef prefix);

/// How lowerToLLVMDialect lowers.
struct LoweringOptions {
  /// "cpu", or "cuda": lowbit-gpu-pipeline with `lower-host`, whose entry
  /// points call the lowbit CUDA runtime (docs/CudaRuntime.md).
  std::string target = "cpu";
  /// cuda: the GPU architecture, what the embedded binary is (fatbin, bin
  /// = cubin, isa = PTX) and the CUDA toolkit ("" = the configured one).
  std::string gpuChip = "sm_90";
  std::string gpuFormat = "fatbin";
  std::string cudaPath;
  /// `lowbit-quantize-pipeline` options; empty: do not quantize.
  std::optional<std::string> quantize;
  /// "cpu", "reference", or "auto": cpu when a pipeline named
  /// `lowbit-cpu-pipeline` is registered, else reference. The cuda target
  /// takes only "auto".
  std::string pipeline = "auto";
  /// Options for the cpu pipeline, in pass-option syntax.
  std::string pipelineOptions;
  /// Where relative names of external weight files are found.
  std::string weightsDir;
  /// Constants of at least this many bytes move to the weights file;
  /// 0 keeps everything in the code.
  uint64_t externalMinBytes = 0;
  /// Called on every pass manager before it runs (IR printing, timing).
  std::function<mlir::LogicalResult(mlir::PassManager &)> configurePassManager;
};

/// The pipeline "auto" resolves to in this process.
std::string resolvePipeline(llvm::StringRef pipeline);

/// Reads external weights (lowbit-load-weights), quantizes (optionally),
/// gives every entry point a form that writes its results into caller
/// buffers, lowers to the LLVM dialect with the chosen pipeline, moves
/// large constants out (when options.externalMinBytes > 0; their bytes are
/// appended to `weights`), and adds the C interface: the entry points and
/// their `_packed` forms, `<prefix>last_error`, `<prefix>manifest` and
/// `<prefix>bind_weights`. Every other symbol becomes internal. Upstream
/// passes and the lowbit pipelines must be registered
/// (mlir::registerAllPasses, lowbit::registerAllLowbitPasses).
mlir::LogicalResult lowerToLLVMDialect(mlir::ModuleOp module,
                                       llvm::ArrayRef<EntryPoint> entries,
                                       llvm::StringRef prefix,
                                       const LoweringOptions &options,
                                       std::vector<OutlinedWeight> &weights);

/// True when the module references weights in external files.
bool hasExternalWeights(mlir::ModuleOp module);

/// Moves constant globals of at least `minBytes` (LLVM dialect) into a
/// table of pointers bound at run time; returns their bytes in table order.
mlir::FailureOr<std::vector<OutlinedWeight>>
outlineWeights(mlir::ModuleOp module, llvm::StringRef prefix,
               uint64_t minBytes);

/// Removes the host globals that lowbit-gpu-pipeline's
/// external-weights-min-bytes leaves with the bytes of device weights
/// (marked lowbit.device_weight) and returns them, named from "w<first>".
mlir::FailureOr<std::vector<OutlinedWeight>>
collectDeviceWeights(mlir::ModuleOp module, size_t first);

/// The symbol of the table outlineWeights creates.
std::string weightTableSymbol(llvm::StringRef prefix);

/// The JSON document `<prefix>manifest()` returns (docs/Runtime.md).
std::string manifestJson(llvm::ArrayRef<EntryPoint> entries,
                         llvm::StringRef prefix, llvm::StringRef target,
                         llvm::ArrayRef<OutlinedWeight> weights);

/// Writes the weights file: a safetensors file with one U8 tensor per
/// weight, padded to a multiple of kWeightAlignment, whose data starts at
/// an aligned offset so that mapped tensors are aligned.
llvm::Error writeWeightsFile(llvm::StringRef path,
                             llvm::ArrayRef<OutlinedWeight> weights,
                             llvm::StringRef artifactName);

/// The C header declaring the entry points. `guardName` names the file for
/// the include guard; `source` is mentioned in the opening comment.
/// For target "cuda" the header also defines the device error code.
std::string emitHeader(llvm::ArrayRef<EntryPoint> entries,
                       llvm::StringRef prefix, llvm::StringRef guardName,
                       llvm::StringRef source, llvm::StringRef target = "cpu");

/// Target selection. Empty fields mean the host's triple, CPU and
/// features; `mattr` adds to or overrides the CPU's features.
struct TargetOptions {
  std::string triple;
  std::string cpu;
  std::string features; // "+avx2,-avx512f"
  unsigned optLevel = 2;
};

/// A target machine for position-independent code (the object can go into
/// executables and shared libraries), or an error naming the unknown
/// triple, CPU or feature.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const TargetOptions &options);

/// Translates an LLVM-dialect module to LLVM IR for the target machine
/// (triple, data layout, target-cpu/target-features attributes).
llvm::Expected<std::unique_ptr<llvm::Module>>
translateToLLVMIR(mlir::ModuleOp module, llvm::LLVMContext &context,
                  llvm::TargetMachine &machine);

/// Moves the fatbins that the GPU dialect's translation embeds into the
/// .nv_fatbin section, where CUDA's tools find device code; returns how
/// many. Cubins and PTX stay where they are.
unsigned placeGpuBinaries(llvm::Module &module);

/// Runs LLVM's default O<optLevel> pipeline (0-3).
llvm::Error optimize(llvm::Module &module, llvm::TargetMachine &machine,
                     unsigned optLevel);

/// Writes an object file (or assembly when `assembly`).
llvm::Error emitCode(llvm::Module &module, llvm::TargetMachine &machine,
                     llvm::raw_pwrite_stream &os, bool assembly);

/// The `isa` of lowbit-lower-cpu that suits the target machine's features:
/// "avx512", "avx2" or "generic".
std::string kernelIsa(const llvm::TargetMachine &machine);

/// The value of `key=` (e.g. "isa", "dot") in cpu pipeline options, if
/// given.
std::optional<std::string> pipelineOption(llvm::StringRef pipelineOptions,
                                          llvm::StringRef key);

/// Whether the target can run lowbit-lower-cpu's `dot=i8` kernels
/// (AVX-512 BW and VNNI).
bool supportsInt8Dot(const llvm::TargetMachine &machine);

/// Whether the target has AVX-512 VBMI (vpermb, vpmultishiftqb), which
/// the `dot=i8` kernels need for 3-bit codes.
bool supportsVbmi(const llvm::TargetMachine &machine);

/// Whether kernels for `isa` (generic, avx2, avx512 or host) run on a
/// target whose best is `supported` (kernelIsa's answer). "host" means the
/// compiling machine, which need not be the target: only allowed when the
/// target supports avx512.
bool isaSupported(llvm::StringRef isa, llvm::StringRef supported);

/// True when the code calls LLVM's OpenMP runtime (parallel kernels).
bool usesOpenMP(const llvm::Module &module);

/// Links an object file into a shared library with the system C compiler
/// driver (`cc`, found on PATH at run time), against libomp when `openMP`,
/// and against the shared library `runtimeLibrary` when given (the lowbit
/// CUDA runtime), found at run time next to the output ($ORIGIN) or in the
/// runtime's own directory (both become the library's RUNPATH).
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef libraryPath, bool openMP,
                              llvm::StringRef runtimeLibrary = "");

/// The lowbit CUDA runtime next to a lowbit tool: `<dir of the tool>/../lib/
/// liblowbit_cuda_runtime.so` (the build tree's and an install's layout).
std::string defaultCudaRuntimeLibrary(const char *argv0, void *mainAddress);

} // namespace compiler
} // namespace lowbit

#endif // LOWBIT_COMPILER_COMPILER_H
