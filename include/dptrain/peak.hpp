#pragma once
// The arithmetic peak of this CPU, measured rather than looked up: register-only probes that
// run nothing but independent chains of one instruction (no loads, no stores), so the rate they
// reach is what the core's vector units deliver at the clock they run at now — the ceiling
// against which `dptrain bench` reports the exact-FLOP rate of a training step.
//
// - fp32 FMA: 16 independent zmm accumulator chains of vfmadd (AVX-512F), or 12 ymm chains
//   (AVX2+FMA) on CPUs without AVX-512: enough chains to cover FMA latency x throughput (4 x 2
//   on current x86 cores). One FMA lane counts 2 FLOPs: a zmm FMA is 32 FLOPs.
// - bf16 dot: 16 independent zmm chains of vdpbf16ps (AVX512_BF16). Each instruction multiplies
//   32 bf16 pairs and adds them into 16 fp32 lanes; a product pair counts 2 FLOPs, so one
//   vdpbf16ps on zmm is 64 FLOPs.
//
// The instruction set is picked at run time (__builtin_cpu_supports, which also checks that the
// OS saves the vector registers), so a build without -march=native (DPTRAIN_NATIVE=OFF) still
// measures the wide units. Each probe is the best of several short rounds (1-2 ms each): on a
// shared machine the best round is the one nobody else disturbed, and the first rounds absorb a
// clock ramp-up. The figures are rates, not guarantees: a busy machine or a thermally limited one
// measures lower. Thread-safe: the probes share no state.
#include <cstddef>

namespace dptrain {

namespace parallel {
class WorkerPool;
}

/// "avx512f" (zmm), "avx2+fma" (ymm), or "none": what fp32_fma_peak_gflops() runs on this CPU.
/// ONEDNN_MAX_CPU_ISA set below AVX-512 (AVX2, AVX, ...) selects the ymm probe on an AVX-512
/// CPU: the peak of the machine class the kernels are held to (docs/PORTABILITY.md).
const char* fp32_fma_probe_isa();
/// True when this CPU (and OS) can run the bf16 dot-product probe (AVX512_BF16 with AVX-512F).
bool bf16_dot_probe_available();

/// fp32 FMA peak of the calling thread's core in GFLOP/s (2 FLOPs per FMA lane), measured for
/// about `seconds` (at least one round; 0.05-0.2 s gives a stable best round); 0 when the CPU
/// has neither AVX-512F nor AVX2+FMA. Throws std::invalid_argument unless seconds > 0.
double fp32_fma_peak_gflops(double seconds);
/// bf16 dot-product peak of the calling thread's core in GFLOP/s (vdpbf16ps: 2 FLOPs per bf16
/// product pair, 64 per zmm instruction); 0 when bf16_dot_probe_available() is false.
/// Throws std::invalid_argument unless seconds > 0.
double bf16_dot_peak_gflops(double seconds);

/// The same probes on every worker of `pool` at once: the machine's peak for that many threads,
/// in GFLOP/s summed over the workers. Each round hands every worker the same fixed amount of
/// work and is timed from the caller until the pool joins, so oversubscribed workers (more than
/// cores) share the cores and are not counted as extra peak. Uses the pool: one run at a time
/// (pool.hpp). 0 when the CPU lacks the instructions. Throws std::invalid_argument unless
/// seconds > 0.
double fp32_fma_peak_gflops(parallel::WorkerPool& pool, double seconds);
double bf16_dot_peak_gflops(parallel::WorkerPool& pool, double seconds);

}  // namespace dptrain
