// Synthetic data sets after the source articles (see data.hpp for their shapes).
#include <array>
#include <cmath>
#include <string>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

bool is_synthetic_name(std::string_view name) {
  return name == "xor" || name == "square" || name == "blobs8" || name == "linear";
}

namespace {

Dataset make_xor() {
  Dataset d;
  d.source = "xor";
  d.rows = 4;
  d.features = 2;
  d.x = {0, 0, 0, 1, 1, 0, 1, 1};
  d.classes = 2;
  d.labels = {0, 1, 1, 0};
  return d;
}

Dataset make_square(std::uint64_t seed) {
  Dataset d;
  d.source = "square";
  d.rows = 100;
  d.features = 1;
  d.target_width = 1;
  Rng rng(hash_position(seed, kStreamData, 1));
  for (std::size_t r = 0; r < d.rows; ++r) {
    const float x = float(rng.uniform(-1.0, 1.0));
    d.x.push_back(x);
    d.targets.push_back(x * x);
  }
  return d;
}

Dataset make_blobs8(std::uint64_t seed) {
  Dataset d;
  d.source = "blobs8";
  d.rows = 768;
  d.features = 8;
  d.classes = 2;
  Rng rng(hash_position(seed, kStreamData, 2));
  // Class means 1.4 standard deviations apart along a fixed direction in 8 dimensions, plus a
  // nonlinear twist on two features, so the problem is not perfectly linear.
  constexpr std::array<double, 8> direction = {0.5, -0.3, 0.4, 0.2, -0.4, 0.3, 0.35, -0.25};
  for (std::size_t r = 0; r < d.rows; ++r) {
    const int label = rng.uniform() < 0.35 ? 1 : 0;
    for (std::size_t f = 0; f < 8; ++f) {
      double v = rng.normal() + (label ? 3.6 : 0.0) * direction[f];
      if (f == 7) v += 0.3 * d.x[r * 8] * d.x[r * 8 + 1];
      d.x.push_back(float(v));
    }
    d.labels.push_back(label);
  }
  return d;
}

Dataset make_linear(std::uint64_t seed) {
  Dataset d;
  d.source = "linear";
  d.rows = 1000;
  d.features = 8;
  d.target_width = 1;
  Rng rng(hash_position(seed, kStreamData, 3));
  // The true coefficients are fixed (not seeded) so train and test samples share them.
  constexpr std::array<double, 8> w = {1.5, -2.0, 0.7, 0.0, 3.1, -0.4, 0.9, -1.2};
  for (std::size_t r = 0; r < d.rows; ++r) {
    double y = 0.5;
    for (std::size_t f = 0; f < 8; ++f) {
      const double v = rng.uniform(-1.0, 1.0);
      d.x.push_back(float(v));
      y += w[f] * v;
    }
    d.targets.push_back(float(y + 0.1 * rng.normal()));
  }
  return d;
}

}  // namespace

Dataset make_synthetic(std::string_view name, std::uint64_t seed) {
  Dataset d;
  if (name == "xor")
    d = make_xor();
  else if (name == "square")
    d = make_square(seed);
  else if (name == "blobs8")
    d = make_blobs8(seed);
  else if (name == "linear")
    d = make_linear(seed);
  if (d.rows > 0) {  // unnamed features; class indices need no names (Note [Schema])
    d.schema.task = d.classification() ? Task::classification : Task::regression;
    return d;
  }
  throw Error("unknown synthetic data set '" + std::string(name) +
              "' (expected xor, square, blobs8 or linear)");
}

}  // namespace dptrain
