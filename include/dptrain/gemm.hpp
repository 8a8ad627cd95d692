#pragma once
// Row-major matrix products for the dense layers, with interchangeable kernels: oneDNN's matmul
// (the default when the build has it; its products under 0.1 MFLOP go to OpenBLAS), OpenBLAS
// held to one thread while dptrain works (OpenBlasSingleThreaded below), Eigen (portable; built
// without its own threads), and a naive reference kept beside them so a test can hold the fast
// kernels equal to it (docs/DESIGN.md, "GEMM kernels"). Every kernel is single-threaded; a
// GemmContext with a pool splits one product over the pool's workers instead (the intra
// strategy and G x T groups, Note [Threads] in engine.hpp).
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/bf16.hpp"
#include "dptrain/names.hpp"

namespace dptrain {

namespace parallel {
class WorkerPool;
}

/// `automatic`: each float product's kernel is looked up in the GemmContext's KernelChoice
/// (Note [Kernel wisdom] in kernel_choice.hpp); without one, and for double products, it is the
/// built-in kernel, default_gemm_backend().
enum class GemmBackend { openblas, eigen, reference, onednn, automatic };
/// Note [Name tables].
inline constexpr NameTable<GemmBackend, 5> kGemmBackendNames{
    "GEMM backend",
    {{{GemmBackend::automatic, "auto"},
      {GemmBackend::onednn, "onednn"},
      {GemmBackend::openblas, "openblas"},
      {GemmBackend::eigen, "eigen"},
      {GemmBackend::reference, "reference"}}}};
static_assert(kGemmBackendNames.complete_through(GemmBackend::automatic));

struct KernelChoice;  // kernel_choice.hpp

/// kGemmBackendNames.parse, and dptrain::Error for a backend this build lacks.
GemmBackend parse_gemm_backend(std::string_view name);
inline const char* gemm_backend_name(GemmBackend backend) {
  return kGemmBackendNames.name(backend);
}
bool gemm_backend_available(GemmBackend backend);
/// Why bf16 products cannot run natively here (the CPU lacks AVX512_BF16, oneDNN is capped
/// below it by ONEDNN_MAX_CPU_ISA, or the build has no oneDNN), or empty when they can.
std::string bf16_products_unavailable();
/// The built-in kernel: oneDNN when the build has it, else OpenBLAS when it has that, else Eigen.
GemmBackend default_gemm_backend();
/// The kernels `automatic` chooses among: those of this build other than the reference loops.
std::vector<GemmBackend> tunable_gemm_backends();
/// The versions and settings of the kernels' libraries (oneDNN's version and effective ISA,
/// OpenBLAS's configuration string and core, Eigen's version): part of the key of the kernel
/// wisdom (Note [Kernel wisdom] in kernel_choice.hpp).
std::string gemm_library_versions();
/// Human description of what will run, e.g. "openblas 0.3.21 (SkylakeX kernel)".
std::string gemm_kernel_description(GemmBackend backend);

enum class Transpose { no, yes };

/// Kernel state reused across calls: oneDNN's primitives, created once per product shape, and
/// their scratch memory. Used by one thread at a time (a worker's workspace owns one).
class GemmCache;
struct GemmCacheDeleter {
  void operator()(GemmCache* cache) const;
};
std::unique_ptr<GemmCache, GemmCacheDeleter> make_gemm_cache();

/// Where a product runs: the kernel, and optionally a pool whose workers split each product
/// (by output columns, or rows when there are more rows). Implicit from a GemmBackend.
struct GemmContext {
  GemmContext(GemmBackend b = default_gemm_backend(),  // NOLINT(google-explicit-constructor)
              parallel::WorkerPool* p = nullptr, GemmCache* c = nullptr,
              const KernelChoice* k = nullptr)
      : backend(b), pool(p), cache(c), kernels(k) {}
  GemmBackend backend;
  /// null: one thread (the caller's). Otherwise products large enough to pay for a fork run on
  /// up to pool->size() workers; the caller must not be running inside one of this pool's tasks.
  parallel::WorkerPool* pool;
  /// onednn: the primitives to reuse (a thread-local cache when null); with a pool, those of
  /// the products too small to split, which run on the caller.
  GemmCache* cache;
  /// onednn with a pool: part i of a split product uses part_caches[i] (pool->size() entries),
  /// whichever thread runs it, so that no primitive is created in a step after the first (with
  /// the tbb backend a part may run on another thread each time); null: each part on its
  /// thread's own cache.
  GemmCache* const* part_caches = nullptr;
  /// With backend `automatic`: the kernel of each product shape (not owned; null: built-in).
  const KernelChoice* kernels = nullptr;
};

/// How many parts gemm splits a product of `flops` (2 m n k) into over a pool of `threads`
/// workers: one per full MFLOP (a fork costs microseconds), at least 1, at most `threads`
/// (0 counts as 1). The cost model (tuning.hpp) predicts split products by the same rule.
std::size_t gemm_split_parts(double flops, std::size_t threads);

/// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major with leading
/// dimensions lda, ldb, ldc. With beta == 0, C is overwritten (its old contents, even NaN,
/// are ignored). Thread-safe for distinct C; single-threaded unless `context` has a pool.
template <class T>
void gemm(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
          std::size_t k, T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta,
          T* c, std::size_t ldc);

/// C (m x n) = op(A) op(B) + bias, the bias (n values) added to every row; C is overwritten.
/// oneDNN adds the bias inside the product; the other kernels add it after.
template <class T>
void gemm_bias(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
               std::size_t k, const T* a, std::size_t lda, const T* b, std::size_t ldb,
               const T* bias, T* c, std::size_t ldc);

/// C (m x n) = op(A) op(B) + beta C [+ bias], with A and B in bf16 and C, the bias and every
/// accumulation in fp32: oneDNN's bf16 matmul (AVX512_BF16), single-threaded. Throws
/// dptrain::Error without oneDNN; `context.pool` is not used.
void gemm_bf16(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
               std::size_t k, const bf16* a, std::size_t lda, const bf16* b, std::size_t ldb,
               float beta, float* c, std::size_t ldc, const float* bias);

/// Whether the onednn backend runs an m x n x k product through oneDNN (products too small to
/// pay for its per-call cost go to another kernel; so does bf16 precision).
bool onednn_runs(std::size_t m, std::size_t n, std::size_t k);

/// Holds OpenBLAS to one thread while any holder lives (Note [Threads] in engine.hpp): dptrain's
/// workers call it from their own threads, and its own pool would oversubscribe the cores. The
/// setting the process had is restored when the last holder ends, so an application's own BLAS
/// calls (NumPy shares the library, in the Python package) keep their threads outside dptrain's
/// work. Engine steps, Trainer epochs and Inference calls hold one for the kernels that may call
/// OpenBLAS (openblas, and onednn for its small products); the CLI holds one for its whole run.
/// Nested holders cost a mutex. Thread-safe; a no-op in a build without OpenBLAS.
class OpenBlasSingleThreaded {
 public:
  explicit OpenBlasSingleThreaded(GemmBackend backend = GemmBackend::openblas);
  ~OpenBlasSingleThreaded();
  OpenBlasSingleThreaded(const OpenBlasSingleThreaded&) = delete;
  OpenBlasSingleThreaded& operator=(const OpenBlasSingleThreaded&) = delete;

 private:
  [[maybe_unused]] bool held_;  // unused in a build without OpenBLAS
};

}  // namespace dptrain
