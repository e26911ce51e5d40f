/*===- FakeArtifact.c - A hand-written lowbit artifact for tests ---------===*\
|*                                                                            *|
|* Implements the artifact ABI of docs/Runtime.md by hand, so the runtime    *|
|* and lowbit-run can be tested without the compiler:                        *|
|*   add_bias(x: f32[2,3]) -> f32[2,3]        x + the weight "bias"          *|
|*   mix(a: i64[4], s: i8[]) -> (i64[4], f64[], i32[0,2])                    *|
|*                                            (a * s, sum of a, nothing)     *|
|*   halves(h: f16[3], b: bf16[3]) -> (f16[3], bf16[3])   copies             *|
|*   fail(code: i32[]) -> f32[1]              returns `code` with a message  *|
|*   threads() -> i32[]                       omp_get_max_threads()          *|
|*                                            (only with FAKE_OPENMP)        *|
|* Weights: "bias" (24 bytes, align 64) and "table" (100 bytes, align 16).   *|
|*                                                                            *|
|* The environment variable LOWBIT_FAKE_MANIFEST, when set, replaces the     *|
|* manifest text ("<null>" makes the manifest function return NULL), so     *|
|* tests can hand the runtime hostile manifests. FAKE_PREFIX (a macro)       *|
|* changes the export prefix.                                                *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAKE_PREFIX
#define FAKE_PREFIX lowbit_
#endif
#define FAKE_CAT2(a, b) a##b
#define FAKE_CAT(a, b) FAKE_CAT2(a, b)
#define SYM(name) FAKE_CAT(FAKE_PREFIX, name)
#define FAKE_STR2(a) #a
#define FAKE_STR(a) FAKE_STR2(a)
#define PREFIX_STR FAKE_STR(FAKE_PREFIX)

#define EXPORT __attribute__((visibility("default")))

#ifdef FAKE_OPENMP
int omp_get_max_threads(void);
#define THREADS_ENTRY                                                          \
  ",{\"name\":\"threads\",\"symbol\":\"" PREFIX_STR                            \
  "threads\",\"packed_symbol\":\"" PREFIX_STR "threads_packed\","              \
  "\"args\":[],\"results\":[{\"name\":\"result0\",\"dtype\":\"i32\","          \
  "\"shape\":[]}]}"
#else
#define THREADS_ENTRY ""
#endif

static const char manifestText[] =
    "{\"format\":\"lowbit-artifact\",\"version\":1,\"prefix\":\"" PREFIX_STR
    "\",\"target\":\"cpu\",\"entries\":["
    "{\"name\":\"add_bias\",\"symbol\":\"" PREFIX_STR
    "add_bias\",\"packed_symbol\":\"" PREFIX_STR "add_bias_packed\","
    "\"args\":[{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[2,3]}],"
    "\"results\":[{\"name\":\"result0\",\"dtype\":\"f32\",\"shape\":[2,3]}]},"
    "{\"name\":\"mix\",\"symbol\":\"" PREFIX_STR
    "mix\",\"packed_symbol\":\"" PREFIX_STR "mix_packed\","
    "\"args\":[{\"name\":\"a\",\"dtype\":\"i64\",\"shape\":[4]},"
    "{\"name\":\"s\",\"dtype\":\"i8\",\"shape\":[]}],"
    "\"results\":[{\"name\":\"result0\",\"dtype\":\"i64\",\"shape\":[4]},"
    "{\"name\":\"result1\",\"dtype\":\"f64\",\"shape\":[]},"
    "{\"name\":\"result2\",\"dtype\":\"i32\",\"shape\":[0,2]}]},"
    "{\"name\":\"halves\",\"symbol\":\"" PREFIX_STR
    "halves\",\"packed_symbol\":\"" PREFIX_STR "halves_packed\","
    "\"args\":[{\"name\":\"h\",\"dtype\":\"f16\",\"shape\":[3]},"
    "{\"name\":\"b\",\"dtype\":\"bf16\",\"shape\":[3]}],"
    "\"results\":[{\"name\":\"result0\",\"dtype\":\"f16\",\"shape\":[3]},"
    "{\"name\":\"result1\",\"dtype\":\"bf16\",\"shape\":[3]}]},"
    "{\"name\":\"fail\",\"symbol\":\"" PREFIX_STR
    "fail\",\"packed_symbol\":\"" PREFIX_STR "fail_packed\","
    "\"args\":[{\"name\":\"code\",\"dtype\":\"i32\",\"shape\":[]}],"
    "\"results\":[{\"name\":\"result0\",\"dtype\":\"f32\",\"shape\":[1]}]"
    "}" THREADS_ENTRY
    "],\"weights\":[{\"name\":\"bias\",\"bytes\":24,\"align\":64},"
    "{\"name\":\"table\",\"bytes\":100,\"align\":16}]}";

/* A data symbol, for the test that a manifest may only name functions. */
EXPORT int SYM(data_symbol) = 1;

static __thread const char *message;
static __thread char messageBuffer[128];

static int failWith(int code, const char *text) {
  message = text;
  return code;
}

EXPORT const char *SYM(last_error)(void) { return message ? message : ""; }

EXPORT const char *SYM(manifest)(void) {
  const char *override = getenv("LOWBIT_FAKE_MANIFEST");
  if (override)
    return strcmp(override, "<null>") == 0 ? NULL : override;
  return manifestText;
}

static const float *bias;
static const uint8_t *table;

