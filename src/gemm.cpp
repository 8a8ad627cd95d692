#include "dptrain/gemm.hpp"

// Eigen never starts threads of its own: the engine's pool owns them (Note [Threads]).
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/parallel/partition.hpp"
#include "dptrain/parallel/pool.hpp"
#include "gemm_onednn.hpp"

#if DPTRAIN_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace dptrain {

#if DPTRAIN_HAVE_OPENBLAS
namespace {
std::mutex openblas_holders_mutex;
int openblas_holders = 0;
int openblas_threads_before = 1;
}  // namespace
#endif

OpenBlasSingleThreaded::OpenBlasSingleThreaded(GemmBackend backend)
    : held_(backend == GemmBackend::openblas || backend == GemmBackend::onednn ||
            backend == GemmBackend::automatic) {
#if DPTRAIN_HAVE_OPENBLAS
  if (!held_) return;
  std::lock_guard<std::mutex> lock(openblas_holders_mutex);
  if (openblas_holders++ == 0) {
    openblas_threads_before = openblas_get_num_threads();
    if (openblas_threads_before != 1) openblas_set_num_threads(1);
  }
#endif
}

OpenBlasSingleThreaded::~OpenBlasSingleThreaded() {
#if DPTRAIN_HAVE_OPENBLAS
  if (!held_) return;
  std::lock_guard<std::mutex> lock(openblas_holders_mutex);
  if (--openblas_holders == 0 && openblas_threads_before != 1)
    openblas_set_num_threads(openblas_threads_before);
#endif
}

GemmBackend parse_gemm_backend(std::string_view name) {
  const GemmBackend b = kGemmBackendNames.parse(name);
  if (!gemm_backend_available(b))
    throw Error("GEMM backend '" + std::string(name) + "' is not in this build");
  return b;
}

std::string bf16_products_unavailable() {
  if (!onednn::available()) return "bf16 precision needs oneDNN, which this build lacks";
  if (!cpu_has_bf16())
    return "this CPU has no AVX512_BF16 instructions; bf16 would run in oneDNN's emulation, "
           "slower than fp32 (use fp32)";
  if (!onednn::native_bf16())
    return "oneDNN is capped below AVX512_BF16 (ONEDNN_MAX_CPU_ISA); bf16 would run in its "
           "emulation, slower than fp32 (use fp32, or lift the cap)";
  return {};
}

bool gemm_backend_available(GemmBackend backend) {
  if (backend == GemmBackend::onednn) return onednn::available();
  if (backend == GemmBackend::automatic) return true;
#if DPTRAIN_HAVE_OPENBLAS
  return true;
#else
  return backend != GemmBackend::openblas;
#endif
}

GemmBackend default_gemm_backend() {
  if (onednn::available()) return GemmBackend::onednn;
#if DPTRAIN_HAVE_OPENBLAS
  return GemmBackend::openblas;
#else
  return GemmBackend::eigen;
#endif
}

std::vector<GemmBackend> tunable_gemm_backends() {
  std::vector<GemmBackend> all;
  for (const GemmBackend b : {GemmBackend::onednn, GemmBackend::openblas, GemmBackend::eigen})
    if (gemm_backend_available(b)) all.push_back(b);
  return all;
}

std::string gemm_library_versions() {
  std::string v =
      onednn::available() ? onednn::description() + " isa " + onednn::effective_isa() : "no oneDNN";
#if DPTRAIN_HAVE_OPENBLAS
  v += std::string("; OpenBLAS ") + openblas_get_config() + " core " + openblas_get_corename();
#endif
  return v + "; Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
         std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
}

std::string gemm_kernel_description(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::openblas: {
#if DPTRAIN_HAVE_OPENBLAS
      std::string d = "OpenBLAS, 1 thread per worker (";
      d += openblas_get_corename();
      d += " kernel)";
      return d;
#else
      return "openblas (not in this build)";
#endif
    }
    case GemmBackend::eigen:
      return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
             std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION) +
             ", 1 thread per worker";
    case GemmBackend::reference:
      return "naive reference loops";
    case GemmBackend::onednn:
      return onednn::description();
    case GemmBackend::automatic:
      return "auto: per product shape among " + [] {
        std::string names;
        for (const GemmBackend b : tunable_gemm_backends())
          names += (names.empty() ? "" : ", ") + std::string(gemm_backend_name(b));
        return names;
      }() + " (Note [Kernel wisdom])";
  }
  return "?";
}

namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMap = Eigen::Map<const RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using MutMap = Eigen::Map<RowMajor<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class T>
void gemm_eigen(Transpose ta, Transpose tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
                const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                std::size_t ldc) {
  using Index = Eigen::Index;
  const Index am = ta == Transpose::no ? Index(m) : Index(k);
  const Index an = ta == Transpose::no ? Index(k) : Index(m);
  const Index bm = tb == Transpose::no ? Index(k) : Index(n);
  const Index bn = tb == Transpose::no ? Index(n) : Index(k);
  ConstMap<T> A(a, am, an, Eigen::OuterStride<>(Index(lda)));
  ConstMap<T> B(b, bm, bn, Eigen::OuterStride<>(Index(ldb)));
  MutMap<T> C(c, Index(m), Index(n), Eigen::OuterStride<>(Index(ldc)));
  if (beta == T(0))
    C.setZero();
  else if (beta != T(1))
    C *= beta;
  if (ta == Transpose::no && tb == Transpose::no)
    C.noalias() += alpha * A * B;
  else if (ta == Transpose::yes && tb == Transpose::no)
    C.noalias() += alpha * A.transpose() * B;
  else if (ta == Transpose::no && tb == Transpose::yes)
    C.noalias() += alpha * A * B.transpose();
  else
    C.noalias() += alpha * A.transpose() * B.transpose();
}

template <class T>
void gemm_reference(Transpose ta, Transpose tb, std::size_t m, std::size_t n, std::size_t k,
                    T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                    std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      T sum = 0;
      for (std::size_t p = 0; p < k; ++p) {
        const T av = ta == Transpose::no ? a[i * lda + p] : a[p * lda + i];
        const T bv = tb == Transpose::no ? b[p * ldb + j] : b[j * ldb + p];
        sum += av * bv;
      }
      T& out = c[i * ldc + j];
      out = beta == T(0) ? alpha * sum : alpha * sum + beta * out;
    }
}

#if DPTRAIN_HAVE_OPENBLAS
CBLAS_TRANSPOSE cblas_trans(Transpose t) {
  return t == Transpose::no ? CblasNoTrans : CblasTrans;
}
#endif

/// The kernel that runs a product on the onednn backend: oneDNN for single-precision products
/// big enough to pay for its per-call cost (about a microsecond), else the fastest other kernel
/// (oneDNN 2.6 has no double-precision matmul; the gradient checks run in double). OpenBLAS,
/// not Eigen: its results for a row do not depend on how many rows the product has (Eigen's
/// do), which evaluation in chunks and scikit-learn's subset-invariance check rely on.
template <class T>
GemmBackend onednn_or_fallback(std::size_t m, std::size_t n, std::size_t k) {
  if (std::is_same_v<T, float> && onednn_runs(m, n, k)) return GemmBackend::onednn;
#if DPTRAIN_HAVE_OPENBLAS
  return GemmBackend::openblas;
#else
  return GemmBackend::eigen;
#endif
}

template <class T>
void gemm_serial(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m,
                 std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda, const T* b,
                 std::size_t ldb, T beta, T* c, std::size_t ldc) {
  GemmBackend backend = context.backend;
  if (backend == GemmBackend::automatic) backend = default_gemm_backend();  // not resolved()
  if (backend == GemmBackend::onednn) backend = onednn_or_fallback<T>(m, n, k);
  if (k == 0) {
    // C = beta C; BLAS leaves C alone here, but beta == 0 must overwrite (contract).
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t j = 0; j < n; ++j)
        c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  switch (backend) {
    case GemmBackend::openblas:
#if DPTRAIN_HAVE_OPENBLAS
      if constexpr (std::is_same_v<T, float>)
        cblas_sgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), int(m), int(n), int(k), alpha,
                    a, int(lda), b, int(ldb), beta, c, int(ldc));
      else
        cblas_dgemm(CblasRowMajor, cblas_trans(ta), cblas_trans(tb), int(m), int(n), int(k), alpha,
                    a, int(lda), b, int(ldb), beta, c, int(ldc));
      return;
#else
      throw Error("GEMM backend 'openblas' is not in this build");
#endif
    case GemmBackend::eigen:
      gemm_eigen(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case GemmBackend::reference:
      gemm_reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case GemmBackend::onednn:
      if constexpr (std::is_same_v<T, float>)
        onednn::sgemm(context.cache, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr);
      return;
    case GemmBackend::automatic:
      return;  // mapped above
  }
}

/// `context` with an `automatic` backend replaced by the kernel its KernelChoice gives this
/// product (the built-in one without a choice, and for double), the product noted for a
/// ShapeRecorder (Note [Kernel wisdom]). Other contexts are returned as they are.
template <class T>
GemmContext resolved(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m,
                     std::size_t n, std::size_t k, bool bias, std::size_t lda, std::size_t ldb) {
  if (context.backend != GemmBackend::automatic) return context;
  GemmContext r = context;
  r.kernels = nullptr;
  r.backend = default_gemm_backend();
  if constexpr (std::is_same_v<T, float>) {
    const GemmShape shape{ta == Transpose::yes, tb == Transpose::yes, bias, m, n, k};
    detail::note_gemm_shape(shape, lda, ldb);
    if (context.kernels) r.backend = context.kernels->backend_for(shape);
  }
  return r;
}

