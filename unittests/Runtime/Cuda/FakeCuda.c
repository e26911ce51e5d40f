/*===- FakeCuda.c - a fake CUDA driver for the runtime's tests ------------===*\
|*                                                                            *|
|* See FakeCuda.h. Built twice: complete, and with FAKE_CUDA_INCOMPLETE       *|
|* (no cuLaunchKernel) to test a driver that lacks an entry point.            *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "FakeCuda.h"

#include <ctype.h>
#include <elf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
enum {
  OK = 0,
  INVALID_VALUE = 1,
  NOT_INITIALIZED = 3,
  NO_DEVICE = 100,
  INVALID_DEVICE = 101,
  INVALID_IMAGE = 200,
  INVALID_CONTEXT = 201,
  INVALID_PTX = 218,
  INVALID_HANDLE = 400,
  NOT_FOUND = 500,
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static fake_cuda_counters counters;
static char failing[64];
static int failCode;
static int initialized;

static int tracing(void) {
  const char *env = getenv("FAKE_CUDA_TRACE");
  return env && *env == '1';
}

#define TRACE(...)                                                             \
  do {                                                                         \
    if (tracing()) {                                                           \
      fprintf(stderr, "fake-cuda: " __VA_ARGS__);                              \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* The injected failure of `symbol`, or 0. */
static int injected(const char *symbol) {
  pthread_mutex_lock(&lock);
  int code = failing[0] && strcmp(failing, symbol) == 0 ? failCode : 0;
  pthread_mutex_unlock(&lock);
  return code;
}

#define ENTER(symbol)                                                          \
  do {                                                                         \
    int code_ = injected(symbol);                                              \
    if (code_) {                                                               \
      TRACE("%s -> %d (injected)", symbol, code_);                             \
      return code_;                                                            \
    }                                                                          \
  } while (0)

#define COUNT(field, delta)                                                    \
  do {                                                                         \
    pthread_mutex_lock(&lock);                                                 \
    counters.field += (delta);                                                 \
    pthread_mutex_unlock(&lock);                                               \
  } while (0)

static int deviceCount(void) {
  const char *env = getenv("FAKE_CUDA_DEVICES");
  return env && *env ? atoi(env) : 1;
}

EXPORT void fake_cuda_fail(const char *symbol, int code) {
  pthread_mutex_lock(&lock);
  snprintf(failing, sizeof(failing), "%s", symbol ? symbol : "");
  failCode = code;
  pthread_mutex_unlock(&lock);
}

EXPORT void fake_cuda_get_counters(fake_cuda_counters *out) {
  pthread_mutex_lock(&lock);
  *out = counters;
  pthread_mutex_unlock(&lock);
}

static const struct {
  int code;
  const char *name;
  const char *text;
} errors[] = {
    {OK, "CUDA_SUCCESS", "no error"},
    {INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE",
     "device kernel image is invalid"},
    {INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU",
     "no kernel image is available for execution on the device"},
    {INVALID_PTX, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS",
     "an illegal memory access was encountered"},
};

static CUresult lookupError(int code, const char **out, int name) {
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); ++i)
    if (errors[i].code == code) {
      *out = name ? errors[i].name : errors[i].text;
      return OK;
    }
  *out = NULL; /* as the real driver does for unknown codes */
  return INVALID_VALUE;
}

EXPORT CUresult cuGetErrorName(CUresult code, const char **out) {
  return lookupError(code, out, 1);
}

EXPORT CUresult cuGetErrorString(CUresult code, const char **out) {
  return lookupError(code, out, 0);
}

EXPORT CUresult cuInit(unsigned flags) {
  ENTER("cuInit");
  COUNT(inits, 1);
  TRACE("cuInit");
  if (flags != 0)
    return INVALID_VALUE;
  if (deviceCount() <= 0)
    return NO_DEVICE;
  initialized = 1;
  return OK;
}

