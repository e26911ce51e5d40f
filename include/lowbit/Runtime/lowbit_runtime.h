/*===- lowbit/Runtime/lowbit_runtime.h - Loads compiled artifacts -*- C -*-===*\
|*                                                                            *|
|* The lowbit runtime opens a shared library written by                      *|
|* `lowbit-compile --target=cpu model.mlir -o model.so`, checks its manifest  *|
|* (entry points, tensor shapes and types, weights), maps and validates its  *|
|* weights file, binds the weights, and calls its entry points. It needs     *|
|* only the C and C++ standard libraries and libdl: no LLVM, no MLIR.        *|
|*                                                                            *|
|* Functions returning int return LOWBIT_RT_OK (0) or an error code;         *|
|* lowbit_runtime_last_error() then says what went wrong, naming the file    *|
|* and the field. docs/Runtime.md describes the artifact format.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef LOWBIT_RUNTIME_LOWBIT_RUNTIME_H
#define LOWBIT_RUNTIME_LOWBIT_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The manifest version this runtime reads. */
#define LOWBIT_RUNTIME_MANIFEST_VERSION 1

/* Return codes. 1-4 are the codes of the artifacts' own entry points and
 * mean the same thing when lowbit_artifact_run passes them on. */
enum lowbit_rt_status {
  LOWBIT_RT_OK = 0,
  LOWBIT_RT_ERROR_NULL_POINTER = 1,      /* a required pointer is NULL */
  LOWBIT_RT_ERROR_BAD_LENGTH = 2,        /* the artifact rejected a length */
  LOWBIT_RT_ERROR_WEIGHTS_NOT_BOUND = 3, /* the artifact has no weights */
  LOWBIT_RT_ERROR_BAD_WEIGHTS = 4,       /* the artifact refused the weights */
  LOWBIT_RT_ERROR_INVALID_ARGUMENT = 5,  /* index out of range, bad count,
                                            misaligned buffer, ... */
  LOWBIT_RT_ERROR_LOAD = 6,              /* dlopen or a symbol failed */
  LOWBIT_RT_ERROR_BAD_MANIFEST = 7,      /* the manifest is invalid */
  LOWBIT_RT_ERROR_WEIGHTS_FILE = 8,      /* the weights file is missing or
                                            does not match the manifest */
  LOWBIT_RT_ERROR_ALREADY_OPEN = 9,      /* the library is open with other
                                            weights or another prefix */
  LOWBIT_RT_ERROR_ENTRY_FAILED = 10,     /* an entry point returned a code
                                            the runtime does not know */
  LOWBIT_RT_ERROR_OUT_OF_MEMORY = 11,
  LOWBIT_RT_ERROR_DEVICE = 12 /* a cuda artifact's GPU or CUDA
                                 runtime failed (its code 5) */
};

/* Element types of entry-point buffers. f16 and bf16 are raw 16-bit
 * patterns (uint16_t). */
enum lowbit_rt_dtype {
  LOWBIT_RT_F32 = 1,
  LOWBIT_RT_F64 = 2,
  LOWBIT_RT_F16 = 3,
  LOWBIT_RT_BF16 = 4,
  LOWBIT_RT_I8 = 5,
  LOWBIT_RT_I32 = 6,
  LOWBIT_RT_I64 = 7
};

/* An open artifact: the loaded library, its manifest and its weights. */
typedef struct lowbit_artifact lowbit_artifact;

/* One argument or result of an entry point. Pointers stay valid until the
 * artifact is closed. */
typedef struct lowbit_tensor_info {
  const char *name;     /* "x", "result0", ... */
  const char *dtype;    /* "f32", "f64", "f16", "bf16", "i8", "i32", "i64" */
  int32_t dtype_code;   /* enum lowbit_rt_dtype */
  int32_t rank;         /* 0 for a scalar (one element) */
  const int64_t *shape; /* rank dimensions, row-major */
  int64_t num_elements; /* product of the shape */
  int64_t element_size; /* bytes per element */
  int64_t num_bytes;    /* num_elements * element_size */
} lowbit_tensor_info;

/* The message of the last runtime call on the calling thread that failed,
 * or "" after one that succeeded. Valid until the next runtime call on the
 * thread. (Artifacts export their own <prefix>last_error.) */
const char *lowbit_runtime_last_error(void);

