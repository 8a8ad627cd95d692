#pragma once
// oneDNN matmul behind dptrain's row-major GEMM (private to the library; gemm.cpp dispatches).
//
// Why this shape (probed on Debian's libdnnl 2.6.3, OpenMP runtime):
//  - One primitive per product shape, created on first use and kept in a GemmCache; the
//    transposes are strides of the memory descriptors (no copies); beta is oneDNN's sum
//    post-op and a bias is the matmul's own bias argument.
//  - Fixed shapes, not runtime dimensions: runtime M allocated ~2 MB per call and made fp32
//    rows depend on M; fixed-shape primitives give every row the same bits for any M.
//  - User-mode scratchpad, one buffer per cache: a primitive shared between threads with
//    oneDNN's own scratchpad returned wrong results. A cache is used by one thread at a time.
//  - OpenMP: oneDNN takes its thread count from omp_get_max_threads() of the calling thread
//    when a primitive is created and caps it at execution; every call here holds the calling
//    thread to one OpenMP thread and restores its setting afterwards, so the engine's pool stays
//    the only owner of threads (Note [Threads] in engine.hpp) and no caller's setting changes.
#include <cstddef>

#include "dptrain/gemm.hpp"

namespace dptrain::onednn {

/// Whether this build has oneDNN.
bool available();
/// Whether oneDNN runs bf16 products on AVX512_BF16 instructions here: its effective ISA (the
/// CPU's, capped by ONEDNN_MAX_CPU_ISA) includes avx512_core_bf16. False without oneDNN.
bool native_bf16();
/// oneDNN's effective ISA (dnnl_get_effective_cpu_isa) as a number; "0" without oneDNN.
std::string effective_isa();
/// e.g. "oneDNN 2.6.3 (avx512_core_bf16), 1 thread per worker".
std::string description();

/// C (m x n) = alpha op(A) op(B) + beta C [+ bias broadcast over rows], row-major floats, through
/// a primitive of `cache` (a thread-local cache when null). Thread-safe for distinct caches.
/// Throws dptrain::Error when oneDNN rejects the shape.
void sgemm(GemmCache* cache, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
           std::size_t k, float alpha, const float* a, std::size_t lda, const float* b,
           std::size_t ldb, float beta, float* c, std::size_t ldc, const float* bias);

/// The same with A and B in bf16 (C, bias and accumulation fp32).
void bf16gemm(GemmCache* cache, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
              std::size_t k, const bf16* a, std::size_t lda, const bf16* b, std::size_t ldb,
              float beta, float* c, std::size_t ldc, const float* bias);

}  // namespace dptrain::onednn