#define REQUIRE_INIT()                                                         \
  do {                                                                         \
    if (!initialized)                                                          \
      return NOT_INITIALIZED;                                                  \
  } while (0)

EXPORT CUresult cuDriverGetVersion(int *version) {
  ENTER("cuDriverGetVersion");
  *version = 13000;
  return OK;
}

EXPORT CUresult cuDeviceGetCount(int *count) {
  ENTER("cuDeviceGetCount");
  REQUIRE_INIT();
  *count = deviceCount();
  return OK;
}

EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  ENTER("cuDeviceGet");
  REQUIRE_INIT();
  if (ordinal < 0 || ordinal >= deviceCount())
    return INVALID_DEVICE;
  *device = ordinal;
  return OK;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
  ENTER("cuDeviceGetAttribute");
  REQUIRE_INIT();
  (void)device;
  switch (attribute) {
  case 115: { /* memory pools */
    const char *env = getenv("FAKE_CUDA_NO_POOLS");
    *value = !(env && *env == '1');
    return OK;
  }
  case 16: /* multiprocessors */
    *value = 132;
    return OK;
  case 75: /* compute capability */
    *value = 9;
    return OK;
  case 76:
    *value = 0;
    return OK;
  }
  return INVALID_VALUE;
}

EXPORT CUresult cuDeviceGetName(char *name, int length, int device) {
  ENTER("cuDeviceGetName");
  REQUIRE_INIT();
  snprintf(name, (size_t)length, "Fake CUDA Device %d", device);
  return OK;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
  ENTER("cuDeviceTotalMem_v2");
  REQUIRE_INIT();
  (void)device;
  *bytes = (size_t)80 << 30;
  return OK;
}

static int primaryContext;

EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
  ENTER("cuDevicePrimaryCtxRetain");
  REQUIRE_INIT();
  (void)device;
  *context = &primaryContext;
  return OK;
}

EXPORT CUresult cuCtxPushCurrent_v2(void *context) {
  ENTER("cuCtxPushCurrent_v2");
  if (context != &primaryContext)
    return INVALID_CONTEXT;
  COUNT(context_depth, 1);
  return OK;
}

EXPORT CUresult cuCtxPopCurrent_v2(void **context) {
  ENTER("cuCtxPopCurrent_v2");
  pthread_mutex_lock(&lock);
  int empty = counters.context_depth <= 0;
  if (!empty)
    --counters.context_depth;
  pthread_mutex_unlock(&lock);
  if (empty)
    return INVALID_CONTEXT;
  if (context)
    *context = &primaryContext;
  return OK;
}

/* A device global of a module, found in its image on first lookup: host
 * memory standing in for device memory, zero-filled like the NOBITS globals
 * of `--weights=external` kernels. */
typedef struct FakeGlobal {
  char *name;
  size_t bytes;
  unsigned char *memory;
  struct FakeGlobal *next;
} FakeGlobal;

/* Modules remember their image (to find their globals) and are listed,
 * newest first, for fake_cuda_global; functions remember their name. */
#define MODULE_MAGIC 0x4d4f44
typedef struct FakeModule {
  int magic;
  const void *image;
  FakeGlobal *globals;
  struct FakeModule *next;
} FakeModule;
static FakeModule *modules; /* the live ones, under `lock` */
typedef struct FakeFunction {
  FakeModule *module; /* NULL: a free slot */
  char name[64];
} FakeFunction;
static FakeFunction functions[1024];
static int functionCount;

/* "cubin", "fatbin", "ptx" or NULL for anything else. */
static const char *imageKind(const void *image) {
  const unsigned char *bytes = (const unsigned char *)image;
  if (!bytes)
    return NULL;
  if (memcmp(bytes,
             "\x7f"
             "ELF",
             4) == 0)
    return "cubin";
  if (bytes[0] == 0x50 && bytes[1] == 0xed && bytes[2] == 0x55 &&
      bytes[3] == 0xba)
    return "fatbin";
  if (strstr((const char *)bytes, ".version") &&
      strstr((const char *)bytes, ".target"))
    return "ptx";
  return NULL;
}

