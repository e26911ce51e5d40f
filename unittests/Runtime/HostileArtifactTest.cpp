//===- HostileArtifactTest.cpp - Bad libraries, manifests, weights files --===//
//
// The fake artifact returns the manifest in $LOWBIT_FAKE_MANIFEST when it is
// set, so these tests hand the runtime manifests that lie about the library.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Runtime/lowbit_runtime.h"

#include "TestUtil.h"

#include <cstdio>
#include <cstring>

using namespace lowbit::runtime::test;

namespace {

/// A manifest with one entry `f` (symbol names given) and the weights JSON.
std::string manifest(const std::string &symbol, const std::string &packed,
                     const std::string &weights =
                         R"([{"name":"bias","bytes":24,"align":64},)"
                         R"({"name":"table","bytes":100,"align":16}])",
                     const std::string &prefix = "lowbit_") {
  return R"({"format":"lowbit-artifact","version":1,"prefix":")" + prefix +
         R"(","target":"cpu","entries":[{"name":"f","symbol":")" + symbol +
         R"(","packed_symbol":")" + packed +
         R"(","args":[{"name":"x","dtype":"f32","shape":[2,3]}],)"
         R"("results":[{"name":"y","dtype":"f32","shape":[2,3]}]}],)"
         R"("weights":)" +
         weights + "}";
}

const std::string kGood = manifest("lowbit_add_bias", "lowbit_add_bias_packed");

class HostileArtifactTest : public ::testing::Test {
protected:
  /// Opens the fake with `manifestText` as its manifest.
  int open(const std::string &manifestText, const char *weights = nullptr) {
    ScopedEnv env("LOWBIT_FAKE_MANIFEST", manifestText);
    return lowbit_artifact_open(model.library.c_str(), weights, nullptr,
                                &a.artifact);
  }
  int openWithWeights(const std::vector<uint8_t> &bytes) {
    writeFile(model.weights, bytes);
    return lowbit_artifact_open(model.library.c_str(), nullptr, nullptr,
                                &a.artifact);
  }

