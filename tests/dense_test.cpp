// Dense and dropout layer kernels: the optimised dense forward and backward equal the naive
// reference, and dropout masks are fixed by their key, independent of sharding.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "dptrain/dense.hpp"
#include "dptrain/gemm.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

TEST(DenseKernels, OptimisedEqualsReference) {
  const std::size_t rows = 9, in = 13, out = 7;
  const auto x = test::random_vector<double>(rows * in, 4),
             w = test::random_vector<double>(in * out, 5);
  const auto b = test::random_vector<double>(out, 6),
             dz = test::random_vector<double>(rows * out, 7);
  std::vector<double> z(rows * out), z_ref(rows * out);
  dense_forward<double>(default_gemm_backend(), x.data(), rows, in, w.data(), b.data(), out,
                        z.data());
  dense_forward_reference<double>(x.data(), rows, in, w.data(), b.data(), out, z_ref.data());
  for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(z[i], z_ref[i], 1e-12);
  for (bool accumulate : {false, true}) {
    std::vector<double> dw(in * out, 0.5), db(out, 0.25), dx(rows * in);
    std::vector<double> dw_ref = dw, db_ref = db, dx_ref(rows * in);
    dense_backward<double>(default_gemm_backend(), x.data(), dz.data(), rows, in, out, w.data(),
                           dw.data(), db.data(), dx.data(), accumulate);
    dense_backward_reference<double>(x.data(), dz.data(), rows, in, out, w.data(), dw_ref.data(),
                                     db_ref.data(), dx_ref.data(), accumulate);
    for (std::size_t i = 0; i < dw.size(); ++i) EXPECT_NEAR(dw[i], dw_ref[i], 1e-12);
    for (std::size_t i = 0; i < db.size(); ++i) EXPECT_NEAR(db[i], db_ref[i], 1e-12);
    for (std::size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], dx_ref[i], 1e-12);
  }
}

TEST(Dropout, MaskIsFixedByKeyAndIndependentOfSharding) {
  const std::size_t rows = 8, cols = 16;
  std::vector<float> x(rows * cols, 1.0f), y(rows * cols), mask(rows * cols);
  dropout_forward<float>(x.data(), y.data(), mask.data(), rows, cols, 0.5, {1, 2, 0}, 1);
  std::size_t dropped = 0;
  for (float m : mask) {
    EXPECT_TRUE(m == 0.0f || m == 2.0f);  // inverted dropout: kept units scaled by 1/(1-p)
    dropped += m == 0.0f;
  }
  EXPECT_GT(dropped, rows * cols / 4);
  EXPECT_LT(dropped, rows * cols * 3 / 4);
  // Rows 4..7 computed as their own shard (first_row = 4) get the same mask.
  std::vector<float> y2(4 * cols), mask2(4 * cols);
  dropout_forward<float>(x.data(), y2.data(), mask2.data(), 4, cols, 0.5, {1, 2, 4}, 1);
  for (std::size_t i = 0; i < 4 * cols; ++i) EXPECT_EQ(mask2[i], mask[4 * cols + i]);
}

}  // namespace
}  // namespace dptrain
