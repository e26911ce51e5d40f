//===- GlobalsTest.cpp - device globals bound to host memory --------------===//
//
// lowbit_cuda_bind_global on the fake driver, whose modules' device globals
// are host memory the tests read back: bytes bound before a module is
// loaded arrive at its first launch, bytes bound afterwards at once; a
// module that cannot receive them is unloaded again; artifacts (shared
// objects) that use the same names keep their own bytes.
//
//===----------------------------------------------------------------------===//

#include "FakeDriverFixture.h"

#include "gmock/gmock.h"

#include <elf.h>

#include <cstring>
#include <thread>
#include <vector>

using namespace lowbit::cuda::test;
using ::testing::HasSubstr;

extern "C" const char *fake_artifact_ptx(void); // FakeArtifact.c

namespace {

constexpr const char *kWeight = "__lowbit_weight_00000000000000aa";
constexpr const char *kWords = "__lowbit_weight_00000000000000bb";

// The test executable's kernels: its address is also the artifact's anchor.
const char kPtx[] =
    ".version 8.0\n"
    ".target sm_90\n"
    ".visible .global .align 16 .b8 __lowbit_weight_00000000000000aa[64];\n"
    ".visible .global .align 4 .u32 __lowbit_weight_00000000000000bb[8];\n"
    ".visible .entry kernel() { ret; }\n";
// Kernels without device globals.
const char kPlainPtx[] = ".version 8.0\n.target sm_90\n";

std::vector<unsigned char> pattern(size_t bytes, unsigned seed) {
  std::vector<unsigned char> out(bytes);
  for (size_t i = 0; i < bytes; ++i)
    out[i] = static_cast<unsigned char>(seed + 7 * i);
  return out;
}

/// What the fake's newest module loaded from `image` holds in `symbol`.
std::vector<unsigned char> onDevice(const void *image, const char *symbol) {
  size_t bytes = 0;
  unsigned char *memory = fake_cuda_global(image, symbol, &bytes);
  if (!memory)
    return {};
  return std::vector<unsigned char>(memory, memory + bytes);
}

/// A module of `ptx` loaded by the driver (its first kernel lookup).
void *loadedPtx(const char *ptx) {
  void *module = mgpuModuleLoadJIT(const_cast<char *>(ptx), 3);
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr) << lastError();
  return module;
}

/// A cubin reduced to what the fake reads: an ELF64 header and a symbol
/// table defining `symbol` with `size` bytes.
std::vector<unsigned char> tinyCubin(const char *symbol, uint64_t size) {
  std::string strings = std::string(1, '\0') + symbol + '\0';
  Elf64_Sym symbols[2] = {};
  symbols[1].st_name = 1;
  symbols[1].st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT);
  symbols[1].st_shndx = 2;
  symbols[1].st_size = size;
  size_t symbolsAt = (sizeof(Elf64_Ehdr) + strings.size() + 7) / 8 * 8;
  size_t sectionsAt = symbolsAt + sizeof(symbols);
  Elf64_Shdr sections[3] = {};
  sections[1].sh_type = SHT_SYMTAB;
  sections[1].sh_offset = symbolsAt;
  sections[1].sh_size = sizeof(symbols);
  sections[1].sh_link = 2;
  sections[1].sh_entsize = sizeof(Elf64_Sym);
  sections[2].sh_type = SHT_STRTAB;
  sections[2].sh_offset = sizeof(Elf64_Ehdr);
  sections[2].sh_size = strings.size();
  Elf64_Ehdr header = {};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_CUDA;
  header.e_shoff = sectionsAt;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 3;
  std::vector<unsigned char> out(sectionsAt + sizeof(sections));
  std::memcpy(out.data(), &header, sizeof(header));
  std::memcpy(out.data() + sizeof(header), strings.data(), strings.size());
  std::memcpy(out.data() + symbolsAt, symbols, sizeof(symbols));
  std::memcpy(out.data() + sectionsAt, sections, sizeof(sections));
  return out;
}

