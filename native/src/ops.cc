// Per-position work of the forward pass, for the native backend. rmsnorm and rope follow the TypeScript twin
// (src/backend/ts-ops.ts) operation for operation. Attention and SwiGLU are vectorised (AVX2 + FMA, with a
// polynomial exp), so they differ from the twin in the last bits; what matters for screens is that every row is
// computed the same way whatever else is in the batch, which holds: rows are independent and the order of every
// sum is fixed. Threads are used only for calls big enough to pay for them.
#include <napi.h>
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include "isa.h"
#include "ops.h"
#include "simd.h"

namespace {

constexpr long kParallelWork = 1L << 19;  // below this many flops a call stays on one thread

// The vector kernels need AVX2 + FMA; the AVX-512 ones repeat their AVX2 twins' operations on 16 lanes (the same
// bits, faster). The level (isa.h) decides, so MUTASCAN_ISA=avx2 runs the AVX2 ones on any host.
bool has_avx2() { return isa_at_least(Isa::avx2); }
bool has_avx512() { return isa_at_least(Isa::avx512f); }

// exp for 8 floats: exp(x) = 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], degree-6 polynomial (about 1 ulp).
// Results below e^-87 (1.6e-38, near the smallest normal float) are returned as 0: computing denormals costs a
// microcode assist per lane (softmax pads its last block with -inf, so nearly every call had one), and a
// softmax term or a sigmoid's exp(-v) that small is lost in the sums it goes into anyway.
//
// kNonPositive: the caller promises x <= 0 (softmax terms): no upper clamp, and 2^n in one step (n >= -126 is a
// normal float; scaling by a power of two is exact, so the result has the same bits as the general form's).
template <bool kNonPositive = false>
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.3762626647949f), lo = _mm256_set1_ps(-87.0f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  if (!kNonPositive) x = _mm256_min_ps(x, hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  if (kNonPositive) {
    const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23)));
    return _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
  }
  // 2^n in two steps (n reaches 128 at the upper clamp)
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  const __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
  return _mm256_blendv_ps(y, _mm256_setzero_ps(), under);
}

// exp8's operations on 16 lanes (same constants, same order, so the same bits lane for lane).
template <bool kNonPositive = false>
__attribute__((target("avx512f"))) inline __m512 exp16(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.0f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_max_ps(x, lo);
  if (!kNonPositive) x = _mm512_min_ps(x, hi);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i ni = _mm512_cvtps_epi32(n);
  if (kNonPositive) {
    const __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23)));
    return _mm512_mask_blend_ps(under, y, _mm512_setzero_ps());
  }
  const __m512i half = _mm512_srai_epi32(ni, 1);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, _mm512_set1_epi32(127)), 23));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, half), _mm512_set1_epi32(127)), 23));
  const __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
  return _mm512_mask_blend_ps(under, y, _mm512_setzero_ps());
}

// Horizontal sum of 8 lanes in a fixed order.
__attribute__((target("avx2,fma"))) inline float hsum8(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

// A row of scores (padded with -inf to a multiple of 8) turned into exp(score - mx) in place; returns 1 / their sum.
__attribute__((target("avx2,fma"))) inline float exp_in_place(float* sc, long n8, float mx) {
  __m256 sum8 = _mm256_setzero_ps();
  const __m256 m = _mm256_set1_ps(mx);
  for (long t = 0; t < n8; t += 8) {
    const __m256 e = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(sc + t), m));
    _mm256_storeu_ps(sc + t, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  return 1.0f / hsum8(sum8);
}

// One row's attention, vectorised; hd must be a multiple of 8.
__attribute__((target("avx2,fma"))) void attend_row_avx2(float* out, const float* q, const float* kc, const float* vc, long p, long t0, long nh, long hd, long kvDim, long group, float* sc) {
  const float inv = 1.0f / std::sqrt((float)hd);
  for (long h = 0; h < nh; h++) {
    const float* qh = q + h * hd;
    const long ko = (h / group) * hd;
    float mx = -INFINITY;
    for (long t = t0; t <= p; t++) {
      const float* kt = kc + t * kvDim + ko;
      __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_loadu_ps(kt));
      for (long i = 8; i < hd; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + i), _mm256_loadu_ps(kt + i), acc);
      const float s = hsum8(acc) * inv;
      sc[t] = s;
      mx = s > mx ? s : mx;
    }
    const long n = p - t0 + 1, n8 = (n + 7) & ~7L;
    for (long t = n; t < n8; t++) sc[t0 + t] = -INFINITY;
    const __m256 r = _mm256_set1_ps(exp_in_place(sc + t0, n8, mx));
    float* o = out + h * hd;
    for (long i = 0; i < hd; i += 8) {
      __m256 acc = _mm256_setzero_ps();
      for (long t = t0; t <= p; t++) acc = _mm256_fmadd_ps(_mm256_set1_ps(sc[t]), _mm256_loadu_ps(vc + t * kvDim + ko + i), acc);
      _mm256_storeu_ps(o + i, _mm256_mul_ps(acc, r));
    }
  }
}