static CUresult loadModule(void **module, const void *image, int jit) {
  const char *kind = imageKind(image);
  if (!kind)
    return INVALID_IMAGE;
  if (jit != (strcmp(kind, "ptx") == 0))
    return jit ? INVALID_PTX : INVALID_IMAGE;
  FakeModule *m = (FakeModule *)calloc(1, sizeof(FakeModule));
  m->magic = MODULE_MAGIC;
  m->image = image;
  pthread_mutex_lock(&lock);
  m->next = modules;
  modules = m;
  pthread_mutex_unlock(&lock);
  *module = m;
  COUNT(live_modules, 1);
  COUNT(modules_loaded, 1);
  if (jit)
    COUNT(jit_loads, 1);
  TRACE("%s: %s", jit ? "cuModuleLoadDataEx" : "cuModuleLoadData", kind);
  return OK;
}

EXPORT CUresult cuModuleLoadData(void **module, const void *image) {
  ENTER("cuModuleLoadData");
  REQUIRE_INIT();
  return loadModule(module, image, 0);
}

EXPORT CUresult cuModuleLoadDataEx(void **module, const void *image,
                                   unsigned count, int *options,
                                   void **values) {
  /* Fills the error log (option 5, size in option 6) on an injected
   * failure, as ptxas would. */
  int code = injected("cuModuleLoadDataEx");
  if (code) {
    char *log = NULL;
    size_t size = 0;
    for (unsigned i = 0; i < count; ++i) {
      if (options[i] == 5)
        log = (char *)values[i];
      if (options[i] == 6)
        size = (size_t)(uintptr_t)values[i];
    }
    if (log && size)
      snprintf(log, size, "ptxas fatal: fake PTX error");
    return code;
  }
  REQUIRE_INIT();
  return loadModule(module, image, 1);
}

EXPORT CUresult cuModuleUnload(void *module) {
  ENTER("cuModuleUnload");
  FakeModule *m = (FakeModule *)module;
  if (!m || m->magic != MODULE_MAGIC)
    return INVALID_HANDLE;
  m->magic = 0;
  pthread_mutex_lock(&lock);
  for (FakeModule **at = &modules; *at; at = &(*at)->next)
    if (*at == m) {
      *at = m->next;
      break;
    }
  for (int i = 0; i < functionCount; ++i)
    if (functions[i].module == m)
      functions[i].module = NULL;
  pthread_mutex_unlock(&lock);
  while (m->globals) {
    FakeGlobal *g = m->globals;
    m->globals = g->next;
    free(g->name);
    free(g->memory);
    free(g);
  }
  free(m);
  COUNT(live_modules, -1);
  TRACE("cuModuleUnload");
  return OK;
}

EXPORT CUresult cuModuleGetFunction(void **function, void *module,
                                    const char *name) {
  ENTER("cuModuleGetFunction");
  FakeModule *m = (FakeModule *)module;
  if (!m || m->magic != MODULE_MAGIC)
    return INVALID_HANDLE;
  if (strncmp(name, "missing", 7) == 0)
    return NOT_FOUND;
  pthread_mutex_lock(&lock);
  FakeFunction *f = NULL, *slot = NULL;
  for (int i = 0; i < functionCount && !f; ++i) {
    if (functions[i].module == m && strcmp(functions[i].name, name) == 0)
      f = &functions[i];
    if (!functions[i].module && !slot)
      slot = &functions[i];
  }
  if (!f && !slot && functionCount < 1024)
    slot = &functions[functionCount++];
  if (!f && slot) {
    f = slot;
    f->module = m;
    snprintf(f->name, sizeof(f->name), "%s", name);
  }
  pthread_mutex_unlock(&lock);
  if (!f)
    return INVALID_VALUE;
  *function = f;
  return OK;
}

