//===- NoDriverTest.cpp - the CUDA runtime without a driver ---------------===//
//
// $LOWBIT_CUDA_DRIVER names a file that does not exist: every call fails
// cleanly with "no CUDA driver (...)", and nothing crashes.
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include <thread>

using namespace lowbit::cuda::test;
using ::testing::HasSubstr;
using ::testing::StartsWith;

static const bool configured =
    setEnvironment("LOWBIT_CUDA_DRIVER", "/nonexistent/libcuda.so.1");

namespace {

constexpr const char *kNoDriver =
    "no CUDA driver (LOWBIT_CUDA_DRIVER: /nonexistent/libcuda.so.1";

TEST(CudaNoDriver, NotAvailable) {
  ASSERT_TRUE(configured);
  EXPECT_EQ(lowbit_cuda_available(), 0);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  EXPECT_THAT(lastError(), HasSubstr("No such file"));
  // The outcome is remembered, and reported again.
  lowbit_cuda_clear_error();
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(lowbit_cuda_available(), 0);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
}

TEST(CudaNoDriver, DeviceInfoFails) {
  lowbit_cuda_device info;
  EXPECT_EQ(lowbit_cuda_device_info(&info), -1);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  EXPECT_EQ(info.name[0], '\0');
  EXPECT_EQ(lowbit_cuda_device_info(nullptr), -1);
  EXPECT_EQ(lastError(), "lowbit_cuda_device_info: out is NULL");
}

TEST(CudaNoDriver, EveryEntryPointFailsCleanly) {
  lowbit_cuda_clear_error();
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  lowbit_cuda_clear_error();
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  lowbit_cuda_clear_error();
  EXPECT_EQ(mgpuEventCreate(), nullptr);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  lowbit_cuda_clear_error();
  // Loading a module needs no driver; looking a kernel up does.
  static const char image[] = "\x7f"
                              "ELF";
  void *module = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  EXPECT_NE(module, nullptr);
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  mgpuModuleUnload(module);
  lowbit_cuda_clear_error();
  float host[4] = {1, 2, 3, 4};
  mgpuMemcpy(host, host + 2, 2 * sizeof(float), nullptr);
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
  EXPECT_EQ(host[0], 1.0f);
  // Releases of anything are no-ops without a driver.
  mgpuMemFree(host, nullptr);
  mgpuStreamDestroy(host);
  mgpuEventDestroy(host);
  mgpuStreamSynchronize(host);
  mgpuEventSynchronize(host);
  lowbit_cuda_clear_error();
  callEverything();
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
}

TEST(CudaNoDriver, EntryPointProtocol) {
  lowbit_cuda_begin_call();
  EXPECT_EQ(lowbit_cuda_end_call("lowbit_f"), nullptr);
  lowbit_cuda_begin_call();
  callEverything();
  const char *message = lowbit_cuda_end_call("lowbit_f");
  ASSERT_NE(message, nullptr);
  EXPECT_THAT(message, StartsWith(std::string("lowbit_f: ") + kNoDriver));
  EXPECT_EQ(lastError(), "");
  // begin_call forgets the previous call's error.
  lowbit_cuda_begin_call();
  EXPECT_EQ(lowbit_cuda_end_call("lowbit_f"), nullptr);
}

TEST(CudaNoDriver, BindingNeedsNoDriver) {
  // What an artifact's bind_weights does when it is opened: it succeeds,
  // and its entry points fail for want of a driver.
  static const char ptx[] =
      ".version 8.0\n.target sm_90\n"
      ".visible .global .align 16 .b8 __lowbit_weight_00000000000000aa[64];\n";
  static const unsigned char weights[64] = {1, 2, 3};
  lowbit_cuda_clear_error();
  void *module = mgpuModuleLoadJIT(const_cast<char *>(ptx), 3);
  EXPECT_EQ(lowbit_cuda_bind_global(ptx, "__lowbit_weight_00000000000000aa",
                                    weights, sizeof(weights)),
            nullptr);
  EXPECT_EQ(lastError(), "");
  lowbit_cuda_begin_call();
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  const char *message = lowbit_cuda_end_call("lowbit_f");
  ASSERT_NE(message, nullptr);
  EXPECT_THAT(message, StartsWith(std::string("lowbit_f: ") + kNoDriver));
  mgpuModuleUnload(module);
  EXPECT_STREQ(lowbit_cuda_bind_global(ptx, nullptr, weights, 64),
               "lowbit_cuda_bind_global: the symbol is NULL");
}

TEST(CudaNoDriver, KernelTiming) {
  EXPECT_EQ(lowbit_cuda_set_kernel_timing(1), 0);
  lowbit_cuda_begin_call();
  callEverything();
  EXPECT_NE(lowbit_cuda_end_call("f"), nullptr);
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), -1);
  EXPECT_EQ(lastError(),
            "lowbit_cuda_last_kernel_time: the last timed call failed");
  // A call that launches nothing needs no driver.
  lowbit_cuda_begin_call();
  EXPECT_EQ(lowbit_cuda_end_call("f"), nullptr);
  double milliseconds = -1;
  int64_t kernels = -1;
  EXPECT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, &kernels), 0);
  EXPECT_EQ(milliseconds, 0.0);
  EXPECT_EQ(kernels, 0);
  lowbit_cuda_set_kernel_timing(0);
}

TEST(CudaNoDriver, ErrorsArePerThread) {
  lowbit_cuda_clear_error();
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  std::string other = "unset";
  std::thread([&] { other = lowbit_cuda_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_THAT(lastError(), StartsWith(kNoDriver));
}

TEST(CudaNoDriver, DefaultDeviceRequestIsHarmless) {
  lowbit_cuda_clear_error();
  mgpuSetDefaultDevice(0);
  EXPECT_EQ(lastError(), "");
  mgpuSetDefaultDevice(-1);
  EXPECT_EQ(lastError(), "device ordinal -1 is negative");
}

} // namespace
