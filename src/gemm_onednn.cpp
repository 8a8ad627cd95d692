#include "gemm_onednn.hpp"

#include <omp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dptrain/error.hpp"

#if DPTRAIN_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace dptrain {

#if DPTRAIN_HAVE_ONEDNN

namespace {

using dnnl::memory;
using dims = memory::dims;

/// Holds the calling thread to one OpenMP thread for its lifetime, then restores its setting.
class OneOpenMpThread {
 public:
  OneOpenMpThread() : saved_(omp_get_max_threads()) {
    if (saved_ != 1) omp_set_num_threads(1);
  }
  ~OneOpenMpThread() {
    if (saved_ != 1) omp_set_num_threads(saved_);
  }
  OneOpenMpThread(const OneOpenMpThread&) = delete;
  OneOpenMpThread& operator=(const OneOpenMpThread&) = delete;

 private:
  int saved_;
};

// Note [Signals during oneDNN kernels]. oneDNN's generated f32 GEMM kernels ("gemm:jit": every
// matmul on an AVX2-only CPU, some shapes on AVX-512) point RSP into heap memory while they run
// (oneDNN issue 4845, fixed in oneDNN 3.11; Debian 12 ships 2.6.3). A signal handled on that
// thread meanwhile gets its frame written by the kernel onto the heap: `timeout ... dptrain train
// --save-every 1` aborted with "corrupted size vs. prev_size" after the SIGTERM handler ran, and
// a Python fit interrupted by Ctrl-C crashed. tests/onednn_signal_test.cpp shows it in a second
// under ONEDNN_MAX_CPU_ISA=AVX2. So a primitive whose implementation is not brgemm runs with
// every asynchronous signal blocked on its thread (SignalsHeld): a signal arriving then stays
// pending until the product returns (microseconds to milliseconds) and is handled there. The
// synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) are left alone, and so
// are brgemm's kernels (AVX-512), which keep RSP. Cost: two pthread_sigmask calls per product,
// about 0.4 us measured, against the 0.1 MFLOP or more of any product oneDNN runs (onednn_runs).
class SignalsHeld {
 public:
  explicit SignalsHeld(bool hold) : held_(hold) {
    if (!held_) return;
    sigset_t block;
    sigfillset(&block);
    for (const int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&block, s);
    pthread_sigmask(SIG_BLOCK, &block, &saved_);
  }
  ~SignalsHeld() {
    if (held_) pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
  }
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

 private:
  bool held_;
  sigset_t saved_{};
};

struct Key {
  std::size_t m, n, k, lda, ldb, ldc;
  bool ta, tb, bias;
  float alpha, beta;
  bool bf16_inputs;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const {
    std::size_t h = 1469598103934665603ull;
    for (std::size_t v : {k.m, k.n, k.k, k.lda, k.ldb, k.ldc,
                          std::size_t(k.ta) | std::size_t(k.tb) << 1 | std::size_t(k.bias) << 2 |
                              std::size_t(k.bf16_inputs) << 3})
      h = (h ^ v) * 1099511628211ull;
    return h;
  }
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

/// One shape's primitive with its memory objects (their data handles are set per call).
struct Matmul {
  dnnl::matmul primitive;
  memory a, b, c, bias, scratchpad;
  std::vector<char> scratch;
  /// Note [Signals during oneDNN kernels]: not a brgemm implementation.
  bool holds_signals = true;

  explicit Matmul(const Key& key) {
    const auto f32 = memory::data_type::f32;
    const auto in = key.bf16_inputs ? memory::data_type::bf16 : f32;
    using dim = memory::dim;
    const dim M = dim(key.m), N = dim(key.n), K = dim(key.k);
    const memory::desc ad = key.ta ? memory::desc({M, K}, in, dims{1, dim(key.lda)})
                                   : memory::desc({M, K}, in, dims{dim(key.lda), 1});
    const memory::desc bd = key.tb ? memory::desc({K, N}, in, dims{1, dim(key.ldb)})
                                   : memory::desc({K, N}, in, dims{dim(key.ldb), 1});
    const memory::desc cd({M, N}, f32, dims{dim(key.ldc), 1});
    const memory::desc biasd({1, N}, f32, dims{N, 1});
    dnnl::primitive_attr attr;
    if (key.alpha != 1.0f) attr.set_output_scales(0, {key.alpha});
    if (key.beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_sum(key.beta);
      attr.set_post_ops(ops);
    }
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto desc =
        key.bias ? dnnl::matmul::desc(ad, bd, biasd, cd) : dnnl::matmul::desc(ad, bd, cd);
    const dnnl::matmul::primitive_desc pd(desc, attr, cpu_engine());
    primitive = dnnl::matmul(pd);
    holds_signals = std::string_view(pd.impl_info_str()).substr(0, 4) != "brg:";
    scratch.resize(std::max<std::size_t>(1, pd.scratchpad_desc().get_size()));
    a = memory(ad, cpu_engine(), nullptr);
    b = memory(bd, cpu_engine(), nullptr);
    c = memory(cd, cpu_engine(), nullptr);
    if (key.bias) bias = memory(biasd, cpu_engine(), nullptr);
    scratchpad = memory(pd.scratchpad_desc(), cpu_engine(), scratch.data());
  }
};

}  // namespace

class GemmCache {
 public:
  GemmCache() : stream_(cpu_engine()) {}
  Matmul& get(const Key& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) it = entries_.emplace(key, std::make_unique<Matmul>(key)).first;
    return *it->second;
  }
  dnnl::stream& stream() { return stream_; }

