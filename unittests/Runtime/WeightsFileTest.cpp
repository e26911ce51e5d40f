//===- WeightsFileTest.cpp - Weights files checked against manifests ------===//

#include "lowbit/Runtime/WeightsFile.h"

#include "TestUtil.h"

#include <cstring>

using namespace lowbit::runtime;
using namespace lowbit::runtime::test;

namespace {

Manifest fakeManifest() {
  Result<Manifest> m = parseManifest(
      R"({"format":"lowbit-artifact","version":1,"prefix":"lowbit_",)"
      R"("target":"cpu","entries":[{"name":"f","symbol":"lowbit_f",)"
      R"("packed_symbol":"lowbit_f_packed","args":[],"results":[]}],)"
      R"("weights":[{"name":"bias","bytes":24,"align":64},)"
      R"({"name":"table","bytes":100,"align":16}]})",
      "m.so");
  EXPECT_TRUE(m.isOk()) << m.message();
  return *m;
}

class WeightsFileTest : public ::testing::Test {
protected:
  Result<WeightsFile> load(const std::vector<uint8_t> &bytes) {
    std::string path = dir + "/w.safetensors";
    writeFile(path, bytes);
    return loadWeightsFile(path, manifest);
  }
  Result<WeightsFile> load(const std::vector<RawTensor> &tensors) {
    return load(safetensorsBytes(tensors));
  }

  std::string dir = makeTempDir();
  Manifest manifest = fakeManifest();
};

TEST_F(WeightsFileTest, Valid) {
  Result<WeightsFile> w = load(fakeWeights());
  ASSERT_TRUE(w.isOk()) << w.message();
  ASSERT_EQ(w->pointers.size(), 2u);
  EXPECT_EQ(w->sizes, (std::vector<int64_t>{24, 100}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->pointers[0]) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->pointers[1]) % 64, 0u);
  float bias[6];
  std::memcpy(bias, w->pointers[0], 24);
  EXPECT_EQ(bias[5], 3.0f);
  EXPECT_EQ(static_cast<const uint8_t *>(w->pointers[1])[99], 100);
}

TEST_F(WeightsFileTest, TensorOrderDoesNotMatter) {
  std::vector<RawTensor> t = fakeWeights();
  std::swap(t[0], t[1]);
  Result<WeightsFile> w = load(t);
  ASSERT_TRUE(w.isOk()) << w.message();
  EXPECT_EQ(w->sizes, (std::vector<int64_t>{24, 100}));
}

TEST_F(WeightsFileTest, DefaultPath) {
  EXPECT_EQ(defaultWeightsPath("a/model.so"), "a/model.weights.safetensors");
  EXPECT_EQ(defaultWeightsPath("model"), "model.weights.safetensors");
  EXPECT_EQ(defaultWeightsPath("m.so.1"), "m.so.weights.safetensors");
  EXPECT_EQ(defaultWeightsPath("d.x/lib"), "d.x/lib.weights.safetensors");
  EXPECT_EQ(defaultWeightsPath("/a/.so"), "/a/.weights.safetensors");
}

TEST_F(WeightsFileTest, RejectsMissingFile) {
  EXPECT_TRUE(failsWith(loadWeightsFile(dir + "/nope", manifest),
                        {"/nope: cannot open"}));
}

TEST_F(WeightsFileTest, RejectsTruncated) {
  std::vector<uint8_t> bytes = safetensorsBytes(fakeWeights());
  bytes.resize(bytes.size() - 1);
  EXPECT_TRUE(failsWith(load(bytes), {"w.safetensors"}));
  bytes.resize(20);
  EXPECT_TRUE(failsWith(load(bytes), {"w.safetensors", "header"}));
  EXPECT_TRUE(failsWith(load(std::vector<uint8_t>{}), {"w.safetensors"}));
}

TEST_F(WeightsFileTest, RejectsMetadata) {
  EXPECT_TRUE(failsWith(load(safetensorsBytes(fakeWeights(), "")),
                        {"w.safetensors: '__metadata__' has no \"format\""}));
  EXPECT_TRUE(
      failsWith(load(safetensorsBytes(fakeWeights(), "{\"format\":\"pt\"}")),
                {"\"format\" is \"pt\", expected \"lowbit-weights\""}));
}

TEST_F(WeightsFileTest, RejectsMissingTensor) {
  std::vector<RawTensor> t = fakeWeights();
  t.pop_back();
  EXPECT_TRUE(failsWith(load(t), {"w.safetensors: missing tensor 'table' "
                                  "(weight of 100 bytes)"}));
}

TEST_F(WeightsFileTest, RejectsExtraTensor) {
  std::vector<RawTensor> t = fakeWeights();
  t.push_back({"extra", "U8", {64}, std::vector<uint8_t>(64)});
  EXPECT_TRUE(failsWith(load(t), {"tensor 'extra' is not a weight"}));
}

TEST_F(WeightsFileTest, RejectsWrongDType) {
  std::vector<RawTensor> t = fakeWeights();
  t[0].dtype = "I8";
  EXPECT_TRUE(failsWith(load(t), {"tensor 'bias': dtype is I8, expected U8"}));
  t[0].dtype = "F32";
  t[0].shape = {16};
  EXPECT_TRUE(failsWith(load(t), {"tensor 'bias': dtype is F32"}));
}

TEST_F(WeightsFileTest, RejectsWrongSize) {
  std::vector<RawTensor> t = fakeWeights();
  t[0].shape = {24};
  t[0].data.resize(24);
  EXPECT_TRUE(failsWith(load(t), {"tensor 'bias': shape is [24], expected "
                                  "[64] (24 bytes rounded up"}));
  t = fakeWeights();
  t[1].shape = {2, 64};
  EXPECT_TRUE(failsWith(load(t), {"tensor 'table': shape is [2, 64]"}));
  t = fakeWeights();
  t[1].shape = {192};
  t[1].data.resize(192);
  EXPECT_TRUE(failsWith(load(t), {"shape is [192], expected [128]"}));
}

TEST_F(WeightsFileTest, RejectsMisaligned) {
  // The data section starts 8 bytes past a multiple of 64.
  EXPECT_TRUE(
      failsWith(load(safetensorsBytes(fakeWeights(),
                                      "{\"format\":\"lowbit-weights\"}", 8)),
                {"tensor 'bias': file offset", "is not a multiple of "
                                               "its alignment 64"}));
  // An aligned data section, but the weights come after a 16-byte tensor.
  std::vector<RawTensor> t = fakeWeights();
  t.insert(t.begin(), RawTensor{"pad", "U8", {16}, std::vector<uint8_t>(16)});
  EXPECT_TRUE(failsWith(load(t), {"tensor 'bias': file offset",
                                  "is not a "
                                  "multiple of its alignment 64"}));
}

TEST_F(WeightsFileTest, RejectsNonZeroPadding) {
  std::vector<RawTensor> t = fakeWeights();
  t[0].data[63] = 1;
  EXPECT_TRUE(failsWith(load(t), {"tensor 'bias': padding byte 63 is not "
                                  "zero (the weight has 24 bytes)"}));
}

} // namespace
