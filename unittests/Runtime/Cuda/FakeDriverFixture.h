//===- FakeDriverFixture.h - the runtime on the fake driver -----*- C++ -*-===//
//
// The test executable's driver is FakeCuda.c (two devices, sm_90), for
// every test file linked into it. Each test starts without an injected
// failure or a recorded error, and checks at its end that everything it
// created was released and every pushed context popped.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKEDRIVERFIXTURE_H
#define LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKEDRIVERFIXTURE_H

#include "CudaTestUtil.h"
#include "FakeCuda.h"

#include "gtest/gtest.h"

namespace lowbit::cuda::test {

inline const bool fakeDriverConfigured =
    setEnvironment("LOWBIT_CUDA_DRIVER", LOWBIT_FAKE_CUDA) &&
    setEnvironment("FAKE_CUDA_DEVICES", "2");

inline fake_cuda_counters counters() {
  fake_cuda_counters c;
  fake_cuda_get_counters(&c);
  return c;
}

class CudaFakeDriver : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(fakeDriverConfigured);
    fake_cuda_fail(nullptr, 0);
    lowbit_cuda_clear_error();
    before = counters();
  }
  void TearDown() override {
    fake_cuda_fail(nullptr, 0);
    // Whatever happened, everything was released and every pushed context
    // popped.
    fake_cuda_counters after = counters();
    EXPECT_EQ(after.live_allocations, before.live_allocations);
    EXPECT_EQ(after.live_streams, before.live_streams);
    EXPECT_EQ(after.live_events, before.live_events);
    EXPECT_EQ(after.live_modules, before.live_modules);
    EXPECT_EQ(after.context_depth, 0);
  }
  fake_cuda_counters before;
};

} // namespace lowbit::cuda::test

#endif // LOWBIT_UNITTESTS_RUNTIME_CUDA_FAKEDRIVERFIXTURE_H