/* Opens the artifact library_path (a path without '/' means the file in the
 * current directory, not a search of the library path).
 *
 * prefix: the artifact's export prefix (`lowbit-compile --prefix`); NULL
 * means "lowbit_". The runtime calls <prefix>manifest() and checks the
 * manifest completely before anything else: every field, that every symbol
 * it names is defined by the library itself, shapes, names.
 *
 * weights_path: the weights file. NULL means the library path with its
 * extension replaced by ".weights.safetensors" (model.so ->
 * model.weights.safetensors, as lowbit-compile writes it) when the manifest
 * lists weights, and none otherwise; a weights file for an artifact without
 * weights is an error. The file is memory-mapped, checked against the
 * manifest (every weight present, U8, padded size, alignment) and bound
 * with <prefix>bind_weights; it stays mapped until the artifact is closed.
 * If OpenMP symbols are missing when the library is loaded, the runtime
 * loads LLVM's OpenMP runtime ($LOWBIT_OPENMP_LIBRARY, libomp.so.5 or
 * libomp.so) and tries again.
 *
 * Opening a library that is already open in this process (dlopen gives the
 * same handle, whatever the path) shares the open state when the prefix and
 * the weights file (same device and inode) are the same, and fails with
 * LOWBIT_RT_ERROR_ALREADY_OPEN otherwise: the artifact's weight table is
 * process-global. Each successful open needs one close.
 *
 * On success *out is the artifact; on failure *out is NULL. */
int lowbit_artifact_open(const char *library_path, const char *weights_path,
                         const char *prefix, lowbit_artifact **out);

/* Closes an artifact (NULL is ignored). The library is unloaded and the
 * weights unmapped when its last opener closes it. No entry point of it may
 * be running. */
void lowbit_artifact_close(lowbit_artifact *artifact);

/* The library path as given, the weights file used ("" when none), the
 * manifest's JSON text and its prefix. NULL for a NULL artifact. */
const char *lowbit_artifact_path(const lowbit_artifact *artifact);
const char *lowbit_artifact_weights_path(const lowbit_artifact *artifact);
const char *lowbit_artifact_manifest(const lowbit_artifact *artifact);
const char *lowbit_artifact_prefix(const lowbit_artifact *artifact);

/* Weights the manifest lists and their total size in bytes (unpadded);
 * -1 for a NULL artifact. */
int64_t lowbit_artifact_weight_count(const lowbit_artifact *artifact);
int64_t lowbit_artifact_weight_bytes(const lowbit_artifact *artifact);

/* Entry points, in manifest order; -1 for a NULL artifact. */
int64_t lowbit_artifact_entry_count(const lowbit_artifact *artifact);
/* NULL when entry is out of range. */
const char *lowbit_artifact_entry_name(const lowbit_artifact *artifact,
                                       int64_t entry);
/* The index of the entry named name, or -1. */
int64_t lowbit_artifact_find_entry(const lowbit_artifact *artifact,
                                   const char *name);
/* Arguments and results of an entry; -1 when entry is out of range. */
int64_t lowbit_artifact_arg_count(const lowbit_artifact *artifact,
                                  int64_t entry);
int64_t lowbit_artifact_result_count(const lowbit_artifact *artifact,
                                     int64_t entry);
int lowbit_artifact_arg_info(const lowbit_artifact *artifact, int64_t entry,
                             int64_t index, lowbit_tensor_info *out);
int lowbit_artifact_result_info(const lowbit_artifact *artifact, int64_t entry,
                                int64_t index, lowbit_tensor_info *out);

/* Calls an entry point: args[i] points to arg_info(i).num_bytes bytes,
 * results[i] to result_info(i).num_bytes bytes, each dense, row-major and
 * aligned to its element size (a buffer of zero elements may be NULL; args
 * or results may be NULL when there are none). Results must not overlap
 * each other or the arguments. Returns LOWBIT_RT_OK, the entry's own code
 * (1-4) with its message, LOWBIT_RT_ERROR_DEVICE with the CUDA runtime's
 * message when a cuda artifact's device code fails (its code 5),
 * LOWBIT_RT_ERROR_ENTRY_FAILED for any other code,
 * or LOWBIT_RT_ERROR_INVALID_ARGUMENT / _NULL_POINTER when the runtime
 * rejects the call before making it. Safe to call from several threads at
 * once. */
int lowbit_artifact_run(const lowbit_artifact *artifact, int64_t entry,
                        const void *const *args, void *const *results);

/* Threads for the OpenMP parallel regions of compiled code: n >= 1 is
 * passed to omp_set_num_threads on the calling thread of every later
 * lowbit_artifact_run (and now, when OpenMP is loaded); 0 stops doing so
 * (OpenMP's own setting, e.g. OMP_NUM_THREADS, applies). Code compiled with
 * a fixed thread count (`threads=N` pipeline option) ignores it. Artifacts
 * without threads ignore it too. Returns LOWBIT_RT_ERROR_INVALID_ARGUMENT
 * for n < 0. */
int lowbit_set_num_threads(int n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_RUNTIME_LOWBIT_RUNTIME_H */
