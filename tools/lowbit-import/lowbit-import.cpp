//===- lowbit-import.cpp - Hugging Face / GGUF model to MLIR --------------===//
//
// lowbit-import MODEL_DIR -o model.mlir --seq-len=128 [--batch=1]
//     [--adapter=DIR] [--pooling=auto|mean|cls|none]
//     [--normalize=auto|on|off] [--inline-weights] [--quiet]
// lowbit-import model.gguf -o model.mlir --seq-len=128
//
// Writes one public func.func @forward on static-shape tensors, whose
// weights are lowbit.weight references into the checkpoint's files.
// docs/Import.md describes the IR, the options and the errors.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/Import.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cinttypes>
#include <optional>

using namespace llvm;
namespace import = lowbit::import;

static cl::OptionCategory category("lowbit-import options");

static cl::opt<std::string>
    modelPath(cl::Positional,
              cl::desc("<model directory (config.json + safetensors) or "
                       ".gguf file>"),
              cl::Required, cl::cat(category));
static cl::opt<std::string> outputFilename("o", cl::desc("Output .mlir file"),
                                           cl::value_desc("path"),
                                           cl::init("-"), cl::cat(category));
static cl::opt<int64_t> seqLen("seq-len",
                               cl::desc("Sequence length of the inputs"),
                               cl::Required, cl::cat(category));
static cl::opt<int64_t> batch("batch",
                              cl::desc("Batch size of the inputs (default 1)"),
                              cl::init(1), cl::cat(category));
static cl::opt<std::string>
    adapterPath("adapter",
                cl::desc("PEFT LoRA adapter directory (adapter_config.json + "
                         "adapter_model.safetensors)"),
                cl::value_desc("dir"), cl::init(""), cl::cat(category));
static cl::opt<std::string>
    pooling("pooling",
            cl::desc("BERT output: auto (from sentence-transformers files, "
                     "else none), mean, cls or none"),
            cl::init("auto"), cl::cat(category));
static cl::opt<std::string>
    normalize("normalize",
              cl::desc("BERT: L2-normalize the pooled output: auto (when "
                       "modules.json has Normalize), on or off"),
              cl::init("auto"), cl::cat(category));
static cl::opt<bool> inlineWeights(
    "inline-weights",
    cl::desc("Emit weights as arith.constant tensors instead of "
             "lowbit.weight external references (small models, tests)"),
    cl::init(false), cl::cat(category));
static cl::opt<bool> quiet("quiet",
                           cl::desc("No progress or summary on stderr"),
                           cl::init(false), cl::cat(category));

static int fail(const Twine &message) {
  errs() << "lowbit-import: error: " << message << "\n";
  return 1;
}

static std::string humanBytes(uint64_t bytes) {
  char buf[64];
  if (bytes >= (uint64_t(1) << 30))
    snprintf(buf, sizeof(buf), "%.2f GiB", double(bytes) / double(1 << 30));
  else if (bytes >= (uint64_t(1) << 20))
    snprintf(buf, sizeof(buf), "%.2f MiB", double(bytes) / double(1 << 20));
  else if (bytes >= 1024)
    snprintf(buf, sizeof(buf), "%.2f KiB", double(bytes) / 1024.0);
  else
    snprintf(buf, sizeof(buf), "%" PRIu64 " B", bytes);
  return buf;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "lowbit model importer: Hugging Face model directory or GGUF file -> "
      "MLIR\n");

  import::ImportOptions options;
  options.modelPath = modelPath;
  options.seqLen = seqLen;
  options.batch = batch;
  options.adapterPath = adapterPath;
  options.inlineWeights = inlineWeights;
  std::optional<import::Pooling> p =
      StringSwitch<std::optional<import::Pooling>>(pooling)
          .Case("auto", import::Pooling::Auto)
          .Case("mean", import::Pooling::Mean)
          .Case("cls", import::Pooling::Cls)
          .Case("none", import::Pooling::None)
          .Default(std::nullopt);
  if (!p)
    return fail("unknown --pooling=" + pooling +
                "; expected auto, mean, cls or none");
  options.pooling = *p;
  std::optional<import::Normalize> n =
      StringSwitch<std::optional<import::Normalize>>(normalize)
          .Case("auto", import::Normalize::Auto)
          .Case("on", import::Normalize::On)
          .Case("off", import::Normalize::Off)
          .Default(std::nullopt);
  if (!n)
    return fail("unknown --normalize=" + normalize +
                "; expected auto, on or off");
  options.normalize = *n;
  if (!quiet)
    options.progress = [](const std::string &line) {
      errs() << "lowbit-import: " << line << "\n";
    };

  // The output is opened first so that a bad path fails before the work;
  // it is removed again unless everything succeeds.
  std::string message;
  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputFilename, &message);
  if (!output)
    return fail(message);

  mlir::DialectRegistry registry;
  import::registerImportDialects(registry);
  mlir::MLIRContext context(registry);
  import::ImportSummary summary;
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      import::importModel(context, options, summary, error);
  if (!module)
    return fail(error);

  mlir::OpPrintingFlags flags;
  flags.printNameLocAsPrefix();
  module->print(output->os(), flags);
  output->os().flush();
  if (output->os().has_error())
    return fail("cannot write '" + outputFilename + "'");
  output->keep();

  if (!quiet) {
    errs() << "lowbit-import: " << summary.architecture << " ("
           << summary.source << "): " << summary.description << "\n";
    errs() << "lowbit-import: " << summary.parameters << " parameters in "
           << summary.tensors << " tensors";
    if (summary.unusedTensors)
      errs() << " (" << summary.unusedTensors
             << " tensors of the checkpoint not used)";
    errs() << "\n";
    for (const auto &[dtype, bytes] : summary.bytesPerDType)
      errs() << "lowbit-import:   " << dtype << ": " << bytes << " bytes ("
             << humanBytes(bytes) << ")\n";
    if (summary.adapterTensors)
      errs() << "lowbit-import: LoRA adapter: " << summary.adapterParameters
             << " parameters in " << summary.adapterTensors << " tensors\n";
    errs() << "lowbit-import: weights "
           << (inlineWeights ? "inlined as constants"
                             : "referenced with lowbit.weight external")
           << "\n";
  }
  return 0;
}
