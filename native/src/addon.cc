// mutascan's native backend: matrix products on the JavaScript typed arrays in place (no copies of weights or
// activations). The row-exact kernels (f32exact.cc, bf16exact.cc) are the default; OpenBLAS (fp32) and oneDNN
// (fp32, bf16) are there for `MUTASCAN_KERNEL=library` and the benchmarks. Also the machine's FMA peak.
//
//   out[r, o] = sum_j x[r, j] * W[o, j]     x: [rows x in], W: [out x in] as stored in the checkpoint.
#include <napi.h>
#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <oneapi/dnnl/dnnl_debug.h>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>
#include "bf16exact.h"
#include "f32exact.h"
#include "isa.h"
#include "mmap.h"
#include "ops.h"
#include "sample.h"
#include "peak.h"

namespace {

int g_threads = 1;

// Products smaller than this (in flops) run on one thread: waking a second one costs more than it saves
// (stories260K's 64-wide matrices run 3x slower on two threads than on one).
constexpr double kParallelFlops = 1 << 22;

}  // namespace

int configured_threads() { return g_threads; }

namespace {

int threads_for(long rows, long m, long n) { return 2.0 * rows * m * n < kParallelFlops ? 1 : g_threads; }

void check(bool ok, Napi::Env env, const char* what) {
  if (!ok) throw Napi::RangeError::New(env, what);
}

// ---- fp32: OpenBLAS -------------------------------------------------------------------------------------------

Napi::Value Sgemm(const Napi::CallbackInfo& info);

// ---- bf16: oneDNN -------------------------------------------------------------------------------------------------

struct Dnnl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  // One primitive per (rows, in, out): oneDNN picks its fastest kernel for fixed shapes.
  std::map<std::tuple<long, long, long, int>, dnnl::matmul> prims;
  std::vector<uint16_t> xbf;
  std::vector<float> xsplit;
};

Dnnl& dnnl_state() {
  static Dnnl d;
  return d;
}

// float32 -> bf16, round to nearest even (NaN stays NaN): the rounding the TypeScript backend applies too.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

// oneDNN fixes a primitive's thread count when it is created; primitives are cached per thread count.
dnnl::matmul& dnnl_prim(Dnnl& d, bool bf16, long rows, long n, long m, int threads) {
  auto key = std::make_tuple(bf16 ? -rows : rows, n, m, threads);
  auto it = d.prims.find(key);
  if (it != d.prims.end()) return it->second;
  using dt = dnnl::memory::data_type;
  const dt in = bf16 ? dt::bf16 : dt::f32;
  dnnl::memory::desc src({rows, n}, in, dnnl::memory::dims{n, 1});
  dnnl::memory::desc wei({n, m}, in, dnnl::memory::dims{1, n});  // W^T seen in place: no reorder, no copy
  dnnl::memory::desc dst({rows, m}, dt::f32, dnnl::memory::dims{m, 1});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), d.eng);
  if (d.prims.size() > 256) d.prims.clear();
  return d.prims.emplace(key, dnnl::matmul(pd)).first->second;
}

// The arguments every product takes: (out, x, rows, W, out_features, in_features), checked against each other.
template <typename W>
struct GemmArgs {
  float* out;
  const float* x;
  const W* w;
  long rows, m, n;
};

template <typename WArray, typename W>
GemmArgs<W> gemm_args(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  auto out = info[0].As<Napi::Float32Array>();
  auto x = info[1].As<Napi::Float32Array>();
  auto w = info[3].As<WArray>();
  GemmArgs<W> a{out.Data(), x.Data(), w.Data(), info[2].As<Napi::Number>().Int64Value(), info[4].As<Napi::Number>().Int64Value(),
                info[5].As<Napi::Number>().Int64Value()};
  const std::string n(name);
  check(a.rows >= 0 && a.m > 0 && a.n > 0, env, (n + ": bad sizes").c_str());
  check((long)x.ElementLength() >= a.rows * a.n, env, (n + ": x is shorter than rows x in").c_str());
  check((long)w.ElementLength() >= a.m * a.n, env, (n + ": W is shorter than out x in").c_str());
  check((long)out.ElementLength() >= a.rows * a.m, env, (n + ": out is shorter than rows x out").c_str());
  return a;
}

// Arguments of a product written ldo apart: (out, ldo, x, rows, W, out_features, in_features), checked.
template <typename W>
struct StridedArgs {
  float* out;
  long ldo;
  const float* x;
  long rows;
  const W* w;
  long m, n;
};

template <typename WArray, typename W>
StridedArgs<W> strided_args(const Napi::CallbackInfo& info, const char* name) {
  Napi::Env env = info.Env();
  auto out = info[0].As<Napi::Float32Array>();
  auto x = info[2].As<Napi::Float32Array>();
  auto w = info[4].As<WArray>();
  StridedArgs<W> a{out.Data(), info[1].As<Napi::Number>().Int64Value(), x.Data(), info[3].As<Napi::Number>().Int64Value(), w.Data(),
                   info[5].As<Napi::Number>().Int64Value(), info[6].As<Napi::Number>().Int64Value()};
  const std::string n(name);
  check(a.rows >= 0 && a.m > 0 && a.n > 0 && a.ldo >= a.m, env, (n + ": bad sizes").c_str());
  check((long)x.ElementLength() >= a.rows * a.n, env, (n + ": x is shorter than rows x in").c_str());
  check((long)w.ElementLength() >= a.m * a.n, env, (n + ": W is shorter than out x in").c_str());
  check(a.rows == 0 || (long)out.ElementLength() >= (a.rows - 1) * a.ldo + a.m, env, (n + ": out is too short").c_str());
  return a;
}

