//===- ThreadsTest.cpp - OpenMP artifacts and the thread count ------------===//

#include "lowbit/Runtime/lowbit_runtime.h"

#include "TestUtil.h"

#include <dlfcn.h>
#include <thread>

using namespace lowbit::runtime::test;

namespace {

// The OpenMP fake references omp_get_max_threads without depending on
// libomp: opening it fails until the runtime loads libomp globally.
TEST(Threads, LoadsOpenMPAndSetsTheThreadCount) {
  // Present but only loaded locally, as far as the fake is concerned.
  if (!dlopen("libomp.so.5", RTLD_NOW | RTLD_LOCAL) &&
      !dlopen("libomp.so", RTLD_NOW | RTLD_LOCAL))
    GTEST_SKIP() << "LLVM's OpenMP runtime (libomp) is not installed";
  std::string dir = makeTempDir();
  copyFile(LOWBIT_FAKE_OPENMP, dir + "/omp.so");
  writeFile(dir + "/omp.weights.safetensors", safetensorsBytes(fakeWeights()));
  ArtifactCloser a;
  ASSERT_EQ(lowbit_artifact_open((dir + "/omp.so").c_str(), nullptr, nullptr,
                                 &a.artifact),
            LOWBIT_RT_OK)
      << lowbit_runtime_last_error();
  int64_t e = lowbit_artifact_find_entry(a.artifact, "threads");
  ASSERT_GE(e, 0);
  int32_t n = 0;
  void *results[] = {&n};
  for (int want : {3, 1, 2}) {
    ASSERT_EQ(lowbit_set_num_threads(want), LOWBIT_RT_OK);
    ASSERT_EQ(lowbit_artifact_run(a.artifact, e, nullptr, results),
              LOWBIT_RT_OK)
        << lowbit_runtime_last_error();
    EXPECT_EQ(n, want);
  }
  // Each calling thread gets the count.
  ASSERT_EQ(lowbit_set_num_threads(5), LOWBIT_RT_OK);
  std::thread([&] {
    EXPECT_EQ(lowbit_artifact_run(a.artifact, e, nullptr, results),
              LOWBIT_RT_OK);
  }).join();
  EXPECT_EQ(n, 5);
  EXPECT_EQ(lowbit_set_num_threads(0), LOWBIT_RT_OK);
}

} // namespace
