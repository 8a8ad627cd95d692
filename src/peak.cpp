#include "dptrain/peak.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "dptrain/parallel/pool.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DPTRAIN_PEAK_X86 1
#else
#define DPTRAIN_PEAK_X86 0
#endif

namespace dptrain {

namespace {

using Clock = std::chrono::steady_clock;

/// A probe kernel: `iterations` trips of a loop over independent accumulator chains, returning
/// a value that depends on every chain (the caller stores it into a volatile, so no chain is
/// dead code). `a` and `b` come from volatiles: nothing is known at compile time.
using Kernel = float (*)(std::size_t iterations, float a, float b);

struct Probe {
  Kernel kernel = nullptr;  ///< null: the CPU cannot run it
  double flops_per_iteration = 0;
  const char* isa = "none";
};

#if DPTRAIN_PEAK_X86
// 16 zmm chains: twice FMA latency (4 cycles) x throughput (2 per cycle) of current x86 cores,
// in 16 of the 32 zmm registers, so nothing spills. AVX2 has 16 ymm registers: 12 chains plus
// the two operands.
constexpr int kZmmChains = 16;
constexpr int kYmmChains = 12;

// Summed in scalar code: GCC 12's _mm512_reduce_add_ps trips -Wuninitialized in its own header.
template <std::size_t N>
float lane_sum(const float (&lanes)[N]) {
  float sum = 0;
  for (float x : lanes) sum += x;
  return sum;
}

// Every chain starts from a different value: identical chains (same start, same operation)
// could be merged into one by value numbering. acc = acc * a + b with |a| < 1 stays bounded
// and normal (no overflow, no denormals).
__attribute__((target("avx512f"), noinline)) float fma_zmm(std::size_t iterations, float a,
                                                           float b) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  __m512 acc[kZmmChains];
  for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_set1_ps(b + float(c));
  for (std::size_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], va, vb);
  }
  for (int c = 1; c < kZmmChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  return lane_sum(lanes);
}

__attribute__((target("avx2,fma"), noinline)) float fma_ymm(std::size_t iterations, float a,
                                                            float b) {
  const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  __m256 acc[kYmmChains];
  for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_set1_ps(b + float(c));
  for (std::size_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kYmmChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], va, vb);
  }
  for (int c = 1; c < kYmmChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  return lane_sum(lanes);
}

// Each lane gains a*b + a*b per trip: the sums grow until adding no longer changes them (about
// 2^24 for a*b = 0.5), far from overflow; the instruction's cost does not depend on the values.
__attribute__((target("avx512bf16,avx512f"), noinline)) float dot_bf16_zmm(std::size_t iterations,
                                                                           float a, float b) {
  const __m512bh va = _mm512_cvtne2ps_pbh(_mm512_set1_ps(a), _mm512_set1_ps(a));
  const __m512bh vb = _mm512_cvtne2ps_pbh(_mm512_set1_ps(b), _mm512_set1_ps(b));
  __m512 acc[kZmmChains];
  for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  for (std::size_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int c = 0; c < kZmmChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], va, vb);
  }
  for (int c = 1; c < kZmmChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  return lane_sum(lanes);
}
#endif

/// ONEDNN_MAX_CPU_ISA caps oneDNN below AVX-512 (e.g. AVX2, the AVX2 machine class of
/// docs/PORTABILITY.md): the peak is then that of the ISA the kernels may use.
bool zmm_capped() {
  const char* v = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (!v || !*v) return false;
  std::string isa(v);
  for (char& c : isa) c = char(std::toupper(static_cast<unsigned char>(c)));
  return isa != "ALL" && isa != "DEFAULT" && isa.find("AVX512") == std::string::npos &&
         isa.find("AVX10") == std::string::npos && isa.find("AMX") == std::string::npos;
}