// Small heads (8 or 16): scores of 8 keys at once from keys laid out [kv head][component][position] (kt,
// `stride` positions apart), so no horizontal sums; the weighted sum of values runs on four accumulators. The
// transposed keys are built once per sequence and call (in Attention below) and serve every row of it.
template <long hd>
__attribute__((target("avx2,fma"))) void attend_row_small(float* out, const float* q, const float* kt, long stride, const float* vc, long p, long t0, long nh, long kvDim, long group, float* sc) {
  const __m256 inv = _mm256_set1_ps(1.0f / std::sqrt((float)hd));
  const long n = p - t0 + 1, n8 = (n + 7) & ~7L;
  for (long h = 0; h < nh; h++) {
    const float* qh = q + h * hd;
    const long kvh = h / group;
    const float* kh = kt + kvh * hd * stride + t0;
    __m256 qb[hd];
    for (long i = 0; i < hd; i++) qb[i] = _mm256_set1_ps(qh[i]);
    __m256 mx8 = _mm256_set1_ps(-INFINITY);
    for (long b = 0; b < n8; b += 8) {
      __m256 sv = _mm256_mul_ps(qb[0], _mm256_loadu_ps(kh + b));
      for (long i = 1; i < hd; i++) sv = _mm256_fmadd_ps(qb[i], _mm256_loadu_ps(kh + i * stride + b), sv);
      sv = _mm256_mul_ps(sv, inv);
      if (b + 8 > n) {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, sv);
        for (long j = n - b; j < 8; j++) tmp[j] = -INFINITY;
        sv = _mm256_load_ps(tmp);
      }
      _mm256_storeu_ps(sc + b, sv);
      mx8 = _mm256_max_ps(mx8, sv);
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx8), _mm256_extractf128_ps(mx8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const __m256 r = _mm256_set1_ps(exp_in_place(sc, n8, _mm_cvtss_f32(m4)));
    const float* vh = vc + t0 * kvDim + kvh * hd;
    for (long i = 0; i < hd; i += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      long t = 0;
      for (; t + 4 <= n; t += 4) {
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[t]), _mm256_loadu_ps(vh + t * kvDim + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(sc[t + 1]), _mm256_loadu_ps(vh + (t + 1) * kvDim + i), a1);
        a2 = _mm256_fmadd_ps(_mm256_set1_ps(sc[t + 2]), _mm256_loadu_ps(vh + (t + 2) * kvDim + i), a2);
        a3 = _mm256_fmadd_ps(_mm256_set1_ps(sc[t + 3]), _mm256_loadu_ps(vh + (t + 3) * kvDim + i), a3);
      }
      for (; t < n; t++) a0 = _mm256_fmadd_ps(_mm256_set1_ps(sc[t]), _mm256_loadu_ps(vh + t * kvDim + i), a0);
      const __m256 total = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
      _mm256_storeu_ps(out + h * hd + i, _mm256_mul_ps(total, r));
    }
  }
}


// Position t of a cache into the heads-in-lanes layout of attend_row_lanes: component i of head 8g+l at
// [((g·stride + t)·hd + i)·8 + l]; kvOf[h] is where head h's key/value head starts in a cache row. Eight heads'
// 8-component slices are loaded and transposed in registers (a key/value head shared by several heads is loaded
// once per head).
__attribute__((target("avx2,fma"))) void lanes_fill(float* k8, float* v8, const float* kc, const float* vc, const int32_t* kvOf, long t, long stride, long nh, long hd, long kvDim) {
  for (long g = 0; g < nh / 8; g++) {
    float* kd = k8 + (g * stride + t) * hd * 8;
    float* vd = v8 + (g * stride + t) * hd * 8;
    for (long b = 0; b < hd; b += 8) {
      __m256 rk[8], rv[8];
      for (long l = 0; l < 8; l++) {
        rk[l] = _mm256_loadu_ps(kc + t * kvDim + kvOf[g * 8 + l] + b);
        rv[l] = _mm256_loadu_ps(vc + t * kvDim + kvOf[g * 8 + l] + b);
      }
      simd::transpose8(rk);
      simd::transpose8(rv);
      for (long i = 0; i < 8; i++) {
        _mm256_storeu_ps(kd + (b + i) * 8, rk[i]);
        _mm256_storeu_ps(vd + (b + i) * 8, rv[i]);
      }
    }
  }
}

