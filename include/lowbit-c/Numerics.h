/*===- lowbit-c/Numerics.h - C API of the numerics core -----------*- C -*-===*\
|*                                                                            *|
|* A small C interface to lowbit's quantization numerics, for the runtime    *|
|* and the Python package (ctypes). Every function returns LOWBIT_OK or an   *|
|* error code; lowbit_last_error() then gives a message naming the problem   *|
|* (per thread, valid until the next call on that thread). Names of formats  *|
|* and types are the lower-case spellings of the MLIR syntax ("nf4", "f16",  *|
|* "dyn8", "q4_k", ...).                                                     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef LOWBIT_C_NUMERICS_H
#define LOWBIT_C_NUMERICS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; export exactly this API. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

enum {
  LOWBIT_OK = 0,
  LOWBIT_ERROR_INVALID_ARGUMENT = 1,
};

/** Mirrors lowbit::numerics::Scheme; enum fields hold the C++ enum values
 *  (fill it with lowbit_scheme_init rather than by hand). */
typedef struct lowbit_scheme {
  int32_t format;
  int32_t scale_type;
  int32_t zero_point;
  int32_t double_quant;
  int64_t block_size; /* 0: one block per row */
  int64_t double_quant_block_size;
  float lut[16];
} lowbit_scheme;

typedef struct lowbit_layout {
  int64_t rows, k, blocks_per_row;
  uint64_t row_bytes;
  uint64_t codes_offset, codes_size;
  uint64_t scales_offset, scales_size;
  uint64_t scale_scales_offset, scale_scales_size;
  uint64_t scale_offset_offset, scale_offset_size;
  uint64_t zero_points_offset, zero_points_size;
  uint64_t total_bytes;
} lowbit_layout;

typedef struct lowbit_error_stats {
  int64_t count, skipped;
  double max_abs, rms, snr_db;
} lowbit_error_stats;

const char *lowbit_last_error(void);

/** zero_point and double_quant may be NULL or "none"; lut may be NULL
 *  (required for format "lut"). */
int lowbit_scheme_init(lowbit_scheme *scheme, const char *format,
                       int64_t block_size, const char *scale_type,
                       const char *zero_point, const char *double_quant,
                       int64_t double_quant_block_size, const float *lut);

int lowbit_compute_layout(const lowbit_scheme *scheme, int64_t rows, int64_t k,
                          lowbit_layout *layout);

/** src_type / dst_type: "f32", "f16" or "bf16". threads 0: all cores. */
int lowbit_quantize(const lowbit_scheme *scheme, const void *src,
                    const char *src_type, int64_t rows, int64_t k, uint8_t *dst,
                    uint64_t dst_size, uint32_t threads);
/** GPTQ (lowbit/Numerics/Gptq.h): w is f32 [rows x k], hessian f32
 *  [k x k] (sum of x x^T over calibration inputs); act_order and
 *  clip_search are 0 or 1; refine_sweeps coordinate-descent passes follow
 *  (0: none). */
int lowbit_quantize_gptq(const lowbit_scheme *scheme, const float *w,
                         int64_t rows, int64_t k, const float *hessian,
                         double damping, int act_order, int clip_search,
                         uint32_t refine_sweeps, uint8_t *dst,
                         uint64_t dst_size, uint32_t threads);
/** GPTQ's weight target for asymmetric calibration
 *  (lowbit/Numerics/Gptq.h asymmetricTarget): hessian is sum x~ x~^T over
 *  the quantized model's inputs, cross is sum x~ x^T with the float
 *  model's; out = (1 - blend) w + blend t, t (hessian + D) = w cross^T +
 *  w D with D the GPTQ damping of the diagonal. out may be w. */
int lowbit_gptq_asymmetric_target(const float *w, int64_t rows, int64_t k,
                                  const float *hessian, const float *cross,
                                  double damping, double blend, float *out,
                                  uint32_t threads);
