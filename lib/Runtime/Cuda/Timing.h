//===- Timing.h - kernel timing for benchmarks ------------------*- C++ -*-===//
//
// On a thread that enabled it (lowbit_cuda_set_kernel_timing), the kernels
// of an entry-point call are bracketed by two timing events on their
// stream: one recorded before the call's first kernel, one recorded again
// after each kernel. lowbit_cuda_end_call reads the time between them, so
// the copies before the first and after the last kernel are not counted.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_CUDA_TIMING_H
#define LOWBIT_LIB_RUNTIME_CUDA_TIMING_H

#include "Driver.h"

namespace lowbit::cuda {

/// From lowbit_cuda_begin_call: starts timing the call if the thread times
/// its kernels.
void beginTimedCall();

/// From lowbit_cuda_end_call, before it looks at the thread's error: waits
/// for the call's last kernel and stores its time, or records why not.
void endTimedCall();

/// Before a launch, with the device's context current: records the call's
/// start event before its first timed kernel. False with an error recorded.
bool beforeTimedLaunch(const Driver &driver, CUstream stream);

/// After a successful launch: records the call's end event.
void afterTimedLaunch(const Driver &driver, CUstream stream);

} // namespace lowbit::cuda

#endif // LOWBIT_LIB_RUNTIME_CUDA_TIMING_H