// Heads in lanes (eight heads of one row side by side, a head per lane): scores, their maximum, exp and the
// weighted sums of values run across heads, so there are no horizontal sums, no padding of the last block of
// keys and no per-head loop overhead; for small heads that overhead was most of the cost. Keys and values are
// laid out [lane group][position][component][8 heads] (k8, v8; built once per sequence and call in Attention
// below); sc holds a row's scores, 8 per position.
template <long HD>
__attribute__((target("avx2,fma"))) void attend_row_lanes(float* out, const float* q, const float* k8, const float* v8, long stride, long p, long t0, long nh, float* sc) {
  const __m256 inv = _mm256_set1_ps(1.0f / std::sqrt((float)HD));
  const long n = p - t0 + 1;
  for (long g = 0; g < nh / 8; g++) {
    const float* kg = k8 + (g * stride + t0) * HD * 8;
    const float* vg = v8 + (g * stride + t0) * HD * 8;
    alignas(32) float qt[HD * 8];
    const __m256i heads = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(HD));
    for (long i = 0; i < HD; i++) _mm256_store_ps(qt + i * 8, _mm256_i32gather_ps(q + g * 8 * HD + i, heads, 4));
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (long t = 0; t < n; t++) {
      const float* kt = kg + t * HD * 8;
      __m256 s = _mm256_mul_ps(_mm256_load_ps(qt), _mm256_loadu_ps(kt));
      for (long i = 1; i < HD; i++) s = _mm256_fmadd_ps(_mm256_load_ps(qt + i * 8), _mm256_loadu_ps(kt + i * 8), s);
      s = _mm256_mul_ps(s, inv);
      _mm256_storeu_ps(sc + t * 8, s);
      mx = _mm256_max_ps(mx, s);
    }
    __m256 sum = _mm256_setzero_ps();
    for (long b = 0; b < HD; b += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (long t = 0; t < n; t++) {
        __m256 e;
        if (b == 0) {
          e = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(sc + t * 8), mx));
          sum = _mm256_add_ps(sum, e);
          if (HD > 8) _mm256_storeu_ps(sc + t * 8, e);
        } else {
          e = _mm256_loadu_ps(sc + t * 8);
        }
        const float* vt = vg + t * HD * 8 + b * 8;
        a0 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt), a0);
        a1 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 8), a1);
        a2 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 16), a2);
        a3 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 24), a3);
        a4 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 32), a4);
        a5 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 40), a5);
        a6 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 48), a6);
        a7 = _mm256_fmadd_ps(e, _mm256_loadu_ps(vt + 56), a7);
      }
      const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
      // a_j holds component b+j of the 8 heads; transposed, row l is head 8g+l's components b…b+7
      __m256 c[8] = {_mm256_mul_ps(a0, r), _mm256_mul_ps(a1, r), _mm256_mul_ps(a2, r), _mm256_mul_ps(a3, r),
                     _mm256_mul_ps(a4, r), _mm256_mul_ps(a5, r), _mm256_mul_ps(a6, r), _mm256_mul_ps(a7, r)};
      simd::transpose8(c);
      for (long l = 0; l < 8; l++) _mm256_storeu_ps(out + (g * 8 + l) * HD + b, c[l]);
    }
  }
}

