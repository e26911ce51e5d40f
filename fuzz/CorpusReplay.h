//===- CorpusReplay.h - Replays a fuzzer's seed corpus in a gtest -*- C++
//-*-===//
//
// Runs each file of fuzz/corpus/<target>/ through the fuzzer's body: no
// crash or invariant failure, and files named valid-* are accepted while
// files named bad-* are rejected. The unit tests of every build use it, so
// the corpus is exercised without a fuzzing build. Needs
// LOWBIT_FUZZ_CORPUS_DIR defined to the corpus directory.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_FUZZ_CORPUSREPLAY_H
#define LOWBIT_FUZZ_CORPUSREPLAY_H

#include "lowbit/ModelIO/FileBuffer.h"

#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit::fuzz {

inline std::vector<std::string> listCorpus(const std::string &dir) {
  std::vector<std::string> names;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline void replayCorpus(const char *target,
                         bool (*body)(const uint8_t *, size_t)) {
  std::string dir = std::string(LOWBIT_FUZZ_CORPUS_DIR) + "/" + target;
  int valid = 0, bad = 0;
  for (const std::string &name : listCorpus(dir)) {
    auto buf = modelio::FileBuffer::open(dir + "/" + name);
    ASSERT_TRUE(buf.isOk()) << buf.message();
    bool accepted = body(buf->data(), buf->size());
    if (name.rfind("valid-", 0) == 0) {
      EXPECT_TRUE(accepted) << target << "/" << name;
      ++valid;
    } else if (name.rfind("bad-", 0) == 0) {
      EXPECT_FALSE(accepted) << target << "/" << name;
      ++bad;
    }
  }
  EXPECT_GE(valid, 2) << "too few valid seeds in " << dir;
  EXPECT_GE(bad, 3) << "too few broken seeds in " << dir;
}

} // namespace lowbit::fuzz

#endif // LOWBIT_FUZZ_CORPUSREPLAY_H