Probe fp32_probe() {
#if DPTRAIN_PEAK_X86
  if (__builtin_cpu_supports("avx512f") && !zmm_capped())
    return {fma_zmm, 2.0 * 16 * kZmmChains, "avx512f"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {fma_ymm, 2.0 * 8 * kYmmChains, "avx2+fma"};
#endif
  return {};
}

Probe bf16_probe() {
#if DPTRAIN_PEAK_X86
  // 32 bf16 pairs per zmm instruction, 2 FLOPs per pair.
  if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f"))
    return {dot_bf16_zmm, 2.0 * 32 * kZmmChains, "avx512bf16"};
#endif
  return {};
}

void check_seconds(double seconds) {
  if (!(seconds > 0)) throw std::invalid_argument("peak probe: seconds must be positive");
}

double elapsed_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Runs the kernel once and returns its seconds; the result goes to a volatile.
double time_kernel(const Probe& p, std::size_t iterations) {
  volatile float a = 0.5f, b = 1.0f;
  const auto t0 = Clock::now();
  volatile float sink = p.kernel(iterations, a, b);
  const double s = elapsed_since(t0);
  (void)sink;
  return s;
}

/// Trips per round: doubled until one round takes 1-2 ms. Short rounds are what best-of-rounds
/// needs on a shared machine (here, with two compilers running: 215-219 GFLOP/s in five runs
/// with 1 ms rounds, 193-221 with 4 ms); reading the clock costs tens of nanoseconds.
std::size_t round_iterations(const Probe& p) {
  constexpr double kRoundSeconds = 0.001;
  std::size_t iterations = 1024;
  while (time_kernel(p, iterations) < kRoundSeconds && iterations < (std::size_t(1) << 40))
    iterations *= 2;
  return iterations;
}

double single_core_peak(const Probe& p, double seconds) {
  check_seconds(seconds);
  if (!p.kernel) return 0;
  const std::size_t iterations = round_iterations(p);
  const double flops = p.flops_per_iteration * double(iterations);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  double best = 0;
  do best = std::max(best, flops / time_kernel(p, iterations) / 1e9);
  while (Clock::now() < end);
  return best;
}

double pool_peak(parallel::WorkerPool& pool, const Probe& p, double seconds) {
  check_seconds(seconds);
  if (!p.kernel) return 0;
  // Four times longer rounds than on one core: waking and joining the pool costs tens of
  // microseconds, which this keeps to about a percent.
  const std::size_t iterations = 4 * round_iterations(p);
  const std::size_t workers = pool.size();
  const double flops = p.flops_per_iteration * double(iterations) * double(workers);
  std::vector<float> results(workers);
  volatile float a = 0.5f, b = 1.0f;
  const float va = a, vb = b;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  double best = 0;
  do {
    // Timed from the caller until the join: the slowest worker decides, so workers that share
    // a core (oversubscription) add no peak.
    const auto t0 = Clock::now();
    pool.run([&](std::size_t w) { results[w] = p.kernel(iterations, va, vb); });
    best = std::max(best, flops / elapsed_since(t0) / 1e9);
  } while (Clock::now() < end);
  float sum = 0;
  for (float r : results) sum += r;
  volatile float sink = sum;
  (void)sink;
  return best;
}

}  // namespace

const char* fp32_fma_probe_isa() {
  return fp32_probe().isa;
}

bool bf16_dot_probe_available() {
  return bf16_probe().kernel != nullptr;
}

double fp32_fma_peak_gflops(double seconds) {
  return single_core_peak(fp32_probe(), seconds);
}

double bf16_dot_peak_gflops(double seconds) {
  return single_core_peak(bf16_probe(), seconds);
}

double fp32_fma_peak_gflops(parallel::WorkerPool& pool, double seconds) {
  return pool_peak(pool, fp32_probe(), seconds);
}

double bf16_dot_peak_gflops(parallel::WorkerPool& pool, double seconds) {
  return pool_peak(pool, bf16_probe(), seconds);
}

}  // namespace dptrain
