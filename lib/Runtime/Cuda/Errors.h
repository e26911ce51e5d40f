//===- Errors.h - the calling thread's CUDA error ---------------*- C++ -*-===//
//
// Every failure in the lowbit CUDA runtime is recorded as a message in a
// thread-local slot instead of being printed or aborting. The mgpu* entry
// points that generated code calls cannot return an error, so the slot is
// sticky: once a call failed, the following mgpu* calls of the thread do
// nothing (releases excepted) until the slot is cleared, and the generated
// C entry point reports the first failure (lowbit_cuda_end_call).
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_RUNTIME_CUDA_ERRORS_H
#define LOWBIT_LIB_RUNTIME_CUDA_ERRORS_H

#include <string>

namespace lowbit::cuda {

/// Whether the calling thread has a recorded error.
bool hasError();

/// The recorded message, or "" when there is none. Valid until the next
/// call that records or clears an error on this thread.
const char *lastError();

/// Forgets the calling thread's error.
void clearError();

/// Records `message` unless an error is already recorded: the first
/// failure is the cause, later ones are consequences. Messages longer than
/// 2 KiB are cut and end in "...".
void setError(std::string message);

} // namespace lowbit::cuda

#endif // LOWBIT_LIB_RUNTIME_CUDA_ERRORS_H