// attend_row_lanes for a row that is its sequence's only row in the call (a decoding step): the heads-in-lanes
// layout of each position is made in registers (8 heads' slices loaded and transposed) and used at once, instead
// of laying out the whole cache for one row. The lanes then hold exactly what attend_row_lanes reads from k8/v8,
// and every operation is the same in the same order: the same bits.
template <long HD>
__attribute__((target("avx2,fma"))) void attend_row_direct(float* out, const float* q, const float* kc, const float* vc, const int32_t* kvOf, long kvDim, long p, long t0, long nh, float* sc) {
  const __m256 inv = _mm256_set1_ps(1.0f / std::sqrt((float)HD));
  const long n = p - t0 + 1;
  for (long g = 0; g < nh / 8; g++) {
    const int32_t* ko = kvOf + g * 8;
    alignas(32) float qt[HD * 8];
    const __m256i heads = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(HD));
    for (long i = 0; i < HD; i++) _mm256_store_ps(qt + i * 8, _mm256_i32gather_ps(q + g * 8 * HD + i, heads, 4));
    __m256 mx = _mm256_set1_ps(-INFINITY);
    for (long t = 0; t < n; t++) {
      const float* row = kc + (t0 + t) * kvDim;
      __m256 s = _mm256_setzero_ps();
      for (long b = 0; b < HD; b += 8) {
        __m256 r[8];
        for (long l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(row + ko[l] + b);
        simd::transpose8(r);
        long i0 = 0;
        if (b == 0) s = _mm256_mul_ps(_mm256_load_ps(qt), r[0]), i0 = 1;
        for (long i = i0; i < 8; i++) s = _mm256_fmadd_ps(_mm256_load_ps(qt + (b + i) * 8), r[i], s);
      }
      s = _mm256_mul_ps(s, inv);
      _mm256_storeu_ps(sc + t * 8, s);
      mx = _mm256_max_ps(mx, s);
    }
    __m256 sum = _mm256_setzero_ps();
    for (long b = 0; b < HD; b += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (long t = 0; t < n; t++) {
        __m256 e;
        if (b == 0) {
          e = exp8<true>(_mm256_sub_ps(_mm256_loadu_ps(sc + t * 8), mx));
          sum = _mm256_add_ps(sum, e);
          if (HD > 8) _mm256_storeu_ps(sc + t * 8, e);
        } else {
          e = _mm256_loadu_ps(sc + t * 8);
        }
        const float* row = vc + (t0 + t) * kvDim;
        __m256 r[8];
        for (long l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(row + ko[l] + b);
        simd::transpose8(r);
        a0 = _mm256_fmadd_ps(e, r[0], a0);
        a1 = _mm256_fmadd_ps(e, r[1], a1);
        a2 = _mm256_fmadd_ps(e, r[2], a2);
        a3 = _mm256_fmadd_ps(e, r[3], a3);
        a4 = _mm256_fmadd_ps(e, r[4], a4);
        a5 = _mm256_fmadd_ps(e, r[5], a5);
        a6 = _mm256_fmadd_ps(e, r[6], a6);
        a7 = _mm256_fmadd_ps(e, r[7], a7);
      }
      const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
      __m256 c[8] = {_mm256_mul_ps(a0, r), _mm256_mul_ps(a1, r), _mm256_mul_ps(a2, r), _mm256_mul_ps(a3, r),
                     _mm256_mul_ps(a4, r), _mm256_mul_ps(a5, r), _mm256_mul_ps(a6, r), _mm256_mul_ps(a7, r)};
      simd::transpose8(c);
      for (long l = 0; l < 8; l++) _mm256_storeu_ps(out + (g * 8 + l) * HD + b, c[l]);
    }
  }
}

// Two rows of attend_row_lanes at once on AVX-512: consecutive positions p (lanes 0-7) and p+1 (lanes 8-15) of
// one sequence, whose windows start at t0a and t0b. Each key is read once for both rows (broadcast to both
// halves), and every lane does exactly what attend_row_lanes does for its row and head, in the same order:
// keys a row does not attend (p+1 for the first, those before t0b for the second) are masked out of the
// maximum, the sum and the weighted values, so they change no bit.
template <long HD>
__attribute__((target("avx512f,avx512dq,avx2,fma"))) void attend_pair_lanes(float* out, const float* q, const float* k8, const float* v8, long stride, long p, long t0a, long t0b, long nh, float* sc) {
  const long qDim = nh * HD;
  const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt((float)HD));
  const long n = p + 2 - t0a;
  for (long g = 0; g < nh / 8; g++) {
    const float* kg = k8 + (g * stride + t0a) * HD * 8;
    const float* vg = v8 + (g * stride + t0a) * HD * 8;
    alignas(64) float qt[HD * 16];
    const __m512i heads = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi32(HD)),
                                           _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, qDim, qDim, qDim, qDim, qDim, qDim, qDim, qDim));
    for (long i = 0; i < HD; i++) _mm512_store_ps(qt + i * 16, _mm512_i32gather_ps(heads, q + g * 8 * HD + i, 4));
    // which halves attend key t0a + t
    const auto live = [&](long t) -> __mmask16 { return (t0a + t <= p ? 0x00FF : 0) | (t0a + t >= t0b ? 0xFF00 : 0); };
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (long t = 0; t < n; t++) {
      const float* kt = kg + t * HD * 8;
      __m512 s = _mm512_mul_ps(_mm512_load_ps(qt), _mm512_broadcast_f32x8(_mm256_loadu_ps(kt)));
      for (long i = 1; i < HD; i++) s = _mm512_fmadd_ps(_mm512_load_ps(qt + i * 16), _mm512_broadcast_f32x8(_mm256_loadu_ps(kt + i * 8)), s);
      s = _mm512_mul_ps(s, inv);
      _mm512_storeu_ps(sc + t * 16, s);
      mx = _mm512_mask_max_ps(mx, live(t), mx, s);
    }
    // exp first, for all keys (independent of each other), then the weighted values: a loop that did both waited
    // on each exp's latency
    __m512 sum = _mm512_setzero_ps();
    for (long t = 0; t < n; t++) {
      const __m512 e = exp16<true>(_mm512_sub_ps(_mm512_loadu_ps(sc + t * 16), mx));
      sum = _mm512_mask_add_ps(sum, live(t), sum, e);
      _mm512_storeu_ps(sc + t * 16, e);
    }
    for (long b = 0; b < HD; b += 8) {
      __m512 a[8];
      for (int j = 0; j < 8; j++) a[j] = _mm512_setzero_ps();
      for (long t = 0; t < n; t++) {
        const __mmask16 m = live(t);
        const __m512 e = _mm512_loadu_ps(sc + t * 16);
        const float* vt = vg + t * HD * 8 + b * 8;
        for (int j = 0; j < 8; j++) a[j] = _mm512_mask3_fmadd_ps(e, _mm512_broadcast_f32x8(_mm256_loadu_ps(vt + j * 8)), a[j], m);
      }
      const __m512 r = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
      for (int half = 0; half < 2; half++) {
        __m256 c[8];
        for (int j = 0; j < 8; j++) {
          const __m512 v = _mm512_mul_ps(a[j], r);
          c[j] = half ? _mm512_extractf32x8_ps(v, 1) : _mm512_castps512_ps256(v);
        }
        simd::transpose8(c);
        for (long l = 0; l < 8; l++) _mm256_storeu_ps(out + half * qDim + (g * 8 + l) * HD + b, c[l]);
      }
    }
  }
}

// The scalar version: the TypeScript twin's order of operations.
void attend_row_scalar(float* out, const float* q, const float* kc, const float* vc, long p, long t0, long nh, long hd, long kvDim, long group, float* sc) {
  const float scale = std::sqrt((float)hd);
  for (long h = 0; h < nh; h++) {
    const float* qh = q + h * hd;
    const long ko = (h / group) * hd;
    float mx = -INFINITY;
    for (long t = t0; t <= p; t++) {
      const float* kt = kc + t * kvDim + ko;
      float s = 0.0f;
      for (long i = 0; i < hd; i++) s = s + qh[i] * kt[i];
      s = s / scale;
      sc[t] = s;
      if (s > mx) mx = s;
    }
    float sum = 0.0f;
    for (long t = t0; t <= p; t++) {
      const float e = (float)std::exp((double)(sc[t] - mx));
      sc[t] = e;
      sum = sum + e;
    }
    for (long t = t0; t <= p; t++) sc[t] = sc[t] / sum;
    float* o = out + h * hd;
    for (long i = 0; i < hd; i++) o[i] = 0.0f;
    for (long t = t0; t <= p; t++) {
      const float a = sc[t];
      const float* vt = vc + t * kvDim + ko;
      for (long i = 0; i < hd; i++) o[i] = o[i] + a * vt[i];
    }
  }
}

