// The validation split: round(fraction * rows) rows chosen by a seeded shuffle, disjoint from the
// training part and together covering every row.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"
#include "dptrain/normalize.hpp"

namespace dptrain {
namespace {

// Row r holds features {r, -r} and label r % 3 (classification) or target 2r (regression), so
// every row of a part can be traced back to its row in `data`.
Dataset numbered_rows(std::size_t rows, bool classification = true) {
  Dataset d;
  d.source = "numbered";
  d.rows = rows;
  d.features = 2;
  for (std::size_t r = 0; r < rows; ++r) {
    d.x.push_back(float(r));
    d.x.push_back(-float(r));
    if (classification)
      d.labels.push_back(std::int32_t(r % 3));
    else
      d.targets.push_back(2.0f * float(r));
  }
  if (classification)
    d.classes = 3;
  else
    d.target_width = 1;
  return d;
}

// The original row index of every row of `part`, checking that the row arrived intact.
std::vector<std::size_t> row_indices(const Dataset& part) {
  std::vector<std::size_t> index;
  EXPECT_EQ(part.features, 2u);
  EXPECT_EQ(part.x.size(), part.rows * 2);
  for (std::size_t i = 0; i < part.rows; ++i) {
    const float r = part.x[i * 2];
    EXPECT_EQ(part.x[i * 2 + 1], -r) << i;
    if (part.classification())
      EXPECT_EQ(part.labels.at(i), std::int32_t(r) % 3) << i;
    else
      EXPECT_EQ(part.targets.at(i), 2.0f * r) << i;
    index.push_back(std::size_t(r));
  }
  return index;
}

// Every row of `data` in exactly one of the two parts.
void expect_disjoint_and_complete(const Dataset& data, const Dataset& train, const Dataset& val) {
  std::vector<int> seen(data.rows, 0);
  for (const Dataset* part : {&train, &val})
    for (std::size_t r : row_indices(*part)) {
      ASSERT_LT(r, data.rows);
      ++seen[r];
    }
  for (std::size_t r = 0; r < data.rows; ++r) EXPECT_EQ(seen[r], 1) << "row " << r;
}

TEST(ValidationSplit, SeededDisjointAndComplete) {
  const Dataset d = make_synthetic("blobs8", 1);
  const auto [train, val] = split_validation(d, 0.1, 7);
  EXPECT_EQ(val.rows, 77u);
  EXPECT_EQ(train.rows + val.rows, d.rows);
  const auto again = split_validation(d, 0.1, 7);
  EXPECT_EQ(again.second.x, val.x);
  EXPECT_NE(split_validation(d, 0.1, 8).second.x, val.x);
  EXPECT_THROW(split_validation(d, 1.0, 7), Error);
  EXPECT_THROW(split_validation(make_synthetic("xor", 1), 0.01, 7), Error);
}

TEST(ValidationSplit, SizesAreTheRoundedFraction) {
  const Dataset d = numbered_rows(10);
  // fraction -> round(fraction * 10) validation rows
  const std::pair<double, std::size_t> cases[] = {{0.06, 1}, {0.14, 1}, {0.3, 3},
                                                  {0.5, 5},  {0.86, 9}, {0.94, 9}};
  for (const auto& [fraction, expected] : cases) {
    const auto [train, val] = split_validation(d, fraction, 1);
    EXPECT_EQ(val.rows, expected) << fraction;
    EXPECT_EQ(train.rows, 10 - expected) << fraction;
    EXPECT_EQ(train.features, d.features);
    EXPECT_EQ(val.features, d.features);
    EXPECT_EQ(train.classes, d.classes);
    EXPECT_EQ(val.classes, d.classes);
    EXPECT_NO_THROW(train.validate());
    EXPECT_NO_THROW(val.validate());
  }
}

TEST(ValidationSplit, PartsAreDisjointAndCoverEveryRow) {
  for (bool classification : {true, false}) {
    const Dataset d = numbered_rows(101, classification);
    for (std::uint64_t seed : {1u, 2u, 12345u})
      for (double fraction : {0.01, 0.2, 0.5, 0.9}) {
        SCOPED_TRACE(testing::Message() << "classification " << classification << ", seed " << seed
                                        << ", fraction " << fraction);
        const auto [train, val] = split_validation(d, fraction, seed);
        EXPECT_EQ(train.classification(), classification);
        EXPECT_EQ(val.classification(), classification);
        expect_disjoint_and_complete(d, train, val);
      }
  }
}

TEST(ValidationSplit, SameSeedSameSplitOtherSeedOtherSplit) {
  const Dataset d = numbered_rows(200);
  const auto a = split_validation(d, 0.25, 42);
  const auto b = split_validation(d, 0.25, 42);
  EXPECT_EQ(row_indices(a.first), row_indices(b.first));
  EXPECT_EQ(row_indices(a.second), row_indices(b.second));
  EXPECT_EQ(a.second.labels, b.second.labels);
  const auto c = split_validation(d, 0.25, 43);
  EXPECT_EQ(c.second.rows, a.second.rows);
  EXPECT_NE(row_indices(c.second), row_indices(a.second));
}

TEST(ValidationSplit, BadFractionsThrow) {
  const Dataset d = numbered_rows(10);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (double fraction : {0.0, 1.0, -0.1, 1.5, -inf, inf, nan})
    EXPECT_THROW(split_validation(d, fraction, 1), Error) << fraction;
  // Inside (0, 1) but leaving one part empty: round(0.04 * 10) = 0, round(0.96 * 10) = 10.
  EXPECT_THROW(split_validation(d, 0.04, 1), Error);
  EXPECT_THROW(split_validation(d, 0.96, 1), Error);
  EXPECT_THROW(split_validation(numbered_rows(1), 0.5, 1), Error);
}

}  // namespace
}  // namespace dptrain
