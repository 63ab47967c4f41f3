// The machine's FMA peak, measured by a tight loop of independent fused multiply-adds on every thread asked for.
// bench:gemm divides achieved GEMM throughput by this to say how close to the hardware a product runs.
#include <immintrin.h>
#include <algorithm>
#include <atomic>
#include <memory>
#include <chrono>
#include <thread>
#include <vector>
#include "isa.h"
#include "peak.h"

namespace {

__attribute__((target("avx512f"))) double loop_f32(long iters) {
  // 12 independent accumulators hide the FMA latency on two pipes.
  __m512 a0 = _mm512_set1_ps(0.1f), a1 = _mm512_set1_ps(0.2f), a2 = _mm512_set1_ps(0.3f), a3 = _mm512_set1_ps(0.4f);
  __m512 a4 = _mm512_set1_ps(0.5f), a5 = _mm512_set1_ps(0.6f), a6 = _mm512_set1_ps(0.7f), a7 = _mm512_set1_ps(0.8f);
  __m512 a8 = _mm512_set1_ps(0.9f), a9 = _mm512_set1_ps(1.0f), a10 = _mm512_set1_ps(1.1f), a11 = _mm512_set1_ps(1.2f);
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; i++) {
    a0 = _mm512_fmadd_ps(a0, b, c); a1 = _mm512_fmadd_ps(a1, b, c); a2 = _mm512_fmadd_ps(a2, b, c);
    a3 = _mm512_fmadd_ps(a3, b, c); a4 = _mm512_fmadd_ps(a4, b, c); a5 = _mm512_fmadd_ps(a5, b, c);
    a6 = _mm512_fmadd_ps(a6, b, c); a7 = _mm512_fmadd_ps(a7, b, c); a8 = _mm512_fmadd_ps(a8, b, c);
    a9 = _mm512_fmadd_ps(a9, b, c); a10 = _mm512_fmadd_ps(a10, b, c); a11 = _mm512_fmadd_ps(a11, b, c);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) double loop_bf16(long iters) {
  // vdpbf16ps: 32 bf16 products summed pairwise into 16 float lanes = 64 flops per instruction.
  __m512 a[12];
  for (int k = 0; k < 12; k++) a[k] = _mm512_set1_ps(0.1f * k);
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) a[k] = _mm512_dpbf16_ps(a[k], x, y);
  }
  __m512 s = a[0];
  for (int k = 1; k < 12; k++) s = _mm512_add_ps(s, a[k]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) double loop_f32_avx2(long iters) {
  __m256 a[12];
  for (int k = 0; k < 12; k++) a[k] = _mm256_set1_ps(0.1f * (k + 1));
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) a[k] = _mm256_fmadd_ps(a[k], b, c);
  }
  __m256 s = a[0];
  for (int k = 1; k < 12; k++) s = _mm256_add_ps(s, a[k]);
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

// No FMA below AVX2: separate multiplies and adds on 4 lanes (SSE2), 2 flops per lane and pair.
double loop_f32_sse(long iters) {
  __m128 a[12];
  for (int k = 0; k < 12; k++) a[k] = _mm_set1_ps(0.1f * (k + 1));
  const __m128 b = _mm_set1_ps(0.999999f), c = _mm_set1_ps(1e-7f);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int k = 0; k < 12; k++) a[k] = _mm_add_ps(_mm_mul_ps(a[k], b), c);
  }
  __m128 s = a[0];
  for (int k = 1; k < 12; k++) s = _mm_add_ps(s, a[k]);
  alignas(16) float t[4];
  _mm_store_ps(t, s);
  return t[0] + t[1] + t[2] + t[3];
}

// The instruction loop a kind's products are bound by at the level in use, and its flops per iteration. bf16
// below AVX-512 BF16 is two float32 FMAs per pair of inputs (bf16exact.cc), so its peak is float32's.
struct Loop {
  double (*fn)(long);
  double flops;
};

Loop loop_for(bool bf16) {
  const Isa l = isa_level();
  if (bf16 && l >= Isa::avx512bf16) return {loop_bf16, 12.0 * 64};
  if (l >= Isa::avx512f) return {loop_f32, 12.0 * 32};
  if (l == Isa::avx2) return {loop_f32_avx2, 12.0 * 16};
  return {loop_f32_sse, 12.0 * 8};
}

}  // namespace