/* Whether [begin, end) contains `word`. */
static int containsWord(const char *begin, const char *end, const char *word) {
  size_t length = strlen(word);
  for (const char *at = begin; at + length <= end; ++at)
    if (memcmp(at, word, length) == 0)
      return 1;
  return 0;
}

/* The global `name` declared in PTX text: `.global [.align A] .b8 name[N]`
 * (or .u32, .f32, ... elements: N times their width). */
static int ptxGlobal(const char *ptx, const char *name, size_t *bytes) {
  size_t length = strlen(name);
  for (const char *at = strstr(ptx, name); at; at = strstr(at + 1, name)) {
    if (at == ptx || !isspace((unsigned char)at[-1]) || at[length] != '[')
      continue;
    char *end = NULL;
    unsigned long long count = strtoull(at + length + 1, &end, 10);
    if (end == at + length + 1 || *end != ']')
      continue;
    /* The element type before the name, then the rest of the statement. */
    const char *typeEnd = at;
    while (typeEnd > ptx && isspace((unsigned char)typeEnd[-1]))
      --typeEnd;
    const char *type = typeEnd;
    while (type > ptx && !isspace((unsigned char)type[-1]))
      --type;
    if (typeEnd - type < 3 || type[0] != '.' || !strchr("bsuf", type[1]))
      continue;
    int bits = atoi(type + 2);
    if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
      continue;
    const char *statement = type;
    while (statement > ptx && !strchr(";{}", statement[-1]))
      --statement;
    if (!containsWord(statement, type, ".global"))
      continue;
    *bytes = (size_t)count * (size_t)(bits / 8);
    return 1;
  }
  return 0;
}

/* The symbol `name` of an ELF64 image of at most `limit` bytes (a cubin):
 * its entry in the symbol table (SHT_SYMTAB and its linked strings). */
static int elfGlobal(const unsigned char *image, size_t limit, const char *name,
                     size_t *bytes) {
  Elf64_Ehdr header;
  if (limit < sizeof(header))
    return 0;
  memcpy(&header, image, sizeof(header));
  if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB ||
      header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shoff == 0 ||
      header.e_shoff > limit ||
      header.e_shnum > (limit - header.e_shoff) / sizeof(Elf64_Shdr))
    return 0;
  const unsigned char *sections = image + header.e_shoff;
  size_t length = strlen(name);
  for (unsigned i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr symbols, strings;
    memcpy(&symbols, sections + i * sizeof(Elf64_Shdr), sizeof(symbols));
    if (symbols.sh_type != SHT_SYMTAB || symbols.sh_link >= header.e_shnum)
      continue;
    memcpy(&strings, sections + symbols.sh_link * sizeof(Elf64_Shdr),
           sizeof(strings));
    if (symbols.sh_offset > limit ||
        symbols.sh_size > limit - symbols.sh_offset ||
        strings.sh_offset > limit ||
        strings.sh_size > limit - strings.sh_offset)
      continue;
    for (size_t at = 0; at + sizeof(Elf64_Sym) <= symbols.sh_size;
         at += sizeof(Elf64_Sym)) {
      Elf64_Sym symbol;
      memcpy(&symbol, image + symbols.sh_offset + at, sizeof(symbol));
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_name >= strings.sh_size ||
          strings.sh_size - symbol.st_name <= length)
        continue;
      const char *text =
          (const char *)image + strings.sh_offset + symbol.st_name;
      if (memcmp(text, name, length) == 0 && text[length] == '\0') {
        *bytes = (size_t)symbol.st_size;
        return 1;
      }
    }
  }
  return 0;
}

/* A fatbin's global: in the first embedded ELF that has it (compressed
 * entries have none). */
