#pragma once
// Note [Run-time dispatch]. The default build is portable: -march=x86-64-v3 (AVX2, FMA, BMI2;
// every x86-64 CPU since Haswell and Zen 1), so one binary, installed library or Python module
// runs on any of them (-DDPTRAIN_NATIVE=ON compiles for the building CPU instead). The GEMMs do
// not depend on it: oneDNN and OpenBLAS pick their kernels from the CPU at run time, and bf16
// conversion checks for AVX512_BF16 itself (bf16.cpp). The elementwise loops that gain from
// AVX-512's wider registers (activations and their gradients, the fused optimizer update, the
// dropout gradient) carry DPTRAIN_CLONES: GCC compiles them twice, for x86-64-v4
// (AVX-512) and for the build's baseline, and an ifunc resolver picks one when the program
// loads, from the CPU it runs on.
//
// Both clones compute the same bits: the loops are elementwise (no reduction the compiler could
// reorder: ISO C++ without -ffast-math vectorises none), the operations are IEEE-exact in
// every width (add, multiply, divide, sqrt), FMA exists in both and contraction follows the same
// rule in both. So Note [Reproducibility] holds across the clones; on one CPU the portable and the
// native build print the same params_hash for a --deterministic run (checked on models A, B, C
// when this was written).
//
// GCC only: clang 14 (the TSan and fuzz builds) has no target_clones on templates; those builds
// run the baseline code, which is the same mathematics.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(DPTRAIN_NATIVE_BUILD)
#define DPTRAIN_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define DPTRAIN_CLONES
#endif
