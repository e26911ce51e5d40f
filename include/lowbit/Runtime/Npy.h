//===- Npy.h - Strict .npy reader and writer --------------------*- C++ -*-===//
//
// NumPy's .npy format, versions 1.0, 2.0 and 3.0: magic "\x93NUMPY", the
// version, a little-endian header length (2 bytes in 1.0, 4 after), a
// Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}
// padded with spaces and ended by '\n', then the data. The reader accepts
// little-endian (or byte-sized) boolean, integer and float arrays in C
// order whose data is exactly as long as the shape says; everything else
// (Fortran order, object, structured or big-endian dtypes, truncated or
// trailing data, malformed headers) is rejected with a message that names
// the file and the field. The writer produces what numpy.save produces.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_RUNTIME_NPY_H
#define LOWBIT_RUNTIME_NPY_H

#include "lowbit/ModelIO/FileBuffer.h"
#include "lowbit/Numerics/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lowbit::runtime {

using numerics::Result;
using numerics::Status;

struct NpyHeader {
  int majorVersion = 1;
  std::string descr; ///< "<f4", "|i1", ...
  int64_t itemSize = 0;
  std::vector<int64_t> shape;
  int64_t numElements = 1;
  /// Offset of the data in the file and its size (numElements * itemSize).
  uint64_t dataOffset = 0;
  uint64_t dataBytes = 0;
};

/// Parses and checks the bytes of a whole .npy file; `name` starts every
/// message.
Result<NpyHeader> parseNpy(const uint8_t *bytes, uint64_t size,
                           const std::string &name);

/// A mapped .npy file.
class NpyFile {
public:
  static Result<NpyFile> open(const std::string &path);

  const NpyHeader &header() const { return head; }
  const uint8_t *data() const { return buffer->data() + head.dataOffset; }
  uint64_t size() const { return head.dataBytes; }

private:
  NpyHeader head;
  std::unique_ptr<modelio::FileBuffer> buffer;
};

/// The bytes numpy.save writes for a C-order array: version 1.0 unless the
/// header needs 2.0, the header padded so the data starts at a multiple of
/// 64. Fails when `bytes` does not match the shape and the descr's size or
/// the descr is not one the reader accepts.
Result<std::vector<uint8_t>> serializeNpy(const std::string &descr,
                                          const std::vector<int64_t> &shape,
                                          const void *data, uint64_t bytes);
Status writeNpy(const std::string &path, const std::string &descr,
                const std::vector<int64_t> &shape, const void *data,
                uint64_t bytes);

/// The item size of a descr the reader accepts, or an error naming it.
Result<int64_t> npyItemSize(const std::string &descr);

} // namespace lowbit::runtime

#endif // LOWBIT_RUNTIME_NPY_H