static int fatbinGlobal(const unsigned char *image, const char *name,
                        size_t *bytes) {
  uint16_t headerSize;
  uint64_t fatSize;
  memcpy(&headerSize, image + 6, sizeof(headerSize));
  memcpy(&fatSize, image + 8, sizeof(fatSize));
  size_t end = (size_t)headerSize + (size_t)fatSize;
  for (size_t at = headerSize; at + SELFMAG <= end; ++at)
    if (memcmp(image + at, ELFMAG, SELFMAG) == 0 &&
        elfGlobal(image + at, end - at, name, bytes))
      return 1;
  return 0;
}

static int imageGlobal(const void *image, const char *name, size_t *bytes) {
  const char *kind = imageKind(image);
  if (!kind)
    return 0;
  if (strcmp(kind, "ptx") == 0)
    return ptxGlobal((const char *)image, name, bytes);
  if (strcmp(kind, "cubin") == 0)
    return elfGlobal((const unsigned char *)image, SIZE_MAX, name, bytes);
  return fatbinGlobal((const unsigned char *)image, name, bytes);
}

static int contextCurrent(void) {
  pthread_mutex_lock(&lock);
  int current = counters.context_depth > 0;
  pthread_mutex_unlock(&lock);
  return current;
}

EXPORT CUresult cuModuleGetGlobal_v2(unsigned long long *pointer, size_t *bytes,
                                     void *module, const char *name) {
  ENTER("cuModuleGetGlobal_v2");
  FakeModule *m = (FakeModule *)module;
  if (!m || m->magic != MODULE_MAGIC)
    return INVALID_HANDLE;
  if (!name)
    return INVALID_VALUE;
  if (!contextCurrent())
    return INVALID_CONTEXT;
  pthread_mutex_lock(&lock);
  FakeGlobal *g = m->globals;
  while (g && strcmp(g->name, name) != 0)
    g = g->next;
  size_t size = 0;
  if (!g && imageGlobal(m->image, name, &size)) {
    g = (FakeGlobal *)calloc(1, sizeof(FakeGlobal));
    g->name = strdup(name);
    g->bytes = size;
    g->memory = (unsigned char *)calloc(size ? size : 1, 1);
    g->next = m->globals;
    m->globals = g;
  }
  if (g)
    ++counters.global_lookups;
  pthread_mutex_unlock(&lock);
  if (!g) {
    TRACE("cuModuleGetGlobal %s NOT_FOUND", name);
    return NOT_FOUND;
  }
  if (pointer)
    *pointer = (unsigned long long)(uintptr_t)g->memory;
  if (bytes)
    *bytes = g->bytes;
  TRACE("cuModuleGetGlobal %s %zu", name, g->bytes);
  return OK;
}

EXPORT unsigned char *fake_cuda_global(const void *image, const char *name,
                                       size_t *bytes) {
  unsigned char *memory = NULL;
  pthread_mutex_lock(&lock);
  for (FakeModule *m = modules; m && !memory; m = m->next) {
    if (image && m->image != image)
      continue;
    for (FakeGlobal *g = m->globals; g && !memory; g = g->next)
      if (strcmp(g->name, name) == 0) {
        memory = g->memory;
        if (bytes)
          *bytes = g->bytes;
      }
  }
  pthread_mutex_unlock(&lock);
  return memory;
}

#ifndef FAKE_CUDA_INCOMPLETE
EXPORT CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy,
                               unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared, void *stream,
                               void **params, void **extra) {
  ENTER("cuLaunchKernel");
  FakeFunction *f = (FakeFunction *)function;
  if (!f || (!params && !extra))
    return INVALID_VALUE;
  pthread_mutex_lock(&lock);
  ++counters.launches;
  counters.last_grid[0] = gx;
  counters.last_grid[1] = gy;
  counters.last_grid[2] = gz;
  counters.last_block[0] = bx;
  counters.last_block[1] = by;
  counters.last_block[2] = bz;
  snprintf(counters.last_kernel, sizeof(counters.last_kernel), "%s", f->name);
  pthread_mutex_unlock(&lock);
  (void)stream;
  TRACE("cuLaunchKernel %s grid %ux%ux%u block %ux%ux%u shared %u", f->name, gx,
        gy, gz, bx, by, bz, shared);
  return OK;
}
#endif