// swiglu_avx2's operations 16 lanes at a time; the tail goes to swiglu_avx2.
__attribute__((target("avx512f"))) long swiglu_avx512(float* h1, const float* h3, long n) {
  long i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(h1 + i);
    const __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    _mm512_storeu_ps(h1 + i, _mm512_mul_ps(_mm512_mul_ps(v, s), _mm512_loadu_ps(h3 + i)));
  }
  return i;
}

__attribute__((target("avx2,fma"))) void swiglu_avx2(float* h1, const float* h3, long n) {
  long i = has_avx512() ? swiglu_avx512(h1, h3, n) : 0;
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(h1 + i);
    const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    _mm256_storeu_ps(h1 + i, _mm256_mul_ps(_mm256_mul_ps(v, s), _mm256_loadu_ps(h3 + i)));
  }
  for (; i < n; i++) {
    float buf[8] = {-h1[i], 0, 0, 0, 0, 0, 0, 0};
    _mm256_storeu_ps(buf, exp8(_mm256_loadu_ps(buf)));
    const float s = 1.0f / (1.0f + buf[0]);
    h1[i] = (h1[i] * s) * h3[i];
  }
}

// One row of RoPE, 8 floats at a time, with the scalar loop's operations (a·cos − b·sin, a·sin + b·cos: products
// rounded, then one add or subtract, no FMA), so the same bits.
__attribute__((target("avx2,fma"))) void rope_row_avx2(float* row, long heads, long hd, const float* cs, const float* sn, bool interleaved) {
  const long half = hd / 2;
  if (interleaved) {
    // pairs (a, b) side by side: [a0 b0 a1 b1 …] against [c0 c0 c1 c1 …] and [s0 s0 s1 s1 …]
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    for (long h = 0; h < heads; h++)
      for (long i = 0; i < half; i += 4) {
        float* at = row + h * hd + 2 * i;
        const __m256 v = _mm256_loadu_ps(at);
        const __m256 c = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(cs + i)), dup);
        const __m256 sv = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sn + i)), dup);
        const __m256 swapped = _mm256_permute_ps(v, 0xB1);
        // even lanes a·c − b·s, odd lanes b·c + a·s
        _mm256_storeu_ps(at, _mm256_addsub_ps(_mm256_mul_ps(v, c), _mm256_mul_ps(swapped, sv)));
      }
  } else {
    for (long h = 0; h < heads; h++)
      for (long i = 0; i < half; i += 8) {
        float* a = row + h * hd + i;
        float* b = a + half;
        const __m256 va = _mm256_loadu_ps(a), vb = _mm256_loadu_ps(b);
        const __m256 c = _mm256_loadu_ps(cs + i), sv = _mm256_loadu_ps(sn + i);
        _mm256_storeu_ps(a, _mm256_sub_ps(_mm256_mul_ps(va, c), _mm256_mul_ps(vb, sv)));
        _mm256_storeu_ps(b, _mm256_add_ps(_mm256_mul_ps(va, sv), _mm256_mul_ps(vb, c)));
      }
  }
}

// In-register transpose of a 16x16 block of floats (rows in, rows out): pairs of rows interleaved, quads
// within 128-bit lanes, then the lanes themselves.
__attribute__((target("avx512f"))) inline void transpose16(__m512* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  // u[4q + m], 128-bit lane k: rows 4q…4q+3 of column 4k + m
  for (int m = 0; m < 4; m++) {
    const __m512 a = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x88), b = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xDD);
    const __m512 c = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x88), d = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xDD);
    r[m] = _mm512_shuffle_f32x4(a, c, 0x88);
    r[8 + m] = _mm512_shuffle_f32x4(a, c, 0xDD);
    r[4 + m] = _mm512_shuffle_f32x4(b, d, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(b, d, 0xDD);
  }
}

// 16·K rows of rmsnorm with the twin's operations per row — ss = ss + x·x column by column (each product
// rounded, then the add), ss / n + eps, 1 / sqrt, then w · (s · x) — with the rows in the lanes of a vector:
// squares of a 16x16 block are transposed so that column after column adds into all sixteen sums at once.
// Columns past the end are loaded as zeros, whose squares add nothing (ss + 0 = ss). K blocks side by side
// hide the latency of the adds.
template <int K>
__attribute__((target("avx512f"))) void rmsnorm_rows16(float* out, const float* x, const float* w, long n, float eps) {
  __m512 ss[K];
  for (int k = 0; k < K; k++) ss[k] = _mm512_setzero_ps();
  for (long j0 = 0; j0 < n; j0 += 16) {
    const __mmask16 m = n - j0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j0)) - 1);
    for (int k = 0; k < K; k++) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) {
        const __m512 v = _mm512_maskz_loadu_ps(m, x + (k * 16 + i) * n + j0);
        r[i] = _mm512_mul_ps(v, v);
      }
      transpose16(r);
      for (int j = 0; j < 16; j++) ss[k] = _mm512_add_ps(ss[k], r[j]);
    }
  }
  for (int k = 0; k < K; k++) {
    __m512 s = _mm512_add_ps(_mm512_div_ps(ss[k], _mm512_set1_ps((float)n)), _mm512_set1_ps(eps));
    s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(s));
    alignas(64) float sv[16];
    _mm512_store_ps(sv, s);
    for (long i = 0; i < 16; i++) {
      const __m512 si = _mm512_set1_ps(sv[i]);
      const float* xr = x + (k * 16 + i) * n;
      float* o = out + (k * 16 + i) * n;
      for (long j = 0; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(o + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + j), _mm512_mul_ps(si, _mm512_maskz_loadu_ps(m, xr + j))));
      }
    }
  }
}

