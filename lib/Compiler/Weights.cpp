//===- Weights.cpp - move large constants into a weights file -------------===//
//
// After lowering, weights are constant LLVM globals. Large ones leave the
// code: every `llvm.mlir.addressof` of such a global becomes a load from a
// table of pointers that `<prefix>bind_weights` fills at run time (the
// runtime maps the weights file and passes pointers into it), and the
// global's bytes are returned to be written to the weights file.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace lowbit {
namespace compiler {

/// The bytes of a global's initializer as they are laid out in memory, or
/// nothing when the global is not a dense constant worth outlining.
static std::optional<ArrayRef<char>> constantBytes(LLVM::GlobalOp global) {
  if (!global.getConstant() || global.getThreadLocal_())
    return std::nullopt;
  Attribute value = global.getValueOrNull();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(value)) {
    unsigned bits = dense.getElementType().getIntOrFloatBitWidth();
    // Splats store one element; sub-byte elements are not byte-addressed.
    if (dense.isSplat() || bits % 8 != 0 || dense.getElementType().isIndex())
      return std::nullopt;
    return dense.getRawData();
  }
  if (auto resource = dyn_cast_or_null<DenseResourceElementsAttr>(value)) {
    const AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    return blob->getData();
  }
  return std::nullopt;
}

static std::string typeText(Attribute value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  cast<TypedAttr>(value).getType().print(os);
  return text;
}

FailureOr<std::vector<OutlinedWeight>>
outlineWeights(ModuleOp module, llvm::StringRef prefix, uint64_t minBytes) {
  MLIRContext *context = module.getContext();
  std::vector<OutlinedWeight> weights;
  SmallVector<LLVM::GlobalOp> outlined;
  for (auto global :
       llvm::make_early_inc_range(module.getOps<LLVM::GlobalOp>())) {
    std::optional<ArrayRef<char>> bytes = constantBytes(global);
    uint64_t alignment = global.getAlignment().value_or(1);
    if (!bytes || bytes->size() < minBytes || alignment > kWeightAlignment)
      continue;
    // Host copies of weights that only kernels read (cuda) are dead: they
    // belong in neither the code nor the weights file.
    if (global.getLinkage() == LLVM::Linkage::Private &&
        SymbolTable::symbolKnownUseEmpty(global, module)) {
      global.erase();
      continue;
    }
    OutlinedWeight weight;
    weight.name = "w" + std::to_string(weights.size());
    weight.type = typeText(global.getValueOrNull());
    weight.bytes.assign(bytes->begin(), bytes->end());
    weights.push_back(std::move(weight));
    outlined.push_back(global);
  }
  if (weights.empty())
    return weights;

  OpBuilder b(context);
  Location loc = module.getLoc();
  auto ptrType = LLVM::LLVMPointerType::get(context);
  auto tableType = LLVM::LLVMArrayType::get(ptrType, weights.size());
  std::string tableName = weightTableSymbol(prefix);
  if (SymbolTable::lookupSymbolIn(module, tableName))
    return module.emitError() << "the symbol '" << tableName
                              << "' is taken by the generated C interface";
  b.setInsertionPointToEnd(module.getBody());
  auto table = LLVM::GlobalOp::create(b, loc, tableType, /*isConstant=*/false,
                                      LLVM::Linkage::Internal, tableName,
                                      Attribute(), /*alignment=*/8);
  {
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&table.getInitializerRegion());
    LLVM::ReturnOp::create(b, loc, LLVM::ZeroOp::create(b, loc, tableType));
  }

  for (auto [index, global] : llvm::enumerate(outlined)) {
    SmallVector<LLVM::AddressOfOp> uses;
    bool usedByGlobal = false;
    module.walk([&](LLVM::AddressOfOp op) {
      if (op.getGlobalName() != global.getSymName())
        return;
      if (op->getParentOfType<LLVM::GlobalOp>())
        usedByGlobal = true;
      uses.push_back(op);
    });
    if (usedByGlobal)
      return global.emitError()
             << "internal error: a global initializer takes the address of "
                "a weight";
    for (LLVM::AddressOfOp use : uses) {
      b.setInsertionPoint(use);
      Value base = LLVM::AddressOfOp::create(b, use.getLoc(), ptrType,
                                             table.getSymName());
      Value slot = LLVM::GEPOp::create(
          b, use.getLoc(), ptrType, tableType, base,
          ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(index)});
      Value pointer = LLVM::LoadOp::create(b, use.getLoc(), ptrType, slot,
                                           /*alignment=*/8);
      use.replaceAllUsesWith(pointer);
      use.erase();
    }
    global.erase();
  }
  return weights;
}

FailureOr<std::vector<OutlinedWeight>> collectDeviceWeights(ModuleOp module,
                                                            size_t first) {
  std::vector<OutlinedWeight> weights;
  for (auto global :
       llvm::make_early_inc_range(module.getOps<LLVM::GlobalOp>())) {
    if (!global->hasAttr(mlir::lowbit::LowbitDialect::kDeviceWeightAttrName))
      continue;
    auto dense = dyn_cast_or_null<DenseElementsAttr>(global.getValueOrNull());
    std::optional<ArrayRef<char>> bytes = constantBytes(global);
    OutlinedWeight weight;
    if (dense && dense.isSplat() &&
        dense.getElementType().getIntOrFloatBitWidth() % 8 == 0) {
      // Splats store one element; the weights file holds them all.
      ArrayRef<char> element = dense.getRawData();
      for (int64_t i = 0, e = dense.getNumElements(); i < e; ++i)
        weight.bytes.insert(weight.bytes.end(), element.begin(), element.end());
    } else if (bytes) {
      weight.bytes.assign(bytes->begin(), bytes->end());
    } else {
      return global.emitError()
             << "internal error: the device weight " << global.getSymName()
             << " has no byte-addressed dense value";
    }
    weight.name = "w" + std::to_string(first + weights.size());
    weight.type = typeText(global.getValueOrNull());
    weight.deviceSymbol = global.getSymName().str();
    weights.push_back(std::move(weight));
    global.erase();
  }
  return weights;
}

std::string weightTableSymbol(llvm::StringRef prefix) {
  return ("__" + prefix + "weight_table").str();
}

} // namespace compiler
} // namespace lowbit
