//===- FakeDriverTest.cpp - the CUDA runtime on a fake driver -------------===//
//
// FakeCuda.c stands in for libcuda.so.1 (two devices, sm_90): the runtime's
// bookkeeping (lazy module loads, contexts pushed and popped, everything
// created is released), copies through "device memory", and error
// reporting with the CUDA error names of injected failures.
//
//===----------------------------------------------------------------------===//

#include "FakeDriverFixture.h"

#include "gmock/gmock.h"

#include <cstring>
#include <thread>
#include <vector>

using namespace lowbit::cuda::test;
using ::testing::HasSubstr;

namespace {

const char kCubin[] = "\x7f"
                      "ELF fake cubin";
const char kPtx[] = ".version 8.0\n.target sm_90\n";

TEST_F(CudaFakeDriver, AvailableAndDescribed) {
  EXPECT_EQ(lowbit_cuda_available(), 1);
  EXPECT_EQ(lastError(), "");
  lowbit_cuda_device info;
  ASSERT_EQ(lowbit_cuda_device_info(&info), 0) << lastError();
  EXPECT_STREQ(info.name, "Fake CUDA Device 0");
  EXPECT_EQ(info.ordinal, 0);
  EXPECT_EQ(info.compute_major, 9);
  EXPECT_EQ(info.compute_minor, 0);
  EXPECT_EQ(info.multiprocessors, 132);
  EXPECT_EQ(info.driver_version, 13000);
  EXPECT_EQ(info.total_memory, int64_t(80) << 30);
  // The driver is initialized once.
  EXPECT_EQ(counters().inits, 1);
}

TEST_F(CudaFakeDriver, ModulesLoadOnFirstLookup) {
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(counters().modules_loaded, before.modules_loaded);
  void *f = mgpuModuleGetFunction(module, "kernel");
  void *g = mgpuModuleGetFunction(module, "kernel");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(f, g);
  EXPECT_EQ(counters().modules_loaded, before.modules_loaded + 1);
  EXPECT_EQ(counters().live_modules, before.live_modules + 1);
  EXPECT_EQ(lastError(), "");
  mgpuModuleUnload(module);
}

TEST_F(CudaFakeDriver, RunsAKernelCall) {
  void *stream = mgpuStreamCreate();
  ASSERT_NE(stream, nullptr) << lastError();
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  void *function = mgpuModuleGetFunction(module, "matvec_kernel");
  float in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8] = {0};
  void *device = mgpuMemAlloc(sizeof(in), stream, false);
  ASSERT_NE(device, nullptr) << lastError();
  mgpuMemcpy(device, in, sizeof(in), stream);
  void *params[] = {&device};
  mgpuLaunchKernel(function, 3, 2, 1, 128, 1, 1, 0, stream, params, nullptr, 1);
  mgpuMemcpy(out, device, sizeof(out), stream);
  mgpuStreamSynchronize(stream);
  EXPECT_EQ(std::memcmp(in, out, sizeof(in)), 0);
  uint32_t words[4];
  mgpuMemset32(device, 0xdeadbeef, 4, stream);
  mgpuMemcpy(words, device, sizeof(words), stream);
  EXPECT_EQ(words[3], 0xdeadbeefu);
  uint16_t halves[4];
  mgpuMemset16(device, 0x3c00, 4, stream);
  mgpuMemcpy(halves, device, sizeof(halves), stream);
  EXPECT_EQ(halves[2], 0x3c00);
  mgpuMemFree(device, stream);
  mgpuStreamDestroy(stream);
  mgpuModuleUnload(module);
  EXPECT_EQ(lastError(), "");
  fake_cuda_counters c = counters();
  EXPECT_EQ(c.launches, before.launches + 1);
  EXPECT_STREQ(c.last_kernel, "matvec_kernel");
  EXPECT_EQ(c.last_grid[0], 3u);
  EXPECT_EQ(c.last_grid[1], 2u);
  EXPECT_EQ(c.last_block[0], 128u);
  EXPECT_EQ(c.bytes_copied, before.bytes_copied + 2 * 32 + 16 + 8);
}

