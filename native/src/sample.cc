// Sampling of many rows of logits at once, with the arithmetic of src/model/sampler.ts (run.c's rule), bit for
// bit: a screen under sampling chooses a token per row per step for thousands of rows, and in JavaScript the
// softmax alone cost more than the rest of a decoding step.
//
// Why the bits are the same as the TypeScript sampler's:
// - float32 +, -, *, / here equal JavaScript's double operation rounded by Math.fround: double has more than
//   2·24 + 2 bits, so rounding twice gives the correctly rounded float result;
// - exp is fdlibm's __ieee754_exp, the algorithm V8's Math.exp uses (base/ieee754.cc), written out below in
//   double arithmetic without contraction (-ffp-contract=off), so the same doubles; the test suite compares
//   the two on random rows and on millions of arguments;
// - margins are differences of floats taken in double, as in JavaScript.
#include <napi.h>
#include <immintrin.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "isa.h"
#include "sample.h"

namespace {

inline uint32_t high_word(double x) {
  uint64_t u;
  std::memcpy(&u, &x, 8);
  return (uint32_t)(u >> 32);
}
inline uint32_t low_word(double x) {
  uint64_t u;
  std::memcpy(&u, &x, 8);
  return (uint32_t)u;
}
inline double from_words(uint32_t hi, uint32_t lo) {
  const uint64_t u = ((uint64_t)hi << 32) | lo;
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

// fdlibm's exp: reduce x to r = x − k·ln2 (ln2 split in a high and a low part), approximate exp(r) by a rational
// function of r built on a degree-5 polynomial, scale by 2^k.
double fdlibm_exp(double x) {
  static const double half[2] = {0.5, -0.5};
  static const double ln2hi[2] = {6.93147180369123816490e-01, -6.93147180369123816490e-01};
  static const double ln2lo[2] = {1.90821492927058770002e-10, -1.90821492927058770002e-10};
  const double inv_ln2 = 1.44269504088896338700e+00;
  const double p1 = 1.66666666666666019037e-01, p2 = -2.77777777770155933842e-03, p3 = 6.61375632143793436117e-05;
  const double p4 = -1.65339022054652515390e-06, p5 = 4.13813679705723846039e-08;
  const double huge = 1.0e+300, twom1000 = 9.33263618503218878990e-302, two1023 = 8.988465674311579539e307;
  const double o_threshold = 7.09782712893383973096e+02, u_threshold = -7.45133219101941108420e+02;
  double hi = 0, lo = 0;
  int k = 0;
  uint32_t hx = high_word(x);
  const int xsb = (hx >> 31) & 1;
  hx &= 0x7fffffff;
  if (hx >= 0x40862E42) {  // |x| >= 709.78…, or NaN / infinity
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | low_word(x)) != 0) return x + x;
      return xsb == 0 ? x : 0.0;
    }
    if (x > o_threshold) return huge * huge;
    if (x < u_threshold) return twom1000 * twom1000;
  }
  if (hx > 0x3fd62e42) {  // |x| > ln2/2
    if (hx < 0x3FF0A2B2) {  // and < 1.5 ln2
      if (x == 1.0) return 2.718281828459045;
      hi = x - ln2hi[xsb];
      lo = ln2lo[xsb];
      k = 1 - xsb - xsb;
    } else {
      k = (int)(inv_ln2 * x + half[xsb]);
      const double t = k;
      hi = x - t * ln2hi[0];
      lo = t * ln2lo[0];
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) {  // |x| < 2^-28
    if (huge + x > 1.0) return 1.0 + x;
  } else {
    k = 0;
  }
  const double t = x * x;
  // k << 20 in unsigned arithmetic: a negative k shifted is undefined in C++17, the same bits in two's complement
  const double twopk = k >= -1021 ? from_words(0x3ff00000u + (static_cast<uint32_t>(k) << 20), 0) : from_words(0x3ff00000u + (static_cast<uint32_t>(k + 1000) << 20), 0);
  const double c = x - t * (p1 + t * (p2 + t * (p3 + t * (p4 + t * p5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const double y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}


// the same bits as the scalar code, at the level MUTASCAN_ISA allows (isa.h)
bool has_avx512() { return isa_at_least(Isa::avx512f); }

// fdlibm_exp of 8 softmax arguments at once (x <= 0 or NaN), rounded to float: every lane runs the scalar code's
// operations for its case, in the same order and without contraction, so the same bits. One shortcut: below -104
// the result rounds to the float 0 in any case (exp(-104) is under half the smallest denormal float).
__attribute__((target("avx512f,avx512dq"))) __m256 fdlibm_exp8_nonpositive(__m512d x) {
  const __m512i bits = _mm512_castpd_si512(x);
  const __m512i hx = _mm512_srli_epi64(_mm512_and_si512(bits, _mm512_set1_epi64(0x7fffffffffffffffLL)), 32);
  const __mmask8 nan = _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q);
  const __mmask8 zero = _mm512_cmp_pd_mask(x, _mm512_set1_pd(-104.0), _CMP_LT_OQ);
  const __mmask8 tiny = _mm512_cmplt_epi64_mask(hx, _mm512_set1_epi64(0x3e300000));
  const __mmask8 reduced = _mm512_cmpgt_epi64_mask(hx, _mm512_set1_epi64(0x3fd62e42));  // |x| > ln2/2: k != 0
  const __mmask8 near = _mm512_cmplt_epi64_mask(hx, _mm512_set1_epi64(0x3FF0A2B2));     // and < 1.5 ln2: k = -1
  const __m512d ln2hi = _mm512_set1_pd(6.93147180369123816490e-01), ln2lo = _mm512_set1_pd(1.90821492927058770002e-10);
  // k = (int)(invln2·x − 0.5), truncated toward zero (x < 0 here)
  const __m512d kx = _mm512_cvtepi32_pd(_mm512_cvttpd_epi32(_mm512_sub_pd(_mm512_mul_pd(_mm512_set1_pd(1.44269504088896338700e+00), x), _mm512_set1_pd(0.5))));
  const __m512d tk = _mm512_mask_blend_pd(near, kx, _mm512_set1_pd(-1.0));
  // near: hi = x − (−ln2hi), lo = −ln2lo; else hi = x − t·ln2hi, lo = t·ln2lo
  const __m512d hi = _mm512_mask_blend_pd(near, _mm512_sub_pd(x, _mm512_mul_pd(tk, ln2hi)), _mm512_sub_pd(x, _mm512_set1_pd(-6.93147180369123816490e-01)));
  const __m512d lo = _mm512_mask_blend_pd(near, _mm512_mul_pd(tk, ln2lo), _mm512_set1_pd(-1.90821492927058770002e-10));
  const __m512d xr = _mm512_mask_blend_pd(reduced, x, _mm512_sub_pd(hi, lo));
  const __m512d t = _mm512_mul_pd(xr, xr);
  __m512d poly = _mm512_add_pd(_mm512_set1_pd(-1.65339022054652515390e-06), _mm512_mul_pd(t, _mm512_set1_pd(4.13813679705723846039e-08)));
  poly = _mm512_add_pd(_mm512_set1_pd(6.61375632143793436117e-05), _mm512_mul_pd(t, poly));
  poly = _mm512_add_pd(_mm512_set1_pd(-2.77777777770155933842e-03), _mm512_mul_pd(t, poly));
  poly = _mm512_add_pd(_mm512_set1_pd(1.66666666666666019037e-01), _mm512_mul_pd(t, poly));
  const __m512d c = _mm512_sub_pd(xr, _mm512_mul_pd(t, poly));
  const __m512d one = _mm512_set1_pd(1.0), two = _mm512_set1_pd(2.0);
  const __m512d xc = _mm512_mul_pd(xr, c);
  // k = 0: 1 − ((x·c)/(c − 2) − x)
  const __m512d y0 = _mm512_sub_pd(one, _mm512_sub_pd(_mm512_div_pd(xc, _mm512_sub_pd(c, two)), xr));
  // k != 0: (1 − ((lo − (x·c)/(2 − c)) − hi))·2^k
  const __m512d y1 = _mm512_sub_pd(one, _mm512_sub_pd(_mm512_sub_pd(lo, _mm512_div_pd(xc, _mm512_sub_pd(two, c))), hi));
  const __m512d twopk = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_cvttpd_epi64(tk), _mm512_set1_epi64(1023)), 52));
  __m512d y = _mm512_mask_blend_pd(reduced, y0, _mm512_mul_pd(y1, twopk));
  y = _mm512_mask_blend_pd(tiny, y, _mm512_add_pd(one, x));
  y = _mm512_mask_blend_pd(zero, y, _mm512_setzero_pd());
  y = _mm512_mask_blend_pd(nan, y, _mm512_add_pd(x, x));
  return _mm512_cvtpd_ps(y);
}