template <typename T>
T* data(const Napi::Value& v) {
  return v.As<Napi::TypedArrayOf<T>>().Data();
}
long len(const Napi::Value& v) { return (long)v.As<Napi::TypedArray>().ElementLength(); }
long num(const Napi::Value& v) { return (long)v.As<Napi::Number>().Int64Value(); }

Napi::Value Rmsnorm(const Napi::CallbackInfo& info) {
  float* out = data<float>(info[0]);
  const float* x = data<float>(info[1]);
  const float* w = data<float>(info[2]);
  const long rows = num(info[3]), n = num(info[4]);
  const float eps = (float)info[5].As<Napi::Number>().DoubleValue();
  if (len(info[0]) < rows * n || len(info[1]) < rows * n || len(info[2]) < n) throw Napi::RangeError::New(info.Env(), "rmsnorm: arrays too short");
  // With AVX-512, blocks of 32 and 16 rows in vector lanes (rmsnorm_rows16); the rows left over (and every row
  // without AVX-512) eight side by side: each row's sum of squares is still the sequential one (the twin's bits),
  // but eight independent sums hide the latency of a chain of dependent adds.
  long done = 0;
  if (has_avx512()) {
    const long pairs = rows / 32;
#pragma omp parallel for schedule(static) num_threads(configured_threads()) if (rows * n * 4 > kParallelWork)
    for (long b = 0; b < pairs; b++) rmsnorm_rows16<2>(out + b * 32 * n, x + b * 32 * n, w, n, eps);
    done = pairs * 32;
    if (rows - done >= 16) rmsnorm_rows16<1>(out + done * n, x + done * n, w, n, eps), done += 16;
  }
  x += done * n;
  out += done * n;
  const long left = rows - done;
  const long blocks = (left + 7) / 8;
#pragma omp parallel for schedule(static) num_threads(configured_threads()) if (rows * n * 4 > kParallelWork)
  for (long b = 0; b < blocks; b++) {
    const long r0 = b * 8, nr = std::min(8L, left - r0);
    float ss[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (nr == 8)
      for (long j = 0; j < n; j++)
        for (long i = 0; i < 8; i++) ss[i] = ss[i] + x[(r0 + i) * n + j] * x[(r0 + i) * n + j];
    else
      for (long i = 0; i < nr; i++)
        for (long j = 0; j < n; j++) ss[i] = ss[i] + x[(r0 + i) * n + j] * x[(r0 + i) * n + j];
    for (long i = 0; i < nr; i++) {
      float s2 = ss[i] / (float)n;
      s2 = s2 + eps;
      s2 = 1.0f / std::sqrt(s2);
      const float* xr = x + (r0 + i) * n;
      float* o = out + (r0 + i) * n;
      for (long j = 0; j < n; j++) o[j] = w[j] * (s2 * xr[j]);
    }
  }
  return info.Env().Undefined();
}

// vec[rows x (heads*hd)] rotated in place by each row's position; cos/sin tables [positions x hd/2].
Napi::Value Rope(const Napi::CallbackInfo& info) {
  float* vec = data<float>(info[0]);
  const long rows = num(info[1]), heads = num(info[2]), hd = num(info[3]);
  const int32_t* pos = data<int32_t>(info[4]);
  const float* cs = data<float>(info[5]);
  const float* sn = data<float>(info[6]);
  const bool interleaved = info[7].As<Napi::Boolean>().Value();
  const long half = hd / 2, width = heads * hd;
  if (len(info[0]) < rows * width || len(info[4]) < rows) throw Napi::RangeError::New(info.Env(), "rope: arrays too short");
  const long table = std::min(len(info[5]), len(info[6]));
  for (long r = 0; r < rows; r++)
    if ((long)pos[r] * half + half > table) throw Napi::RangeError::New(info.Env(), "rope: position past the table");
  const bool simd = has_avx2() && (interleaved ? half % 4 == 0 : half % 8 == 0);
#pragma omp parallel for schedule(static) num_threads(configured_threads()) if (rows * width * 6 > kParallelWork)
  for (long r = 0; r < rows; r++) {
    const long tab = (long)pos[r] * half;
    if (simd) {
      rope_row_avx2(vec + r * width, heads, hd, cs + tab, sn + tab, interleaved);
      continue;
    }
    for (long h = 0; h < heads; h++) {
      float* base = vec + r * width + h * hd;
      for (long i = 0; i < half; i++) {
        float* a = interleaved ? base + 2 * i : base + i;
        float* b = interleaved ? a + 1 : a + half;
        const float fcr = cs[tab + i], fci = sn[tab + i];
        const float v0 = *a, v1 = *b;
        const float p0 = v0 * fcr, p1 = v1 * fci, p2 = v0 * fci, p3 = v1 * fcr;
        *a = p0 - p1;
        *b = p2 + p3;
      }
    }
  }
  return info.Env().Undefined();
}

// out[rows x qDim]: causal grouped-query attention of each row over its own cache, which starts at element
// offset off[r] of kbuf/vbuf ([positions x kvDim]); pos[r] is the row's position.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  float* out = data<float>(info[0]);
  const float* q = data<float>(info[1]);
  const float* kb = data<float>(info[2]);
  const float* vb = data<float>(info[3]);
  const double* off = data<double>(info[4]);
  const int32_t* pos = data<int32_t>(info[5]);
  const long rows = num(info[6]), nh = num(info[7]), nkv = num(info[8]), hd = num(info[9]), window = num(info[10]);
  const long qDim = nh * hd, kvDim = nkv * hd, group = nh / nkv;
  const long kl = len(info[2]), vl = len(info[3]);
  if (len(info[0]) < rows * qDim || len(info[1]) < rows * qDim || len(info[4]) < rows || len(info[5]) < rows)
    throw Napi::RangeError::New(info.Env(), "attention: arrays too short");
  for (long r = 0; r < rows; r++)
    if ((long)off[r] + ((long)pos[r] + 1) * kvDim > std::min(kl, vl)) throw Napi::RangeError::New(info.Env(), "attention: cache offset past the buffer");
  const bool vec = has_avx2() && hd % 8 == 0;
  // The kernel depends on the heads' shape only, never on how rows are grouped: a row's bits are the same in a
  // batch and alone.
  const bool lanes = vec && nh % 8 == 0 && (hd == 8 || hd == 16);
  const bool small = vec && !lanes && (hd == 8 || hd == 16);
  long work = 0, maxPos = 0;
  for (long r = 0; r < rows; r++) {
    work += ((long)pos[r] + 1) * nh * hd * 4;
    maxPos = std::max(maxPos, (long)pos[r]);
  }
  const long stride = maxPos + 16;
  // lanes: where in a cache row each head (lane) finds its key/value head
  std::vector<int32_t> kvOf(nh);
  for (long h = 0; h < nh; h++) kvOf[h] = (int32_t)((h / group) * hd);
  // Units of work: a row, or with AVX-512 two consecutive positions of one sequence (attend_pair_lanes).
  const bool pairs = lanes && has_avx512();
  const auto paired = [&](long r) { return pairs && r + 1 < rows && off[r + 1] == off[r] && pos[r + 1] == pos[r] + 1; };
  // a row whose sequence has no other row in the call (decoding) skips the layout of its whole cache
  const auto alone = [&](long r) { return (r == 0 || off[r - 1] != off[r]) && (r + 1 == rows || off[r + 1] != off[r]); };
  bool any_shared = false;
  for (long r = 0; r < rows && !any_shared; r++) any_shared = !alone(r);
  std::vector<long> units;
  units.reserve(rows);
  for (long r = 0; r < rows; r += paired(r) ? 2 : 1) units.push_back(r);
  // One unit (a decoding step's single row) keeps to this thread: with threads that sleep while they wait
  // (OMP_WAIT_POLICY=passive), opening a region costs a wake-up, about 0.1 ms, for no work to share.
#pragma omp parallel num_threads(configured_threads()) if (work > kParallelWork && units.size() > 1)
  {
    std::vector<float> sc, kt;
    const float* seq = nullptr;  // the cache whose keys kt holds, positions [0, filled)
    long filled = 0;
    if (small) kt.resize(nkv * hd * stride);
    if (lanes) sc.resize(16 * stride);
    // the heads-in-lanes layout, made only when some sequence has several rows in the call
    if (lanes && any_shared) kt.resize(2 * nh * hd * stride);
    float* const k8 = kt.data();
    float* const v8 = k8 + nh * hd * stride;
#pragma omp for schedule(static)
    for (long u = 0; u < (long)units.size(); u++) {
      const long r = units[u];
      const long p = pos[r];
      const long t0 = window > 0 ? std::max(0L, p - window + 1) : 0;
      if ((long)sc.size() < p + 9) sc.resize(p + 9);
      const float* kc = kb + (long)off[r];
      const float* vc = vb + (long)off[r];
      if (lanes && alone(r)) {
        if (hd == 8) attend_row_direct<8>(out + r * qDim, q + r * qDim, kc, vc, kvOf.data(), kvDim, p, t0, nh, sc.data());
        else attend_row_direct<16>(out + r * qDim, q + r * qDim, kc, vc, kvOf.data(), kvDim, p, t0, nh, sc.data());
      } else if (lanes) {
        if (kc != seq) seq = kc, filled = 0;
        const bool pair = paired(r);
        for (; filled <= p + pair; filled++) lanes_fill(k8, v8, kc, vc, kvOf.data(), filled, stride, nh, hd, kvDim);
        if (pair) {
          const long t0b = window > 0 ? std::max(0L, p + 1 - window + 1) : 0;
          if (hd == 8) attend_pair_lanes<8>(out + r * qDim, q + r * qDim, k8, v8, stride, p, t0, t0b, nh, sc.data());
          else attend_pair_lanes<16>(out + r * qDim, q + r * qDim, k8, v8, stride, p, t0, t0b, nh, sc.data());
        } else if (hd == 8) attend_row_lanes<8>(out + r * qDim, q + r * qDim, k8, v8, stride, p, t0, nh, sc.data());
        else attend_row_lanes<16>(out + r * qDim, q + r * qDim, k8, v8, stride, p, t0, nh, sc.data());
      } else if (small) {
        if (kc != seq) seq = kc, filled = 0;
        for (; filled <= p; filled++)
          for (long c = 0; c < kvDim; c++) kt[c * stride + filled] = kc[filled * kvDim + c];
        if (hd == 8) attend_row_small<8>(out + r * qDim, q + r * qDim, kt.data(), stride, vc, p, t0, nh, kvDim, group, sc.data());
        else attend_row_small<16>(out + r * qDim, q + r * qDim, kt.data(), stride, vc, p, t0, nh, kvDim, group, sc.data());
      } else if (vec) attend_row_avx2(out + r * qDim, q + r * qDim, kc, vc, p, t0, nh, hd, kvDim, group, sc.data());
      else attend_row_scalar(out + r * qDim, q + r * qDim, kc, vc, p, t0, nh, hd, kvDim, group, sc.data());
    }
  }
  return info.Env().Undefined();
}

