//===- cpu_gemv.cpp - Batch-1 decoding speed of lowbit-cpu-pipeline -------===//
//
// Builds, in memory, one function per format and shape computing
// y = lowbit.qmatmul(x, W) on a random Gaussian weight quantized by the
// numerics core, lowers it with lowbit-cpu-pipeline, JIT-compiles it with
// mlir::ExecutionEngine (-O3, host CPU) and times it. Each repetition of
// the kernel is interleaved with
//   - a read-bandwidth probe: the same number of threads summing a buffer
//     much larger than the last-level cache with the widest loads the host
//     has, and
//   - OpenBLAS cblas_sgemv (cblas_sgemm for batches > 1) on the f32 weight
//     of the same shape, when the build found OpenBLAS,
// so that all three see the same machine state (memory bandwidth here is
// noisy). Between kernel repetitions the probe and sgemv evict the weight
// from the caches, so every kernel run reads it from memory. The best time
// of each counts; the median shows the spread.
//
// Usage: cpu_gemv [--threads N] [--reps N] [--formats a,b] [--shapes NxK,..]
//                 [--batches 1,16,128] [--lora 0|1] [--options "k=v ..."]
//
//===----------------------------------------------------------------------===//

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/InitLowbit.h"
#include "lowbit/Numerics/Layout.h"
#include "lowbit/Numerics/Quantize.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

#ifdef LOWBIT_HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

extern "C" void omp_set_num_threads(int);

using namespace mlir;
namespace nx = ::lowbit::numerics;

namespace {

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Stats {
  std::vector<double> times;
  void add(double t) { times.push_back(t); }
  double best() const { return *std::min_element(times.begin(), times.end()); }
  double median() const {
    std::vector<double> s = times;
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
  }
};

//===----------------------------------------------------------------------===//
// Read-bandwidth probe
//===----------------------------------------------------------------------===//

#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t sumAvx512(const uint64_t *p,
                                                      size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 8));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 16));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 24));
  }
  a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, a0);
  uint64_t s = 0;
  for (uint64_t v : lanes)
    s += v;
  return s;
}
#endif

uint64_t sumPortable(const uint64_t *p, size_t n) {
  uint64_t a[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      a[j] += p[i + j];
  uint64_t s = 0;
  for (uint64_t v : a)
    s += v;
  return s;
}

/// Sums `words` 64-bit words split over `threads` threads; returns seconds.
double probeRead(const uint64_t *buffer, size_t words, unsigned threads,
                 std::atomic<uint64_t> &sink) {
  bool avx512 = false;
#if defined(__x86_64__)
  avx512 = __builtin_cpu_supports("avx512f");
#endif
  auto work = [&](size_t begin, size_t end) {
#ifdef __linux__
    // Any core: the kernel's OpenMP threads are pinned, and threads
    // created by a pinned thread inherit its single-core mask.
    cpu_set_t all;
    CPU_ZERO(&all);
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c)
      CPU_SET(c, &all);
    pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
#endif
    uint64_t s;
#if defined(__x86_64__)
    if (avx512)
      s = sumAvx512(buffer + begin, end - begin);
    else
#endif
      s = sumPortable(buffer + begin, end - begin);
    sink += s;
  };
  size_t per = words / threads / 64 * 64;
  double t0 = seconds();
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back(work, t * per, (t + 1) * per);
  for (std::thread &w : workers)
    w.join();
  return seconds() - t0;
}

//===----------------------------------------------------------------------===//
// The kernel under test
//===----------------------------------------------------------------------===//

struct Format {
  std::string name;
  nx::Scheme scheme;
};

nx::Scheme scheme(nx::Format f, int64_t block, nx::ScaleType st,
                  nx::ZeroPoint zp = nx::ZeroPoint::None,
                  nx::DoubleQuantFormat dq = nx::DoubleQuantFormat::None) {
  nx::Scheme s;
  s.format = f;
  s.blockSize = block;
  s.scaleType = st;
  s.zeroPoint = zp;
  s.doubleQuant = dq;
  s.doubleQuantBlockSize = 256;
  return s;
}

