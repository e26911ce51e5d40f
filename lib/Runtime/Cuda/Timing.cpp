//===- Timing.cpp - kernel timing for benchmarks --------------------------===//

#include "Timing.h"
#include "Errors.h"
#include "lowbit/Runtime/lowbit_cuda.h"

using namespace lowbit::cuda;

namespace {

enum class Outcome { None, Timed, Failed };

/// A thread's timing state. Trivially destructible, like the error slot
/// (Errors.cpp): valid at every point of the thread's life.
struct Timing {
  bool enabled = false;
  bool inCall = false;     // between the begin and the end of a timed call
  CUevent start = nullptr; // the call's, created at its first kernel
  CUevent end = nullptr;
  int64_t kernels = 0;             // launched in the call
  Outcome outcome = Outcome::None; // of the last timed call
  double milliseconds = 0;
  int64_t timedKernels = 0;
};

thread_local Timing timing;

/// Destroys the call's events, also after an error.
void releaseEvents() {
  const Driver *d;
  const Device *device;
  if ((timing.start || timing.end) && readyForRelease(d, device)) {
    ScopedContext context(*d, *device);
    if (context.ok())
      for (CUevent event : {timing.start, timing.end})
        if (event)
          (void)d->api.eventDestroy(event);
  }
  timing.start = timing.end = nullptr;
}

/// The time between the call's events, once the last kernel finished.
bool measure(double &milliseconds) {
  const Driver *d;
  const Device *device;
  // The events exist, so the driver and the device do.
  if (!readyForRelease(d, device))
    return false;
  ScopedContext context(*d, *device);
  float elapsed = 0;
  if (!context.ok() ||
      !check(*d, d->api.eventSynchronize(timing.end), "cuEventSynchronize",
             "kernel timing") ||
      !check(*d, d->api.eventElapsedTime(&elapsed, timing.start, timing.end),
             "cuEventElapsedTime", "kernel timing"))
    return false;
  milliseconds = elapsed;
  return true;
}

} // namespace

namespace lowbit::cuda {

void beginTimedCall() {
  releaseEvents(); // of a call that never ended
  timing.inCall = timing.enabled;
  timing.kernels = 0;
}

void endTimedCall() {
  if (!timing.inCall)
    return;
  timing.inCall = false;
  double milliseconds = 0;
  bool ok = !hasError() && (timing.kernels == 0 || measure(milliseconds));
  releaseEvents();
  timing.outcome = ok ? Outcome::Timed : Outcome::Failed;
  timing.milliseconds = milliseconds;
  timing.timedKernels = timing.kernels;
}

bool beforeTimedLaunch(const Driver &d, CUstream stream) {
  if (!timing.inCall || timing.start)
    return true;
  // Timing events (flags 0), unlike mgpuEventCreate's.
  CUevent start = nullptr, end = nullptr;
  bool ok =
      check(d, d.api.eventCreate(&start, 0), "cuEventCreate",
            "kernel timing") &&
      check(d, d.api.eventCreate(&end, 0), "cuEventCreate", "kernel timing");
  timing.start = start;
  timing.end = end;
  return ok && check(d, d.api.eventRecord(start, stream), "cuEventRecord",
                     "kernel timing");
}

void afterTimedLaunch(const Driver &d, CUstream stream) {
  // Recorded again after every kernel: the last record marks the call's
  // last kernel.
  if (timing.inCall && timing.end &&
      check(d, d.api.eventRecord(timing.end, stream), "cuEventRecord",
            "kernel timing"))
    ++timing.kernels;
}

} // namespace lowbit::cuda

extern "C" int lowbit_cuda_set_kernel_timing(int enabled) {
  clearError();
  releaseEvents();
  timing = Timing();
  timing.enabled = enabled != 0;
  return 0;
}

extern "C" int lowbit_cuda_last_kernel_time(double *milliseconds,
                                            int64_t *kernels) {
  clearError();
  if (milliseconds)
    *milliseconds = 0;
  if (kernels)
    *kernels = 0;
  switch (timing.outcome) {
  case Outcome::Timed:
    if (milliseconds)
      *milliseconds = timing.milliseconds;
    if (kernels)
      *kernels = timing.timedKernels;
    return 0;
  case Outcome::Failed:
    setError("lowbit_cuda_last_kernel_time: the last timed call failed");
    return -1;
  case Outcome::None:
    break;
  }
  setError(timing.enabled
               ? "lowbit_cuda_last_kernel_time: no call was timed since "
                 "kernel timing was enabled"
               : "lowbit_cuda_last_kernel_time: kernel timing is not "
                 "enabled on this thread");
  return -1;
}
