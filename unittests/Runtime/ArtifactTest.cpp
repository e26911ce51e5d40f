//===- ArtifactTest.cpp - The runtime's C API on a hand-written artifact --===//

#include "lowbit/Runtime/lowbit_runtime.h"

#include "TestUtil.h"

#include <atomic>
#include <cstring>
#include <thread>
#include <unistd.h>

using namespace lowbit::runtime::test;

namespace {

class ArtifactTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(lowbit_artifact_open(model.library.c_str(), nullptr, nullptr,
                                   &a.artifact),
              LOWBIT_RT_OK)
        << lowbit_runtime_last_error();
    ASSERT_NE(a.artifact, nullptr);
  }
  int64_t entry(const char *name) {
    int64_t e = lowbit_artifact_find_entry(a.artifact, name);
    EXPECT_GE(e, 0) << name;
    return e;
  }

  FakeModelDir model;
  ArtifactCloser a;
};

TEST_F(ArtifactTest, Inspect) {
  EXPECT_STREQ(lowbit_runtime_last_error(), "");
  EXPECT_EQ(lowbit_artifact_path(a.artifact), model.library);
  EXPECT_EQ(lowbit_artifact_weights_path(a.artifact), model.weights);
  EXPECT_STREQ(lowbit_artifact_prefix(a.artifact), "lowbit_");
  EXPECT_NE(std::strstr(lowbit_artifact_manifest(a.artifact),
                        "\"format\":\"lowbit-artifact\""),
            nullptr);
  EXPECT_EQ(lowbit_artifact_weight_count(a.artifact), 2);
  EXPECT_EQ(lowbit_artifact_weight_bytes(a.artifact), 124);
  ASSERT_EQ(lowbit_artifact_entry_count(a.artifact), 4);
  EXPECT_STREQ(lowbit_artifact_entry_name(a.artifact, 0), "add_bias");
  EXPECT_STREQ(lowbit_artifact_entry_name(a.artifact, 3), "fail");
  EXPECT_EQ(lowbit_artifact_find_entry(a.artifact, "mix"), 1);
  EXPECT_EQ(lowbit_artifact_find_entry(a.artifact, "nope"), -1);
  EXPECT_EQ(lowbit_artifact_find_entry(a.artifact, nullptr), -1);

  int64_t mix = entry("mix");
  EXPECT_EQ(lowbit_artifact_arg_count(a.artifact, mix), 2);
  EXPECT_EQ(lowbit_artifact_result_count(a.artifact, mix), 3);
  lowbit_tensor_info info;
  ASSERT_EQ(lowbit_artifact_arg_info(a.artifact, mix, 0, &info), LOWBIT_RT_OK);
  EXPECT_STREQ(info.name, "a");
  EXPECT_STREQ(info.dtype, "i64");
  EXPECT_EQ(info.dtype_code, LOWBIT_RT_I64);
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.shape[0], 4);
  EXPECT_EQ(info.num_elements, 4);
  EXPECT_EQ(info.element_size, 8);
  EXPECT_EQ(info.num_bytes, 32);
  ASSERT_EQ(lowbit_artifact_arg_info(a.artifact, mix, 1, &info), LOWBIT_RT_OK);
  EXPECT_STREQ(info.dtype, "i8");
  EXPECT_EQ(info.rank, 0);
  EXPECT_EQ(info.num_elements, 1);
  ASSERT_EQ(lowbit_artifact_result_info(a.artifact, mix, 2, &info),
            LOWBIT_RT_OK);
  EXPECT_STREQ(info.name, "result2");
  EXPECT_EQ(info.rank, 2);
  EXPECT_EQ(info.num_elements, 0);
  EXPECT_EQ(info.num_bytes, 0);
  ASSERT_EQ(lowbit_artifact_arg_info(a.artifact, entry("halves"), 1, &info),
            LOWBIT_RT_OK);
  EXPECT_STREQ(info.dtype, "bf16");
  EXPECT_EQ(info.dtype_code, LOWBIT_RT_BF16);
}

