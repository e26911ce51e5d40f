//===- manifest_fuzzer.cpp - libFuzzer entry point
//----------------------------===//

#include "FuzzTargets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lowbit::fuzz::fuzzManifest(data, size);
  return 0;
}
