#include <gtest/gtest.h>

#include <array>

#include "test_util.hpp"

// OpenBLAS's own thread setting; weak: a build without OpenBLAS links without them.
extern "C" __attribute__((weak)) int openblas_get_num_threads(void);
extern "C" __attribute__((weak)) void openblas_set_num_threads(int);

namespace dptrain {
namespace {

// Every fast kernel equals the naive reference, for every transpose combination and both beta
// cases, on odd shapes that exercise the kernels' edge handling.
class GemmTest : public ::testing::TestWithParam<GemmBackend> {};

TEST_P(GemmTest, MatchesReference) {
  const std::size_t m = 37, n = 29, k = 53;
  for (Transpose ta : {Transpose::no, Transpose::yes})
    for (Transpose tb : {Transpose::no, Transpose::yes})
      for (float beta : {0.0f, 1.0f}) {
        const std::size_t lda = ta == Transpose::no ? k : m, ldb = tb == Transpose::no ? n : k;
        const auto a = test::random_vector<float>(m * k, 1),
                   b = test::random_vector<float>(k * n, 2);
        auto c_ref = test::random_vector<float>(m * n, 3), c = c_ref;
        gemm<float>(GemmBackend::reference, ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb,
                    beta, c_ref.data(), n);
        gemm<float>(GetParam(), ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, beta, c.data(),
                    n);
        for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], c_ref[i], 1e-4f) << i;
      }
}

// The intra strategy splits one product over a pool (by columns, or by rows when taller than
// wide): every part is a whole-k product, so the result equals the unsplit one.
TEST_P(GemmTest, SplitOverAPoolEqualsOneThread) {
  parallel::WorkerPool pool(parallel::Backend::threads, 3);
  for (auto [m, n, k] : {std::array<std::size_t, 3>{64, 300, 80}, {300, 64, 80}, {5, 1000, 300}})
    for (Transpose ta : {Transpose::no, Transpose::yes})
      for (Transpose tb : {Transpose::no, Transpose::yes}) {
        const std::size_t lda = ta == Transpose::no ? k : m, ldb = tb == Transpose::no ? n : k;
        const auto a = test::random_vector<float>(m * k, 4),
                   b = test::random_vector<float>(k * n, 5);
        auto c_one = test::random_vector<float>(m * n, 6), c_split = c_one;
        gemm<float>(GetParam(), ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 1.0f,
                    c_one.data(), n);
        gemm<float>(GemmContext{GetParam(), &pool}, ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(),
                    ldb, 1.0f, c_split.data(), n);
        for (std::size_t i = 0; i < c_one.size(); ++i)
          ASSERT_NEAR(c_split[i], c_one[i], 1e-4f) << m << "x" << n << "x" << k << " at " << i;
      }
}

TEST_P(GemmTest, BetaZeroIgnoresNaNInOutput) {
  std::vector<double> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c(4, std::nan(""));
  gemm<double>(GetParam(), Transpose::no, Transpose::no, 2, 2, 2, 1.0, a.data(), 2, b.data(), 2,
               0.0, c.data(), 2);
  EXPECT_EQ(c, (std::vector<double>{19, 22, 43, 50}));  // hand-computed
}

std::vector<GemmBackend> fast_backends() {
  std::vector<GemmBackend> b = {GemmBackend::eigen};
  if (gemm_backend_available(GemmBackend::openblas)) b.push_back(GemmBackend::openblas);
  if (gemm_backend_available(GemmBackend::onednn)) b.push_back(GemmBackend::onednn);
  return b;
}

INSTANTIATE_TEST_SUITE_P(Kernels, GemmTest, ::testing::ValuesIn(fast_backends()),
                         [](const auto& info) {
                           return std::string(gemm_backend_name(info.param));
                         });

TEST(GemmBackendNames, ParseAndReject) {
  EXPECT_EQ(parse_gemm_backend("eigen"), GemmBackend::eigen);
  EXPECT_THROW(parse_gemm_backend("cublas"), Error);
}

TEST(OpenBlasThreads, HeldToOneWhileInUseThenRestored) {
  // Note [Threads]: the engine holds OpenBLAS to one thread only while it uses the openblas
  // kernel, and gives an application's setting back afterwards (NumPy shares the library).
  if (!gemm_backend_available(GemmBackend::openblas) || !openblas_get_num_threads)
    GTEST_SKIP() << "no OpenBLAS in this build";
  openblas_set_num_threads(3);
  {
    Model<float> m(ModelSpec::mlp({4, 3, 2}, Activation::relu, Activation::softmax));
    EngineConfig c;
    c.gemm = GemmBackend::openblas;
    Engine e(m, c);
    EXPECT_EQ(openblas_get_num_threads(), 1);
    {
      const OpenBlasSingleThreaded nested;
      EXPECT_EQ(openblas_get_num_threads(), 1);
    }
    EXPECT_EQ(openblas_get_num_threads(), 1) << "released while the engine still holds it";
  }
  EXPECT_EQ(openblas_get_num_threads(), 3);
  Model<float> m(ModelSpec::mlp({4, 3, 2}, Activation::relu, Activation::softmax));
  EngineConfig c;
  c.gemm = GemmBackend::onednn;
  if (gemm_backend_available(GemmBackend::onednn)) {
    Engine e(m, c);
    EXPECT_EQ(openblas_get_num_threads(), 3) << "the onednn kernel must not touch OpenBLAS";
  }
  openblas_set_num_threads(1);
}

}  // namespace
}  // namespace dptrain
