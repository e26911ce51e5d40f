//===- DType.cpp - Element types of artifact buffers ----------------------===//

#include "lowbit/Runtime/DType.h"

namespace lowbit::runtime {

namespace {
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", 4, "<f4"}, {DType::F64, "f64", 8, "<f8"},
    {DType::F16, "f16", 2, "<f2"}, {DType::BF16, "bf16", 2, "<u2"},
    {DType::I8, "i8", 1, "|i1"},   {DType::I32, "i32", 4, "<i4"},
    {DType::I64, "i64", 8, "<i8"},
};

} // namespace

const DTypeInfo &dtypeInfo(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info;
  return kDTypes[0]; // Unreachable for valid enumerators.
}

const DTypeInfo *findDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return &info;
  return nullptr;
}

} // namespace lowbit::runtime
