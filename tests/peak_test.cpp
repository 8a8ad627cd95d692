// The exact step-FLOP count that `dptrain bench` divides by the peaks, and the register-only
// peak probes (peak.hpp). The probes are checked for being positive exactly when the CPU has
// the instructions, and for a FLOP count that cannot be off by an order of magnitude; how fast
// they are is a benchmark's business, never a timed unit test's.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dptrain/dptrain.hpp"

namespace dptrain {
namespace {

constexpr double kProbeSeconds = 0.02;

// What the CPU (and OS) offers, asked independently of peak.cpp.
#if defined(__x86_64__) || defined(__i386__)
bool has_avx512f() {
  return __builtin_cpu_supports("avx512f");
}
bool has_avx2_fma() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
bool has_avx512bf16() {
  return has_avx512f() && __builtin_cpu_supports("avx512bf16");
}
#else
bool has_avx512f() {
  return false;
}
bool has_avx2_fma() {
  return false;
}
bool has_avx512bf16() {
  return false;
}
#endif

TEST(PeakStepFlops, HandCountedFor784_128_10) {
  const Model<float> m(ModelSpec::mlp({784, 128, 10}, Activation::relu, Activation::softmax));
  // forward 2(784*128 + 128*10) + weight gradient 2(784*128 + 128*10) + input gradient of the
  // second layer only 2(128*10): 203264 + 203264 + 2560.
  EXPECT_DOUBLE_EQ(m.flops_per_sample(), 409088.0);
}

TEST(PeakStepFlops, HandCountedFor8_10_8_1) {
  const Model<float> m(ModelSpec::mlp({8, 10, 8, 1}, Activation::relu, Activation::sigmoid));
  // forward 2(80 + 80 + 8) = 336, weight gradient 336, input gradient of layers 2 and 3:
  // 2(80 + 8) = 176.
  EXPECT_DOUBLE_EQ(m.flops_per_sample(), 848.0);
}

TEST(PeakStepFlops, DropoutAddsNoFlops) {
  const Model<float> m(
      ModelSpec::mlp({8, 10, 8, 1}, Activation::relu, Activation::sigmoid, /*dropout=*/0.5));
  EXPECT_DOUBLE_EQ(m.flops_per_sample(), 848.0);
}

/// ONEDNN_MAX_CPU_ISA as the AVX2 machine class sets it (docs/PORTABILITY.md).
bool capped_below_avx512() {
  const char* v = std::getenv("ONEDNN_MAX_CPU_ISA");
  return v && (std::string(v) == "AVX2" || std::string(v) == "avx2");
}

TEST(Peak, Fp32ProbeFollowsTheOnednnIsaCap) {
  if (!has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA";
  const char* before = std::getenv("ONEDNN_MAX_CPU_ISA");
  const std::string saved = before ? before : "";
  setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
  EXPECT_EQ(std::string(fp32_fma_probe_isa()), "avx2+fma");
  setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
  EXPECT_EQ(std::string(fp32_fma_probe_isa()), has_avx512f() ? "avx512f" : "avx2+fma");
  if (before)
    setenv("ONEDNN_MAX_CPU_ISA", saved.c_str(), 1);
  else
    unsetenv("ONEDNN_MAX_CPU_ISA");
}

TEST(Peak, Fp32ProbeRunsOnTheWidestUnitTheCpuHas) {
  const std::string isa = fp32_fma_probe_isa();
  if (has_avx512f() && !capped_below_avx512())
    EXPECT_EQ(isa, "avx512f");
  else if (has_avx2_fma())
    EXPECT_EQ(isa, "avx2+fma");
  else
    EXPECT_EQ(isa, "none");
  const double gflops = fp32_fma_peak_gflops(kProbeSeconds);
  if (isa == "none") {
    EXPECT_EQ(gflops, 0.0);
    return;
  }
  EXPECT_GT(gflops, 0.0);
  // A sanity bound on the FLOP count, not a speed target: two 16-lane FMA units at 6 GHz are
  // 384 GFLOP/s, so 2000 means the probe counts work it does not do.
  EXPECT_LT(gflops, 2000.0);
}

TEST(Peak, Bf16ProbeIsPositiveExactlyWithAvx512Bf16) {
  EXPECT_EQ(bf16_dot_probe_available(), has_avx512bf16());
  const double gflops = bf16_dot_peak_gflops(kProbeSeconds);
  if (has_avx512bf16()) {
    EXPECT_GT(gflops, 0.0);
    EXPECT_LT(gflops, 4000.0);  // 64 FLOPs per instruction, at most two per cycle at 6 GHz
  } else {
    EXPECT_EQ(gflops, 0.0);
  }
}

TEST(Peak, ProbesRunOnAPool) {
  for (parallel::Backend backend : {parallel::Backend::threads, parallel::Backend::openmp}) {
    parallel::WorkerPool pool(backend, 2);
    const double fp32 = fp32_fma_peak_gflops(pool, kProbeSeconds);
    const double bf16 = bf16_dot_peak_gflops(pool, kProbeSeconds);
    EXPECT_EQ(fp32 > 0, std::string(fp32_fma_probe_isa()) != "none");
    EXPECT_EQ(bf16 > 0, bf16_dot_probe_available());
  }
}

TEST(Peak, RejectsANonPositiveDuration) {
  EXPECT_THROW(fp32_fma_peak_gflops(0.0), std::invalid_argument);
  EXPECT_THROW(bf16_dot_peak_gflops(-1.0), std::invalid_argument);
  parallel::WorkerPool pool(parallel::Backend::threads, 1);
  EXPECT_THROW(fp32_fma_peak_gflops(pool, 0.0), std::invalid_argument);
}

}  // namespace
}  // namespace dptrain