/// A fatbin holding `cubin` after an entry header.
std::vector<unsigned char> tinyFatbin(const std::vector<unsigned char> &cubin) {
  std::vector<unsigned char> out(16 + 64, 0);
  const uint32_t magic = 0xba55ed50;
  const uint16_t version = 1, headerSize = 16;
  const uint64_t fatSize = 64 + cubin.size();
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &version, 2);
  std::memcpy(out.data() + 6, &headerSize, 2);
  std::memcpy(out.data() + 8, &fatSize, 8);
  out.insert(out.end(), cubin.begin(), cubin.end());
  return out;
}

using CudaBindGlobal = CudaFakeDriver;

TEST_F(CudaBindGlobal, BoundBeforeLoadArrivesAtFirstLaunch) {
  std::vector<unsigned char> weights = pattern(64, 1);
  ASSERT_EQ(lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64),
            nullptr);
  EXPECT_EQ(lastError(), "");
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  EXPECT_EQ(counters().uploads, before.uploads);
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr) << lastError();
  EXPECT_EQ(counters().uploads, before.uploads + 1);
  EXPECT_EQ(onDevice(kPtx, kWeight), weights);
  // Once per load: later lookups upload nothing.
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(counters().uploads, before.uploads + 1);
  EXPECT_EQ(counters().bytes_uploaded, before.bytes_uploaded + 64);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, BoundAfterLoadArrivesAtOnce) {
  void *module = loadedPtx(kPtx);
  EXPECT_EQ(onDevice(kPtx, kWeight), std::vector<unsigned char>());
  // u32 elements: 8 of them.
  std::vector<unsigned char> words = pattern(32, 3);
  ASSERT_EQ(lowbit_cuda_bind_global(kPtx, kWords, words.data(), 32), nullptr)
      << lastError();
  EXPECT_EQ(counters().uploads, before.uploads + 1);
  EXPECT_EQ(onDevice(kPtx, kWords), words);
  mgpuModuleUnload(module);
  EXPECT_EQ(counters().context_depth, 0);
}

