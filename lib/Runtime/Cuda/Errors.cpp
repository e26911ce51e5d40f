//===- Errors.cpp - the calling thread's CUDA error -----------------------===//

#include "Errors.h"

#include <cstring>

namespace lowbit::cuda {

namespace {
// A trivially destructible buffer rather than a std::string: it stays valid
// at every point of a thread's life, including while other libraries'
// destructors run at exit, and nothing is leaked when a thread ends.
constexpr size_t kCapacity = 2048;
thread_local char slot[kCapacity];
} // namespace

bool hasError() { return slot[0] != '\0'; }

const char *lastError() { return slot; }

void clearError() { slot[0] = '\0'; }

void setError(std::string text) {
  if (hasError())
    return;
  if (text.empty())
    text = "unknown CUDA runtime error";
  if (text.size() >= kCapacity) {
    text.resize(kCapacity - 4);
    text += "...";
  }
  std::memcpy(slot, text.c_str(), text.size() + 1);
}

} // namespace lowbit::cuda
