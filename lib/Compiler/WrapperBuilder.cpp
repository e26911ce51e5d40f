//===- WrapperBuilder.cpp - the generated C interface ---------------------===//
//
// Everything here is built in the LLVM dialect after lowering: the entry
// points check their buffers before calling the lowered twins, and failures
// leave a static message in a thread-local slot.
//
//===----------------------------------------------------------------------===//

#include "WrapperBuilder.h"

using namespace mlir;

namespace lowbit {
namespace compiler {

LogicalResult WrapperBuilder::checkFree(llvm::StringRef name) {
  if (Operation *op = symbols.lookup(name))
    return op->emitError() << "the symbol '" << name
                           << "' is taken by the generated C interface; "
                              "rename it or choose another --prefix";
  return success();
}

std::string WrapperBuilder::addString(llvm::StringRef name,
                                      llvm::StringRef text) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  std::string value = text.str();
  value.push_back('\0');
  auto type = LLVM::LLVMArrayType::get(b.getI8Type(), value.size());
  auto global = LLVM::GlobalOp::create(b, loc, type, /*isConstant=*/true,
                                       LLVM::Linkage::Private, name,
                                       b.getStringAttr(value));
  return symbols.insert(global).getValue().str();
}

LLVM::LLVMFuncOp WrapperBuilder::declareExternal(llvm::StringRef name,
                                                 LLVM::LLVMFunctionType type) {
  if (Operation *op = symbols.lookup(name)) {
    auto func = dyn_cast<LLVM::LLVMFuncOp>(op);
    if (func && func.isExternal() && func.getFunctionType() == type)
      return func;
    op->emitError() << "the symbol '" << name
                    << "' is taken; the generated code calls the lowbit CUDA "
                       "runtime's function of that name";
    return nullptr;
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(b, loc, name, type);
  symbols.insert(func);
  return func;
}

Value WrapperBuilder::slotAddress() {
  Value global = LLVM::AddressOfOp::create(b, loc, ptrType, slotName);
  return LLVM::ThreadlocalAddressOp::create(b, loc, ptrType, global);
}

LogicalResult WrapperBuilder::buildErrorState() {
  // The message slot and lowbit_last_error are weak: objects compiled with
  // the same prefix can be linked together and share them.
  slotName = "__" + prefix + "last_error_message";
  std::string getter = prefix + "last_error";
  if (failed(checkFree(slotName)) || failed(checkFree(getter)))
    return failure();
  std::string empty = addString("__lowbit_empty_message", "");

  b.setInsertionPointToEnd(module.getBody());
  auto slot = LLVM::GlobalOp::create(b, loc, ptrType, /*isConstant=*/false,
                                     LLVM::Linkage::Weak, slotName, Attribute(),
                                     /*alignment=*/0,
                                     /*addrSpace=*/0, /*dsoLocal=*/false,
                                     /*thread_local_=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.createBlock(&slot.getInitializerRegion());
    LLVM::ReturnOp::create(b, loc, LLVM::ZeroOp::create(b, loc, ptrType));
  }
  symbols.insert(slot);
  exported.insert(slotName);

  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(b, loc, getter,
                                       LLVM::LLVMFunctionType::get(ptrType, {}),
                                       LLVM::Linkage::Weak);
  symbols.insert(func);
  exported.insert(getter);
  b.setInsertionPointToStart(func.addEntryBlock(b));
  Value message = LLVM::LoadOp::create(b, loc, ptrType, slotAddress());
  Value null = LLVM::ZeroOp::create(b, loc, ptrType);
  Value isNull =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, message, null);
  Value emptyAddress = LLVM::AddressOfOp::create(b, loc, ptrType, empty);
  Value result = LLVM::SelectOp::create(b, loc, isNull, emptyAddress, message);
  LLVM::ReturnOp::create(b, loc, result);
  return success();
}

LogicalResult WrapperBuilder::buildEntry(const EntryPoint &entry,
                                         llvm::StringRef twinName) {
  auto twin = symbols.lookup<LLVM::LLVMFuncOp>(twinName);
  if (!twin)
    return module.emitError()
           << "internal error: the lowered @" << twinName << " is missing";
  Location entryLoc = twin.getLoc();
  if (failed(checkFree(entry.cName)))
    return failure();

  SmallVector<const Buffer *> buffers;
  for (const Buffer &buffer : entry.args)
    buffers.push_back(&buffer);
  for (const Buffer &buffer : entry.results)
    buffers.push_back(&buffer);

  // The lowered twin takes each memref as (allocated, aligned, offset,
  // sizes..., strides...); check that before relying on it.
  SmallVector<Type> expected;
  for (const Buffer *buffer : buffers) {
    expected.append({ptrType, ptrType, i64});
    expected.append(2 * buffer->shape.size(), i64);
  }
  if (llvm::to_vector(twin.getFunctionType().getParams()) != expected ||
      !isa<LLVM::LLVMVoidType>(twin.getFunctionType().getReturnType()))
    return twin.emitError()
           << "internal error: unexpected lowered signature "
           << twin.getFunctionType() << " for @" << entry.funcName;

  SmallVector<Type> params;
  for (size_t i = 0; i < buffers.size(); ++i)
    params.append({ptrType, i64});
  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(
      b, entryLoc, entry.cName, LLVM::LLVMFunctionType::get(i32, params));
  symbols.insert(func);
  exported.insert(entry.cName);

  Block *current = func.addEntryBlock(b);
  Region &region = func.getBody();
  Block *fail = b.createBlock(&region, region.end(), {ptrType, i32},
                              {entryLoc, entryLoc});

  if (!boundFlagName.empty()) {
    std::string unbound =
        addString("__lowbit_message_" + entry.funcName + "_unbound",
                  entry.cName +
                      ": the weights are not bound (load the artifact with "
                      "the lowbit runtime, or call " +
                      prefix + "bind_weights)");
    b.setInsertionPointToEnd(current);
    Value flag = LLVM::AddressOfOp::create(b, entryLoc, ptrType, boundFlagName);
    Value bound = LLVM::LoadOp::create(b, entryLoc, i32, flag);
    Value isUnbound =
        LLVM::ICmpOp::create(b, entryLoc, LLVM::ICmpPredicate::eq, bound,
                             LLVM::ConstantOp::create(b, entryLoc, i32, 0));
    failIf(func, fail, isUnbound, unbound, kErrorWeightsNotBound);
    current = b.getInsertionBlock();
  }

  for (auto [i, buffer] : llvm::enumerate(buffers)) {
    Value pointer = func.getArgument(2 * i);
    Value length = func.getArgument(2 * i + 1);
    std::string what = entry.cName + ": " + buffer->name;
    std::string symbolBase =
        "__lowbit_message_" + entry.funcName + "_" + std::to_string(i);
    std::string nullMessage =
        addString(symbolBase + "_null", what + " is NULL");
    std::string lengthMessage =
        addString(symbolBase + "_len",
                  what + "_len must be " + std::to_string(buffer->numElements) +
                      " (the element count of " + buffer->mlirType + ")");

    b.setInsertionPointToEnd(current);
    Block *checkLength = b.createBlock(&region, Region::iterator(fail));
    Block *next = b.createBlock(&region, Region::iterator(fail));

    b.setInsertionPointToEnd(current);
    if (buffer->numElements > 0) {
      Value null = LLVM::ZeroOp::create(b, entryLoc, ptrType);
      Value isNull = LLVM::ICmpOp::create(b, entryLoc, LLVM::ICmpPredicate::eq,
                                          pointer, null);
      Value message =
          LLVM::AddressOfOp::create(b, entryLoc, ptrType, nullMessage);
      Value code =
          LLVM::ConstantOp::create(b, entryLoc, i32, kErrorNullPointer);
      LLVM::CondBrOp::create(b, entryLoc, isNull, fail,
                             ValueRange{message, code}, checkLength,
                             ValueRange());
    } else {
      // An empty buffer is never accessed; NULL is fine.
      LLVM::BrOp::create(b, entryLoc, ValueRange(), checkLength);
    }

    b.setInsertionPointToEnd(checkLength);
    Value want =
        LLVM::ConstantOp::create(b, entryLoc, i64, buffer->numElements);
    Value bad = LLVM::ICmpOp::create(b, entryLoc, LLVM::ICmpPredicate::ne,
                                     length, want);
    Value message =
        LLVM::AddressOfOp::create(b, entryLoc, ptrType, lengthMessage);
    Value code = LLVM::ConstantOp::create(b, entryLoc, i32, kErrorBadLength);
    LLVM::CondBrOp::create(b, entryLoc, bad, fail, ValueRange{message, code},
                           next, ValueRange());
    current = next;
  }
  // All checks passed: call the twin with descriptors of the buffers.
  b.setInsertionPointToEnd(current);
  SmallVector<Value> operands;
  Value zero = LLVM::ConstantOp::create(b, entryLoc, i64, 0);
  for (auto [i, buffer] : llvm::enumerate(buffers)) {
    Value pointer = func.getArgument(2 * i);
    operands.append({pointer, pointer, zero});
    for (int64_t size : buffer->shape)
      operands.push_back(LLVM::ConstantOp::create(b, entryLoc, i64, size));
    int64_t stride = 1;
    SmallVector<Value> strides;
    for (int64_t size : llvm::reverse(buffer->shape)) {
      strides.push_back(LLVM::ConstantOp::create(b, entryLoc, i64, stride));
      stride *= size;
    }
    operands.append(strides.rbegin(), strides.rend());
  }
  if (!deviceCalls) {
    LLVM::CallOp::create(b, entryLoc, twin, operands);
  } else {
    auto voidType = LLVM::LLVMVoidType::get(module.getContext());
    LLVM::LLVMFuncOp begin = declareExternal(
        "lowbit_cuda_begin_call", LLVM::LLVMFunctionType::get(voidType, {}));
    LLVM::LLVMFuncOp end =
        declareExternal("lowbit_cuda_end_call",
                        LLVM::LLVMFunctionType::get(ptrType, {ptrType}));
    if (!begin || !end)
      return failure();
    std::string name =
        addString("__lowbit_entry_name_" + entry.funcName, entry.cName);
    b.setInsertionPointToEnd(current);
    LLVM::CallOp::create(b, entryLoc, begin, ValueRange());
    LLVM::CallOp::create(b, entryLoc, twin, operands);
    Value message =
        LLVM::CallOp::create(
            b, entryLoc, end,
            ValueRange{LLVM::AddressOfOp::create(b, entryLoc, ptrType, name)})
            .getResult();
    Value failed =
        LLVM::ICmpOp::create(b, entryLoc, LLVM::ICmpPredicate::ne, message,
                             LLVM::ZeroOp::create(b, entryLoc, ptrType));
    Block *done = b.createBlock(&region, Region::iterator(fail));
    Block *deviceFailed = b.createBlock(&region, Region::iterator(fail));
    b.setInsertionPointToEnd(current);
    LLVM::CondBrOp::create(b, entryLoc, failed, deviceFailed, ValueRange(),
                           done, ValueRange());
    // The results hold whatever the host code copied before the failure:
    // zeros instead (never uninitialized memory).
    b.setInsertionPointToEnd(deviceFailed);
    for (auto [i, buffer] : llvm::enumerate(buffers)) {
      if (i < entry.args.size() || buffer->numElements == 0)
        continue;
      int64_t bytes = buffer->numElements *
                      int64_t(buffer->elementType.getIntOrFloatBitWidth() / 8);
      LLVM::MemsetOp::create(
          b, entryLoc, func.getArgument(2 * i),
          LLVM::ConstantOp::create(b, entryLoc, b.getI8Type(), 0),
          LLVM::ConstantOp::create(b, entryLoc, i64, bytes),
          /*isVolatile=*/false);
    }
    LLVM::BrOp::create(b, entryLoc,
                       ValueRange{message, LLVM::ConstantOp::create(
                                               b, entryLoc, i32, kErrorDevice)},
                       fail);
    b.setInsertionPointToEnd(done);
  }
  LLVM::StoreOp::create(b, entryLoc, LLVM::ZeroOp::create(b, entryLoc, ptrType),
                        slotAddress());
  LLVM::ReturnOp::create(b, entryLoc,
                         LLVM::ConstantOp::create(b, entryLoc, i32, kOk));