/** Rotates each row of data [rows x k] in place by the blockwise
 *  normalized Hadamard matrix (lowbit/Numerics/Hadamard.h). */
int lowbit_hadamard_rotate(float *data, int64_t rows, int64_t k,
                           int64_t block_size, uint32_t threads);
int lowbit_dequantize(const lowbit_scheme *scheme, const uint8_t *src,
                      uint64_t src_size, int64_t rows, int64_t k, void *dst,
                      const char *dst_type, uint32_t threads);
/** rows * blocks_per_row f32 scales after undoing double quantization. */
int lowbit_decode_scales(const lowbit_scheme *scheme, const uint8_t *src,
                         uint64_t src_size, int64_t rows, int64_t k,
                         float *scales, uint64_t capacity);

int lowbit_error_stats_compute(const float *reference, const float *approx,
                               int64_t n, lowbit_error_stats *stats);
int lowbit_bits_per_parameter(const lowbit_scheme *scheme, int64_t rows,
                              int64_t k, double *bits);
double lowbit_nominal_bits_per_parameter(const lowbit_scheme *scheme);

/** Value of each code before scaling (2^bits entries). */
int lowbit_code_values(const lowbit_scheme *scheme, float *values,
                       uint64_t capacity, uint64_t *count);
/** Named tables: "nf4", "fp4" (16 entries), "fp8", "dyn8" (256). */
int lowbit_named_table(const char *name, float *values, uint64_t capacity,
                       uint64_t *count);

/** "scalar", "avx2", "avx512". */
int lowbit_set_isa(const char *name);
const char *lowbit_active_isa(void);
const char *lowbit_detected_isa(void);

/* GGUF: type "q4_0", "q4_1", "q8_0" or "q4_k". */
int lowbit_gguf_tensor_bytes(const char *type, int64_t rows, int64_t k,
                             uint64_t *bytes);
int lowbit_gguf_canonical_scheme(const char *type, lowbit_scheme *scheme);
int lowbit_gguf_quantize(const char *type, const float *src, int64_t rows,
                         int64_t k, uint8_t *dst, uint64_t dst_size,
                         uint32_t threads);
int lowbit_gguf_to_canonical(const char *type, const uint8_t *src,
                             uint64_t src_size, int64_t rows, int64_t k,
                             uint8_t *dst, uint64_t dst_size);
int lowbit_canonical_to_gguf(const char *type, const uint8_t *src,
                             uint64_t src_size, int64_t rows, int64_t k,
                             uint8_t *dst, uint64_t dst_size);

/* bitsandbytes NF4 with double quantization. */
int lowbit_bnb_nf4_sizes(int64_t rows, int64_t k, int64_t block_size,
                         int64_t nested_block_size, uint64_t *packed_bytes,
                         uint64_t *absmax_count, uint64_t *nested_absmax_count);
int lowbit_bnb_nf4_scheme(int64_t block_size, int64_t nested_block_size,
                          lowbit_scheme *scheme);
/** nested_code (256) and quant_map (16) may be NULL to skip their check. */
int lowbit_bnb_nf4_to_canonical(const uint8_t *packed, uint64_t packed_bytes,
                                const uint8_t *absmax, uint64_t absmax_count,
                                const float *nested_absmax,
                                uint64_t nested_absmax_count, float offset,
                                const float *nested_code,
                                const float *quant_map, int64_t rows, int64_t k,
                                int64_t block_size, int64_t nested_block_size,
                                uint8_t *dst, uint64_t dst_size);
/** nested_code and quant_map may be NULL. */
int lowbit_canonical_to_bnb_nf4(const lowbit_scheme *scheme, const uint8_t *src,
                                uint64_t src_size, int64_t rows, int64_t k,
                                uint8_t *packed, uint64_t packed_bytes,
                                uint8_t *absmax, uint64_t absmax_count,
                                float *nested_absmax,
                                uint64_t nested_absmax_count, float *offset,
                                float *nested_code, float *quant_map);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* LOWBIT_C_NUMERICS_H */
