// A bf16 matrix product whose every output is computed by the same sequence of operations whatever the
// number of rows, their position in the batch, the number of threads or the tiling: out[r, o] is the dot
// product of row r with weight row o, accumulated by vdpbf16ps in 16 lanes over blocks of kBlock inputs,
// each block's lanes summed in a fixed tree, and the block sums added in order. So a row computed alone (the
// plain path's decoding) and the same row inside a pass of thousands (the fast path) give the same bits, and
// patch rows computed apart (a mutant's block) equal what the mutated matrix would give. oneDNN promises no such
// thing (its kernels, and their order of summation, change with the shape).
#include <immintrin.h>
#include <algorithm>
#include <omp.h>
#include <cstdint>
#include <cstring>
#include "bf16exact.h"
#include "bf16amx.h"

namespace {

constexpr long kBlock = 1024;  // inputs per block: a 4-row tile of W and of x stays in L1
constexpr long kRowsPerPanel = 192;  // rows of x reused from L2 against each weight tile

// AVX-512F only, so that both kernels below (dot-product and FMA) inline it.
__attribute__((target("avx512f"))) inline float hsum(__m512 v) {
  // a fixed tree: 512 -> 256 -> 128 -> 64 -> 32 bits
  __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  b = _mm_add_ps(b, _mm_movehl_ps(b, b));
  b = _mm_add_ss(b, _mm_movehdup_ps(b));
  return _mm_cvtss_f32(b);
}

// MR rows of x against NR rows of W over inputs [k0, k1); the block sum is added to out (or stored, first block).
template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void tile(const uint16_t* x, long ldx, const uint16_t* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const long full = k0 + ((k1 - k0) & ~31L);
  for (long k = k0; k < full; k += 32) {
    __m512 wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = (__m512)_mm512_loadu_si512(w + j * ldw + k);
    for (int i = 0; i < MR; i++) {
      const __m512 xv = (__m512)_mm512_loadu_si512(x + i * ldx + k);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
    }
  }
  if (full < k1) {
    // the tail, zero-padded: the padding adds +0 in every lane, the same for every row
    const __mmask32 mask = (__mmask32)((1ull << (k1 - full)) - 1);
    __m512 wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = (__m512)_mm512_maskz_loadu_epi16(mask, w + j * ldw + full);
    for (int i = 0; i < MR; i++) {
      const __m512 xv = (__m512)_mm512_maskz_loadu_epi16(mask, x + i * ldx + full);
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      const float s = hsum(acc[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

// The same contract on AVX-512 CPUs without the BF16 instructions: bf16 widened to float32 (exactly: a shift),
// one float32 FMA per product in 16 lanes over blocks of kBlock inputs, the lanes summed in the same fixed tree.
// Other bits than vdpbf16ps gives (which rounds its pair of products differently), but the same property: an
// output's sequence of operations depends on its row of x and its row of W only.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m512 widen(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <int MR, int NR>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void tile_fma(const uint16_t* x, long ldx, const uint16_t* w, long ldw, float* out, long ldo, long k0, long k1, bool first) {
  __m512 acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  const long full = k0 + ((k1 - k0) & ~15L);
  for (long k = k0; k < full; k += 16) {
    __m512 wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = widen(_mm256_loadu_si256((const __m256i*)(w + j * ldw + k)));
    for (int i = 0; i < MR; i++) {
      const __m512 xv = widen(_mm256_loadu_si256((const __m256i*)(x + i * ldx + k)));
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  if (full < k1) {
    // the tail, zero-padded: the padding adds +0 in every lane, the same for every row
    const __mmask16 mask = (__mmask16)((1u << (k1 - full)) - 1);
    __m512 wv[NR];
    for (int j = 0; j < NR; j++) wv[j] = widen(_mm256_maskz_loadu_epi16(mask, w + j * ldw + full));
    for (int i = 0; i < MR; i++) {
      const __m512 xv = widen(_mm256_maskz_loadu_epi16(mask, x + i * ldx + full));
      for (int j = 0; j < NR; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) {
      const float s = hsum(acc[i][j]);
      out[i * ldo + j] = first ? s : out[i * ldo + j] + s;
    }
}

using TileFn = void (*)(const uint16_t*, long, const uint16_t*, long, float*, long, long, long, bool);

template <int MR, bool FMA>
TileFn pick_nr(int nr) {
  switch (nr) {
    case 1: return FMA ? tile_fma<MR, 1> : tile<MR, 1>;
    case 2: return FMA ? tile_fma<MR, 2> : tile<MR, 2>;
    case 3: return FMA ? tile_fma<MR, 3> : tile<MR, 3>;
    case 4: return FMA ? tile_fma<MR, 4> : tile<MR, 4>;
    case 5: return FMA ? tile_fma<MR, 5> : tile<MR, 5>;
    default: return FMA ? tile_fma<MR, 6> : tile<MR, 6>;
  }
}

template <bool FMA>
TileFn pick(int mr, int nr) {
  switch (mr) {
    case 1: return pick_nr<1, FMA>(nr);
    case 2: return pick_nr<2, FMA>(nr);
    case 3: return pick_nr<3, FMA>(nr);
    default: return pick_nr<4, FMA>(nr);
  }
}

bool has_bf16_dot() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
  }();
  return ok;
}

}  // namespace

bool bf16exact_supported() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && (__builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("avx512vl"));
  }();
  return ok;
}

const char* bf16exact_kernel() {
  return bf16amx_supported() ? "amx" : has_bf16_dot() ? "avx512bf16" : bf16exact_supported() ? "avx512f" : "none";
}

// out[rows x m] (row stride ldo) = x[rows x n] . W[m x n]^T, x and W bf16.
void bf16exact_gemm(float* out, long ldo, const uint16_t* x, long rows, const uint16_t* w, long m, long n, int threads) {
  if (bf16amx_supported()) return bf16amx_gemm(out, ldo, x, rows, w, m, n, threads);
  // Threads split the weight rows (outputs); each output is still computed whole by one thread.
  constexpr long NR = 6, chunk = 16 * NR;
  const bool fma = !has_bf16_dot();
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long o0 = 0; o0 < m; o0 += chunk) {
    const long o1 = std::min(m, o0 + chunk);
    for (long k0 = 0; k0 < n; k0 += kBlock) {
      const long k1 = std::min(n, k0 + kBlock);
      for (long r0 = 0; r0 < rows; r0 += kRowsPerPanel) {
        const long r1 = std::min(rows, r0 + kRowsPerPanel);
        for (long o = o0; o < o1; o += NR) {
          const int nr = (int)std::min(NR, o1 - o);
          for (long r = r0; r < r1; r += 4) {
            const int mr = (int)std::min(4L, r1 - r);
            (fma ? pick<true>(mr, nr) : pick<false>(mr, nr))(x + r * n, n, w + o * n, n, out + r * ldo + o, ldo, k0, k1, k0 == 0);
          }
        }
      }
    }
  }
}
