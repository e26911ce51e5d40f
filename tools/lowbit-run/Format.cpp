//===- Format.cpp - Text for entry signatures and result values -----------===//

#include "Format.h"

#include "lowbit/Numerics/FloatTypes.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace lowbit::run {

std::string tensorType(const lowbit_tensor_info &info) {
  std::string out = std::string(info.dtype) + "[";
  for (int32_t i = 0; i < info.rank; ++i)
    out += (i ? ", " : "") + std::to_string(info.shape[i]);
  return out + "]";
}

std::string tensorDecl(const lowbit_tensor_info &info) {
  return std::string(info.name) + ": " + tensorType(info);
}

std::vector<int64_t> shapeOf(const lowbit_tensor_info &info) {
  return std::vector<int64_t>(info.shape, info.shape + info.rank);
}

std::string signature(const lowbit_artifact *artifact, int64_t entry) {
  std::string out = lowbit_artifact_entry_name(artifact, entry);
  lowbit_tensor_info info;
  out += "(";
  for (int64_t i = 0, n = lowbit_artifact_arg_count(artifact, entry); i < n;
       ++i) {
    if (lowbit_artifact_arg_info(artifact, entry, i, &info) == LOWBIT_RT_OK)
      out += (i ? ", " : "") + tensorDecl(info);
  }
  out += ") -> (";
  for (int64_t i = 0, n = lowbit_artifact_result_count(artifact, entry); i < n;
       ++i) {
    if (lowbit_artifact_result_info(artifact, entry, i, &info) == LOWBIT_RT_OK)
      out += (i ? ", " : "") + tensorDecl(info);
  }
  return out + ")";
}

namespace {
template <typename T> T load(const void *data, int64_t i) {
  T v;
  std::memcpy(&v, static_cast<const char *>(data) + i * sizeof(T), sizeof(T));
  return v;
}

std::string formatOne(int32_t dtype, const void *data, int64_t i) {
  char buf[64];
  switch (dtype) {
  case LOWBIT_RT_F32:
    std::snprintf(buf, sizeof(buf), "%.9g", double(load<float>(data, i)));
    break;
  case LOWBIT_RT_F64:
    std::snprintf(buf, sizeof(buf), "%.17g", load<double>(data, i));
    break;
  case LOWBIT_RT_F16:
    std::snprintf(buf, sizeof(buf), "%.9g",
                  double(numerics::f16ToF32(load<uint16_t>(data, i))));
    break;
  case LOWBIT_RT_BF16:
    std::snprintf(buf, sizeof(buf), "%.9g",
                  double(numerics::bf16ToF32(load<uint16_t>(data, i))));
    break;
  case LOWBIT_RT_I8:
    std::snprintf(buf, sizeof(buf), "%d", int(load<int8_t>(data, i)));
    break;
  case LOWBIT_RT_I32:
    std::snprintf(buf, sizeof(buf), "%" PRId32, load<int32_t>(data, i));
    break;
  case LOWBIT_RT_I64:
    std::snprintf(buf, sizeof(buf), "%" PRId64, load<int64_t>(data, i));
    break;
  default:
    return "?";
  }
  return buf;
}
} // namespace

std::string formatValues(const lowbit_tensor_info &info, const void *data,
                         int64_t limit) {
  std::string out = "[";
  for (int64_t i = 0; i < info.num_elements && i < limit; ++i)
    out += (i ? ", " : "") + formatOne(info.dtype_code, data, i);
  if (info.num_elements > limit)
    out += ", ...";
  return out + "]";
}

} // namespace lowbit::run
