//===- NoDeviceTest.cpp - the CUDA runtime on a driver without devices ----===//
//
// The fake driver's cuInit fails with CUDA_ERROR_NO_DEVICE, as libcuda
// does on a machine without a GPU: every call fails with "no CUDA device".
//
//===----------------------------------------------------------------------===//

#include "CudaTestUtil.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

using namespace lowbit::cuda::test;

static const bool configured =
    setEnvironment("LOWBIT_CUDA_DRIVER", LOWBIT_FAKE_CUDA) &&
    setEnvironment("FAKE_CUDA_DEVICES", "0");

namespace {

constexpr const char *kNoDevice = "no CUDA device (cuInit: "
                                  "CUDA_ERROR_NO_DEVICE: no CUDA-capable "
                                  "device is detected)";

TEST(CudaNoDevice, NotAvailable) {
  ASSERT_TRUE(configured);
  EXPECT_EQ(lowbit_cuda_available(), 0);
  EXPECT_EQ(lastError(), kNoDevice);
  lowbit_cuda_device info;
  EXPECT_EQ(lowbit_cuda_device_info(&info), -1);
  EXPECT_EQ(lastError(), kNoDevice);
}

TEST(CudaNoDevice, EveryEntryPointFailsCleanly) {
  lowbit_cuda_begin_call();
  callEverything();
  const char *message = lowbit_cuda_end_call("lowbit_qmatmul");
  ASSERT_NE(message, nullptr);
  EXPECT_EQ(std::string(message), std::string("lowbit_qmatmul: ") + kNoDevice);
}

} // namespace