std::vector<Format> allFormats() {
  using F = nx::Format;
  using S = nx::ScaleType;
  return {
      {"int8", scheme(F::I8, 128, S::F16)},
      {"int4-g32", scheme(F::I4, 32, S::F16)},
      {"int4-g128", scheme(F::I4, 128, S::F16)},
      {"int4-g128-asym", scheme(F::U4, 128, S::F16, nx::ZeroPoint::Int)},
      {"nf4-g64-dq", scheme(F::NF4, 64, S::F32, nx::ZeroPoint::None,
                            nx::DoubleQuantFormat::Dyn8)},
      {"fp4-g32", scheme(F::FP4, 32, S::F16)},
      {"int3-g128", scheme(F::I3, 128, S::F16)},
      {"int2-g128", scheme(F::I2, 128, S::F16)},
  };
}

/// MemRef descriptor of rank 2, as the C interface passes it.
struct Memref2 {
  float *allocated;
  float *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};
using KernelFn = void (*)(Memref2 *, Memref2 *);

Value blobConstant(OpBuilder &b, Location loc, RankedTensorType type,
                   ArrayRef<char> bytes, StringRef name) {
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, /*align=*/64);
  return arith::ConstantOp::create(
      b, loc, type,
      DenseResourceElementsAttr::get(type, name, std::move(blob)));
}

template <typename T> ArrayRef<char> asBytes(const std::vector<T> &v) {
  return ArrayRef<char>(reinterpret_cast<const char *>(v.data()),
                        v.size() * sizeof(T));
}

/// func @kernel(%x: [M, K] f32, %y: [M, N] f32): writes x·Wᵀ into y's
/// buffer (destination-passing style, so no allocation escapes).
OwningOpRef<ModuleOp> buildModule(MLIRContext &ctx, const nx::Scheme &s,
                                  const std::vector<uint8_t> &packed, int64_t m,
                                  int64_t n, int64_t k,
                                  const std::vector<float> *loraA,
                                  const std::vector<float> *loraB,
                                  int64_t rank) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type();
  auto xType = RankedTensorType::get({m, k}, f32);
  auto yType = RankedTensorType::get({m, n}, f32);
  auto yBufType = MemRefType::get({m, n}, f32);
  auto func = func::FuncOp::create(b, loc, "kernel",
                                   b.getFunctionType({xType, yBufType}, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);

  auto qtype = mlir::lowbit::QTensorType::get(
      &ctx, {n, k}, cast<FloatType>(f32),
      mlir::lowbit::SchemeAttr::fromNumerics(&ctx, s));
  auto bytesType =
      RankedTensorType::get({int64_t(packed.size())}, b.getIntegerType(8));
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      asBytes(packed), /*align=*/64);
  auto data =
      DenseResourceElementsAttr::get(bytesType, "weight", std::move(blob));
  Value w = mlir::lowbit::WeightOp::create(b, loc, qtype, data, StringAttr(),
                                           StringAttr());
  Value a, bUp;
  FloatAttr scale;
  if (loraA) {
    a = blobConstant(b, loc, RankedTensorType::get({rank, k}, f32),
                     asBytes(*loraA), "lora_a");
    bUp = blobConstant(b, loc, RankedTensorType::get({n, rank}, f32),
                       asBytes(*loraB), "lora_b");
    scale = b.getF32FloatAttr(2.0f);
  }
  Value y = mlir::lowbit::QMatmulOp::create(b, loc, yType, body->getArgument(0),
                                            w, Value(), a, bUp, scale);
  // Into the caller's buffer: a side effect, unlike a returned tensor.
  auto store = bufferization::MaterializeInDestinationOp::create(
      b, loc, TypeRange{}, y, body->getArgument(1));
  store.setRestrict(true);
  store.setWritable(true);
  func::ReturnOp::create(b, loc);
  return module;
}

struct Compiled {
  std::unique_ptr<ExecutionEngine> engine;
  KernelFn fn = nullptr;
  double compileSeconds = 0;
};

