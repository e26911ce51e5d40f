//===- NpyWriter.cpp - .npy writer (numpy.save's layout) ------------------===//

#include "lowbit/Runtime/Npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lowbit::runtime {

namespace {
/// numpy aligns the data to 64 bytes and leaves room for the first
/// dimension to grow to 21 digits.
constexpr uint64_t kAlign = 64;
constexpr size_t kGrowthDigits = 21;

std::string shapeRepr(const std::vector<int64_t> &shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    out += ",";
  return out + ")";
}
} // namespace

Result<std::vector<uint8_t>> serializeNpy(const std::string &descr,
                                          const std::vector<int64_t> &shape,
                                          const void *data, uint64_t bytes) {
  Result<int64_t> itemSize = npyItemSize(descr);
  if (!itemSize)
    return itemSize.status();
  uint64_t expected = uint64_t(*itemSize);
  for (int64_t d : shape) {
    if (d < 0)
      return Status::error("negative dimension " + std::to_string(d));
    if (__builtin_mul_overflow(expected, uint64_t(d), &expected))
      return Status::error("the size of shape " + shapeRepr(shape) +
                           " overflows 64 bits");
  }
  if (expected != bytes)
    return Status::error("shape " + shapeRepr(shape) + " of '" + descr +
                         "' needs " + std::to_string(expected) +
                         " bytes, got " + std::to_string(bytes));

  std::string header =
      "{'descr': '" + descr +
      "', 'fortran_order': False, 'shape': " + shapeRepr(shape) + ", }";
  if (!shape.empty()) {
    size_t digits = std::to_string(shape[0]).size();
    header.append(digits < kGrowthDigits ? kGrowthDigits - digits : 0, ' ');
  }
  uint64_t headerLength = header.size() + 1; // With the final newline.
  unsigned lengthBytes = 2;
  uint64_t pad = kAlign - (8 + lengthBytes + headerLength) % kAlign;
  if (headerLength + pad > 0xffff) {
    lengthBytes = 4;
    pad = kAlign - (8 + lengthBytes + headerLength) % kAlign;
  }
  uint64_t total = headerLength + pad;
  std::vector<uint8_t> out = {
      0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(lengthBytes == 2 ? 1 : 2), 0};
  for (unsigned i = 0; i < lengthBytes; ++i)
    out.push_back(uint8_t(total >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), pad, ' ');
  out.push_back('\n');
  const uint8_t *p = static_cast<const uint8_t *>(data);
  if (bytes)
    out.insert(out.end(), p, p + bytes);
  return out;
}

Status writeNpy(const std::string &path, const std::string &descr,
                const std::vector<int64_t> &shape, const void *data,
                uint64_t bytes) {
  Result<std::vector<uint8_t>> out = serializeNpy(descr, shape, data, bytes);
  if (!out)
    return Status::error(path + ": " + out.message());
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot write: " + std::strerror(errno));
  bool ok = std::fwrite(out->data(), 1, out->size(), f) == out->size();
  int savedErrno = errno;
  ok &= std::fclose(f) == 0;
  if (!ok) {
    std::string why = std::strerror(savedErrno ? savedErrno : errno);
    std::remove(path.c_str());
    return Status::error(path + ": cannot write: " + why);
  }
  return Status::ok();
}

} // namespace lowbit::runtime