  b.setInsertionPointToEnd(fail);
  LLVM::StoreOp::create(b, entryLoc, fail->getArgument(0), slotAddress());
  LLVM::ReturnOp::create(b, entryLoc, fail->getArgument(1));
  return success();
}

void WrapperBuilder::internalizeEverythingElse() {
  // Only the C interface is visible from the object: the lowered functions
  // and their constants cannot clash with another object's, and LLVM may
  // inline and drop them.
  auto internal =
      LLVM::LinkageAttr::get(module.getContext(), LLVM::Linkage::Internal);
  for (auto func : module.getOps<LLVM::LLVMFuncOp>())
    if (!func.isExternal() && !exported.contains(func.getSymName()))
      func.setLinkageAttr(internal);
  for (auto global : module.getOps<LLVM::GlobalOp>()) {
    bool declaration =
        !global.getValueOrNull() && global.getInitializerRegion().empty();
    LLVM::Linkage linkage = global.getLinkage();
    if (declaration || exported.contains(global.getSymName()) ||
        linkage == LLVM::Linkage::Private || linkage == LLVM::Linkage::Internal)
      continue;
    global.setLinkageAttr(internal);
  }
}

void WrapperBuilder::failIf(LLVM::LLVMFuncOp func, Block *fail, Value bad,
                            llvm::StringRef messageSymbol, int code) {
  Location at = func.getLoc();
  Block *current = b.getInsertionBlock();
  Block *next = b.createBlock(&func.getBody(), Region::iterator(fail));
  b.setInsertionPointToEnd(current);
  Value message = LLVM::AddressOfOp::create(b, at, ptrType, messageSymbol);
  Value codeValue = LLVM::ConstantOp::create(b, at, i32, code);
  LLVM::CondBrOp::create(b, at, bad, fail, ValueRange{message, codeValue}, next,
                         ValueRange());
  b.setInsertionPointToEnd(next);
}