// Each row's key and value into its cache at off[r] + pos[r]·kvDim: one call per layer instead of two copies
// per sequence (decoding steps have thousands of sequences of one row).
Napi::Value StoreKv(const Napi::CallbackInfo& info) {
  float* kc = data<float>(info[0]);
  float* vc = data<float>(info[1]);
  const float* k = data<float>(info[2]);
  const float* v = data<float>(info[3]);
  const double* off = data<double>(info[4]);
  const int32_t* pos = data<int32_t>(info[5]);
  const long rows = num(info[6]), kvDim = num(info[7]);
  const long kl = std::min(len(info[0]), len(info[1]));
  if (len(info[2]) < rows * kvDim || len(info[3]) < rows * kvDim || len(info[4]) < rows || len(info[5]) < rows)
    throw Napi::RangeError::New(info.Env(), "storeKv: arrays too short");
  for (long r = 0; r < rows; r++) {
    const long at = (long)off[r] + (long)pos[r] * kvDim;
    if (at < 0 || at + kvDim > kl) throw Napi::RangeError::New(info.Env(), "storeKv: cache offset past the buffer");
    std::copy(k + r * kvDim, k + (r + 1) * kvDim, kc + at);
    std::copy(v + r * kvDim, v + (r + 1) * kvDim, vc + at);
  }
  return info.Env().Undefined();
}

