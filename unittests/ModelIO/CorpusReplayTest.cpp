//===- CorpusReplayTest.cpp - The ModelIO fuzzers' seed corpus ------------===//

#include "CorpusReplay.h"
#include "FuzzTargets.h"

namespace {

using lowbit::fuzz::replayCorpus;

TEST(CorpusReplay, Safetensors) {
  replayCorpus("safetensors", lowbit::fuzz::fuzzSafetensors);
}
TEST(CorpusReplay, ShardIndex) {
  replayCorpus("shard_index", lowbit::fuzz::fuzzShardIndex);
}
TEST(CorpusReplay, Gguf) { replayCorpus("gguf", lowbit::fuzz::fuzzGguf); }
TEST(CorpusReplay, AdapterConfig) {
  replayCorpus("adapter_config", lowbit::fuzz::fuzzAdapterConfig);
}

} // namespace
