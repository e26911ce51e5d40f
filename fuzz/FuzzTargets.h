//===- FuzzTargets.h - Bodies of the ModelIO fuzzers ------------*- C++ -*-===//
//
// One function per reader (ModelIO here, the runtime in
// RuntimeFuzzTargets.cpp): parse the input, use what was parsed, check
// invariants (abort() on a violation), and say whether the input was
// accepted. The libFuzzer entry points call these, and the unit tests replay
// the seed corpus through them in every build.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_FUZZ_FUZZTARGETS_H
#define LOWBIT_FUZZ_FUZZTARGETS_H

#include <cstddef>
#include <cstdint>

namespace lowbit::fuzz {

bool fuzzSafetensors(const uint8_t *data, size_t size);
bool fuzzShardIndex(const uint8_t *data, size_t size);
bool fuzzGguf(const uint8_t *data, size_t size);
bool fuzzAdapterConfig(const uint8_t *data, size_t size);
// RuntimeFuzzTargets.cpp: what the runtime and lowbit-run read.
bool fuzzNpy(const uint8_t *data, size_t size);
bool fuzzManifest(const uint8_t *data, size_t size);
bool fuzzWeightsFile(const uint8_t *data, size_t size);

} // namespace lowbit::fuzz

#endif // LOWBIT_FUZZ_FUZZTARGETS_H