// h1 <- silu(h1) * h3, as run.c: val * (1 / (1 + exp(-val))) * h3
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  float* h1 = data<float>(info[0]);
  const float* h3 = data<float>(info[1]);
  const long n = len(info[0]);
  if (len(info[1]) < n) throw Napi::RangeError::New(info.Env(), "swiglu: arrays too short");
  if (has_avx2()) {
    // Elements are independent (a lane's result does not depend on its neighbours), so blocks can go to threads.
    constexpr long kBlock = 4096;
#pragma omp parallel for schedule(static) num_threads(configured_threads()) if (n * 30 > kParallelWork)
    for (long b = 0; b < n; b += kBlock) swiglu_avx2(h1 + b, h3 + b, std::min(kBlock, n - b));
    return info.Env().Undefined();
  }
  for (long i = 0; i < n; i++) {
    float val = h1[i];
    const float e = (float)std::exp(-(double)val);
    const float s = 1.0f / (1.0f + e);
    val = val * s;
    h1[i] = val * h3[i];
  }
  return info.Env().Undefined();
}

// x += y
Napi::Value Add(const Napi::CallbackInfo& info) {
  float* x = data<float>(info[0]);
  const float* y = data<float>(info[1]);
  const long n = len(info[0]);
  if (len(info[1]) < n) throw Napi::RangeError::New(info.Env(), "add: arrays too short");
  for (long i = 0; i < n; i++) x[i] = x[i] + y[i];
  return info.Env().Undefined();
}

// out [cols x rows] = W^T as float32, W [rows x cols] float32 or bf16 (widened: the bits shifted up, as the
// TypeScript twin's table does). Tiled, so that reads and writes both stay in cache; exact by construction.
Napi::Value TransposeF32(const Napi::CallbackInfo& info) {
  float* out = data<float>(info[0]);
  const long rows = num(info[2]), cols = num(info[3]);
  const bool bf16 = info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  if (len(info[0]) < rows * cols || len(info[1]) < rows * cols) throw Napi::RangeError::New(info.Env(), "transposeF32: arrays too short");
  const float* f = bf16 ? nullptr : data<float>(info[1]);
  const uint16_t* b = bf16 ? data<uint16_t>(info[1]) : nullptr;
  constexpr long B = 64;
  const long tiles = (rows + B - 1) / B;
#pragma omp parallel for schedule(static) num_threads(configured_threads()) if (rows * cols > kParallelWork)
  for (long t = 0; t < tiles; t++) {
    const long o0 = t * B, o1 = std::min(rows, o0 + B);
    for (long j0 = 0; j0 < cols; j0 += B) {
      const long j1 = std::min(cols, j0 + B);
      for (long o = o0; o < o1; o++)
        for (long j = j0; j < j1; j++) {
          if (bf16) {
            const uint32_t u = (uint32_t)b[o * cols + j] << 16;
            float x;
            std::memcpy(&x, &u, 4);
            out[j * rows + o] = x;
          } else
            out[j * rows + o] = f[o * cols + j];
        }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("transposeF32", Napi::Function::New(env, TransposeF32));
  exports.Set("rmsnorm", Napi::Function::New(env, Rmsnorm));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("storeKv", Napi::Function::New(env, StoreKv));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("swiglu", Napi::Function::New(env, Swiglu));
  exports.Set("add", Napi::Function::New(env, Add));
}
