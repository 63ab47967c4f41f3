// A bf16 matrix product whose every output is computed by the same sequence of operations whatever the number
// of rows, their position in the batch, the number of threads or the tiling (exact-order.h), and whatever the
// CPU: out[r, o] is accumulated in 16 lanes over blocks of kBlock inputs, lane j taking the pair of inputs
// (2j, 2j + 1) of every 32 as one vdpbf16ps does: the odd product first, then the even one, each a float32
// fused multiply-add with denormal inputs read as zero and tiny results flushed to zero, rounding to nearest
// even. That is the instruction's definition (Intel SDM, VDPBF16PS), and it is what the CPU does: the suite
// compares the instruction with the emulations below on crafted and random inputs.
//
// Kernels, one per instruction-set level (isa.h), with the same bits:
//   avx512bf16  vdpbf16ps itself
//   avx512f     two FMAs per pair on 16 lanes, MXCSR's DAZ and FTZ set around them
//   avx2        the same on two halves of 8 lanes
//   portable    scalar: the same operations with the flushes written out
// AMX (bf16amx.cc) is row-exact too but sums in its own order: other bits, a numerics of its own.
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <omp.h>
#include <vector>
#include "bf16amx.h"
#include "bf16exact.h"
#include "exact-order.h"
#include "isa.h"
#include "simd.h"