Block *WrapperBuilder::addFailBlock(LLVM::LLVMFuncOp func) {
  OpBuilder::InsertionGuard guard(b);
  Location at = func.getLoc();
  Region &region = func.getBody();
  Block *fail = b.createBlock(&region, region.end(), {ptrType, i32}, {at, at});
  LLVM::StoreOp::create(b, at, fail->getArgument(0), slotAddress());
  LLVM::ReturnOp::create(b, at, fail->getArgument(1));
  return fail;
}

LogicalResult
WrapperBuilder::buildWeightBinding(llvm::ArrayRef<OutlinedWeight> weights) {
  std::string name = prefix + "bind_weights";
  if (failed(checkFree(name)))
    return failure();
  int64_t count = weights.size();
  std::string table = weightTableSymbol(prefix);
  if (count > 0) {
    boundFlagName = "__" + prefix + "weights_bound";
    if (failed(checkFree(boundFlagName)))
      return failure();
    b.setInsertionPointToEnd(module.getBody());
    auto flag = LLVM::GlobalOp::create(b, loc, i32, /*isConstant=*/false,
                                       LLVM::Linkage::Internal, boundFlagName,
                                       b.getI32IntegerAttr(0));
    symbols.insert(flag);
  }
  // The sizes the manifest promises, checked against what the caller maps.
  std::string sizesName = "__" + prefix + "weight_sizes";
  if (count > 0) {
    if (failed(checkFree(sizesName)))
      return failure();
    SmallVector<int64_t> sizes;
    for (const OutlinedWeight &weight : weights)
      sizes.push_back(weight.bytes.size());
    auto sizesType = LLVM::LLVMArrayType::get(i64, count);
    b.setInsertionPointToEnd(module.getBody());
    auto global = LLVM::GlobalOp::create(
        b, loc, sizesType, /*isConstant=*/true, LLVM::Linkage::Private,
        sizesName,
        DenseElementsAttr::get(RankedTensorType::get({count}, i64),
                               llvm::ArrayRef(sizes)));
    symbols.insert(global);
  }

  std::string what = name + ": ";
  std::string badCount =
      addString("__lowbit_message_bind_count",
                what + "count must be " + std::to_string(count) +
                    " (the number of weights in the manifest)");
  std::string nullPointer = addString("__lowbit_message_bind_null",
                                      what + "a weight pointer is NULL");
  std::string badSize =
      addString("__lowbit_message_bind_size",
                what + "a weight's size differs from the manifest");
  std::string misaligned =
      addString("__lowbit_message_bind_align",
                what + "a weight pointer is not aligned to " +
                    std::to_string(kWeightAlignment) + " bytes");

  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(
      b, loc, name, LLVM::LLVMFunctionType::get(i32, {ptrType, ptrType, i64}));
  symbols.insert(func);
  exported.insert(name);
  Block *entry = func.addEntryBlock(b);
  Block *fail = addFailBlock(func);
  Value pointers = func.getArgument(0);
  Value sizes = func.getArgument(1);

  b.setInsertionPointToEnd(entry);
  Value countValue = LLVM::ConstantOp::create(b, loc, i64, count);
  Value wrongCount = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne,
                                          func.getArgument(2), countValue);
  failIf(func, fail, wrongCount, badCount, kErrorBadWeights);
  if (count == 0) {
    LLVM::StoreOp::create(b, loc, LLVM::ZeroOp::create(b, loc, ptrType),
                          slotAddress());
    LLVM::ReturnOp::create(b, loc, LLVM::ConstantOp::create(b, loc, i32, kOk));
    return success();
  }

  // Check every weight before binding any: for (i = 0; i < count; ++i).
  Value null = LLVM::ZeroOp::create(b, loc, ptrType);
  Block *start = b.getInsertionBlock();
  Block *loop =
      b.createBlock(&func.getBody(), Region::iterator(fail), {i64}, {loc});
  Block *done = b.createBlock(&func.getBody(), Region::iterator(fail));
  b.setInsertionPointToEnd(start);
  LLVM::BrOp::create(
      b, loc, ValueRange{LLVM::ConstantOp::create(b, loc, i64, 0)}, loop);

  b.setInsertionPointToEnd(loop);
  Value i = loop->getArgument(0);
  Value finished =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, i, countValue);
  Block *body = b.createBlock(&func.getBody(), Region::iterator(done));
  b.setInsertionPointToEnd(loop);
  LLVM::CondBrOp::create(b, loc, finished, done, body);

  b.setInsertionPointToEnd(body);
  Value pointerSlot = LLVM::GEPOp::create(b, loc, ptrType, ptrType, pointers,
                                          ArrayRef<LLVM::GEPArg>{i});
  Value pointer = LLVM::LoadOp::create(b, loc, ptrType, pointerSlot);
  Value isNull =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, pointer, null);
  failIf(func, fail, isNull, nullPointer, kErrorBadWeights);
  Value sizeSlot = LLVM::GEPOp::create(b, loc, ptrType, i64, sizes,
                                       ArrayRef<LLVM::GEPArg>{i});
  Value size = LLVM::LoadOp::create(b, loc, i64, sizeSlot);
  Value expectedBase = LLVM::AddressOfOp::create(b, loc, ptrType, sizesName);
  Value expectedSlot = LLVM::GEPOp::create(b, loc, ptrType, i64, expectedBase,
                                           ArrayRef<LLVM::GEPArg>{i});
  Value expected = LLVM::LoadOp::create(b, loc, i64, expectedSlot);
  Value wrongSize =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, size, expected);
  failIf(func, fail, wrongSize, badSize, kErrorBadWeights);
  Value address = LLVM::PtrToIntOp::create(b, loc, i64, pointer);
  Value low = LLVM::AndOp::create(
      b, loc, address,
      LLVM::ConstantOp::create(b, loc, i64, int64_t(kWeightAlignment - 1)));
  Value isMisaligned =
      LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, low,
                           LLVM::ConstantOp::create(b, loc, i64, 0));
  failIf(func, fail, isMisaligned, misaligned, kErrorBadWeights);
  Value next =
      LLVM::AddOp::create(b, loc, i, LLVM::ConstantOp::create(b, loc, i64, 1));
  LLVM::BrOp::create(b, loc, ValueRange{next}, loop);

  // All good: copy the host weights' pointers into the table (they come
  // first), hand the device weights to the runtime, and raise the flag.
  b.setInsertionPointToEnd(done);
  int64_t hostCount = llvm::count_if(
      weights, [](const OutlinedWeight &w) { return w.deviceSymbol.empty(); });
  if (hostCount > 0) {
    Value tableAddress = LLVM::AddressOfOp::create(b, loc, ptrType, table);
    Value bytes = LLVM::ConstantOp::create(b, loc, i64, hostCount * 8);
    LLVM::MemcpyOp::create(b, loc, tableAddress, pointers, bytes,
                           /*isVolatile=*/false);
  }
  if (failed(bindDeviceWeights(func, fail, weights, pointers)))
    return failure();
  LLVM::StoreOp::create(
      b, loc, LLVM::ConstantOp::create(b, loc, i32, 1),
      LLVM::AddressOfOp::create(b, loc, ptrType, boundFlagName));
  LLVM::StoreOp::create(b, loc, LLVM::ZeroOp::create(b, loc, ptrType),
                        slotAddress());
  LLVM::ReturnOp::create(b, loc, LLVM::ConstantOp::create(b, loc, i32, kOk));
  return success();
}

