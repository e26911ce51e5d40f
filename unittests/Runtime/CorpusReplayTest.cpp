//===- CorpusReplayTest.cpp - The runtime fuzzers' seed corpus ------------===//

#include "CorpusReplay.h"
#include "FuzzTargets.h"

namespace {

using lowbit::fuzz::replayCorpus;

TEST(CorpusReplay, Npy) { replayCorpus("npy", lowbit::fuzz::fuzzNpy); }
TEST(CorpusReplay, Manifest) {
  replayCorpus("manifest", lowbit::fuzz::fuzzManifest);
}
TEST(CorpusReplay, WeightsFile) {
  replayCorpus("weights_file", lowbit::fuzz::fuzzWeightsFile);
}

} // namespace