/// Workers one product deserves (gemm_split_parts).
std::size_t gemm_parts(const parallel::WorkerPool* pool, std::size_t m, std::size_t n,
                       std::size_t k) {
  if (!pool || pool->size() == 1) return 1;
  return gemm_split_parts(2.0 * double(m) * double(n) * double(k), pool->size());
}

}  // namespace

std::size_t gemm_split_parts(double flops, std::size_t threads) {
  constexpr double kMinFlopsPerPart = 1.0e6;
  const double parts = std::floor(flops / kMinFlopsPerPart);
  return std::size_t(std::clamp(parts, 1.0, double(std::max<std::size_t>(threads, 1))));
}

template <class T>
void gemm(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
          std::size_t k, T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta,
          T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (context.backend == GemmBackend::automatic)
    return gemm<T>(resolved<T>(context, ta, tb, m, n, k, false, lda, ldb), ta, tb, m, n, k, alpha,
                   a, lda, b, ldb, beta, c, ldc);
  const std::size_t parts = gemm_parts(context.pool, m, n, k);
  if (parts == 1) return gemm_serial(context, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  // Split C by columns (cache-line aligned), or by rows when it has more rows than columns:
  // every part is an ordinary product over the whole of k, so no part needs another's result.
  const bool by_columns = n >= m;
  context.pool->run(parts, [&](std::size_t i) {
    const GemmContext part{context.backend, nullptr,
                           context.part_caches ? context.part_caches[i] : nullptr};
    if (by_columns) {
      const parallel::Range r = parallel::partition_aligned(n, parts, i, 16);
      if (r.empty()) return;
      const T* bp = tb == Transpose::no ? b + r.begin : b + r.begin * ldb;
      gemm_serial(part, ta, tb, m, r.size(), k, alpha, a, lda, bp, ldb, beta, c + r.begin, ldc);
    } else {
      const parallel::Range r = parallel::partition(m, parts, i);
      if (r.empty()) return;
      const T* ap = ta == Transpose::no ? a + r.begin * lda : a + r.begin;
      gemm_serial(part, ta, tb, r.size(), n, k, alpha, ap, lda, b, ldb, beta, c + r.begin * ldc,
                  ldc);
    }
  });
}

template void gemm<float>(const GemmContext&, Transpose, Transpose, std::size_t, std::size_t,
                          std::size_t, float, const float*, std::size_t, const float*, std::size_t,
                          float, float*, std::size_t);
template void gemm<double>(const GemmContext&, Transpose, Transpose, std::size_t, std::size_t,
                           std::size_t, double, const double*, std::size_t, const double*,
                           std::size_t, double, double*, std::size_t);

bool onednn_runs(std::size_t m, std::size_t n, std::size_t k) {
  constexpr double kMinOnednnFlops = 1.0e5;
  return 2.0 * double(m) * double(n) * double(k) >= kMinOnednnFlops;
}

void gemm_bf16(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
               std::size_t k, const bf16* a, std::size_t lda, const bf16* b, std::size_t ldb,
               float beta, float* c, std::size_t ldc, const float* bias) {
  if (m == 0 || n == 0 || k == 0)
    throw std::invalid_argument("gemm_bf16: empty products are not supported");
  onednn::bf16gemm(context.cache, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, bias);
}

template <class T>
void gemm_bias(const GemmContext& context, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
               std::size_t k, const T* a, std::size_t lda, const T* b, std::size_t ldb,
               const T* bias, T* c, std::size_t ldc) {
  if (context.backend == GemmBackend::automatic && m > 0 && n > 0)
    return gemm_bias<T>(resolved<T>(context, ta, tb, m, n, k, true, lda, ldb), ta, tb, m, n, k, a,
                        lda, b, ldb, bias, c, ldc);
  if constexpr (std::is_same_v<T, float>) {
    if (context.backend == GemmBackend::onednn && !context.pool && m > 0 && n > 0 && k > 0 &&
        onednn_or_fallback<T>(m, n, k) == GemmBackend::onednn)
      return onednn::sgemm(context.cache, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc,
                           bias);
  }
  gemm<T>(context, ta, tb, m, n, k, T(1), a, lda, b, ldb, T(0), c, ldc);
  for (std::size_t r = 0; r < m; ++r) {
    T* cr = c + r * ldc;
    for (std::size_t j = 0; j < n; ++j) cr[j] += bias[j];
  }
}

template void gemm_bias<float>(const GemmContext&, Transpose, Transpose, std::size_t, std::size_t,
                               std::size_t, const float*, std::size_t, const float*, std::size_t,
                               const float*, float*, std::size_t);
template void gemm_bias<double>(const GemmContext&, Transpose, Transpose, std::size_t, std::size_t,
                                std::size_t, const double*, std::size_t, const double*, std::size_t,
                                const double*, double*, std::size_t);

}  // namespace dptrain
