//===- IncompleteDriverTest.cpp - a driver without an entry point ---------===//

#include "CudaTestUtil.h"

#include "gtest/gtest.h"

using namespace lowbit::cuda::test;

static const bool configured =
    setEnvironment("LOWBIT_CUDA_DRIVER", LOWBIT_FAKE_CUDA_INCOMPLETE);

namespace {

TEST(CudaIncompleteDriver, Unusable) {
  ASSERT_TRUE(configured);
  EXPECT_EQ(lowbit_cuda_available(), 0);
  EXPECT_EQ(lastError(), std::string("unusable CUDA driver ") +
                             LOWBIT_FAKE_CUDA_INCOMPLETE +
                             ": it does not export cuLaunchKernel");
  lowbit_cuda_begin_call();
  callEverything();
  EXPECT_NE(lowbit_cuda_end_call("f"), nullptr);
}

} // namespace