TEST_F(CudaFakeDriver, EventsAndEmptyBuffers) {
  void *stream = mgpuStreamCreate();
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(stream, event);
  mgpuEventSynchronize(event);
  // Empty buffers are never touched: no allocation, no error.
  EXPECT_EQ(mgpuMemAlloc(0, stream, false), nullptr);
  mgpuMemcpy(nullptr, nullptr, 0, stream);
  mgpuMemset32(nullptr, 0, 0, stream);
  mgpuEventDestroy(event);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(lastError(), "");
}

TEST_F(CudaFakeDriver, StreamOrderedAllocation) {
  ASSERT_EQ(lowbit_cuda_available(), 1);
  // The pool keeps freed memory for the next call.
  EXPECT_EQ(counters().pool_threshold_set, 1);
  void *stream = mgpuStreamCreate();
  void *ordered = mgpuMemAlloc(64, stream, false);
  void *plain = mgpuMemAlloc(64, nullptr, false);
  EXPECT_EQ(counters().async_allocations, before.async_allocations + 1);
  EXPECT_EQ(counters().live_allocations, before.live_allocations + 2);
  mgpuMemFree(ordered, stream);
  mgpuMemFree(plain, nullptr);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(lastError(), "");
}

TEST_F(CudaFakeDriver, ErrorsNameTheCallAndTheCudaError) {
  fake_cuda_fail("cuMemAlloc_v2", 2);
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr);
  EXPECT_EQ(lastError(), "cuMemAlloc failed with CUDA_ERROR_OUT_OF_MEMORY: "
                         "out of memory (64 bytes on device 0)");
  lowbit_cuda_clear_error();
  fake_cuda_fail("cuMemAllocAsync", 2);
  void *stream = mgpuStreamCreate();
  EXPECT_EQ(mgpuMemAlloc(64, stream, false), nullptr);
  EXPECT_EQ(lastError(), "cuMemAllocAsync failed with "
                         "CUDA_ERROR_OUT_OF_MEMORY: out of memory (64 bytes "
                         "on device 0)");
  // Later calls do nothing and keep the first error; releases and
  // synchronizations still run. Module handles are bookkeeping (artifacts
  // make them in constructors, on any thread) and are made regardless.
  int64_t syncs = counters().synchronizations;
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  EXPECT_NE(module, nullptr);
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(counters().modules_loaded, before.modules_loaded);
  mgpuModuleUnload(module);
  void *params[] = {&stream};
  mgpuLaunchKernel(&syncs, 1, 1, 1, 1, 1, 1, 0, stream, params, nullptr, 1);
  EXPECT_EQ(counters().launches, before.launches);
  mgpuStreamSynchronize(stream);
  EXPECT_EQ(counters().synchronizations, syncs + 1);
  mgpuStreamDestroy(stream);
  EXPECT_THAT(lastError(), HasSubstr("CUDA_ERROR_OUT_OF_MEMORY"));
}

TEST_F(CudaFakeDriver, UnknownErrorCodes) {
  fake_cuda_fail("cuStreamCreate", 12345);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  EXPECT_EQ(lastError(), "cuStreamCreate failed with CUDA error 12345");
}

TEST_F(CudaFakeDriver, BadImage) {
  static const char garbage[] = "not a kernel image";
  void *module = mgpuModuleLoad(const_cast<char *>(garbage), sizeof(garbage));
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(lastError(),
            "cuModuleLoadData failed with CUDA_ERROR_INVALID_IMAGE: device "
            "kernel image is invalid (loading the artifact's kernels; device 0 "
            "is sm_90)");
  mgpuModuleUnload(module);
}