const char* peak_instruction(bool bf16) {
  const Isa l = isa_level();
  if (bf16 && l >= Isa::avx512bf16) return "vdpbf16ps (512-bit)";
  if (l >= Isa::avx512f) return "vfmadd (512-bit)";
  if (l == Isa::avx2) return "vfmadd (256-bit)";
  return "mulps + addps (128-bit)";
}

double peak_gflops(bool bf16, int threads, double seconds) {
  const Loop loop = loop_for(bf16);
  const double flops_per_iter = loop.flops;
  // Calibrate the iteration count on one thread, then run all threads for about `seconds`.
  long iters = 1 << 20;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    volatile double sink = loop.fn(iters);
    (void)sink;
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt > 0.05) {
      iters = (long)(iters * seconds / dt);
      break;
    }
    iters *= 4;
  }
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; t++)
    pool.emplace_back([&, t] {
      volatile double sink = loop.fn(iters);
      (void)sink;
      ready++;
    });
  for (auto& th : pool) th.join();
  double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return flops_per_iter * iters * threads / dt / 1e9;
}

// Memory bandwidth, STREAM's way: arrays far larger than the last-level cache, each thread sweeping its own
// contiguous part (first touched by that thread), the best of several sweeps. Bytes are counted as STREAM counts
// them (triad: two reads and a write per element; the write-allocate read is not counted).
namespace {
// The read sweep: eight accumulators, so that the sum is bound by the loads, not by the adds' latency; with
// AVX2, 32-byte loads four at a time (the width a product's weight stream is read at).
double read_sum(const float* p, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += p[i + k];
  for (; i < n; i++) acc[0] += p[i];
  double s = 0;
  for (float x : acc) s += x;
  return s;
}

__attribute__((target("avx2"))) double read_sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float out[8];
  _mm256_store_ps(out, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  double s = 0;
  for (float x : out) s += x;
  for (; i < n; i++) s += p[i];
  return s;
}
}  // namespace

double bandwidth_gbs(bool triad, double bytes, int threads, double seconds) {
  const bool wide = __builtin_cpu_supports("avx2");
  const size_t n = (size_t)(bytes / (triad ? 3 : 1) / sizeof(float));
  std::unique_ptr<float[]> a(new float[n]);
  std::unique_ptr<float[]> b(triad ? new float[n] : nullptr);
  std::unique_ptr<float[]> c(triad ? new float[n] : nullptr);
  const size_t per = (n + threads - 1) / threads;
  auto part = [&](int t, auto&& fn) {
    size_t lo = std::min(n, per * t), hi = std::min(n, lo + per);
    fn(lo, hi);
  };
  auto parallel = [&](auto&& fn) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) pool.emplace_back([&, t] { part(t, fn); });
    for (auto& th : pool) th.join();
  };
  parallel([&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
      a[i] = 1.0f;
      if (triad) b[i] = 2.0f, c[i] = 0.5f;
    }
  });
  std::atomic<double> sink{0};
  double best = 0;
  auto start = std::chrono::steady_clock::now();
  do {
    auto t0 = std::chrono::steady_clock::now();
    if (triad)
      parallel([&](size_t lo, size_t hi) {
        const float s = 3.0f;
        float* __restrict pa = a.get();
        const float* __restrict pb = b.get();
        const float* __restrict pc = c.get();
        for (size_t i = lo; i < hi; i++) pa[i] = pb[i] + s * pc[i];
      });
    else
      parallel([&](size_t lo, size_t hi) {
        const double s = wide ? read_sum_avx2(a.get() + lo, hi - lo) : read_sum(a.get() + lo, hi - lo);
        double cur = sink.load();
        while (!sink.compare_exchange_weak(cur, cur + s)) {
        }
      });
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, (triad ? 3.0 : 1.0) * n * sizeof(float) / dt / 1e9);
  } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds);
  volatile double keep = sink.load();
  (void)keep;
  return best;
}
