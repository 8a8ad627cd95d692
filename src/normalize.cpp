#include "dptrain/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

Normalizer Normalizer::fit(Normalization kind, const Dataset& train) {
  Normalizer n;
  n.kind = kind;
  if (kind == Normalization::none) return n;
  const std::size_t f = train.features;
  n.offset.assign(f, 0.0f);
  n.scale.assign(f, 1.0f);
  const std::span<const float> values = train.feature_values();
  for (std::size_t c = 0; c < f; ++c) {
    double sum = 0, sum_sq = 0, lo = INFINITY, hi = -INFINITY;
    for (std::size_t r = 0; r < train.rows; ++r) {
      const double v = values[r * f + c];
      sum += v;
      sum_sq += v * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const double rows = double(std::max<std::size_t>(train.rows, 1));
    if (kind == Normalization::standard) {
      const double mean = sum / rows;
      const double var = std::max(0.0, sum_sq / rows - mean * mean);
      n.offset[c] = float(mean);
      n.scale[c] = var > 1e-12 ? float(1.0 / std::sqrt(var)) : 1.0f;
    } else {
      n.offset[c] = float(lo);
      n.scale[c] = hi - lo > 1e-12 ? float(1.0 / (hi - lo)) : 1.0f;
    }
  }
  return n;
}

void Normalizer::apply(Dataset& data) const {
  if (kind == Normalization::none) return;
  if (data.features != offset.size())
    throw Error("data '" + data.source + "' has " + std::to_string(data.features) +
                " features but the normalization was fitted on " + std::to_string(offset.size()));
  data.own_features();
  const std::size_t f = data.features;
  for (std::size_t r = 0; r < data.rows; ++r)
    for (std::size_t c = 0; c < f; ++c)
      data.x[r * f + c] = (data.x[r * f + c] - offset[c]) * scale[c];
}

TargetNormalizer TargetNormalizer::fit(const Dataset& train) {
  if (train.classification() || train.target_width == 0)
    throw Error("data '" + train.source +
                "' has no real-valued targets to standardise (target normalisation is for "
                "regression)");
  const std::size_t w = train.target_width;
  TargetNormalizer n;
  n.offset.assign(w, 0.0f);
  n.scale.assign(w, 1.0f);
  for (std::size_t k = 0; k < w; ++k) {
    double mean = 0, m2 = 0;  // Welford: stable for targets far from zero
    for (std::size_t r = 0; r < train.rows; ++r) {
      const double y = train.targets[r * w + k], delta = y - mean;
      mean += delta / double(r + 1);
      m2 += delta * (y - mean);
    }
    const double var = train.rows ? m2 / double(train.rows) : 0.0;
    n.offset[k] = float(mean);
    n.scale[k] = var > 1e-24 ? float(1.0 / std::sqrt(var)) : 1.0f;
  }
  return n;
}

void TargetNormalizer::apply(Dataset& data) const {
  if (!active() || data.classification() || data.target_width == 0) return;
  if (data.target_width != offset.size())
    throw Error("data '" + data.source + "' has " + std::to_string(data.target_width) +
                " target columns but the target normalisation was fitted on " +
                std::to_string(offset.size()));
  const std::size_t w = offset.size();
  for (std::size_t i = 0; i < data.targets.size(); ++i)
    data.targets[i] = (data.targets[i] - offset[i % w]) * scale[i % w];
}

void TargetNormalizer::undo(std::span<float> values) const {
  if (!active()) return;
  const std::size_t w = offset.size();
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = values[i] / scale[i % w] + offset[i % w];
}

void TargetNormalizer::fold_into(Model<float>& model) const {
  if (!active()) return;
  const ModelSpec& spec = model.spec();
  if (spec.output_activation() != Activation::identity)
    throw Error("target normalisation needs an identity output layer, not " +
                std::string(activation_name(spec.output_activation())));
  const DenseLayout& last = model.dense_layers().back();
  if (last.out != offset.size())
    throw Error("the target normalisation has " + std::to_string(offset.size()) +
                " columns but the model has " + std::to_string(last.out) + " outputs");
  const std::span<float> p = model.parameters();
  for (std::size_t i = 0; i < last.in; ++i)
    for (std::size_t k = 0; k < last.out; ++k) p[last.weight_offset + i * last.out + k] /= scale[k];
  for (std::size_t k = 0; k < last.out; ++k)
    p[last.bias_offset + k] = p[last.bias_offset + k] / scale[k] + offset[k];
}

void TargetNormalizer::check(std::size_t width, const std::string& where) const {
  if (!active()) return;
  if (offset.size() != width || scale.size() != width)
    throw Error(where + " has target normalisation for " + std::to_string(offset.size()) +
                " columns but the model has " + std::to_string(width) + " outputs");
  for (std::size_t k = 0; k < width; ++k)
    if (!std::isfinite(offset[k]) || !std::isfinite(scale[k]) || !(scale[k] > 0))
      throw Error(where + " has an invalid target normalisation (column " + std::to_string(k) +
                  ": offset " + std::to_string(offset[k]) + ", scale " + std::to_string(scale[k]) +
                  ")");
}

std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction,
                                             std::uint64_t seed) {
  if (!(fraction > 0 && fraction < 1))
    throw Error("validation split must be between 0 and 1 (exclusive), got " +
                std::to_string(fraction));
  const std::size_t n_val = std::size_t(std::llround(fraction * double(data.rows)));
  if (n_val == 0 || n_val >= data.rows)
    throw Error("validation split " + std::to_string(fraction) + " of " +
                std::to_string(data.rows) + " rows leaves an empty training or validation set");
  std::vector<std::uint32_t> order(data.rows);
  std::iota(order.begin(), order.end(), 0u);
  Rng rng(hash_position(seed, kStreamData, 0x5eed));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  const std::span<const float> values = data.feature_values();
  auto take = [&](std::size_t begin, std::size_t end, const std::string& suffix) {
    std::vector<std::uint32_t> rows(order.begin() + std::ptrdiff_t(begin),
                                    order.begin() + std::ptrdiff_t(end));
    std::sort(rows.begin(), rows.end());  // keep the file's order within each part
    Dataset d;
    d.source = data.source + suffix;
    d.rows = rows.size();
    d.features = data.features;
    d.classes = data.classes;
    d.target_width = data.target_width;
    d.schema = data.schema;
    for (std::uint32_t r : rows) {
      d.x.insert(d.x.end(), values.begin() + std::ptrdiff_t(r * data.features),
                 values.begin() + std::ptrdiff_t((r + 1) * data.features));
      if (data.classification())
        d.labels.push_back(data.labels[r]);
      else
        d.targets.insert(d.targets.end(),
                         data.targets.begin() + std::ptrdiff_t(r * data.target_width),
                         data.targets.begin() + std::ptrdiff_t((r + 1) * data.target_width));
    }
    return d;
  };
  return {take(n_val, data.rows, ""), take(0, n_val, " (validation)")};
}

}  // namespace dptrain
