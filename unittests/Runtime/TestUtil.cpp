//===- TestUtil.cpp - Helpers for the runtime unit tests ------------------===//

#include "TestUtil.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

namespace lowbit::runtime::test {

::testing::AssertionResult rtFails(int rc, int code,
                                   std::initializer_list<const char *> parts) {
  std::string message = lowbit_runtime_last_error();
  if (rc != code)
    return ::testing::AssertionFailure()
           << "returned " << rc << ", expected " << code << " (message \""
           << message << "\")";
  for (const char *p : parts)
    if (message.find(p) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message \"" << message << "\" lacks \"" << p << "\"";
  return ::testing::AssertionSuccess();
}

std::string makeTempDir() {
  std::string tmpl = ::testing::TempDir() + "lowbit-runtime-XXXXXX";
  char *dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return tmpl;
}

void writeFile(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  }
  std::fclose(f);
}

void writeFile(const std::string &path, const std::string &text) {
  writeFile(path, std::vector<uint8_t>(text.begin(), text.end()));
}

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void copyFile(const std::string &from, const std::string &to) {
  writeFile(to, readFile(from));
}

std::vector<uint8_t> safetensorsBytes(const std::vector<RawTensor> &tensors,
                                      const std::string &metadata,
                                      unsigned dataShift) {
  std::string header = "{";
  if (!metadata.empty())
    header += "\"__metadata__\":" + metadata;
  uint64_t offset = 0;
  for (const RawTensor &t : tensors) {
    if (header.size() > 1)
      header += ",";
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + t.data.size()) + "]}";
    offset += t.data.size();
  }
  header += "}";
  while ((8 + header.size()) % 64 != dataShift % 64)
    header += " ";
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i)
    out[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  for (const RawTensor &t : tensors)
    out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

std::vector<float> fakeBias() { return {0.5f, 1, 1.5f, 2, 2.5f, 3}; }

std::vector<RawTensor> fakeWeights() {
  std::vector<float> bias = fakeBias();
  RawTensor b{"bias", "U8", {64}, std::vector<uint8_t>(64, 0)};
  std::memcpy(b.data.data(), bias.data(), 24);
  RawTensor t{"table", "U8", {128}, std::vector<uint8_t>(128, 0)};
  for (int i = 0; i < 100; ++i)
    t.data[i] = uint8_t(i + 1);
  return {b, t};
}

ScopedEnv::ScopedEnv(const char *name, const std::string &value) : name(name) {
  if (const char *o = std::getenv(name)) {
    hadOld = true;
    old = o;
  }
  setenv(name, value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (hadOld)
    setenv(name.c_str(), old.c_str(), 1);
  else
    unsetenv(name.c_str());
}

FakeModelDir::FakeModelDir() {
  dir = makeTempDir();
  library = dir + "/model.so";
  weights = dir + "/model.weights.safetensors";
  copyFile(LOWBIT_FAKE_MODEL, library);
  writeFile(weights, safetensorsBytes(fakeWeights()));
}

} // namespace lowbit::runtime::test