static CUresult allocate(unsigned long long *pointer, size_t bytes,
                         const char *call) {
  if (bytes == 0)
    return INVALID_VALUE;
  void *memory = aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!memory)
    return 2;
  *pointer = (unsigned long long)(uintptr_t)memory;
  COUNT(live_allocations, 1);
  TRACE("%s %zu", call, bytes);
  return OK;
}

static CUresult release(unsigned long long pointer, const char *call) {
  if (!pointer)
    return INVALID_VALUE;
  free((void *)(uintptr_t)pointer);
  COUNT(live_allocations, -1);
  TRACE("%s", call);
  return OK;
}

EXPORT CUresult cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
  ENTER("cuMemAlloc_v2");
  REQUIRE_INIT();
  return allocate(pointer, bytes, "cuMemAlloc");
}

static int poolTag;
static int streamTag;

EXPORT CUresult cuDeviceGetDefaultMemPool(void **pool, int device) {
  ENTER("cuDeviceGetDefaultMemPool");
  (void)device;
  *pool = &poolTag;
  return OK;
}

EXPORT CUresult cuMemPoolSetAttribute(void *pool, int attribute, void *value) {
  ENTER("cuMemPoolSetAttribute");
  if (pool != &poolTag || attribute != 4 ||
      *(unsigned long long *)value != ~0ull)
    return INVALID_VALUE;
  COUNT(pool_threshold_set, 1);
  return OK;
}

EXPORT CUresult cuMemAllocAsync(unsigned long long *pointer, size_t bytes,
                                void *stream) {
  ENTER("cuMemAllocAsync");
  if (!stream)
    return INVALID_VALUE;
  REQUIRE_INIT();
  CUresult result = allocate(pointer, bytes, "cuMemAllocAsync");
  if (result == OK)
    COUNT(async_allocations, 1);
  return result;
}

EXPORT CUresult cuMemFreeAsync(unsigned long long pointer, void *stream) {
  ENTER("cuMemFreeAsync");
  if (!stream)
    return INVALID_VALUE;
  return release(pointer, "cuMemFreeAsync");
}

EXPORT CUresult cuMemFree_v2(unsigned long long pointer) {
  ENTER("cuMemFree_v2");
  return release(pointer, "cuMemFree");
}