namespace {

using exact::kBlock;

// ---- avx512bf16: the instruction ------------------------------------------------------------------------------


// MR rows of x (bf16) against NR rows of W over inputs [k0, k1); the block sum is added to out (or stored, first block).
template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void tile_dp(const uint16_t* x, long ldx, const uint16_t* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const long full = k0 + ((k1 - k0) & ~31L);
  for (long k = k0; k < full; k += 32) {
    __m512 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) wv[j] = (__m512)_mm512_loadu_si512(w + j * ldw + k);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 xv = (__m512)_mm512_loadu_si512(x + i * ldx + k);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
    }
  }
  if (full < k1) {
    // the tail, zero-padded: the padding adds +0 in every lane, the same for every row
    const __mmask32 mask = (__mmask32)((1ull << (k1 - full)) - 1);
    __m512 wv[NR];
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) wv[j] = (__m512)_mm512_maskz_loadu_epi16(mask, w + j * ldw + full);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 xv = (__m512)_mm512_maskz_loadu_epi16(mask, x + i * ldx + full);
#pragma GCC unroll 8
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      const float s = simd::hsum16(acc[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

// ---- the emulations ---------------------------------------------------------------------------------------------
// x is handed to them split: for every 32 inputs, 16 floats of the odd inputs (lane j: input 2j + 1), then 16 of
// the even ones, zero past the end. A group (MR rows of x, NR weight rows) accumulates a block into memory,
// acc[(j·MR + i)·16 + lane], with the flushes on; the lanes are summed afterwards with them off, as the
// instruction's kernel sums them in the default mode.

constexpr unsigned kFlush = 0x8040;  // MXCSR: FTZ (bit 15) and DAZ (bit 6)

struct Emu512 {
  static constexpr int MR = 4, NR = 4;
  template <int M, int N>
  __attribute__((target("avx512f,avx512bw"))) static void group(const float* xs, long ldx, const uint16_t* w, long ldw, long k0, long k1, float* acc) {
    __m512 a[M][N];
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 8
      for (int j = 0; j < N; j++) a[i][j] = _mm512_setzero_ps();
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000);
    for (long k = k0; k < k1; k += 32) {
      // the tail, zero-padded by the masked load
      const __mmask32 mask = k + 32 <= k1 ? (__mmask32)~0u : (__mmask32)((1ull << (k1 - k)) - 1);
      __m512 wo[N], we[N];
#pragma GCC unroll 8
      for (int j = 0; j < N; j++) {
        const __m512i v = _mm512_maskz_loadu_epi16(mask, w + j * ldw + k);
        wo[j] = _mm512_castsi512_ps(_mm512_and_si512(v, hi));
        we[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      }
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        const __m512 xo = _mm512_loadu_ps(xs + i * ldx + k), xe = _mm512_loadu_ps(xs + i * ldx + k + 16);
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) a[i][j] = _mm512_fmadd_ps(xe, we[j], _mm512_fmadd_ps(xo, wo[j], a[i][j]));
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; i++)
#pragma GCC unroll 8
      for (int j = 0; j < N; j++) _mm512_storeu_ps(acc + (j * M + i) * 16, a[i][j]);
  }
};

struct Emu256 {
  static constexpr int MR = 6, NR = 2;
  // One half of the lanes (8h … 8h + 7) over [k0, k1) of whole chunks; w rows ldw apart.
  template <int M, int N>
  __attribute__((target("avx2,fma"), always_inline)) static inline void half(const float* xs, long ldx, const uint16_t* w, long ldw, long k0, long k1, int h, __m256 (&a)[M][N]) {
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000);
    for (long k = k0; k < k1; k += 32) {
      __m256 wo[N], we[N];
#pragma GCC unroll 8
      for (int j = 0; j < N; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i*)(w + j * ldw + k + 16 * h));
        wo[j] = _mm256_castsi256_ps(_mm256_and_si256(v, hi));
        we[j] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
      }
#pragma GCC unroll 8
      for (int i = 0; i < M; i++) {
        const __m256 xo = _mm256_loadu_ps(xs + i * ldx + k + 8 * h), xe = _mm256_loadu_ps(xs + i * ldx + k + 16 + 8 * h);
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) a[i][j] = _mm256_fmadd_ps(xe, we[j], _mm256_fmadd_ps(xo, wo[j], a[i][j]));
      }
    }
  }
  // The halves never meet until the lanes are summed, so they run one after the other: the whole tile of a half
  // in 16 registers, and the second half finds the tile's inputs in L1.
  template <int M, int N>
  __attribute__((target("avx2,fma"))) static void group(const float* xs, long ldx, const uint16_t* w, long ldw, long k0, long k1, float* acc) {
    const long full = k0 + ((k1 - k0) & ~31L);
    // the tail chunk's weights, zero-padded as the masked loads of the other kernels pad them
    alignas(32) uint16_t stage[N][32];
    if (full < k1)
      for (int j = 0; j < N; j++) {
        std::memset(stage[j], 0, sizeof(stage[j]));
        std::memcpy(stage[j], w + j * ldw + full, sizeof(uint16_t) * (k1 - full));
      }
    for (int h = 0; h < 2; h++) {
      __m256 a[M][N];
#pragma GCC unroll 8
      for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) a[i][j] = _mm256_setzero_ps();
      half<M, N>(xs, ldx, w, ldw, k0, full, h, a);
      if (full < k1) half<M, N>(xs + full, ldx, &stage[0][0], 32, 0, 32, h, a);
#pragma GCC unroll 8
      for (int i = 0; i < M; i++)
#pragma GCC unroll 8
        for (int j = 0; j < N; j++) _mm256_storeu_ps(acc + (j * M + i) * 16 + 8 * h, a[i][j]);
    }
  }
};

// Portable: DAZ on the inputs, and each fused multiply-add rounded once and flushed when tiny. The product of two
// bf16 values is exact in float; the sum is formed in double and rounded to float, which rounds as one float
// operation would (double has more than 2·24 + 2 bits).
inline float daz(float v) { return std::fabs(v) < 0x1p-126f ? std::copysign(0.0f, v) : v; }
inline float fma_ftz(float a, float b, float c) {
  const float r = (float)((double)a * (double)b + (double)c);
  return std::fabs(r) < 0x1p-126f ? std::copysign(0.0f, r) : r;
}

struct EmuScalar {
  static constexpr int MR = 4, NR = 2;
  template <int M, int N>
  static void group(const float* xs, long ldx, const uint16_t* w, long ldw, long k0, long k1, float* acc) {
    std::fill(acc, acc + M * N * 16, 0.0f);
    for (long k = k0; k < k1; k += 32)
      for (int j = 0; j < N; j++)
        for (int l = 0; l < 16; l++) {
          const long e = k + 2 * l;
          const float wo = e + 1 < k1 ? daz(exact::bf16_to_f32(w[j * ldw + e + 1])) : 0.0f;
          const float we = e < k1 ? daz(exact::bf16_to_f32(w[j * ldw + e])) : 0.0f;
          for (int i = 0; i < M; i++) {
            float& a = acc[(j * M + i) * 16 + l];
            a = fma_ftz(daz(xs[i * ldx + k + 16 + l]), we, fma_ftz(daz(xs[i * ldx + k + l]), wo, a));
          }
        }
  }
};