// out = src . W^T through oneDNN; src and W are bf16 or f32 together, out is f32.
void dnnl_matmul(Napi::Env env, bool bf16, long rows, long n, long m, const void* src, const void* w, float* out) {
  Dnnl& d = dnnl_state();
  try {
    const int th = threads_for(rows, m, n);
    omp_set_num_threads(th);
    auto& prim = dnnl_prim(d, bf16, rows, n, m, th);
    using dt = dnnl::memory::data_type;
    const dt in = bf16 ? dt::bf16 : dt::f32;
    dnnl::memory s({{rows, n}, in, dnnl::memory::dims{n, 1}}, d.eng, const_cast<void*>(src));
    dnnl::memory wei({{n, m}, in, dnnl::memory::dims{1, n}}, d.eng, const_cast<void*>(w));
    dnnl::memory dst({{rows, m}, dt::f32, dnnl::memory::dims{m, 1}}, d.eng, out);
    prim.execute(d.stream, {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    d.stream.wait();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(env, std::string("oneDNN ") + (bf16 ? "bf16" : "f32") + " matmul failed: " + e.what());
  }
}

// Whether oneDNN runs bf16 matmuls here: Debian's oneDNN has bf16 kernels for AVX-512 and up only, and asked for a
// primitive it cannot make it fails. Asked once, with a small primitive, so that no product ever meets that.
bool onednn_bf16() {
  static const bool ok = [] {
    if (!isa_at_least(Isa::avx512f)) return false;
    try {
      Dnnl& d = dnnl_state();
      dnnl_prim(d, true, 2, 32, 16, 1);
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return ok;
}

Napi::Value Bf16gemm(const Napi::CallbackInfo& info) {
  check(onednn_bf16(), info.Env(), "bf16gemm: oneDNN has no bf16 matmul for this CPU level (use the row-exact kernel)");
  auto a = gemm_args<Napi::Uint16Array, uint16_t>(info, "bf16gemm");
  if (a.rows == 0) return info.Env().Undefined();
  Dnnl& d = dnnl_state();
  if ((long)d.xbf.size() < a.rows * a.n) d.xbf.resize(a.rows * a.n);
  for (long i = 0; i < a.rows * a.n; i++) d.xbf[i] = to_bf16(a.x[i]);
  dnnl_matmul(info.Env(), true, a.rows, a.n, a.m, d.xbf.data(), a.w, a.out);
  return info.Env().Undefined();
}

// bf16exact(out, ldo, x, rows, W, out_features, in_features): the row-exact bf16 product (bf16exact.cc); out rows
// are ldo apart, so a patch's few output features can be written into the full output in place.
Napi::Value Bf16exact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto a = strided_args<Napi::Uint16Array, uint16_t>(info, "bf16exact");
  if (a.rows == 0) return env.Undefined();
  Dnnl& d = dnnl_state();
  if ((long)d.xbf.size() < a.rows * a.n) d.xbf.resize(a.rows * a.n);
  for (long i = 0; i < a.rows * a.n; i++) d.xbf[i] = to_bf16(a.x[i]);
  const void* x = d.xbf.data();
  if (bf16exact_splits()) {
    const long width = bf16exact_split_width(a.n);
    if ((long)d.xsplit.size() < a.rows * width) d.xsplit.resize(a.rows * width);
    bf16exact_split(d.xsplit.data(), d.xbf.data(), a.rows, a.n);
    x = d.xsplit.data();
  }
  bf16exact_gemm(a.out, a.ldo, x, a.rows, a.w, a.m, a.n, threads_for(a.rows, a.m, a.n));
  return env.Undefined();
}

// f32exact(out, ldo, x, rows, W, out_features, in_features): the row-exact float32 product (f32exact.cc), W float32
// or, as a Uint16Array, float16; out rows ldo apart.
Napi::Value F32exact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool f16 = info[4].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  if (f16) {
    auto a = strided_args<Napi::Uint16Array, uint16_t>(info, "f32exact");
    if (a.rows > 0) f16exact_gemm(a.out, a.ldo, a.x, a.rows, a.w, a.m, a.n, threads_for(a.rows, a.m, a.n));
  } else {
    auto a = strided_args<Napi::Float32Array, float>(info, "f32exact");
    if (a.rows > 0) f32exact_gemm(a.out, a.ldo, a.x, a.rows, a.w, a.m, a.n, threads_for(a.rows, a.m, a.n));
  }
  return env.Undefined();
}

// sgemmInto(out, ldo, x, rows, W, out_features, in_features): each output summed left to right without FMA
// (built with -ffp-contract=off), the TypeScript twin's order, written ldo apart: a patch's few rows of an
// fp32 matrix, recomputed in place for one mutant.
Napi::Value SgemmInto(const Napi::CallbackInfo& info) {
  auto a = strided_args<Napi::Float32Array, float>(info, "sgemmInto");
  for (long r = 0; r < a.rows; r++)
    for (long i = 0; i < a.m; i++) {
      const float* wr = a.w + i * a.n;
      const float* xr = a.x + r * a.n;
      float acc = 0.0f;
      for (long j = 0; j < a.n; j++) acc = acc + wr[j] * xr[j];
      a.out[r * a.ldo + i] = acc;
    }
  return info.Env().Undefined();
}

// fp32 through oneDNN's own JIT kernels (used where they beat OpenBLAS; see bench:gemm).
Napi::Value DnnlSgemm(const Napi::CallbackInfo& info) {
  auto a = gemm_args<Napi::Float32Array, float>(info, "dnnlSgemm");
  if (a.rows > 0) dnnl_matmul(info.Env(), false, a.rows, a.n, a.m, a.x, a.w, a.out);
  return info.Env().Undefined();
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  auto a = gemm_args<Napi::Float32Array, float>(info, "sgemm");
  if (a.rows == 0) return info.Env().Undefined();
  openblas_set_num_threads(threads_for(a.rows, a.m, a.n));
  if (a.rows == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, a.m, a.n, 1.0f, a.w, a.n, a.x, 1, 0.0f, a.out, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, a.rows, a.m, a.n, 1.0f, a.x, a.n, a.w, a.n, 0.0f, a.out, a.m);
  return info.Env().Undefined();
}

// ---- threads, peak, info ------------------------------------------------------------------------------------------

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  check(n >= 1 && n <= 1024, info.Env(), "setThreads: need 1..1024");
  g_threads = n;
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
  dnnl_state().prims.clear();  // oneDNN primitives fix their thread count when created
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g_threads); }