LogicalResult
WrapperBuilder::bindDeviceWeights(LLVM::LLVMFuncOp func, Block *fail,
                                  llvm::ArrayRef<OutlinedWeight> weights,
                                  Value pointers) {
  if (llvm::all_of(weights, [](const OutlinedWeight &w) {
        return w.deviceSymbol.empty();
      }))
    return success();
  // const char *lowbit_cuda_bind_global(const void *anchor,
  //     const char *symbol, const void *host, size_t bytes): NULL or the
  // error. The anchor (the bound flag) tells the runtime which loaded
  // library's kernels the weights belong to.
  LLVM::LLVMFuncOp bind = declareExternal(
      "lowbit_cuda_bind_global",
      LLVM::LLVMFunctionType::get(ptrType, {ptrType, ptrType, ptrType, i64}));
  if (!bind)
    return failure();
  Value anchor = LLVM::AddressOfOp::create(b, loc, ptrType, boundFlagName);
  Value null = LLVM::ZeroOp::create(b, loc, ptrType);
  for (auto [index, weight] : llvm::enumerate(weights)) {
    if (weight.deviceSymbol.empty())
      continue;
    std::string symbol = addString(
        "__lowbit_device_symbol_" + std::to_string(index), weight.deviceSymbol);
    Value slot = LLVM::GEPOp::create(
        b, loc, ptrType, ptrType, pointers,
        ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(index)});
    Value pointer = LLVM::LoadOp::create(b, loc, ptrType, slot);
    Value message =
        LLVM::CallOp::create(
            b, loc, bind,
            ValueRange{anchor,
                       LLVM::AddressOfOp::create(b, loc, ptrType, symbol),
                       pointer,
                       LLVM::ConstantOp::create(b, loc, i64,
                                                int64_t(weight.bytes.size()))})
            .getResult();
    Value failedBind =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, message, null);
    Block *current = b.getInsertionBlock();
    Block *next = b.createBlock(&func.getBody(), Region::iterator(fail));
    b.setInsertionPointToEnd(current);
    LLVM::CondBrOp::create(b, loc, failedBind, fail,
                           ValueRange{message, LLVM::ConstantOp::create(
                                                   b, loc, i32, kErrorDevice)},
                           next, ValueRange());
    b.setInsertionPointToEnd(next);
  }
  return success();
}