 private:
  dnnl::stream stream_;
  std::unordered_map<Key, std::unique_ptr<Matmul>, KeyHash> entries_;
};

namespace onednn {

bool available() {
  return true;
}

bool native_bf16() {
  // The ISA oneDNN will use: the CPU's, capped by ONEDNN_MAX_CPU_ISA (or dnnl_set_max_cpu_isa).
  const unsigned isa = dnnl_get_effective_cpu_isa();
  return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

std::string effective_isa() {
  return std::to_string(unsigned(dnnl_get_effective_cpu_isa()));
}

std::string description() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + " matmul, 1 thread per worker";
}

namespace {

void run(GemmCache* cache, const Key& key, const void* a, const void* b, float* c,
         const float* bias) {
  thread_local GemmCache own;
  GemmCache& use = cache ? *cache : own;
  const OneOpenMpThread one_thread;
  try {
    Matmul& mm = use.get(key);
    mm.a.set_data_handle(const_cast<void*>(a));
    mm.b.set_data_handle(const_cast<void*>(b));
    mm.c.set_data_handle(c);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, mm.a.get()},
                               {DNNL_ARG_WEIGHTS, mm.b.get()},
                               {DNNL_ARG_DST, mm.c.get()},
                               {DNNL_ARG_SCRATCHPAD, mm.scratchpad.get()},
                               {DNNL_ARG_BIAS, nullptr}};
    int count = 4;
    if (bias) {
      mm.bias.set_data_handle(const_cast<float*>(bias));
      args[count++].memory = mm.bias.get();
    }
    const SignalsHeld held(mm.holds_signals);
    dnnl::error::wrap_c_api(
        dnnl_primitive_execute(mm.primitive.get(), use.stream().get(), count, args),
        "could not execute a matmul");
    use.stream().wait();
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN ") + (key.bf16_inputs ? "bf16" : "fp32") + " matmul " +
                std::to_string(key.m) + "x" + std::to_string(key.k) + " * " +
                std::to_string(key.k) + "x" + std::to_string(key.n) + " failed: " + e.what());
  }
}

}  // namespace

void sgemm(GemmCache* cache, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
           std::size_t k, float alpha, const float* a, std::size_t lda, const float* b,
           std::size_t ldb, float beta, float* c, std::size_t ldc, const float* bias) {
  run(cache,
      {m, n, k, lda, ldb, ldc, ta == Transpose::yes, tb == Transpose::yes, bias != nullptr, alpha,
       beta, false},
      a, b, c, bias);
}

void bf16gemm(GemmCache* cache, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
              std::size_t k, const bf16* a, std::size_t lda, const bf16* b, std::size_t ldb,
              float beta, float* c, std::size_t ldc, const float* bias) {
  run(cache,
      {m, n, k, lda, ldb, ldc, ta == Transpose::yes, tb == Transpose::yes, bias != nullptr, 1.0f,
       beta, true},
      a, b, c, bias);
}

}  // namespace onednn

#else  // no oneDNN in this build

class GemmCache {};

namespace onednn {
bool available() {
  return false;
}
bool native_bf16() {
  return false;
}
std::string effective_isa() {
  return "0";
}
std::string description() {
  return "onednn (not in this build)";
}
void sgemm(GemmCache*, Transpose, Transpose, std::size_t, std::size_t, std::size_t, float,
           const float*, std::size_t, const float*, std::size_t, float, float*, std::size_t,
           const float*) {
  throw Error("GEMM backend 'onednn' is not in this build");
}
void bf16gemm(GemmCache*, Transpose, Transpose, std::size_t, std::size_t, std::size_t, const bf16*,
              std::size_t, const bf16*, std::size_t, float, float*, std::size_t, const float*) {
  throw Error("bf16 products need oneDNN, which is not in this build");
}
}  // namespace onednn

#endif

void GemmCacheDeleter::operator()(GemmCache* cache) const {
  delete cache;
}

std::unique_ptr<GemmCache, GemmCacheDeleter> make_gemm_cache() {
  return std::unique_ptr<GemmCache, GemmCacheDeleter>(new GemmCache());
}

}  // namespace dptrain