// M rows of x against the weight rows [o0, o1) over one block: every group, the last one narrower.
template <class K, int M, int N = K::NR>
void groups(const float* xs, long ldx, const uint16_t* w, long n, long o0, long o1, long k0, long k1, float* acc) {
  long o = o0;
  for (; o + N <= o1; o += N) K::template group<M, N>(xs, ldx, w + o * n, n, k0, k1, acc + (o - o0) * M * 16);
  if constexpr (N > 1)
    if (o < o1) groups<K, M, N - 1>(xs, ldx, w, n, o, o1, k0, k1, acc + (o - o0) * M * 16);
}

// mr rows (1 … K::MR) against [o0, o1) over a block, with the flushes on (noinline: nothing the compiler moves
// crosses the call, so every emulated operation runs in that mode).
template <class K, int M = K::MR>
__attribute__((noinline)) void rows(int mr, bool flush, const float* xs, long ldx, const uint16_t* w, long n, long o0, long o1, long k0, long k1, float* acc) {
  if constexpr (M > 1)
    if (mr < M) return rows<K, M - 1>(mr, flush, xs, ldx, w, n, o0, o1, k0, k1, acc);
  const unsigned csr = _mm_getcsr();
  if (flush) _mm_setcsr(csr | kFlush);
  groups<K, M>(xs, ldx, w, n, o0, o1, k0, k1, acc);
  if (flush) _mm_setcsr(csr);
}

// exact::tree16 of eight outputs' lanes at once (v + o·stride for output o): the same additions, made across
// outputs after a transpose, instead of one output's lanes folded in turn.
__attribute__((target("avx2,fma"))) void tree16x8(const float* v, long stride, float* out) {
  __m256 a[8];
  for (int o = 0; o < 8; o++) a[o] = _mm256_add_ps(_mm256_loadu_ps(v + o * stride), _mm256_loadu_ps(v + o * stride + 8));
  // a[o][i] = lane i + lane i + 8 of output o; transposed in place: a[i][o]
  simd::transpose8(a);
  const __m256* c = a;
  const __m256 b0 = _mm256_add_ps(c[0], c[4]), b1 = _mm256_add_ps(c[1], c[5]), b2 = _mm256_add_ps(c[2], c[6]), b3 = _mm256_add_ps(c[3], c[7]);
  _mm256_store_ps(out, _mm256_add_ps(_mm256_add_ps(b0, b2), _mm256_add_ps(b1, b3)));
}

template <class K>
void emulated(float* out, long ldo, const float* xs, long rows_, const uint16_t* w, long m, long n, int threads, bool flush) {
  const bool vector_sums = isa_at_least(Isa::avx2);
  const long ldx = bf16exact_split_width(n), chunk = 16 * K::NR;
  // Threads split the weight rows (outputs); each output is still computed whole by one thread.
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<float> acc((size_t)K::MR * chunk * 16);
#pragma omp for schedule(static)
    for (long o0 = 0; o0 < m; o0 += chunk) {
      const long o1 = std::min(m, o0 + chunk);
      for (long k0 = 0; k0 < n; k0 += kBlock) {
        const long k1 = std::min(n, k0 + kBlock);
        // x's tile (floats, twice the bytes of W's rows) stays in L1 while W's rows of the chunk pass
        for (long r = 0; r < rows_; r += K::MR) {
          const int mr = (int)std::min<long>(K::MR, rows_ - r);
          rows<K>(mr, flush, xs + r * ldx, ldx, w, n, o0, o1, k0, k1, acc.data());
          for (int i = 0; i < mr; i++) {
            long o = o0;
            alignas(32) float s8[8];
            if (vector_sums)
              for (; o + 8 <= o1; o += 8) {
                tree16x8(acc.data() + ((o - o0) * mr + i) * 16, mr * 16, s8);
                for (int t = 0; t < 8; t++) {
                  float& d = out[(r + i) * ldo + o + t];
                  d = k0 == 0 ? s8[t] : d + s8[t];
                }
              }
            for (; o < o1; o++) {
              const float s = exact::tree16(acc.data() + ((o - o0) * mr + i) * 16);
              float& d = out[(r + i) * ldo + o];
              d = k0 == 0 ? s : d + s;
            }
          }
        }
      }
    }
  }
}