LogicalResult WrapperBuilder::buildPackedEntry(const EntryPoint &entry) {
  std::string name = entry.cName + "_packed";
  if (failed(checkFree(name)))
    return failure();
  auto typed = symbols.lookup<LLVM::LLVMFuncOp>(entry.cName);
  if (!typed)
    return module.emitError() << "internal error: the C entry point "
                              << entry.cName << " is missing";
  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(
      b, typed.getLoc(), name,
      LLVM::LLVMFunctionType::get(i32, {ptrType, ptrType}));
  symbols.insert(func);
  exported.insert(name);
  b.setInsertionPointToStart(func.addEntryBlock(b));
  SmallVector<Value> operands;
  int64_t count = entry.args.size() + entry.results.size();
  for (int64_t i = 0; i < count; ++i) {
    Value pointerSlot =
        LLVM::GEPOp::create(b, loc, ptrType, ptrType, func.getArgument(0),
                            ArrayRef<LLVM::GEPArg>{int32_t(i)});
    Value lengthSlot =
        LLVM::GEPOp::create(b, loc, ptrType, i64, func.getArgument(1),
                            ArrayRef<LLVM::GEPArg>{int32_t(i)});
    operands.push_back(LLVM::LoadOp::create(b, loc, ptrType, pointerSlot));
    operands.push_back(LLVM::LoadOp::create(b, loc, i64, lengthSlot));
  }
  Value result = LLVM::CallOp::create(b, loc, typed, operands).getResult();
  LLVM::ReturnOp::create(b, loc, result);
  return success();
}

LogicalResult WrapperBuilder::buildManifest(llvm::StringRef json) {
  std::string name = prefix + "manifest";
  if (failed(checkFree(name)))
    return failure();
  std::string text = addString("__lowbit_manifest_text", json);
  b.setInsertionPointToEnd(module.getBody());
  auto func = LLVM::LLVMFuncOp::create(
      b, loc, name, LLVM::LLVMFunctionType::get(ptrType, {}));
  symbols.insert(func);
  exported.insert(name);
  b.setInsertionPointToStart(func.addEntryBlock(b));
  LLVM::ReturnOp::create(b, loc,
                         LLVM::AddressOfOp::create(b, loc, ptrType, text));
  return success();
}

} // namespace compiler
} // namespace lowbit
