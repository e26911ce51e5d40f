//===- DeviceChoiceTest.cpp - $LOWBIT_CUDA_DEVICE -------------------------===//

#include "CudaTestUtil.h"

#include "gtest/gtest.h"

using namespace lowbit::cuda::test;

static const bool configured =
    setEnvironment("LOWBIT_CUDA_DRIVER", LOWBIT_FAKE_CUDA) &&
    setEnvironment("FAKE_CUDA_DEVICES", "2") &&
    setEnvironment("LOWBIT_CUDA_DEVICE", "5");

namespace {

TEST(CudaDeviceChoice, MissingDevice) {
  ASSERT_TRUE(configured);
  EXPECT_EQ(lowbit_cuda_available(), 0);
  EXPECT_EQ(lastError(), "no CUDA device 5 (the driver reports 2 devices; "
                         "LOWBIT_CUDA_DEVICE selects one)");
}

} // namespace
