// Feature normalisation: fitted on the training data only, then applied to any data.
#include <gtest/gtest.h>

#include <cmath>

#include "dptrain/normalize.hpp"

namespace dptrain {
namespace {

TEST(Normalizer, StandardAndMinmaxFittedOnTrainOnly) {
  Dataset train;
  train.source = "t";
  train.rows = 4;
  train.features = 2;
  train.x = {0, 5, 2, 5, 4, 5, 6, 5};  // feature 2 is constant
  const Normalizer s = Normalizer::fit(Normalization::standard, train);
  EXPECT_FLOAT_EQ(s.offset[0], 3.0f);
  EXPECT_FLOAT_EQ(s.scale[0], 1.0f / std::sqrt(5.0f));
  EXPECT_FLOAT_EQ(s.scale[1], 1.0f);
  const Normalizer m = Normalizer::fit(Normalization::minmax, train);
  Dataset test = train;
  test.x = {6, 5, 12, 5, 0, 5, 3, 5};
  m.apply(test);
  EXPECT_FLOAT_EQ(test.x[0], 1.0f);
  EXPECT_FLOAT_EQ(test.x[2], 2.0f);  // outside the training range stays outside
  EXPECT_FLOAT_EQ(test.x[1], 0.0f);
}

}  // namespace
}  // namespace dptrain
