//===- TimingTest.cpp - kernel timing for benchmarks ----------------------===//
//
// lowbit_cuda_set_kernel_timing on the fake driver, whose events measure
// 0.5 ms per kernel launched between them: the time of a call spans its
// kernels, calls that fail are not timed, and every event is destroyed.
//
//===----------------------------------------------------------------------===//

#include "FakeDriverFixture.h"

#include "gmock/gmock.h"

#include <thread>

using namespace lowbit::cuda::test;
using ::testing::StartsWith;

namespace {

const char kCubin[] = "\x7f"
                      "ELF fake cubin";

/// An entry point's device code: copies around `kernels` launches.
void runKernels(int kernels) {
  void *stream = mgpuStreamCreate();
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  void *function = mgpuModuleGetFunction(module, "kernel");
  float host[16] = {0};
  void *device = mgpuMemAlloc(sizeof(host), stream, false);
  mgpuMemcpy(device, host, sizeof(host), stream);
  void *params[] = {&device};
  for (int i = 0; i < kernels; ++i)
    mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr,
                     1);
  mgpuMemcpy(host, device, sizeof(host), stream);
  mgpuStreamSynchronize(stream);
  mgpuMemFree(device, stream);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
}

class CudaKernelTiming : public CudaFakeDriver {
protected:
  void TearDown() override {
    lowbit_cuda_set_kernel_timing(0);
    CudaFakeDriver::TearDown();
  }
};

TEST_F(CudaKernelTiming, TimesTheKernelsOfACall) {
  ASSERT_EQ(lowbit_cuda_set_kernel_timing(1), 0);
  double milliseconds = -1;
  int64_t kernels = -1;
  EXPECT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, &kernels), -1);
  EXPECT_EQ(lastError(), "lowbit_cuda_last_kernel_time: no call was timed "
                         "since kernel timing was enabled");
  lowbit_cuda_begin_call();
  runKernels(2);
  // Two timing events for the call, whatever its number of kernels.
  EXPECT_EQ(counters().live_events, before.live_events + 2);
  EXPECT_EQ(lowbit_cuda_end_call("f"), nullptr) << lastError();
  EXPECT_EQ(counters().live_events, before.live_events);
  ASSERT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, &kernels), 0);
  EXPECT_EQ(lastError(), "");
  EXPECT_EQ(milliseconds, 1.0);
  EXPECT_EQ(kernels, 2);
  // The next call replaces it.
  lowbit_cuda_begin_call();
  runKernels(3);
  EXPECT_EQ(lowbit_cuda_end_call("f"), nullptr);
  ASSERT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, nullptr), 0);
  EXPECT_EQ(milliseconds, 1.5);
}

TEST_F(CudaKernelTiming, CallsWithoutKernels) {
  lowbit_cuda_set_kernel_timing(1);
  lowbit_cuda_begin_call();
  runKernels(0);
  EXPECT_EQ(lowbit_cuda_end_call("f"), nullptr);
  double milliseconds = -1;
  int64_t kernels = -1;
  ASSERT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, &kernels), 0);
  EXPECT_EQ(milliseconds, 0.0);
  EXPECT_EQ(kernels, 0);
  EXPECT_EQ(counters().live_events, before.live_events);
}

TEST_F(CudaKernelTiming, OffByDefault) {
  lowbit_cuda_begin_call();
  runKernels(2);
  EXPECT_EQ(counters().live_events, before.live_events);
  EXPECT_EQ(lowbit_cuda_end_call("f"), nullptr);
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), -1);
  EXPECT_EQ(lastError(), "lowbit_cuda_last_kernel_time: kernel timing is not "
                         "enabled on this thread");
  // Disabling forgets the last timed call.
  lowbit_cuda_set_kernel_timing(1);
  lowbit_cuda_begin_call();
  runKernels(1);
  lowbit_cuda_end_call("f");
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), 0);
  lowbit_cuda_set_kernel_timing(0);
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), -1);
}

TEST_F(CudaKernelTiming, FailedCallsAreNotTimed) {
  lowbit_cuda_set_kernel_timing(1);
  // The second kernel fails: the events of the first are destroyed.
  lowbit_cuda_begin_call();
  void *stream = mgpuStreamCreate();
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  void *function = mgpuModuleGetFunction(module, "kernel");
  void *params[] = {&stream};
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr, 1);
  fake_cuda_fail("cuLaunchKernel", 700);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, params, nullptr, 1);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
  const char *message = lowbit_cuda_end_call("f");
  ASSERT_NE(message, nullptr);
  EXPECT_THAT(message, StartsWith("f: cuLaunchKernel failed with "
                                  "CUDA_ERROR_ILLEGAL_ADDRESS"));
  double milliseconds = -1;
  EXPECT_EQ(lowbit_cuda_last_kernel_time(&milliseconds, nullptr), -1);
  EXPECT_EQ(lastError(),
            "lowbit_cuda_last_kernel_time: the last timed call failed");
  EXPECT_EQ(milliseconds, 0.0);
  EXPECT_EQ(counters().live_events, before.live_events);
}

TEST_F(CudaKernelTiming, TimingFailuresFailTheCall) {
  lowbit_cuda_set_kernel_timing(1);
  fake_cuda_fail("cuEventElapsedTime", 1);
  lowbit_cuda_begin_call();
  runKernels(1);
  const char *message = lowbit_cuda_end_call("f");
  ASSERT_NE(message, nullptr);
  EXPECT_STREQ(message, "f: cuEventElapsedTime failed with "
                        "CUDA_ERROR_INVALID_VALUE: invalid argument (kernel "
                        "timing)");
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), -1);
  fake_cuda_fail("cuEventCreate", 2);
  lowbit_cuda_begin_call();
  runKernels(1);
  EXPECT_THAT(lowbit_cuda_end_call("f"),
              StartsWith("f: cuEventCreate failed with "
                         "CUDA_ERROR_OUT_OF_MEMORY"));
  EXPECT_EQ(counters().launches, before.launches + 1);
}

TEST_F(CudaKernelTiming, PerThread) {
  lowbit_cuda_set_kernel_timing(1);
  int result = 0;
  std::thread([&] {
    lowbit_cuda_begin_call();
    runKernels(1);
    lowbit_cuda_end_call("f");
    result = lowbit_cuda_last_kernel_time(nullptr, nullptr);
  }).join();
  EXPECT_EQ(result, -1);
  EXPECT_EQ(counters().live_events, before.live_events);
  // Launches outside an entry point's bracket are not timed.
  runKernels(1);
  EXPECT_EQ(counters().live_events, before.live_events);
  EXPECT_EQ(lowbit_cuda_last_kernel_time(nullptr, nullptr), -1);
}

} // namespace