Compiled compile(MLIRContext &ctx, OwningOpRef<ModuleOp> module,
                 const std::string &pipelineOptions) {
  Compiled result;
  double t0 = seconds();
  PassManager pm(&ctx);
  std::string pipeline = "lowbit-cpu-pipeline{" + pipelineOptions + "}";
  if (failed(parsePassPipeline(pipeline, pm))) {
    std::fprintf(stderr, "cannot parse %s\n", pipeline.c_str());
    std::exit(1);
  }
  if (failed(pm.run(*module))) {
    std::fprintf(stderr, "%s failed\n", pipeline.c_str());
    std::exit(1);
  }
  if (std::getenv("CPU_GEMV_DUMP"))
    module->print(llvm::errs(), OpPrintingFlags().elideLargeElementsAttrs(8));
  auto tmBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmBuilder) {
    std::fprintf(stderr, "no host target\n");
    std::exit(1);
  }
  tmBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto tm = tmBuilder->createTargetMachine();
  if (!tm) {
    std::fprintf(stderr, "no host target machine\n");
    std::exit(1);
  }
  // options.transformer is a function_ref: the function must outlive it.
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(3, 0, tm->get());
  ExecutionEngineOptions options;
  options.transformer = optimize;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = ExecutionEngine::create(*module, options, std::move(*tm));
  if (!engine) {
    std::fprintf(stderr, "JIT compilation failed: %s\n",
                 llvm::toString(engine.takeError()).c_str());
    std::exit(1);
  }
  result.engine = std::move(*engine);
  auto fn = result.engine->lookup("_mlir_ciface_kernel");
  if (!fn) {
    std::fprintf(stderr, "no kernel symbol: %s\n",
                 llvm::toString(fn.takeError()).c_str());
    std::exit(1);
  }
  result.fn = reinterpret_cast<KernelFn>(*fn);
  result.compileSeconds = seconds() - t0;
  return result;
}

Memref2 descriptor(std::vector<float> &v, int64_t rows, int64_t cols) {
  return Memref2{v.data(), v.data(), 0, {rows, cols}, {cols, 1}};
}

std::vector<std::string> split(const std::string &s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep))
    if (!part.empty())
      parts.push_back(part);
  return parts;
}

} // namespace

int main(int argc, char **argv) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  int reps = 15;
  std::string formatList, options;
  std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 14336},
                                                     {14336, 4096}};
  std::vector<int64_t> batches = {1, 16, 128};
  bool lora = true;
  const int64_t rank = 16;
  const char *usage =
      "usage: cpu_gemv [--threads N] [--reps N] [--formats a,b] "
      "[--shapes NxK,..]\n"
      "                [--batches 1,16,128] [--lora 0|1] "
      "[--options \"k=v ...\"]\n";
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s", flag.c_str(), usage);
      return 2;
    }
    std::string value = argv[i + 1];
    if (flag == "--threads")
      threads = unsigned(std::max(1, std::atoi(value.c_str())));
    else if (flag == "--reps")
      reps = std::max(1, std::atoi(value.c_str()));
    else if (flag == "--formats")
      formatList = value;
    else if (flag == "--options")
      options = value;
    else if (flag == "--lora")
      lora = value != "0";
    else if (flag == "--batches") {
      batches.clear();
      for (const std::string &b : split(value, ','))
        batches.push_back(std::atoll(b.c_str()));
    } else if (flag == "--shapes") {
      shapes.clear();
      for (const std::string &s : split(value, ',')) {
        size_t x = s.find('x');
        shapes.push_back({std::atoll(s.substr(0, x).c_str()),
                          std::atoll(s.substr(x + 1).c_str())});
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n%s", flag.c_str(), usage);
      return 2;
    }
  }
  std::vector<Format> formats;
  for (const Format &f : allFormats())
    if (formatList.empty() ||
        llvm::is_contained(split(formatList, ','), f.name))
      formats.push_back(f);
  // The JIT compiles for this machine: kernels it cannot run would fail in
  // instruction selection, so say why instead.
  if (llvm::is_contained(split(options, ' '), "dot=i8")) {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    if (!features.lookup("avx512bw") || !features.lookup("avx512vnni")) {
      std::fprintf(stderr, "cpu_gemv: dot=i8 needs AVX-512 BW and VNNI, "
                           "which this machine lacks\n");
      return 2;
    }
  }
  std::string pipelineOptions =
      "parallel=true threads=" + std::to_string(threads);
  if (!options.empty())
    pipelineOptions += " " + options;

  // OpenMP workers spin this long (ms) after a parallel region, then sleep.
  // The default 200 ms would steal a core from the probe and BLAS that run
  // next; a sleeping worker is woken by `wake` (a tiny kernel) just before
  // each timed run, as back-to-back layers of a model would keep it awake.
  setenv("KMP_BLOCKTIME", "20", /*overwrite=*/0);
  // One kernel thread per core: unpinned, a woken worker is sometimes put
  // on the busy core and the kernel runs at single-thread speed.
  setenv("OMP_PROC_BIND", "spread", /*overwrite=*/0);
  setenv("OMP_PLACES", "cores", /*overwrite=*/0);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  omp_set_num_threads(int(threads));
