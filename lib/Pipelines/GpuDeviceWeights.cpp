//===- GpuDeviceWeights.cpp - weights out of the kernels' binaries --------===//
//
// Inline weights become initialized device globals, so the PTX text and the
// cubin carry every byte: fine for tests, not for a model. This pass keeps
// large constants of the GPU modules out of the binaries: each becomes an
// uninitialized `.visible .global` named after its content, and its bytes
// move to a host global marked `lowbit.device_weight`, which lowbit-compile
// writes to the weights file. The generated `<prefix>bind_weights` hands
// them to the CUDA runtime (lowbit_cuda_bind_global), which uploads them
// into every module defining the symbol when the module loads.
//
//===----------------------------------------------------------------------===//

#include "GpuHost.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/Pass.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace lowbit {

namespace {

/// The size in bytes of a constant's initializer as laid out in memory, or
/// nothing when it is not a byte-addressed dense value.
std::optional<uint64_t> initializerBytes(Attribute value) {
  auto typed = dyn_cast_or_null<ElementsAttr>(value);
  if (!typed || !isa<DenseElementsAttr, DenseResourceElementsAttr>(value))
    return std::nullopt;
  Type element = typed.getElementType();
  if (!element.isIntOrFloat() || element.getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  return uint64_t(typed.getNumElements()) * element.getIntOrFloatBitWidth() / 8;
}

/// FNV-1a over the bytes: equal weights share one symbol (and one entry of
/// the weights file), different ones practically never do.
uint64_t contentHash(Attribute value) {
  uint64_t hash = 0xcbf29ce484222325ull;
  auto mix = [&](ArrayRef<char> bytes) {
    for (char c : bytes) {
      hash ^= uint8_t(c);
      hash *= 0x100000001b3ull;
    }
  };
  if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    ArrayRef<char> raw = dense.getRawData();
    int64_t copies = dense.isSplat() ? dense.getNumElements() : 1;
    for (int64_t i = 0; i < copies; ++i)
      mix(raw);
  } else if (const AsmResourceBlob *blob =
                 cast<DenseResourceElementsAttr>(value)
                     .getRawHandle()
                     .getBlob()) {
    mix(blob->getData());
  }
  return hash;
}

/// Loads from the global through address arithmetic take the read-only
/// path (ld.global.nc) as they did while it was constant: the kernels
/// never write weights.
void markLoadsInvariant(LLVM::AddressOfOp address) {
  SmallVector<Value> worklist = {address.getResult()};
  DenseSet<Value> seen;
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!seen.insert(value).second)
      continue;
    for (Operation *user : value.getUsers()) {
      if (auto load = dyn_cast<LLVM::LoadOp>(user)) {
        load.setInvariant(true);
        continue;
      }
      // Descriptors carry the pointer through insertvalue/extractvalue.
      if (isa<LLVM::GEPOp, LLVM::AddrSpaceCastOp, LLVM::InsertValueOp>(user) ||
          (isa<LLVM::ExtractValueOp>(user) &&
           isa<LLVM::LLVMPointerType, LLVM::LLVMStructType>(
               user->getResult(0).getType())))
        worklist.push_back(user->getResult(0));
    }
  }
}

struct OutlineDeviceWeightsPass
    : PassWrapper<OutlineDeviceWeightsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(OutlineDeviceWeightsPass)
  explicit OutlineDeviceWeightsPass(uint64_t minBytes) : minBytes(minBytes) {}
  StringRef getArgument() const override {
    return "lowbit-gpu-outline-device-weights";
  }

  void runOnOperation() override {
    ModuleOp host = getOperation();
    SymbolTable hostSymbols(host);
    for (auto gpuModule : host.getOps<gpu::GPUModuleOp>())
      if (failed(outlineIn(gpuModule, hostSymbols)))
        return signalPassFailure();
  }

  LogicalResult outlineIn(gpu::GPUModuleOp gpuModule,
                          SymbolTable &hostSymbols) {
    SymbolTable symbols(gpuModule);
    for (auto global :
         llvm::make_early_inc_range(gpuModule.getOps<LLVM::GlobalOp>())) {
      Attribute value = global.getValueOrNull();
      std::optional<uint64_t> bytes = initializerBytes(value);
      if (!global.getConstant() || global.getAddrSpace() == 3 || !bytes ||
          *bytes < minBytes)
        continue;
      std::string name =
          "__lowbit_weight_" + llvm::utohexstr(contentHash(value),
                                               /*LowerCase=*/true, 16);
      // The same bytes twice in one module: one global serves both.
      if (auto existing = symbols.lookup<LLVM::GlobalOp>(name)) {
        if (existing.getType() != global.getType())
          return global.emitError()
                 << "internal error: weights " << name
                 << " with the same content but different types";
        if (failed(SymbolTable::replaceAllSymbolUses(
                global, existing.getSymNameAttr(), gpuModule)))
          return global.emitError() << "internal error: cannot rename uses";
        global.erase();
        continue;
      }
      if (failed(symbols.rename(global, name)))
        return global.emitError() << "internal error: cannot rename uses";
      addHostCopy(global, hostSymbols, name);

      // Zero-initialized and mutable: no bytes in the binary (NOBITS), and
      // LLVM must not fold loads of it to zero.
      OpBuilder b(global);
      global.setConstant(false);
      global.setLinkage(LLVM::Linkage::External);
      global.removeValueAttr();
      {
        OpBuilder::InsertionGuard guard(b);
        b.createBlock(&global.getInitializerRegion());
        LLVM::ReturnOp::create(
            b, global.getLoc(),
            LLVM::ZeroOp::create(b, global.getLoc(), global.getType()));
      }
      gpuModule.walk([&](LLVM::AddressOfOp address) {
        if (address.getGlobalName() == name)
          markLoadsInvariant(address);
      });
    }
    return success();
  }

  /// The bytes for the weights file, in a host global lowbit-compile
  /// collects (one per content).
  void addHostCopy(LLVM::GlobalOp global, SymbolTable &hostSymbols,
                   StringRef name) {
    if (hostSymbols.lookup(name))
      return;
    ModuleOp host = getOperation();
    OpBuilder b = OpBuilder::atBlockEnd(host.getBody());
    auto copy = LLVM::GlobalOp::create(
        b, global.getLoc(), global.getType(), /*isConstant=*/true,
        LLVM::Linkage::External, name, global.getValueOrNull(),
        global.getAlignment().value_or(0));
    copy->setAttr(mlir::lowbit::LowbitDialect::kDeviceWeightAttrName,
                  b.getUnitAttr());
    hostSymbols.insert(copy);
  }

  uint64_t minBytes;
};

} // namespace

std::unique_ptr<Pass> createOutlineDeviceWeightsPass(uint64_t minBytes) {
  return std::make_unique<OutlineDeviceWeightsPass>(minBytes);
}

} // namespace lowbit