TEST_F(CudaBindGlobal, BindingAgainReplacesTheBytes) {
  std::vector<unsigned char> first = pattern(64, 1), second = pattern(64, 2),
                             third = pattern(64, 3);
  // Before the load only the last binding counts.
  lowbit_cuda_bind_global(kPtx, kWeight, first.data(), 64);
  lowbit_cuda_bind_global(kPtx, kWeight, second.data(), 64);
  void *module = loadedPtx(kPtx);
  EXPECT_EQ(counters().uploads, before.uploads + 1);
  EXPECT_EQ(onDevice(kPtx, kWeight), second);
  // After it, the bytes are replaced at once.
  ASSERT_EQ(lowbit_cuda_bind_global(kPtx, kWeight, third.data(), 64), nullptr);
  EXPECT_EQ(onDevice(kPtx, kWeight), third);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, ModulesWithoutTheGlobalAreLeftAlone) {
  std::vector<unsigned char> weights = pattern(64, 1);
  lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64);
  void *plain = loadedPtx(kPlainPtx);
  EXPECT_EQ(counters().uploads, before.uploads);
  EXPECT_EQ(lastError(), "");
  void *module = loadedPtx(kPtx);
  EXPECT_EQ(onDevice(kPtx, kWeight), weights);
  mgpuModuleUnload(plain);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, AGlobalOfAnotherSizeIsAnError) {
  std::vector<unsigned char> weights = pattern(64, 1);
  ASSERT_EQ(lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 32),
            nullptr);
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(lastError(), "__lowbit_weight_00000000000000aa: the device global "
                         "has 64 bytes, 32 were bound");
  // The module never runs without its weights: it was unloaded again.
  EXPECT_EQ(counters().live_modules, before.live_modules);
  EXPECT_EQ(counters().modules_loaded, before.modules_loaded + 1);
  // The next call loads it again, with the corrected binding.
  lowbit_cuda_clear_error();
  ASSERT_EQ(lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64),
            nullptr);
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr) << lastError();
  EXPECT_EQ(counters().modules_loaded, before.modules_loaded + 2);
  EXPECT_EQ(onDevice(kPtx, kWeight), weights);
  // Binding a loaded module: the error is the result.
  const char *error = lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 4);
  ASSERT_NE(error, nullptr);
  EXPECT_STREQ(error, "__lowbit_weight_00000000000000aa: the device global "
                      "has 64 bytes, 4 were bound");
  EXPECT_EQ(lastError(), error);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, FailedUploads) {
  std::vector<unsigned char> weights = pattern(64, 1);
  lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64);
  fake_cuda_fail("cuMemcpyHtoD_v2", 2);
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(lastError(), "cuMemcpyHtoD failed with CUDA_ERROR_OUT_OF_MEMORY: "
                         "out of memory (64 bytes to "
                         "__lowbit_weight_00000000000000aa)");
  EXPECT_EQ(counters().live_modules, before.live_modules);
  lowbit_cuda_clear_error();
  fake_cuda_fail("cuModuleGetGlobal_v2", 400);
  EXPECT_EQ(mgpuModuleGetFunction(module, "kernel"), nullptr);
  EXPECT_EQ(lastError(), "cuModuleGetGlobal failed with "
                         "CUDA_ERROR_INVALID_HANDLE: invalid resource handle "
                         "(device global __lowbit_weight_00000000000000aa)");
  lowbit_cuda_clear_error();
  fake_cuda_fail(nullptr, 0);
  EXPECT_NE(mgpuModuleGetFunction(module, "kernel"), nullptr) << lastError();
  EXPECT_EQ(onDevice(kPtx, kWeight), weights);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, NullArguments) {
  unsigned char byte = 0;
  EXPECT_STREQ(lowbit_cuda_bind_global(kPtx, nullptr, &byte, 1),
               "lowbit_cuda_bind_global: the symbol is NULL");
  EXPECT_EQ(lastError(), "lowbit_cuda_bind_global: the symbol is NULL");
  EXPECT_STREQ(lowbit_cuda_bind_global(kPtx, kWeight, nullptr, 64),
               "lowbit_cuda_bind_global: the host pointer for "
               "__lowbit_weight_00000000000000aa is NULL");
  // Nothing was bound.
  lowbit_cuda_clear_error();
  void *module = loadedPtx(kPtx);
  EXPECT_EQ(counters().uploads, before.uploads);
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, ArtifactsKeepTheirOwnBytes) {
  // Both artifacts' kernels declare kWeight; the second lies in
  // lowbit-fake-artifact.so.
  const char *otherPtx = fake_artifact_ptx();
  std::vector<unsigned char> mine = pattern(64, 1), theirs = pattern(64, 2);
  lowbit_cuda_bind_global(kPtx, kWeight, mine.data(), 64);
  lowbit_cuda_bind_global(reinterpret_cast<const void *>(&fake_artifact_ptx),
                          kWeight, theirs.data(), 64);
  void *module = loadedPtx(kPtx);
  void *other = loadedPtx(otherPtx);
  EXPECT_EQ(onDevice(kPtx, kWeight), mine);
  EXPECT_EQ(onDevice(otherPtx, kWeight), theirs);
  // Binding one artifact's global again reaches only its modules.
  std::vector<unsigned char> again = pattern(64, 3);
  int64_t uploads = counters().uploads;
  lowbit_cuda_bind_global(otherPtx, kWeight, again.data(), 64);
  EXPECT_EQ(counters().uploads, uploads + 1);
  EXPECT_EQ(onDevice(kPtx, kWeight), mine);
  EXPECT_EQ(onDevice(otherPtx, kWeight), again);
  mgpuModuleUnload(module);
  mgpuModuleUnload(other);
}

TEST_F(CudaBindGlobal, ForgottenWithTheArtifactsLastModule) {
  std::vector<unsigned char> weights = pattern(64, 1);
  lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64);
  void *first = loadedPtx(kPtx);
  void *second = loadedPtx(kPtx);
  EXPECT_EQ(counters().uploads, before.uploads + 2);
  mgpuModuleUnload(first);
  // An artifact loaded later at the same address must not receive them.
  mgpuModuleUnload(second);
  void *later = loadedPtx(kPtx);
  EXPECT_EQ(counters().uploads, before.uploads + 2);
  mgpuModuleUnload(later);
}

