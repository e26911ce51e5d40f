//===- LowbitDialect.cpp - lowbit dialect registration --------------------===//

#include "lowbit/Dialect/Lowbit/IR/LowbitDialect.h"
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"

using namespace mlir;
using namespace mlir::lowbit;

#include "lowbit/Dialect/Lowbit/IR/LowbitOpsDialect.cpp.inc"

void LowbitDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "lowbit/Dialect/Lowbit/IR/LowbitOps.cpp.inc"
      >();
}

// A function result may carry `lowbit.name`: lowbit-expose-matmul-inputs
// labels the inputs it returns with the matmuls' names.
LogicalResult LowbitDialect::verifyRegionResultAttribute(Operation *op,
                                                         unsigned regionIndex,
                                                         unsigned resultIndex,
                                                         NamedAttribute attr) {
  if (attr.getName() == kNameAttrName && isa<StringAttr>(attr.getValue()))
    return success();
  return op->emitError() << "result #" << resultIndex << ": '"
                         << attr.getName().getValue()
                         << "' is not a lowbit result attribute; expected '"
                         << kNameAttrName << "' with a string";
}

LogicalResult LowbitDialect::verifyOperationAttribute(Operation *op,
                                                      NamedAttribute attr) {
  if (attr.getName() == kWeightsFileAttrName) {
    auto file = dyn_cast<StringAttr>(attr.getValue());
    if (!file || file.getValue().empty())
      return op->emitError() << "'" << kWeightsFileAttrName
                             << "' must be a non-empty string naming the "
                                "weights file";
    return success();
  }
  if (attr.getName() == kNameAttrName) {
    if (!isa<StringAttr>(attr.getValue()))
      return op->emitError()
             << "'" << kNameAttrName << "' must be a string naming the op";
    return success();
  }
  if (attr.getName() == kDeviceWeightAttrName) {
    // By name: the dialect does not depend on the LLVM dialect.
    if (!isa<UnitAttr>(attr.getValue()) ||
        op->getName().getStringRef() != "llvm.mlir.global")
      return op->emitError() << "'" << kDeviceWeightAttrName
                             << "' must be a unit attribute of an LLVM global";
    return success();
  }
  return op->emitError() << "unknown lowbit attribute '"
                         << attr.getName().getValue() << "'; expected '"
                         << kWeightsFileAttrName << "', '" << kNameAttrName
                         << "' or '" << kDeviceWeightAttrName << "'";
}