// e[i] = exp(p[i] − mx) rounded to float, 8 at a time.
__attribute__((target("avx512f,avx512dq"))) void exp_terms_avx512(float* e, const float* p, long n, float mx) {
  long i = 0;
  const __m256 m = _mm256_set1_ps(mx);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(e + i, fdlibm_exp8_nonpositive(_mm512_cvtps_pd(_mm256_sub_ps(_mm256_loadu_ps(p + i), m))));
  for (; i < n; i++) e[i] = (float)fdlibm_exp((double)(float)(p[i] - mx));
}

struct Choice {
  int32_t token;
  double margin;
};

// run.c's softmax of logits / temperature into p.
void softmax(float* p, const float* logits, long n, float t) {
  float mx = -INFINITY;
  for (long i = 0; i < n; i++) {
    const float x = logits[i] / t;
    p[i] = x;
    if (x > mx) mx = x;
  }
  float sum = 0;
  if (has_avx512()) {
    exp_terms_avx512(p, p, n, mx);
    for (long i = 0; i < n; i++) sum = sum + p[i];
  } else
    for (long i = 0; i < n; i++) {
      const float e = (float)fdlibm_exp((double)(p[i] - mx));
      p[i] = e;
      sum = sum + e;
    }
  for (long i = 0; i < n; i++) p[i] = p[i] / sum;
}