Napi::Value Peak(const Napi::CallbackInfo& info) {
  bool bf16 = info[0].As<Napi::String>().Utf8Value() == "bf16";
  int threads = info[1].As<Napi::Number>().Int32Value();
  double seconds = info[2].As<Napi::Number>().DoubleValue();
  return Napi::Number::New(info.Env(), peak_gflops(bf16, threads, seconds));
}

Napi::Value Bandwidth(const Napi::CallbackInfo& info) {
  bool triad = info[0].As<Napi::String>().Utf8Value() == "triad";
  double bytes = info[1].As<Napi::Number>().DoubleValue();
  int threads = info[2].As<Napi::Number>().Int32Value();
  double seconds = info[3].As<Napi::Number>().DoubleValue();
  return Napi::Number::New(info.Env(), bandwidth_gbs(triad, bytes, threads, seconds));
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("openblas", openblas_get_config());
  const dnnl_version_t* v = dnnl_version();
  o.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  o.Set("isa", isa_name(isa_level()));
  o.Set("hostIsa", isa_name(host_isa()));
  o.Set("onednnIsa", dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
  o.Set("onednnBf16", onednn_bf16());
  o.Set("bf16exact", bf16exact_kernel());
  o.Set("bf16Numerics", bf16exact_numerics());
  o.Set("f32exact", f32exact_kernel());
  o.Set("peakF32", peak_instruction(false));
  o.Set("peakBf16", peak_instruction(true));
  o.Set("threads", g_threads);
  return o;
}

// oneDNN's kernels at most at the level in use, so that a capped level (MUTASCAN_ISA) caps them too; set before
// any primitive exists.
dnnl_cpu_isa_t onednn_cap(Isa l) {
  switch (l) {
    case Isa::portable: return dnnl_cpu_isa_sse41;
    case Isa::avx2: return dnnl_cpu_isa_avx2;
    case Isa::avx512f: return dnnl_cpu_isa_avx512_core;
    case Isa::avx512bf16: return dnnl_cpu_isa_avx512_core_bf16;
    default: return dnnl_cpu_isa_all;
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (*isa_request_error())
    throw Napi::Error::New(env, std::string("MUTASCAN_ISA=") + isa_request_error() + " names no instruction-set level (use auto, portable, avx2, avx512f, avx512bf16 or amx)");
  if (isa_level() != Isa::amx) dnnl_set_max_cpu_isa(onednn_cap(isa_level()));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm));
  exports.Set("bf16gemm", Napi::Function::New(env, Bf16gemm));
  exports.Set("dnnlSgemm", Napi::Function::New(env, DnnlSgemm));
  exports.Set("bf16exact", Napi::Function::New(env, Bf16exact));
  exports.Set("sgemmInto", Napi::Function::New(env, SgemmInto));
  exports.Set("f32exact", Napi::Function::New(env, F32exact));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("peak", Napi::Function::New(env, Peak));
  exports.Set("bandwidth", Napi::Function::New(env, Bandwidth));
  exports.Set("info", Napi::Function::New(env, Info));
  register_ops(env, exports);
  register_sample(env, exports);
  register_mmap(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(mutascan_native, Init)