TEST_F(CudaFakeDriver, PtxIsCompiledByTheDriver) {
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr) << lastError();
  EXPECT_EQ(counters().jit_loads, before.jit_loads + 1);
  mgpuModuleUnload(module);

  fake_cuda_fail("cuModuleLoadDataEx", 218);
  module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(lastError(),
            "cuModuleLoadDataEx failed with CUDA_ERROR_INVALID_PTX: a PTX JIT "
            "compilation failed (compiling the artifact's PTX; device 0 is "
            "sm_90; ptxas fatal: fake PTX error)");
  mgpuModuleUnload(module);
}

TEST_F(CudaFakeDriver, MissingKernel) {
  void *module = mgpuModuleLoad(const_cast<char *>(kCubin), sizeof(kCubin));
  EXPECT_EQ(mgpuModuleGetFunction(module, "missing_kernel"), nullptr);
  EXPECT_EQ(lastError(), "cuModuleGetFunction failed with "
                         "CUDA_ERROR_NOT_FOUND: named symbol not found "
                         "(kernel missing_kernel)");
  mgpuModuleUnload(module);
}

TEST_F(CudaFakeDriver, InvalidLaunches) {
  mgpuLaunchKernel(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(lastError(), "mgpuLaunchKernel: no kernel function");
  lowbit_cuda_clear_error();
  int fake = 0;
  mgpuLaunchKernel(&fake, 0, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  EXPECT_EQ(lastError(),
            "mgpuLaunchKernel: grid 0x1x1, block 32x1x1 is not a valid launch");
  lowbit_cuda_clear_error();
  EXPECT_EQ(mgpuMemAlloc(64, nullptr, true), nullptr);
  EXPECT_THAT(lastError(), HasSubstr("host-shared allocations are not"));
  lowbit_cuda_clear_error();
  mgpuMemHostRegisterMemRef(1, nullptr, 4);
  EXPECT_THAT(lastError(), HasSubstr("not supported"));
}

TEST_F(CudaFakeDriver, ContextFailures) {
  fake_cuda_fail("cuCtxPushCurrent_v2", 201);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  EXPECT_EQ(lastError(), "cuCtxPushCurrent failed with "
                         "CUDA_ERROR_INVALID_CONTEXT: invalid device context");
}

TEST_F(CudaFakeDriver, TheDeviceIsChosenOnce) {
  ASSERT_EQ(lowbit_cuda_available(), 1);
  mgpuSetDefaultDevice(0);
  EXPECT_EQ(lastError(), "");
  mgpuSetDefaultDevice(1);
  EXPECT_EQ(lastError(), "the lowbit CUDA runtime already computes on device "
                         "0; device 1 must be chosen before the first CUDA "
                         "call");
}

TEST_F(CudaFakeDriver, EntryPointProtocol) {
  lowbit_cuda_begin_call();
  callEverything();
  EXPECT_EQ(lowbit_cuda_end_call("lowbit_f"), nullptr) << lastError();
  lowbit_cuda_begin_call();
  fake_cuda_fail("cuLaunchKernel", 700);
  callEverything();
  const char *message = lowbit_cuda_end_call("lowbit_f");
  ASSERT_NE(message, nullptr);
  EXPECT_STREQ(message, "lowbit_f: cuLaunchKernel failed with "
                        "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access "
                        "was encountered (grid 1x1x1, block 32x1x1)");
  // The entry point owns the error now; the thread is clean.
  EXPECT_EQ(lastError(), "");
}

TEST_F(CudaFakeDriver, ConcurrentCalls) {
  std::vector<std::thread> threads;
  std::vector<std::string> errors(8);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([t, &errors] {
      for (int i = 0; i < 50; ++i) {
        lowbit_cuda_begin_call();
        callEverything();
        if (const char *message = lowbit_cuda_end_call("f"))
          errors[t] = message;
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (const std::string &error : errors)
    EXPECT_EQ(error, "");
  EXPECT_EQ(counters().launches, before.launches + 8 * 50);
}

} // namespace
