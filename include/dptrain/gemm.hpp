#pragma once
// Row-major matrix products for the dense layers, with interchangeable kernels:
// serial OpenBLAS (fastest measured here, DESIGN.md), Eigen (portable, and the only one that
// can itself use several threads: the "intra" strategy), and a naive reference kept beside them
// so a test can hold the fast kernels equal to it.
#include <cstddef>
#include <string>
#include <string_view>

namespace dptrain {

enum class GemmBackend { openblas, eigen, reference };

/// Parses "openblas", "eigen" or "reference"; throws dptrain::Error for other names or for
/// openblas in a build without it.
GemmBackend parse_gemm_backend(std::string_view name);
const char* gemm_backend_name(GemmBackend backend);
bool gemm_backend_available(GemmBackend backend);
/// OpenBLAS when the build has it, else Eigen.
GemmBackend default_gemm_backend();
/// Human description of what will run, e.g. "openblas 0.3.21 (SkylakeX kernel)".
std::string gemm_kernel_description(GemmBackend backend);

/// Threads Eigen's own GEMM may use (global to the process). The data-parallel engine keeps
/// this at 1 so Eigen never spawns threads inside a worker; the intra strategy raises it.
void set_eigen_threads(int threads);
int eigen_threads();

enum class Transpose { no, yes };

/// C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major with leading
/// dimensions lda, ldb, ldc. With beta == 0, C is overwritten (its old contents, even NaN,
/// are ignored). Thread-safe for distinct C; single-threaded except Eigen with
/// set_eigen_threads(n > 1).
template <class T>
void gemm(GemmBackend backend, Transpose ta, Transpose tb, std::size_t m, std::size_t n,
          std::size_t k, T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta,
          T* c, std::size_t ldc);

}  // namespace dptrain
