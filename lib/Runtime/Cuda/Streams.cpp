//===- Streams.cpp - streams, events and the device choice ----------------===//
//
// Generated code creates a stream per call, queues its copies and launches
// on it, synchronizes it and destroys it. Synchronization runs even after
// an error: a copy into the caller's buffer queued before the error must
// be finished when the entry point returns.
//
//===----------------------------------------------------------------------===//

#include "Driver.h"
#include "Errors.h"
#include "lowbit/Runtime/lowbit_cuda.h"

using namespace lowbit::cuda;

extern "C" void *mgpuStreamCreate(void) {
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return nullptr;
  ScopedContext context(*d, *device);
  if (!context.ok())
    return nullptr;
  CUstream stream = nullptr;
  if (!check(*d, d->api.streamCreate(&stream, CU_STREAM_NON_BLOCKING),
             "cuStreamCreate"))
    return nullptr;
  return stream;
}

extern "C" void mgpuStreamDestroy(void *stream) {
  if (stream)
    callInContext(CallKind::Release, "cuStreamDestroy", [&](const auto &api) {
      return api.streamDestroy(static_cast<CUstream>(stream));
    });
}

extern "C" void mgpuStreamSynchronize(void *stream) {
  if (stream)
    callInContext(CallKind::Release, "cuStreamSynchronize",
                  [&](const auto &api) {
                    return api.streamSynchronize(static_cast<CUstream>(stream));
                  });
}

extern "C" void mgpuStreamWaitEvent(void *stream, void *event) {
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return;
  if (!stream || !event) {
    setError("mgpuStreamWaitEvent: no stream or no event");
    return;
  }
  ScopedContext context(*d, *device);
  if (context.ok())
    check(*d,
          d->api.streamWaitEvent(static_cast<CUstream>(stream),
                                 static_cast<CUevent>(event), 0),
          "cuStreamWaitEvent");
}

extern "C" void *mgpuEventCreate(void) {
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return nullptr;
  ScopedContext context(*d, *device);
  if (!context.ok())
    return nullptr;
  CUevent event = nullptr;
  if (!check(*d, d->api.eventCreate(&event, CU_EVENT_DISABLE_TIMING),
             "cuEventCreate"))
    return nullptr;
  return event;
}

extern "C" void mgpuEventDestroy(void *event) {
  if (event)
    callInContext(CallKind::Release, "cuEventDestroy", [&](const auto &api) {
      return api.eventDestroy(static_cast<CUevent>(event));
    });
}

extern "C" void mgpuEventSynchronize(void *event) {
  if (event)
    callInContext(CallKind::Release, "cuEventSynchronize",
                  [&](const auto &api) {
                    return api.eventSynchronize(static_cast<CUevent>(event));
                  });
}

extern "C" void mgpuEventRecord(void *event, void *stream) {
  const Driver *d;
  const Device *device;
  if (!readyForWork(d, device))
    return;
  if (!event) {
    setError("mgpuEventRecord: no event");
    return;
  }
  ScopedContext context(*d, *device);
  if (context.ok())
    check(*d,
          d->api.eventRecord(static_cast<CUevent>(event),
                             static_cast<CUstream>(stream)),
          "cuEventRecord");
}

extern "C" void mgpuSetDefaultDevice(int32_t ordinal) {
  if (!hasError())
    requestDevice(ordinal);
}