Choice sample_mult(const float* p, long n, double coin) {
  float cdf = 0;
  for (long i = 0; i < n; i++) {
    const float before = cdf;
    cdf = cdf + p[i];
    if (coin < cdf) return {(int32_t)i, std::min(coin - before, (double)cdf - coin)};
  }
  return {(int32_t)(n - 1), coin - cdf};
}

// sampler.ts sampleSorted: tokens past the cutoff in a heap ordered as the stable sort orders them (higher
// probability first, then lower index), taken from its root until the mass exceeds top-p or k are taken.
Choice sample_sorted(const float* p, long n, double coin, float top_p, long top_k, std::vector<int32_t>& h) {
  const float cutoff = top_p > 0 ? (1.0f - top_p) / (float)(n - 1) : 0.0f;
  h.resize(n);
  long size = 0;
  for (long i = 0; i < n; i++)
    if (p[i] >= cutoff) h[size++] = (int32_t)i;
  const auto before = [p](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
  const auto down = [&](long at) {
    const int32_t x = h[at];
    for (;;) {
      long c = 2 * at + 1;
      if (c >= size) break;
      if (c + 1 < size && before(h[c + 1], h[c])) c++;
      if (!before(h[c], x)) break;
      h[at] = h[c];
      at = c;
    }
    h[at] = x;
  };
  for (long i = (size >> 1) - 1; i >= 0; i--) down(i);
  const long limit = top_k > 0 && top_k < size ? top_k : size;
  long taken = 0;
  float cum = 0, cum_before = 0;
  while (taken < limit) {
    const int32_t top = h[0];
    h[0] = h[--size];
    if (size > 0) down(0);
    h[n - 1 - taken++] = top;
    cum_before = cum;
    cum = cum + p[top];
    if (top_p > 0 && cum > top_p) break;
  }
  // nothing past the cutoff (NaN probabilities): the last token, with a zero margin so the output is flagged
  if (taken == 0) return {(int32_t)(n - 1), 0.0};
  const long last = taken - 1;
  const float r = (float)(coin * (double)cum);
  const auto sorted = [&](long k) { return h[n - 1 - k]; };
  float cdf = 0;
  long at = last;
  double margin = 0;
  for (long i = 0; i <= last; i++) {
    const float b = cdf;
    cdf = cdf + p[sorted(i)];
    if (r < cdf) {
      at = i;
      margin = std::min((double)r - b, (double)cdf - r);
      break;
    }
    if (i == last) margin = (double)r - cdf;
  }
  // sampler.ts sortedMargin: the order, the nucleus's cut, top-k's cut, and the cutoff when every token past it
  // was taken
  const int32_t next = size > 0 ? h[0] : -1;
  const bool cut = top_p > 0 && cum > top_p;
  const double pa = p[sorted(at)];
  if (at > 0) margin = std::min(margin, (double)p[sorted(at - 1)] - pa);
  if (at < last) margin = std::min(margin, pa - (double)p[sorted(at + 1)]);
  if (at == last && next >= 0) margin = std::min(margin, pa - (double)p[next]);
  if (cut) margin = std::min(margin, std::min((double)cum - (double)top_p, (double)top_p - (double)cum_before));
  if (!cut && next < 0 && cutoff > 0)
    for (long i = 0; i < n; i++) margin = std::min(margin, std::fabs((double)p[i] - (double)cutoff));
  return {sorted(at), margin};
}

// sampleRows(tokens Int32Array, margins Float64Array, logits Float32Array, rows, vocab, temperature, topP, topK,
// coins Float64Array): row r's token from logits[r·vocab …] with coins[r]. temperature > 0.
Napi::Value SampleRows(const Napi::CallbackInfo& info) {
  auto tokens = info[0].As<Napi::Int32Array>();
  auto margins = info[1].As<Napi::Float64Array>();
  auto logits = info[2].As<Napi::Float32Array>();
  const long rows = info[3].As<Napi::Number>().Int64Value(), n = info[4].As<Napi::Number>().Int64Value();
  const float t = (float)info[5].As<Napi::Number>().DoubleValue();
  const float top_p = (float)info[6].As<Napi::Number>().DoubleValue();
  const long top_k = info[7].As<Napi::Number>().Int64Value();
  auto coins = info[8].As<Napi::Float64Array>();
  if ((long)tokens.ElementLength() < rows || (long)margins.ElementLength() < rows || (long)coins.ElementLength() < rows || (long)logits.ElementLength() < rows * n || n < 1 || !(t > 0))
    throw Napi::RangeError::New(info.Env(), "sampleRows: arrays too short or temperature not positive");
  const bool nucleus = top_p > 0 && top_p < 1;
  const bool sorted = nucleus || (top_k > 0 && top_k < n);
  std::vector<float> p(n);
  std::vector<int32_t> heap;
  for (long r = 0; r < rows; r++) {
    softmax(p.data(), logits.Data() + r * n, n, t);
    const Choice c = sorted ? sample_sorted(p.data(), n, coins[r], nucleus ? top_p : 0.0f, top_k, heap) : sample_mult(p.data(), n, coins[r]);
    tokens[r] = c.token;
    margins[r] = c.margin;
  }
  return info.Env().Undefined();
}

// expTerms(out Float32Array, p Float32Array, mx): the softmax's exp(p[i] − mx) as float, as the sampler computes
// them (8 lanes at a time where the CPU has AVX-512); the test compares them with Math.fround(Math.exp(…)).
Napi::Value ExpTerms(const Napi::CallbackInfo& info) {
  auto out = info[0].As<Napi::Float32Array>();
  auto p = info[1].As<Napi::Float32Array>();
  const float mx = (float)info[2].As<Napi::Number>().DoubleValue();
  const long n = (long)p.ElementLength();
  if ((long)out.ElementLength() < n) throw Napi::RangeError::New(info.Env(), "expTerms: output too short");
  if (has_avx512()) exp_terms_avx512(out.Data(), p.Data(), n, mx);
  else
    for (long i = 0; i < n; i++) out[i] = (float)fdlibm_exp((double)(p[i] - mx));
  return info.Env().Undefined();
}

}  // namespace

void register_sample(Napi::Env env, Napi::Object exports) {
  exports.Set("sampleRows", Napi::Function::New(env, SampleRows));
  exports.Set("expTerms", Napi::Function::New(env, ExpTerms));
}