EXPORT int SYM(bind_weights)(const void *const *pointers, const int64_t *sizes,
                             int64_t count) {
  message = NULL;
  if (count != 2)
    return failWith(4, "bind_weights: expected 2 weights");
  if (!pointers || !sizes || !pointers[0] || !pointers[1])
    return failWith(4, "bind_weights: NULL pointer");
  if (sizes[0] != 24 || sizes[1] != 100)
    return failWith(4, "bind_weights: wrong size");
  if ((uintptr_t)pointers[0] % 64 || (uintptr_t)pointers[1] % 16)
    return failWith(4, "bind_weights: misaligned");
  bias = (const float *)pointers[0];
  table = (const uint8_t *)pointers[1];
  return 0;
}

/* Checks buffers like a compiled entry point: a NULL pointer only for an
 * empty buffer, exact element counts. */
static int checkBuffers(void *const *buffers, const int64_t *lens,
                        const int64_t *expected, int n, const char *entry) {
  message = NULL;
  if (!buffers || !lens)
    return failWith(1, "NULL buffer table");
  for (int i = 0; i < n; ++i) {
    if (lens[i] != expected[i]) {
      snprintf(messageBuffer, sizeof(messageBuffer),
               "%s: buffer %d: length %lld, expected %lld", entry, i,
               (long long)lens[i], (long long)expected[i]);
      return failWith(2, messageBuffer);
    }
    if (!buffers[i] && expected[i] != 0)
      return failWith(1, "NULL buffer");
  }
  return 0;
}

EXPORT int SYM(add_bias_packed)(void *const *buffers, const int64_t *lens) {
  static const int64_t expected[] = {6, 6};
  int rc = checkBuffers(buffers, lens, expected, 2, "add_bias");
  if (rc)
    return rc;
  if (!bias)
    return failWith(3, "add_bias: weights are not bound");
  const float *x = (const float *)buffers[0];
  float *y = (float *)buffers[1];
  for (int i = 0; i < 6; ++i)
    y[i] = x[i] + bias[i];
  return 0;
}

EXPORT int SYM(add_bias)(const float *x, int64_t x_len, float *result0,
                         int64_t result0_len) {
  void *buffers[] = {(void *)(uintptr_t)x, result0};
  int64_t lens[] = {x_len, result0_len};
  return SYM(add_bias_packed)(buffers, lens);
}

EXPORT int SYM(mix_packed)(void *const *buffers, const int64_t *lens) {
  static const int64_t expected[] = {4, 1, 4, 1, 0};
  int rc = checkBuffers(buffers, lens, expected, 5, "mix");
  if (rc)
    return rc;
  const int64_t *a = (const int64_t *)buffers[0];
  int8_t s = *(const int8_t *)buffers[1];
  int64_t *r0 = (int64_t *)buffers[2];
  double *r1 = (double *)buffers[3];
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    r0[i] = a[i] * s;
    sum += (double)a[i];
  }
  *r1 = sum;
  return 0;
}

EXPORT int SYM(mix)(const int64_t *a, int64_t a_len, const int8_t *s,
                    int64_t s_len, int64_t *result0, int64_t result0_len,
                    double *result1, int64_t result1_len, int32_t *result2,
                    int64_t result2_len) {
  void *buffers[] = {(void *)(uintptr_t)a, (void *)(uintptr_t)s, result0,
                     result1, result2};
  int64_t lens[] = {a_len, s_len, result0_len, result1_len, result2_len};
  return SYM(mix_packed)(buffers, lens);
}

EXPORT int SYM(halves_packed)(void *const *buffers, const int64_t *lens) {
  static const int64_t expected[] = {3, 3, 3, 3};
  int rc = checkBuffers(buffers, lens, expected, 4, "halves");
  if (rc)
    return rc;
  memcpy(buffers[2], buffers[0], 6);
  memcpy(buffers[3], buffers[1], 6);
  return 0;
}

EXPORT int SYM(halves)(const uint16_t *h, int64_t h_len, const uint16_t *b,
                       int64_t b_len, uint16_t *result0, int64_t result0_len,
                       uint16_t *result1, int64_t result1_len) {
  void *buffers[] = {(void *)(uintptr_t)h, (void *)(uintptr_t)b, result0,
                     result1};
  int64_t lens[] = {h_len, b_len, result0_len, result1_len};
  return SYM(halves_packed)(buffers, lens);
}

EXPORT int SYM(fail_packed)(void *const *buffers, const int64_t *lens) {
  static const int64_t expected[] = {1, 1};
  int rc = checkBuffers(buffers, lens, expected, 2, "fail");
  if (rc)
    return rc;
  int32_t code = *(const int32_t *)buffers[0];
  *(float *)buffers[1] = (float)code;
  if (code == 0)
    return 0;
  snprintf(messageBuffer, sizeof(messageBuffer),
           "fail: asked to fail with code %d", (int)code);
  return failWith(code, messageBuffer);
}

EXPORT int SYM(fail)(const int32_t *code, int64_t code_len, float *result0,
                     int64_t result0_len) {
  void *buffers[] = {(void *)(uintptr_t)code, result0};
  int64_t lens[] = {code_len, result0_len};
  return SYM(fail_packed)(buffers, lens);
}

#ifdef FAKE_OPENMP
EXPORT int SYM(threads_packed)(void *const *buffers, const int64_t *lens) {
  static const int64_t expected[] = {1};
  int rc = checkBuffers(buffers, lens, expected, 1, "threads");
  if (rc)
    return rc;
  *(int32_t *)buffers[0] = omp_get_max_threads();
  return 0;
}

EXPORT int SYM(threads)(int32_t *result0, int64_t result0_len) {
  void *buffers[] = {result0};
  int64_t lens[] = {result0_len};
  return SYM(threads_packed)(buffers, lens);
}
#endif