// The instruction's kernel: W's tile stays in L1 while the rows of x pass.
using DpFn = void (*)(const uint16_t*, long, const uint16_t*, long, float*, long, long, long, bool);

template <int M, int N = 6>
DpFn dp_tile(int mr, int nr) {
  if constexpr (N > 1)
    if (nr < N) return dp_tile<M, N - 1>(mr, nr);
  if constexpr (M > 1)
    if (mr < M) return dp_tile<M - 1, N>(mr, nr);
  return tile_dp<M, N>;
}

void dp_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads) {
  if (rows == 1)
    return exact::for_each_row_group(m, 4, threads, [&](long o, int nr) {
      for (long k0 = 0; k0 < n; k0 += kBlock) dp_tile<1>(1, nr)(x, n, w + o * n, n, out + o, 1, k0, std::min(n, k0 + kBlock), k0 == 0);
    });
  exact::for_each_tile(rows, m, n, 4, 6, threads, [&](long r, int mr, long o, int nr, long k0, long k1) {
    dp_tile<4>(mr, nr)(x + r * n, n, w + o * n, n, out + r * ldo + o, ldo, k0, k1, k0 == 0);
  });
}

// AMX is a kernel of its own (bf16amx.cc); MUTASCAN_ISA=avx512bf16 keeps an AMX host on the instruction's order.
Isa dp_level() {
  const Isa l = isa_level();
  return l == Isa::amx ? Isa::avx512bf16 : l;
}

}  // namespace

const char* bf16exact_kernel() {
  return bf16amx_supported() ? "amx" : isa_name(dp_level());
}

const char* bf16exact_numerics() { return bf16amx_supported() ? "bf16-amx" : "bf16-dp"; }

void bf16exact_split(float* out, const uint16_t* x, long rows, long n) {
  const long chunks = (n + 31) / 32, ld = bf16exact_split_width(n);
  for (long r = 0; r < rows; r++) {
    float* o = out + r * ld;
    const uint16_t* xr = x + r * n;
    for (long c = 0; c < chunks; c++)
      for (long j = 0; j < 16; j++) {
        const long e = c * 32 + 2 * j;
        o[c * 32 + j] = e + 1 < n ? exact::bf16_to_f32(xr[e + 1]) : 0.0f;
        o[c * 32 + 16 + j] = e < n ? exact::bf16_to_f32(xr[e]) : 0.0f;
      }
  }
}

bool bf16exact_splits() { return dp_level() < Isa::avx512bf16; }

// out[rows x m] (row stride ldo) = x[rows x n] . W[m x n]^T; x bf16 pairs, or split (bf16exact_split) when
// bf16exact_splits().
void bf16exact_gemm(float* out, long ldo, const void* x, long rows, const uint16_t* w, long m, long n, int threads) {
  if (bf16amx_supported()) return bf16amx_gemm(out, ldo, (const uint16_t*)x, rows, w, m, n, threads);
  switch (dp_level()) {
    case Isa::avx512bf16: return dp_gemm(out, ldo, (const uint16_t*)x, rows, w, m, n, threads);
    case Isa::avx512f: return emulated<Emu512>(out, ldo, (const float*)x, rows, w, m, n, threads, true);
    case Isa::avx2: return emulated<Emu256>(out, ldo, (const float*)x, rows, w, m, n, threads, true);
    default: return emulated<EmuScalar>(out, ldo, (const float*)x, rows, w, m, n, threads, false);
  }
}