TEST_F(ArtifactTest, InspectErrors) {
  lowbit_tensor_info info;
  EXPECT_TRUE(rtFails(lowbit_artifact_arg_info(a.artifact, 9, 0, &info),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"entry index 9 is out of range (the artifact has 4 "
                       "entries)"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_arg_info(a.artifact, 0, 1, &info),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"index 1 is out of range (entry 'add_bias' has 1 "
                       "arguments)"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_result_info(a.artifact, 0, -1, &info),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT, {"index -1"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_arg_info(a.artifact, 0, 0, nullptr),
                      LOWBIT_RT_ERROR_NULL_POINTER, {"out is NULL"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_arg_info(nullptr, 0, 0, &info),
                      LOWBIT_RT_ERROR_NULL_POINTER, {"NULL artifact"}));
  EXPECT_EQ(lowbit_artifact_entry_name(a.artifact, 4), nullptr);
  EXPECT_NE(std::strstr(lowbit_runtime_last_error(), "out of range"), nullptr);
  EXPECT_EQ(lowbit_artifact_arg_count(a.artifact, -1), -1);
  EXPECT_EQ(lowbit_artifact_result_count(nullptr, 0), -1);
  EXPECT_EQ(lowbit_artifact_entry_count(nullptr), -1);
  EXPECT_EQ(lowbit_artifact_weight_count(nullptr), -1);
  EXPECT_EQ(lowbit_artifact_path(nullptr), nullptr);
  // A success clears the message.
  EXPECT_EQ(lowbit_artifact_arg_info(a.artifact, 0, 0, &info), LOWBIT_RT_OK);
  EXPECT_STREQ(lowbit_runtime_last_error(), "");
}

TEST_F(ArtifactTest, RunWithWeights) {
  float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {};
  const void *args[] = {x};
  void *results[] = {y};
  ASSERT_EQ(lowbit_artifact_run(a.artifact, entry("add_bias"), args, results),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  std::vector<float> bias = fakeBias();
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(y[i], x[i] + bias[i]);
}

TEST_F(ArtifactTest, RunScalarsAndEmptyResults) {
  int64_t av[4] = {1, -2, 3, 40};
  int8_t s = -3;
  int64_t r0[4] = {};
  double r1 = 0;
  const void *args[] = {av, &s};
  void *results[] = {r0, &r1, nullptr}; // result2 has no elements.
  ASSERT_EQ(lowbit_artifact_run(a.artifact, entry("mix"), args, results),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_EQ(r0[0], -3);
  EXPECT_EQ(r0[3], -120);
  EXPECT_EQ(r1, 42.0);
}

TEST_F(ArtifactTest, RunErrors) {
  int64_t e = entry("fail");
  int32_t code = 2;
  float out = 0;
  const void *args[] = {&code};
  void *results[] = {&out};
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, args, results),
                      LOWBIT_RT_ERROR_BAD_LENGTH,
                      {"model.so: fail: fail: asked to fail with code 2"}));
  // A --target=cuda artifact's device error.
  code = 5;
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, args, results),
                      LOWBIT_RT_ERROR_DEVICE,
                      {"model.so: fail: fail: asked to fail with code 5"}));
  code = 77;
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, args, results),
                      LOWBIT_RT_ERROR_ENTRY_FAILED,
                      {"asked to fail with code 77", "(unknown code 77)"}));
  code = 0;
  EXPECT_EQ(lowbit_artifact_run(a.artifact, e, args, results), LOWBIT_RT_OK);
  EXPECT_STREQ(lowbit_runtime_last_error(), "");

  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, 4, args, results),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"entry index 4 is out of range"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_run(nullptr, 0, args, results),
                      LOWBIT_RT_ERROR_NULL_POINTER, {"NULL artifact"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, nullptr, results),
                      LOWBIT_RT_ERROR_NULL_POINTER,
                      {"fail: args is NULL but the entry has 1 arguments"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, args, nullptr),
                      LOWBIT_RT_ERROR_NULL_POINTER, {"results is NULL"}));
  const void *nullArg[] = {nullptr};
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, nullArg, results),
                      LOWBIT_RT_ERROR_NULL_POINTER,
                      {"argument 0 ('code') is NULL"}));
  alignas(8) char raw[16] = {};
  const void *misaligned[] = {raw + 1};
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, misaligned, results),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"argument 0 ('code') is not aligned to 4 bytes"}));
  void *overlapping[] = {&code};
  EXPECT_TRUE(rtFails(lowbit_artifact_run(a.artifact, e, args, overlapping),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"result 0 ('result0') overlaps argument 0 ('code')"}));
  int64_t av[4] = {}, r0[4] = {};
  int8_t s = 1;
  double r1 = 0;
  const void *mixArgs[] = {av, &s};
  void *aliased[] = {r0, r0 + 1, nullptr};
  EXPECT_TRUE(
      rtFails(lowbit_artifact_run(a.artifact, entry("mix"), mixArgs, aliased),
              LOWBIT_RT_ERROR_INVALID_ARGUMENT,
              {"result 0 ('result0') overlaps result 1 ('result1')"}));
  // Inputs may alias each other; an empty result may sit anywhere.
  void *fine[] = {r0, &r1, r0};
  EXPECT_EQ(lowbit_artifact_run(a.artifact, entry("mix"), mixArgs, fine),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
}