#ifdef LOWBIT_HAVE_OPENBLAS
  openblas_set_num_threads(int(threads));
#endif

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  ::lowbit::registerAllLowbitDialects(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  registerAllPasses();
  ::lowbit::registerAllLowbitPasses();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  // 1 GiB: far beyond any last-level cache.
  size_t probeWords = (size_t(1) << 30) / 8;
  std::vector<uint64_t, std::allocator<uint64_t>> probeStorage(probeWords + 8,
                                                               1);
  const uint64_t *probe = reinterpret_cast<const uint64_t *>(
      (reinterpret_cast<uintptr_t>(probeStorage.data()) + 63) & ~uintptr_t(63));
  std::atomic<uint64_t> sink{0};

  std::printf("lowbit-cpu-pipeline{%s}, %u threads, best of %d reps "
              "(median in parentheses)\n",
              pipelineOptions.c_str(), threads, reps);
#ifndef LOWBIT_HAVE_OPENBLAS
  std::printf("OpenBLAS not found at build time: no sgemv/sgemm columns\n");
#endif

  std::mt19937 rng(7);
  std::vector<float> wakeX(64), wakeY(64), wakeW(64 * 64, 0.5f);
  Memref2 wakeXd = descriptor(wakeX, 1, 64), wakeYd = descriptor(wakeY, 1, 64);
  nx::Scheme wakeScheme = scheme(nx::Format::I8, 64, nx::ScaleType::F32);
  auto wakePacked = nx::quantize(wakeScheme, wakeW.data(), 64, 64);
  Compiled wake = compile(ctx,
                          buildModule(ctx, wakeScheme, *wakePacked, 1, 64, 64,
                                      nullptr, nullptr, rank),
                          pipelineOptions + " n-tile=8");
  // Lets spinning workers (libomp's for KMP_BLOCKTIME, OpenBLAS's for up
  // to ~0.1 s) go to sleep, so that each measurement has the cores alone.
  auto settle = [](int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  };
  for (auto [n, k] : shapes) {
    std::vector<float> weight(size_t(n * k));
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float &v : weight)
      v = normal(rng);
    std::vector<float> loraA(size_t(rank * k)), loraB(size_t(n * rank));
    for (float &v : loraA)
      v = normal(rng);
    for (float &v : loraB)
      v = normal(rng);
    std::printf("\nN x K = %lld x %lld (f32 weight %.0f MB)\n", (long long)n,
                (long long)k, double(n * k) * 4 / 1e6);
    std::printf("%-15s %5s %9s %9s %9s %8s %8s %9s %7s %7s\n", "format",
                "batch", "best ms", "median", "GB/s", "%read", "read GB/s",
                "vs BLAS", "GFLOP/s", "err");
    for (const Format &f : formats) {
      nx::QuantizeOptions qopts;
      qopts.numThreads = threads;
      auto packed = nx::quantize(f.scheme, weight.data(), n, k, qopts);
      if (!packed) {
        std::fprintf(stderr, "quantize %s: %s\n", f.name.c_str(),
                     packed.status().message().c_str());
        return 1;
      }
      double bytes = double(packed->size());
      for (int64_t m : batches) {
        bool withLora = lora && m == 1;
        std::vector<float> x(size_t(m * k)), y(size_t(m * n)),
            yBlas(size_t(m * n));
        for (float &v : x)
          v = normal(rng);
        Compiled plain = compile(ctx,
                                 buildModule(ctx, f.scheme, *packed, m, n, k,
                                             nullptr, nullptr, rank),
                                 pipelineOptions);
        Compiled withA;
        if (withLora)
          withA = compile(ctx,
                          buildModule(ctx, f.scheme, *packed, m, n, k, &loraA,
                                      &loraB, rank),
                          pipelineOptions);
        Memref2 xd = descriptor(x, m, k), yd = descriptor(y, m, n);
        Stats kernel, kernelLora, read, blas;
        int r = m == 1 ? reps : std::max(3, reps / 3);
        for (int i = 0; i < r + 1; ++i) {
          // The first round warms up (page faults, thread start-up).
          wake.fn(&wakeXd, &wakeYd);
          double t0 = seconds();
          plain.fn(&xd, &yd);
          double tk = seconds() - t0;
          settle(25);
          double tr = probeRead(probe, probeWords, threads, sink);
          double tl = 0, tb = 0;
          if (withLora) {
            wake.fn(&wakeXd, &wakeYd);
            t0 = seconds();
            withA.fn(&xd, &yd);
            tl = seconds() - t0;
            settle(25);
            probeRead(probe, probeWords / 4, threads, sink);
          }
#ifdef LOWBIT_HAVE_OPENBLAS
          t0 = seconds();
          if (m == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, int(n), int(k), 1.0f,
                        weight.data(), int(k), x.data(), 1, 0.0f, yBlas.data(),
                        1);
          else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n),
                        int(k), 1.0f, x.data(), int(k), weight.data(), int(k),
                        0.0f, yBlas.data(), int(n));
          tb = seconds() - t0;
          settle(150);
#endif
          if (i == 0)
            continue;
          kernel.add(tk);
          read.add(tr);
          if (withLora)
            kernelLora.add(tl);
          if (tb)
            blas.add(tb);
        }
        plain.fn(&xd, &yd);
        // Sanity: y against f32 BLAS on the unquantized weight (the
        // quantization error, a few % for 4 bits; garbage shows as ~100%).
        double errNum = 0, errDen = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          errNum += double(y[i] - yBlas[i]) * double(y[i] - yBlas[i]);
          errDen += double(yBlas[i]) * double(yBlas[i]);
        }
        double relErr = errDen > 0 ? std::sqrt(errNum / errDen) : 0;
        double readGBs = double(probeWords) * 8 / read.best() / 1e9;
        double gbs = bytes / kernel.best() / 1e9;
        double flops = 2.0 * double(m) * double(n) * double(k);
        std::printf("%-15s %5lld %9.3f %9.3f %9.2f %7.0f%% %9.2f",
                    f.name.c_str(), (long long)m, kernel.best() * 1e3,
                    kernel.median() * 1e3, gbs, 100 * gbs / readGBs, readGBs);
        if (!blas.times.empty())
          std::printf(" %8.2fx", blas.best() / kernel.best());
        else
          std::printf(" %9s", "-");
        std::printf(" %7.1f", flops / kernel.best() / 1e9);
        if (!blas.times.empty())
          std::printf(" %6.1f%%", 100 * relErr);
        if (!blas.times.empty() && m > 1)
          std::printf("  (BLAS %.1f GFLOP/s)", flops / blas.best() / 1e9);
        std::printf("\n");
        if (withLora)
          std::printf("%-15s %5s %9.3f %9.3f  LoRA r=%lld overhead %+.1f%% "
                      "(best), %+.1f%% (median)\n",
                      (f.name + "+lora").c_str(), "1", kernelLora.best() * 1e3,
                      kernelLora.median() * 1e3, (long long)rank,
                      100 * (kernelLora.best() / kernel.best() - 1),
                      100 * (kernelLora.median() / kernel.median() - 1));
        if (f.name == formats.front().name && m == batches.front() &&
            !blas.times.empty() && m == 1)
          std::printf("%-15s %5s %9.3f %9.3f %9.2f %7.0f%%   (f32 weight "
                      "%.0f MB)\n",
                      "openblas-sgemv", "1", blas.best() * 1e3,
                      blas.median() * 1e3,
                      double(n * k) * 4 / blas.best() / 1e9,
                      100 * double(n * k) * 4 / blas.best() / 1e9 / readGBs,
                      double(n * k) * 4 / 1e6);
        std::fflush(stdout);
      }
    }
  }
  return sink.load() == 42 ? 3 : 0;
}