  FakeModelDir model;
  ArtifactCloser a;
};

TEST_F(HostileArtifactTest, GoodOverride) {
  ASSERT_EQ(open(kGood), LOWBIT_RT_OK) << lowbit_runtime_last_error();
  EXPECT_STREQ(lowbit_artifact_entry_name(a.artifact, 0), "f");
}

TEST_F(HostileArtifactTest, NotALibrary) {
  writeFile(model.library, std::string("not an ELF file"));
  EXPECT_TRUE(
      rtFails(open(kGood), LOWBIT_RT_ERROR_LOAD, {"model.so: cannot load: "}));
  EXPECT_TRUE(rtFails(lowbit_artifact_open((model.dir + "/none.so").c_str(),
                                           nullptr, nullptr, &a.artifact),
                      LOWBIT_RT_ERROR_LOAD, {"none.so: cannot load: "}));
  EXPECT_EQ(a.artifact, nullptr);
}

TEST_F(HostileArtifactTest, ManifestText) {
  EXPECT_TRUE(rtFails(open("<null>"), LOWBIT_RT_ERROR_BAD_MANIFEST,
                      {"model.so: manifest: lowbit_manifest() returned NULL"}));
  EXPECT_TRUE(rtFails(open("{\"format\":"), LOWBIT_RT_ERROR_BAD_MANIFEST,
                      {"model.so: manifest: JSON error at byte 10"}));
  EXPECT_TRUE(rtFails(open(""), LOWBIT_RT_ERROR_BAD_MANIFEST,
                      {"JSON error at byte 0"}));
  EXPECT_TRUE(rtFails(open(manifest("lowbit_add_bias", "lowbit_add_bias_packed",
                                    "[]", "fake_")),
                      LOWBIT_RT_ERROR_BAD_MANIFEST,
                      {"manifest: prefix: the manifest says 'fake_' but it "
                       "was found with prefix 'lowbit_'"}));
  std::string shape = kGood;
  shape.replace(shape.find("[2,3]"), 5, "[2,-3]");
  EXPECT_TRUE(rtFails(open(shape), LOWBIT_RT_ERROR_BAD_MANIFEST,
                      {"manifest: entries[0].args[0].shape[1]: expected an "
                       "integer"}));
  EXPECT_EQ(a.artifact, nullptr);
}

TEST_F(HostileArtifactTest, Symbols) {
  EXPECT_TRUE(rtFails(open(manifest("lowbit_nope", "lowbit_add_bias_packed")),
                      LOWBIT_RT_ERROR_LOAD,
                      {"model.so: the library does not export 'lowbit_nope' "
                       "(named by the manifest's entries[0].symbol)"}));
  EXPECT_TRUE(rtFails(open(manifest("lowbit_add_bias", "lowbit_nope_packed")),
                      LOWBIT_RT_ERROR_LOAD,
                      {"'lowbit_nope_packed' (named by the manifest's "
                       "entries[0].packed_symbol)"}));
  // dlsym on the handle finds libc's malloc: not the library's own.
  EXPECT_TRUE(
      rtFails(open(manifest("lowbit_add_bias", "malloc")), LOWBIT_RT_ERROR_LOAD,
              {"'malloc' is not defined by the library itself (it is "
               "found in /"}));
  EXPECT_TRUE(rtFails(
      open(manifest("lowbit_data_symbol", "lowbit_add_bias_packed")),
      LOWBIT_RT_ERROR_LOAD, {"'lowbit_data_symbol' is not a function"}));
}

TEST_F(HostileArtifactTest, WeightsTheLibraryRefuses) {
  // The file matches the manifest (28 bytes padded to 64, zeros after 24),
  // but the library expects 24 bytes.
  EXPECT_TRUE(rtFails(
      open(manifest("lowbit_add_bias", "lowbit_add_bias_packed",
                    R"([{"name":"bias","bytes":28,"align":64},)"
                    R"({"name":"table","bytes":100,"align":16}])")),
      LOWBIT_RT_ERROR_BAD_WEIGHTS,
      {"model.so: lowbit_bind_weights refused", "model.weights.safetensors",
       "(code 4): bind_weights: wrong size"}));
}

TEST_F(HostileArtifactTest, NoWeights) {
  std::string none = manifest("lowbit_mix", "lowbit_mix_packed", "[]");
  none.replace(
      none.find(R"("args":[{"name":"x","dtype":"f32","shape":[2,3]}])"),
      strlen(R"("args":[{"name":"x","dtype":"f32","shape":[2,3]}])"),
      R"("args":[{"name":"a","dtype":"i64","shape":[4]},)"
      R"({"name":"s","dtype":"i8","shape":[]}])");
  none.replace(
      none.find(R"("results":[{"name":"y","dtype":"f32","shape":[2,3]}])"),
      strlen(R"("results":[{"name":"y","dtype":"f32","shape":[2,3]}])"),
      R"("results":[{"name":"r","dtype":"i64","shape":[4]},)"
      R"({"name":"sum","dtype":"f64","shape":[]},)"
      R"({"name":"e","dtype":"i32","shape":[0,2]}])");
  EXPECT_TRUE(rtFails(open(none, model.weights.c_str()),
                      LOWBIT_RT_ERROR_WEIGHTS_FILE,
                      {"the manifest lists no weights, but a weights file "
                       "was given"}));
  // Without weights no file is needed.
  std::remove(model.weights.c_str());
  ASSERT_EQ(open(none), LOWBIT_RT_OK) << lowbit_runtime_last_error();
  EXPECT_STREQ(lowbit_artifact_weights_path(a.artifact), "");
  EXPECT_EQ(lowbit_artifact_weight_bytes(a.artifact), 0);
  int64_t av[4] = {1, 2, 3, 4}, r[4];
  int8_t s = 2;
  double sum;
  const void *args[] = {av, &s};
  void *results[] = {r, &sum, nullptr};
  ASSERT_EQ(lowbit_artifact_run(a.artifact, 0, args, results), LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_EQ(r[3], 8);
  EXPECT_EQ(sum, 10.0);
}

TEST_F(HostileArtifactTest, EmptyWeightsPath) {
  EXPECT_TRUE(rtFails(open(kGood, ""), LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"the weights path is empty"}));
}

TEST_F(HostileArtifactTest, TruncatedWeights) {
  std::vector<uint8_t> bytes = safetensorsBytes(fakeWeights());
  bytes.resize(bytes.size() - 10);
  EXPECT_TRUE(rtFails(openWithWeights(bytes), LOWBIT_RT_ERROR_WEIGHTS_FILE,
                      {"model.weights.safetensors: ", "(weights of "}));
  bytes.resize(5);
  EXPECT_TRUE(rtFails(openWithWeights(bytes), LOWBIT_RT_ERROR_WEIGHTS_FILE,
                      {"model.weights.safetensors"}));
}

TEST_F(HostileArtifactTest, WrongWeights) {
  std::vector<RawTensor> t = fakeWeights();
  t[1].dtype = "I8";
  EXPECT_TRUE(rtFails(openWithWeights(safetensorsBytes(t)),
                      LOWBIT_RT_ERROR_WEIGHTS_FILE,
                      {"tensor 'table': dtype is I8, expected U8"}));
  t = fakeWeights();
  t[0].shape = {128};
  t[0].data.resize(128);
  EXPECT_TRUE(rtFails(openWithWeights(safetensorsBytes(t)),
                      LOWBIT_RT_ERROR_WEIGHTS_FILE,
                      {"tensor 'bias': shape is [128], expected [64]"}));
  t = fakeWeights();
  t.erase(t.begin());
  EXPECT_TRUE(rtFails(openWithWeights(safetensorsBytes(t)),
                      LOWBIT_RT_ERROR_WEIGHTS_FILE, {"missing tensor 'bias'"}));
  EXPECT_TRUE(rtFails(
      openWithWeights(safetensorsBytes(fakeWeights(),
                                       "{\"format\":\"lowbit-weights\"}", 32)),
      LOWBIT_RT_ERROR_WEIGHTS_FILE,
      {"tensor 'bias': file offset", "is not a multiple of its alignment 64"}));
  EXPECT_EQ(a.artifact, nullptr);
}

} // namespace
