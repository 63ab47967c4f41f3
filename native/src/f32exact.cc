// The row-exact float32 product (exact-order.h): lane l of 16 accumulates inputs l, l + 16, l + 32, … of each
// block with fused multiply-adds, IEEE throughout (no flushing), and the lanes are summed by the fixed tree. The
// AVX-512F, AVX2 and portable kernels perform the same operations, so they give the same bits, and a row gives
// the same bits alone, in a batch of thousands, or as a patch of a few output features: the fast path then
// equals the plain path without re-checks on every CPU. Weights are float32, or float16 widened exactly as they
// are read (F16C), which gives the bits of the same product on the widened matrix.
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <omp.h>
#include "exact-order.h"
#include "f32exact.h"
#include "isa.h"
#include "simd.h"

namespace {


template <typename W>
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) inline __m512 load16(const W* p, __mmask16 m) {
  if constexpr (sizeof(W) == 4) return _mm512_maskz_loadu_ps(m, p);
  else return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

template <typename W, int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"), always_inline)) inline void step_512(__m512 (&acc)[MR][NR], const float* x, long ldx, const W* w, long ldw, long k, __mmask16 m) {
  __m512 wv[NR];
#pragma GCC unroll 8
  for (int j = 0; j < NR; j++) wv[j] = load16(w + j * ldw + k, m);
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++) {
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
  }
}

template <typename W, int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) void tile_512(const float* x, long ldx, const W* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const long full = k0 + ((k1 - k0) & ~15L);
  for (long k = k0; k < full; k += 16) step_512<W, MR, NR>(acc, x, ldx, w, ldw, k, (__mmask16)0xffff);
  // the tail, zero-padded: the padding adds +0 in every lane, as the other kernels' padding does
  if (full < k1) step_512<W, MR, NR>(acc, x, ldx, w, ldw, full, (__mmask16)((1u << (k1 - full)) - 1));
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      const float s = simd::hsum16(acc[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

template <typename W>
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const W* p, long left) {
  // left: inputs from p to the end of the block (≤ 0: all padding)
  if (left >= 8) {
    if constexpr (sizeof(W) == 4) return _mm256_loadu_ps(p);
    else return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p));
  }
  alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (long i = 0; i < left; i++) {
    if constexpr (sizeof(W) == 4) t[i] = p[i];
    else t[i] = _cvtsh_ss(p[i]);
  }
  return _mm256_load_ps(t);
}

// One half of the 16 lanes (lanes 8h … 8h + 7: inputs 8h … 8h + 7 of every 16) over the block. The halves never
// meet until the lanes are summed, so they run one after the other: twice the tile in 16 registers, and the
// second half finds the tile's inputs in L1.
template <typename W, int MR, int NR>
__attribute__((target("avx2,fma,f16c"))) void half_256(const float* x, long ldx, const W* w, long ldw, long k0, long k1, int h, __m256 (&out)[MR][NR]) {
  // accumulated in a local array (registers), not in `out`, which the compiler must assume the loads may alias
  __m256 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  const long full = k0 + ((k1 - k0) & ~15L);
  for (long k = k0 + 8 * h; k < full; k += 16) {
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) wv[j] = load8(w + j * ldw + k, 8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m256 xv = _mm256_loadu_ps(x + i * ldx + k);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (full < k1) {
    // the tail, zero-padded as the other kernels pad it
    const long k = full + 8 * h, left = k1 - k;
    __m256 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) wv[j] = load8(w + j * ldw + k, left);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m256 xv = load8(x + i * ldx + k, left);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) out[i][j] = acc[i][j];
}