TEST_F(CudaBindGlobal, CubinsAndFatbins) {
  // Built at run time, outside any shared object: dladdr knows neither the
  // images nor the anchor, which are then of the same (unknown) artifact.
  std::vector<unsigned char> cubin = tinyCubin(kWeight, 128);
  std::vector<unsigned char> fatbin = tinyFatbin(tinyCubin(kWords, 16));
  std::vector<unsigned char> weights = pattern(128, 1), words = pattern(16, 2);
  lowbit_cuda_bind_global(nullptr, kWeight, weights.data(), 128);
  lowbit_cuda_bind_global(nullptr, kWords, words.data(), 16);
  void *fromCubin = mgpuModuleLoad(cubin.data(), cubin.size());
  void *fromFatbin = mgpuModuleLoad(fatbin.data(), fatbin.size());
  EXPECT_NE(mgpuModuleGetFunction(fromCubin, "kernel"), nullptr) << lastError();
  EXPECT_NE(mgpuModuleGetFunction(fromFatbin, "kernel"), nullptr)
      << lastError();
  EXPECT_EQ(onDevice(cubin.data(), kWeight), weights);
  EXPECT_EQ(onDevice(fatbin.data(), kWords), words);
  EXPECT_EQ(counters().uploads, before.uploads + 2);
  mgpuModuleUnload(fromCubin);
  mgpuModuleUnload(fromFatbin);
}

TEST_F(CudaBindGlobal, TraceLines) {
  // The lines lit tests check.
  std::vector<unsigned char> weights = pattern(64, 1);
  lowbit_cuda_bind_global(kPtx, kWeight, weights.data(), 64);
  lowbit_cuda_bind_global(kPtx, "__lowbit_weight_00000000000000cc",
                          weights.data(), 64);
  ASSERT_EQ(lowbit_cuda_available(), 1); // cuInit is traced too
  ASSERT_TRUE(setEnvironment("FAKE_CUDA_TRACE", "1"));
  ::testing::internal::CaptureStderr();
  void *module = loadedPtx(kPtx);
  std::string trace = ::testing::internal::GetCapturedStderr();
  ::unsetenv("FAKE_CUDA_TRACE");
  EXPECT_EQ(trace, "fake-cuda: cuModuleLoadDataEx: ptx\n"
                   "fake-cuda: cuModuleGetGlobal "
                   "__lowbit_weight_00000000000000aa 64\n"
                   "fake-cuda: cuMemcpyHtoD 64\n"
                   "fake-cuda: cuModuleGetGlobal "
                   "__lowbit_weight_00000000000000cc NOT_FOUND\n"
                   "fake-cuda: cuStreamSynchronize (default stream)\n");
  mgpuModuleUnload(module);
}

TEST_F(CudaBindGlobal, ConcurrentBindsAndLaunches) {
  // Lookups load the module while another thread binds again and again:
  // no deadlock, and the last binding is what the module holds.
  std::vector<unsigned char> a = pattern(64, 1), b = pattern(64, 2);
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kPtx), 3);
  std::vector<std::thread> threads;
  std::vector<std::string> errors(5);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i)
        if (!mgpuModuleGetFunction(module, "kernel"))
          errors[t] = lowbit_cuda_last_error();
    });
  threads.emplace_back([&] {
    for (int i = 0; i < 100; ++i)
      if (const char *error = lowbit_cuda_bind_global(
              kPtx, kWeight, (i % 2 ? b : a).data(), 64))
        errors[4] = error;
  });
  for (std::thread &thread : threads)
    thread.join();
  for (const std::string &error : errors)
    EXPECT_EQ(error, "");
  EXPECT_EQ(onDevice(kPtx, kWeight), b);
  mgpuModuleUnload(module);
}

} // namespace
