#pragma once
#include <cstdint>

/** which kernel the row-exact float32 product runs: avx512f, avx2 or portable (isa.h) */
const char* f32exact_kernel();
/** out[r·ldo + o] = Σ_j x[r, j]·W[o, j] in the fixed order of exact-order.h; W float32 */
void f32exact_gemm(float* out, long ldo, const float* x, long rows, const float* w, long m, long n, int threads);
/** the same with W float16, widened exactly as it is read: the bits of f32exact_gemm on the widened W */
void f16exact_gemm(float* out, long ldo, const float* x, long rows, const uint16_t* w, long m, long n, int threads);
