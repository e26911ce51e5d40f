//===- TestUtil.h - Helpers for the runtime unit tests ----------*- C++ -*-===//

#ifndef LOWBIT_UNITTESTS_RUNTIME_TESTUTIL_H
#define LOWBIT_UNITTESTS_RUNTIME_TESTUTIL_H

#include "lowbit/Runtime/lowbit_runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace lowbit::runtime::test {

/// Expects `r` (a Status or Result) to have failed with a message containing
/// every one of `parts`.
template <typename R>
::testing::AssertionResult
failsWith(const R &r, std::initializer_list<const char *> parts) {
  if (r.isOk())
    return ::testing::AssertionFailure() << "succeeded, expected an error";
  for (const char *p : parts)
    if (r.message().find(p) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message \"" << r.message() << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

/// Expects a runtime call to have returned `code` with lowbit_runtime_
/// last_error() containing every one of `parts`.
::testing::AssertionResult rtFails(int rc, int code,
                                   std::initializer_list<const char *> parts);

/// A fresh directory for one test's files.
std::string makeTempDir();
void writeFile(const std::string &path, const std::vector<uint8_t> &bytes);
void writeFile(const std::string &path, const std::string &text);
std::vector<uint8_t> readFile(const std::string &path);
/// Copies a file (a copy of a library is a distinct library to dlopen).
void copyFile(const std::string &from, const std::string &to);

/// One tensor of a hand-made safetensors file.
struct RawTensor {
  std::string name;
  std::string dtype = "U8";
  std::vector<uint64_t> shape;
  std::vector<uint8_t> data;
};

/// A safetensors file with the tensors' data in the given order; the
/// header is padded with spaces so the data section starts at an offset
/// that is `dataShift` more than a multiple of 64. `metadata` is the JSON
/// text of "__metadata__" (empty: none).
std::vector<uint8_t> safetensorsBytes(
    const std::vector<RawTensor> &tensors,
    const std::string &metadata = "{\"format\":\"lowbit-weights\"}",
    unsigned dataShift = 0);

/// The tensors of a valid weights file for the fake artifact: "bias"
/// (6 floats, padded to 64 bytes) and "table" (100 bytes, padded to 128).
std::vector<RawTensor> fakeWeights();
/// The fake's bias values.
std::vector<float> fakeBias();

/// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const std::string &value);
  ~ScopedEnv();

private:
  std::string name;
  bool hadOld = false;
  std::string old;
};

/// Closes an artifact when it goes out of scope.
struct ArtifactCloser {
  lowbit_artifact *artifact = nullptr;
  ~ArtifactCloser() { lowbit_artifact_close(artifact); }
};

/// A copy of the fake artifact in a fresh directory, with a valid weights
/// file next to it at the default path.
struct FakeModelDir {
  FakeModelDir();
  std::string dir;
  std::string library;
  std::string weights;
};

} // namespace lowbit::runtime::test

#endif // LOWBIT_UNITTESTS_RUNTIME_TESTUTIL_H
