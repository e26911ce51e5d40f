//===- DType.h - Element types of artifact buffers --------------*- C++ -*-===//
//
// The element types an artifact's entry points take, with their manifest
// spelling, size and .npy descr.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_RUNTIME_DTYPE_H
#define LOWBIT_RUNTIME_DTYPE_H

#include <cstdint>
#include <string_view>

namespace lowbit::runtime {

/// Element types of entry-point buffers (values as in enum lowbit_rt_dtype).
enum class DType : int32_t {
  F32 = 1,
  F64 = 2,
  F16 = 3,
  BF16 = 4,
  I8 = 5,
  I32 = 6,
  I64 = 7,
};

struct DTypeInfo {
  DType dtype;
  const char *name;     ///< The manifest's spelling: "f32".
  int64_t size;         ///< Bytes per element.
  const char *npyDescr; ///< The .npy descr: "<f4" ("<u2" for bf16 bits).
};

/// The description of `dtype`.
const DTypeInfo &dtypeInfo(DType dtype);
/// The type spelled `name` in a manifest, or null.
const DTypeInfo *findDType(std::string_view name);

} // namespace lowbit::runtime

#endif // LOWBIT_RUNTIME_DTYPE_H
