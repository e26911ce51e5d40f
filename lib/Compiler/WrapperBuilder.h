//===- WrapperBuilder.h - the generated C interface -------------*- C++ -*-===//
//
// Builds, in the LLVM dialect, what a compiled module exports: the typed C
// entry points and their packed twins, the thread-local error message, the
// manifest and, when weights live in a weights file, `bind_weights`.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_COMPILER_WRAPPERBUILDER_H
#define LOWBIT_LIB_COMPILER_WRAPPERBUILDER_H

#include "lowbit/Compiler/Compiler.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringSet.h"

namespace lowbit {
namespace compiler {

class WrapperBuilder {
public:
  WrapperBuilder(mlir::ModuleOp module, llvm::StringRef prefix)
      : module(module), symbols(module), prefix(prefix.str()),
        b(module.getContext()), loc(module.getLoc()) {
    ptrType = mlir::LLVM::LLVMPointerType::get(module.getContext());
    i64 = b.getI64Type();
    i32 = b.getI32Type();
  }

  /// Entry points built afterwards run device code: they call the lowbit
  /// CUDA runtime's lowbit_cuda_begin_call before the lowered function and
  /// fail with kErrorDevice and the runtime's message when
  /// lowbit_cuda_end_call reports an error.
  void enableDeviceCalls() { deviceCalls = true; }

  mlir::LogicalResult buildErrorState();
  /// `<prefix>bind_weights` and the flag the entry points check; call
  /// before buildEntry. Without weights, binding accepts only count 0.
  mlir::LogicalResult
  buildWeightBinding(llvm::ArrayRef<OutlinedWeight> weights);
  mlir::LogicalResult buildEntry(const EntryPoint &entry,
                                 llvm::StringRef twinName);
  /// `<cName>_packed(void *const *buffers, const int64_t *lens)`.
  mlir::LogicalResult buildPackedEntry(const EntryPoint &entry);
  /// `const char *<prefix>manifest(void)` returning `json`.
  mlir::LogicalResult buildManifest(llvm::StringRef json);
  void internalizeEverythingElse();

private:
  /// A private constant C string; returns its symbol name.
  std::string addString(llvm::StringRef name, llvm::StringRef text);
  /// Fails when an exported symbol name is already taken.
  mlir::LogicalResult checkFree(llvm::StringRef name);
  mlir::Value slotAddress();
  /// The external function `name`, declared if needed; null (with an
  /// error) when the name is taken by something else.
  mlir::LLVM::LLVMFuncOp declareExternal(llvm::StringRef name,
                                         mlir::LLVM::LLVMFunctionType type);
  /// In `func`, branches to `fail` with (message, code) when `bad` holds,
  /// else continues in a new block that becomes the insertion point.
  void failIf(mlir::LLVM::LLVMFuncOp func, mlir::Block *fail, mlir::Value bad,
              llvm::StringRef messageSymbol, int code);
  /// A block of `func` that stores its (message, code) arguments as the
  /// error and returns the code.
  mlir::Block *addFailBlock(mlir::LLVM::LLVMFuncOp func);
  /// In `<prefix>bind_weights`: passes each device weight (cuda) to
  /// lowbit_cuda_bind_global, failing with kErrorDevice and the runtime's
  /// message.
  mlir::LogicalResult bindDeviceWeights(mlir::LLVM::LLVMFuncOp func,
                                        mlir::Block *fail,
                                        llvm::ArrayRef<OutlinedWeight> weights,
                                        mlir::Value pointers);

  mlir::ModuleOp module;
  mlir::SymbolTable symbols;
  std::string prefix;
  mlir::OpBuilder b;
  mlir::Location loc;
  mlir::Type ptrType, i64, i32;
  std::string slotName;
  /// The flag bind_weights sets; empty when there are no weights.
  std::string boundFlagName;
  llvm::StringSet<> exported;
  bool deviceCalls = false;
};

} // namespace compiler
} // namespace lowbit

#endif // LOWBIT_LIB_COMPILER_WRAPPERBUILDER_H