EXPORT CUresult cuMemcpyAsync(unsigned long long dst, unsigned long long src,
                              size_t bytes, void *stream) {
  ENTER("cuMemcpyAsync");
  (void)stream;
  memcpy((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  COUNT(bytes_copied, (int64_t)bytes);
  TRACE("cuMemcpyAsync %zu", bytes);
  return OK;
}

EXPORT CUresult cuMemcpyHtoD_v2(unsigned long long dst, const void *src,
                                size_t bytes) {
  ENTER("cuMemcpyHtoD_v2");
  REQUIRE_INIT();
  if (!dst || !src)
    return INVALID_VALUE;
  if (!contextCurrent())
    return INVALID_CONTEXT;
  memcpy((void *)(uintptr_t)dst, src, bytes);
  pthread_mutex_lock(&lock);
  ++counters.uploads;
  counters.bytes_uploaded += (int64_t)bytes;
  pthread_mutex_unlock(&lock);
  TRACE("cuMemcpyHtoD %zu", bytes);
  return OK;
}

EXPORT CUresult cuMemsetD16Async(unsigned long long dst, unsigned short value,
                                 size_t count, void *stream) {
  ENTER("cuMemsetD16Async");
  (void)stream;
  unsigned short *p = (unsigned short *)(uintptr_t)dst;
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return OK;
}

EXPORT CUresult cuMemsetD32Async(unsigned long long dst, unsigned value,
                                 size_t count, void *stream) {
  ENTER("cuMemsetD32Async");
  (void)stream;
  unsigned *p = (unsigned *)(uintptr_t)dst;
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return OK;
}

EXPORT CUresult cuStreamCreate(void **stream, unsigned flags) {
  ENTER("cuStreamCreate");
  REQUIRE_INIT();
  (void)flags;
  *stream = &streamTag;
  COUNT(live_streams, 1);
  TRACE("cuStreamCreate");
  return OK;
}

EXPORT CUresult cuStreamSynchronize(void *stream) {
  ENTER("cuStreamSynchronize");
  if (stream && stream != &streamTag)
    return INVALID_HANDLE;
  COUNT(synchronizations, 1);
  if (stream)
    TRACE("cuStreamSynchronize");
  else
    TRACE("cuStreamSynchronize (default stream)");
  return OK;
}

EXPORT CUresult cuStreamDestroy_v2(void *stream) {
  ENTER("cuStreamDestroy_v2");
  if (stream != &streamTag)
    return INVALID_HANDLE;
  COUNT(live_streams, -1);
  TRACE("cuStreamDestroy");
  return OK;
}

/* Events remember their flags and the number of kernels launched (on any
 * stream) when they were last recorded: cuEventElapsedTime reports 0.5 ms
 * per kernel between two events. */
#define EVENT_MAGIC 0x45564e
typedef struct FakeEvent {
  int magic;
  unsigned flags;
  int recorded;
  int64_t launches;
} FakeEvent;

static FakeEvent *asEvent(void *event) {
  FakeEvent *e = (FakeEvent *)event;
  return e && e->magic == EVENT_MAGIC ? e : NULL;
}

EXPORT CUresult cuStreamWaitEvent(void *stream, void *event, unsigned flags) {
  ENTER("cuStreamWaitEvent");
  (void)flags;
  return stream == &streamTag && asEvent(event) ? OK : INVALID_HANDLE;
}

EXPORT CUresult cuEventCreate(void **event, unsigned flags) {
  ENTER("cuEventCreate");
  REQUIRE_INIT();
  FakeEvent *e = (FakeEvent *)calloc(1, sizeof(FakeEvent));
  e->magic = EVENT_MAGIC;
  e->flags = flags;
  *event = e;
  COUNT(live_events, 1);
  return OK;
}

EXPORT CUresult cuEventRecord(void *event, void *stream) {
  ENTER("cuEventRecord");
  (void)stream;
  FakeEvent *e = asEvent(event);
  if (!e)
    return INVALID_HANDLE;
  pthread_mutex_lock(&lock);
  e->recorded = 1;
  e->launches = counters.launches;
  pthread_mutex_unlock(&lock);
  return OK;
}

EXPORT CUresult cuEventSynchronize(void *event) {
  ENTER("cuEventSynchronize");
  if (!asEvent(event))
    return INVALID_HANDLE;
  COUNT(synchronizations, 1);
  return OK;
}

EXPORT CUresult cuEventDestroy_v2(void *event) {
  ENTER("cuEventDestroy_v2");
  FakeEvent *e = asEvent(event);
  if (!e)
    return INVALID_HANDLE;
  e->magic = 0;
  free(e);
  COUNT(live_events, -1);
  return OK;
}

EXPORT CUresult cuEventElapsedTime(float *milliseconds, void *start,
                                   void *end) {
  ENTER("cuEventElapsedTime");
  FakeEvent *s = asEvent(start), *e = asEvent(end);
  if (!milliseconds)
    return INVALID_VALUE;
  /* As the driver: both recorded, neither without timing (flag 2). */
  if (!s || !e || !s->recorded || !e->recorded || ((s->flags | e->flags) & 2))
    return INVALID_HANDLE;
  *milliseconds = 0.5f * (float)(e->launches - s->launches);
  TRACE("cuEventElapsedTime %g ms", (double)*milliseconds);
  return OK;
}
