//===- Format.h - Text for entry signatures and result values ---*- C++ -*-===//

#ifndef LOWBIT_TOOLS_LOWBIT_RUN_FORMAT_H
#define LOWBIT_TOOLS_LOWBIT_RUN_FORMAT_H

#include "lowbit/Runtime/lowbit_runtime.h"

#include <string>
#include <vector>

namespace lowbit::run {

/// "f32[2, 3]".
std::string tensorType(const lowbit_tensor_info &info);
/// "x: f32[2, 3]".
std::string tensorDecl(const lowbit_tensor_info &info);
/// "forward(x: f32[2, 3]) -> (result0: f32[2, 3])".
std::string signature(const lowbit_artifact *artifact, int64_t entry);
/// The shape as a vector.
std::vector<int64_t> shapeOf(const lowbit_tensor_info &info);

/// "[1.5, -2, 3]": up to `limit` values of a buffer, then "...".
std::string formatValues(const lowbit_tensor_info &info, const void *data,
                         int64_t limit = 16);

} // namespace lowbit::run

#endif // LOWBIT_TOOLS_LOWBIT_RUN_FORMAT_H