TEST_F(ArtifactTest, RunsOnManyThreads) {
  int64_t e = entry("add_bias");
  std::vector<float> bias = fakeBias();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        float x[6], y[6];
        for (int k = 0; k < 6; ++k)
          x[k] = float(t * 1000 + i + k);
        const void *args[] = {x};
        void *results[] = {y};
        if (lowbit_artifact_run(a.artifact, e, args, results) != LOWBIT_RT_OK)
          ++failures;
        for (int k = 0; k < 6; ++k)
          if (y[k] != x[k] + bias[k])
            ++failures;
      }
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(Artifact, ExplicitWeightsPath) {
  std::string dir = makeTempDir();
  copyFile(LOWBIT_FAKE_MODEL, dir + "/m.so");
  writeFile(dir + "/elsewhere.safetensors", safetensorsBytes(fakeWeights()));
  ArtifactCloser a;
  EXPECT_TRUE(
      rtFails(lowbit_artifact_open((dir + "/m.so").c_str(), nullptr, nullptr,
                                   &a.artifact),
              LOWBIT_RT_ERROR_WEIGHTS_FILE,
              {"m.weights.safetensors: cannot open", "(weights of ", "m.so)"}));
  EXPECT_EQ(a.artifact, nullptr);
  ASSERT_EQ(lowbit_artifact_open((dir + "/m.so").c_str(),
                                 (dir + "/elsewhere.safetensors").c_str(),
                                 nullptr, &a.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_EQ(std::string(lowbit_artifact_weights_path(a.artifact)),
            dir + "/elsewhere.safetensors");
}

TEST(Artifact, PathWithoutSlashIsTheCurrentDirectory) {
  FakeModelDir model;
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(model.dir.c_str()), 0);
  ArtifactCloser a;
  int rc = lowbit_artifact_open("model.so", nullptr, nullptr, &a.artifact);
  std::string message = lowbit_runtime_last_error();
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_EQ(rc, LOWBIT_RT_OK) << message;
  EXPECT_STREQ(lowbit_artifact_weights_path(a.artifact),
               "model.weights.safetensors");
}

TEST(Artifact, SharesAnOpenLibrary) {
  FakeModelDir model;
  ArtifactCloser first, second, third;
  ASSERT_EQ(lowbit_artifact_open(model.library.c_str(), nullptr, nullptr,
                                 &first.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  // Same weights (by default, by path, through a link): shared.
  ASSERT_EQ(lowbit_artifact_open(model.library.c_str(), model.weights.c_str(),
                                 nullptr, &second.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  ASSERT_EQ(symlink(model.library.c_str(), (model.dir + "/link.so").c_str()),
            0);
  ASSERT_EQ(lowbit_artifact_open((model.dir + "/link.so").c_str(),
                                 model.weights.c_str(), nullptr,
                                 &third.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_EQ(std::string(lowbit_artifact_path(third.artifact)),
            model.dir + "/link.so");

  // Other weights or another prefix: refused.
  std::string other = model.dir + "/other.safetensors";
  copyFile(model.weights, other);
  lowbit_artifact *refused = nullptr;
  EXPECT_TRUE(rtFails(lowbit_artifact_open(model.library.c_str(), other.c_str(),
                                           nullptr, &refused),
                      LOWBIT_RT_ERROR_ALREADY_OPEN,
                      {"model.so is already open in this process with "
                       "weights",
                       "process-global", "other.safetensors"}));
  EXPECT_EQ(refused, nullptr);
  EXPECT_TRUE(rtFails(
      lowbit_artifact_open(model.library.c_str(), nullptr, "fake_", &refused),
      LOWBIT_RT_ERROR_ALREADY_OPEN,
      {"already open in this process with prefix "
       "'lowbit_', not 'fake_'"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_open(model.library.c_str(),
                                           (model.dir + "/nope").c_str(),
                                           nullptr, &refused),
                      LOWBIT_RT_ERROR_WEIGHTS_FILE, {"nope: cannot open"}));

  // Closing one opener leaves the others working.
  lowbit_artifact_close(first.artifact);
  first.artifact = nullptr;
  lowbit_artifact_close(third.artifact);
  third.artifact = nullptr;
  float x[6] = {}, y[6] = {};
  const void *args[] = {x};
  void *results[] = {y};
  ASSERT_EQ(lowbit_artifact_run(second.artifact, 0, args, results),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_EQ(y[5], 3.0f);
  lowbit_artifact_close(second.artifact);
  second.artifact = nullptr;

  // Once all are closed, other weights are fine.
  ASSERT_EQ(lowbit_artifact_open(model.library.c_str(), other.c_str(), nullptr,
                                 &first.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
}

TEST(Artifact, CopiesAreIndependent) {
  FakeModelDir one, two;
  std::vector<RawTensor> w = fakeWeights();
  float doubled[6];
  for (int i = 0; i < 6; ++i)
    doubled[i] = 2 * fakeBias()[i];
  std::memcpy(w[0].data.data(), doubled, 24);
  writeFile(two.weights, safetensorsBytes(w));
  ArtifactCloser a, b;
  ASSERT_EQ(
      lowbit_artifact_open(one.library.c_str(), nullptr, nullptr, &a.artifact),
      LOWBIT_RT_OK);
  ASSERT_EQ(
      lowbit_artifact_open(two.library.c_str(), nullptr, nullptr, &b.artifact),
      LOWBIT_RT_OK);
  float x[6] = {}, ya[6], yb[6];
  const void *args[] = {x};
  void *ra[] = {ya}, *rb[] = {yb};
  ASSERT_EQ(lowbit_artifact_run(a.artifact, 0, args, ra), LOWBIT_RT_OK);
  ASSERT_EQ(lowbit_artifact_run(b.artifact, 0, args, rb), LOWBIT_RT_OK);
  EXPECT_EQ(ya[5], 3.0f);
  EXPECT_EQ(yb[5], 6.0f);
}

TEST(Artifact, Prefix) {
  std::string dir = makeTempDir();
  std::string lib = dir + "/p.so";
  copyFile(LOWBIT_FAKE_PREFIXED, lib);
  writeFile(dir + "/p.weights.safetensors", safetensorsBytes(fakeWeights()));
  ArtifactCloser a;
  EXPECT_TRUE(
      rtFails(lowbit_artifact_open(lib.c_str(), nullptr, nullptr, &a.artifact),
              LOWBIT_RT_ERROR_LOAD,
              {"p.so: the library does not export 'lowbit_manifest'",
               "compiled with another --prefix than 'lowbit_'"}));
  ASSERT_EQ(lowbit_artifact_open(lib.c_str(), nullptr, "fake_", &a.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  EXPECT_STREQ(lowbit_artifact_prefix(a.artifact), "fake_");
  float x[6] = {1, 1, 1, 1, 1, 1}, y[6];
  const void *args[] = {x};
  void *results[] = {y};
  ASSERT_EQ(lowbit_artifact_run(a.artifact, 0, args, results), LOWBIT_RT_OK);
  EXPECT_EQ(y[0], 1.5f);
}

TEST(Artifact, OpenArguments) {
  lowbit_artifact *a = reinterpret_cast<lowbit_artifact *>(1);
  EXPECT_TRUE(rtFails(lowbit_artifact_open(nullptr, nullptr, nullptr, &a),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"the library path is NULL or empty"}));
  EXPECT_EQ(a, nullptr);
  EXPECT_TRUE(rtFails(lowbit_artifact_open("", nullptr, nullptr, &a),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT, {"NULL or empty"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_open("x.so", nullptr, nullptr, nullptr),
                      LOWBIT_RT_ERROR_NULL_POINTER, {"out is NULL"}));
  EXPECT_TRUE(rtFails(lowbit_artifact_open("x.so", nullptr, "a-b", &a),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT,
                      {"prefix 'a-b' is not a C identifier"}));
  lowbit_artifact_close(nullptr);
  EXPECT_TRUE(rtFails(lowbit_set_num_threads(-1),
                      LOWBIT_RT_ERROR_INVALID_ARGUMENT, {"negative"}));
  EXPECT_EQ(lowbit_set_num_threads(0), LOWBIT_RT_OK);
}

} // namespace