template <typename W, int MR, int NR>
__attribute__((target("avx2,fma,f16c"))) void tile_256(const float* x, long ldx, const W* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  __m256 lo[MR][NR], hi[MR][NR];
  half_256<W, MR, NR>(x, ldx, w, ldw, k0, k1, 0, lo);
  half_256<W, MR, NR>(x, ldx, w, ldw, k0, k1, 1, hi);
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      const float s = simd::hsum8x2(lo[i][j], hi[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  uint32_t u;
  if (e == 0x1f) u = sign | 0x7f800000u | (m << 13);
  else if (e != 0) u = sign | ((e + 112) << 23) | (m << 13);
  else if (m == 0) u = sign;
  else {
    // subnormal: m · 2^-24, exact in float
    float f = std::ldexp((float)m, -24);
    std::memcpy(&u, &f, 4);
    u |= sign;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <typename W, int MR, int NR>
void tile_scalar(const float* x, long ldx, const W* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  float acc[MR][NR][16] = {};
  for (long k = k0; k < k1; k += 16)
    for (int l = 0; l < 16; l++) {
      const bool in = k + l < k1;
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) {
        float wv = 0.0f;
        if (in) {
          if constexpr (sizeof(W) == 4) wv = w[j * ldw + k + l];
          else wv = f16_to_f32(w[j * ldw + k + l]);
        }
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) acc[i][j][l] = std::fma(in ? x[i * ldx + k + l] : 0.0f, wv, acc[i][j][l]);
      }
    }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      const float s = exact::tree16(acc[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

template <typename W>
using TileFn = void (*)(const float*, long, const W*, long, float*, long, long, long, bool);

#define F32_PICK(F, W, m, n, out)                                                                            \
  switch (m * 10 + n) {                                                                                      \
    case 11: out = F<W, 1, 1>; break; case 12: out = F<W, 1, 2>; break; case 13: out = F<W, 1, 3>; break;    \
    case 14: out = F<W, 1, 4>; break; case 15: out = F<W, 1, 5>; break; case 16: out = F<W, 1, 6>; break;    \
    case 21: out = F<W, 2, 1>; break; case 22: out = F<W, 2, 2>; break; case 23: out = F<W, 2, 3>; break;    \
    case 24: out = F<W, 2, 4>; break; case 25: out = F<W, 2, 5>; break; case 26: out = F<W, 2, 6>; break;    \
    case 31: out = F<W, 3, 1>; break; case 32: out = F<W, 3, 2>; break; case 33: out = F<W, 3, 3>; break;    \
    case 34: out = F<W, 3, 4>; break; case 35: out = F<W, 3, 5>; break; case 36: out = F<W, 3, 6>; break;    \
    case 41: out = F<W, 4, 1>; break; case 42: out = F<W, 4, 2>; break; case 43: out = F<W, 4, 3>; break;    \
    case 44: out = F<W, 4, 4>; break; case 45: out = F<W, 4, 5>; break; default: out = F<W, 4, 6>; break;    \
  }

template <typename W>
struct Kernel {
  int mr, nr;
  TileFn<W> fn[4][6];
};

template <typename W>
Kernel<W> make(Isa level) {
  Kernel<W> k{};
  // AVX2 has 16 registers: 2 × MR × NR accumulators and 2 × NR weights
  // registers: AVX-512 32 (MR × NR accumulators, NR weights, one input), AVX2 16 (the same per half)
  if (level >= Isa::avx512f) k.mr = 4, k.nr = 6;
  else if (level == Isa::avx2) k.mr = 4, k.nr = 3;
  else k.mr = 2, k.nr = 2;
  for (int m = 1; m <= k.mr; m++)
    for (int n = 1; n <= k.nr; n++) {
      TileFn<W> f = nullptr;
      if (level >= Isa::avx512f) { F32_PICK(tile_512, W, m, n, f) }
      else if (level == Isa::avx2) { F32_PICK(tile_256, W, m, n, f) }
      else { F32_PICK(tile_scalar, W, m, n, f) }
      k.fn[m - 1][n - 1] = f;
    }
  return k;
}

template <typename W>
const Kernel<W>& kernel() {
  static const Kernel<W> k = make<W>(isa_level());
  return k;
}

// One row of x (a decoding step) against NR whole rows of W: the operations of the tiles above in the same
// order (each block reduced by the lane tree, the blocks added in order), so the same bits, but each weight row
// is read from its start to its end. The tiles' order, every block of a chunk of rows before the next block,
// sends a single row's reads to another row every kBlock inputs; read whole, the rows are NR sequential
// streams, which the hardware prefetches (exact-order.h, for_each_row_group): 1B-shaped F32 decoding went from
// 0.72× llama.cpp's speed to 1.00× (docs/benchmarks.md). Four rows: fewer streams than the prefetchers track, enough independent additions.
template <typename W, int NR>
__attribute__((target("avx512f,avx512bw,avx512vl,f16c"))) void rows_512(const float* x, const W* w, long ldw, float* out, long n) {
  float sum[NR];
  for (long k0 = 0; k0 < n; k0 += exact::kBlock) {
    const long k1 = k0 + exact::kBlock < n ? k0 + exact::kBlock : n;
    __m512 acc[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[j] = _mm512_setzero_ps();
    const long full = k0 + ((k1 - k0) & ~15L);
    for (long k = k0; k < full; k += 16) {
      const __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[j] = _mm512_fmadd_ps(xv, load16(w + j * ldw + k, (__mmask16)0xffff), acc[j]);
    }
    if (full < k1) {
      // the tail, zero-padded as the tiles pad it
      const __mmask16 m = (__mmask16)((1u << (k1 - full)) - 1);
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + full);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[j] = _mm512_fmadd_ps(xv, load16(w + j * ldw + full, m), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      const float s = simd::hsum16(acc[j]);
      sum[j] = k0 == 0 ? s : sum[j] + s;
    }
  }
  for (int j = 0; j < NR; j++) out[j] = sum[j];
}

// The same for AVX2: both halves of the 16 lanes in one pass (NR × 2 accumulators), the lanes summed as
// tile_256 sums them.
template <typename W, int NR>
__attribute__((target("avx2,fma,f16c"))) void rows_256(const float* x, const W* w, long ldw, float* out, long n) {
  float sum[NR];
  for (long k0 = 0; k0 < n; k0 += exact::kBlock) {
    const long k1 = k0 + exact::kBlock < n ? k0 + exact::kBlock : n;
    __m256 lo[NR], hi[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) lo[j] = hi[j] = _mm256_setzero_ps();
    const long full = k0 + ((k1 - k0) & ~15L);
    for (long k = k0; k < full; k += 16) {
      const __m256 xl = _mm256_loadu_ps(x + k), xh = _mm256_loadu_ps(x + k + 8);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) {
        lo[j] = _mm256_fmadd_ps(xl, load8(w + j * ldw + k, 8), lo[j]);
        hi[j] = _mm256_fmadd_ps(xh, load8(w + j * ldw + k + 8, 8), hi[j]);
      }
    }
    if (full < k1) {
      const long left = k1 - full;
      const __m256 xl = load8(x + full, left), xh = load8(x + full + 8, left - 8);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) {
        lo[j] = _mm256_fmadd_ps(xl, load8(w + j * ldw + full, left), lo[j]);
        hi[j] = _mm256_fmadd_ps(xh, load8(w + j * ldw + full + 8, left - 8), hi[j]);
      }
    }
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      const float s = simd::hsum8x2(lo[j], hi[j]);
      sum[j] = k0 == 0 ? s : sum[j] + s;
    }
  }
  for (int j = 0; j < NR; j++) out[j] = sum[j];
}

/** A decoding step's product: one row of x, four weight rows at a time, each read whole (rows_512, rows_256). */
template <typename W, void (*Rows)(const float*, const W*, long, float*, long), void (*Row)(const float*, const W*, long, float*, long)>
void one_row(float* out, const float* x, const W* w, long m, long n, int threads) {
  exact::for_each_row_group(m, 4, threads, [&](long o, int nr) {
    if (nr == 4) Rows(x, w + o * n, n, out + o, n);
    else
      for (long j = o; j < o + nr; j++) Row(x, w + j * n, n, out + j, n);
  });
}

template <typename W>
void gemm(float* out, long ldo, const float* x, long rows, const W* w, long m, long n, int threads) {
  if (rows == 1 && isa_level() >= Isa::avx512f) return one_row<W, rows_512<W, 4>, rows_512<W, 1>>(out, x, w, m, n, threads);
  if (rows == 1 && isa_level() == Isa::avx2) return one_row<W, rows_256<W, 4>, rows_256<W, 1>>(out, x, w, m, n, threads);
  const Kernel<W>& k = kernel<W>();
  exact::for_each_tile(rows, m, n, k.mr, k.nr, threads, [&](long r, int mr, long o, int nr, long k0, long k1) {
    k.fn[mr - 1][nr - 1](x + r * n, n, w + o * n, n, out + r * ldo + o, ldo, k0, k1, k0 == 0);
  });
}

}  // namespace

const char* f32exact_kernel() {
  const Isa l = isa_level();
  return isa_name(l >= Isa::avx512f ? Isa::avx512f : l);
}

void f32exact_gemm(float* out, long ldo, const float* x, long rows, const float* w, long m, long n, int threads) { gemm<float>(out, ldo, x, rows, w, m, n, threads); }

void f16exact_gemm(float* out, long ldo, const float* x, long rows, const uint16_t* w, long m, long n, int threads) { gemm<uint16_t>(out, ldo, x, rows, w, m, n, threads); }
