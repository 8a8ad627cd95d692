#include "dptrain/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

Normalization parse_normalization(std::string_view name) {
  if (name == "none") return Normalization::none;
  if (name == "standard") return Normalization::standard;
  if (name == "minmax") return Normalization::minmax;
  throw Error("unknown normalization '" + std::string(name) +
              "' (expected none, standard or minmax)");
}

const char* normalization_name(Normalization n) {
  switch (n) {
    case Normalization::none:
      return "none";
    case Normalization::standard:
      return "standard";
    case Normalization::minmax:
      return "minmax";
  }
  return "?";
}

Normalizer Normalizer::fit(Normalization kind, const Dataset& train) {
  Normalizer n;
  n.kind = kind;
  if (kind == Normalization::none) return n;
  const std::size_t f = train.features;
  n.offset.assign(f, 0.0f);
  n.scale.assign(f, 1.0f);
  for (std::size_t c = 0; c < f; ++c) {
    double sum = 0, sum_sq = 0, lo = INFINITY, hi = -INFINITY;
    for (std::size_t r = 0; r < train.rows; ++r) {
      const double v = train.x[r * f + c];
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
  const std::size_t f = data.features;
  for (std::size_t r = 0; r < data.rows; ++r)
    for (std::size_t c = 0; c < f; ++c)
      data.x[r * f + c] = (data.x[r * f + c] - offset[c]) * scale[c];
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
      d.x.insert(d.x.end(), data.x.begin() + std::ptrdiff_t(r * data.features),
                 data.x.begin() + std::ptrdiff_t((r + 1) * data.features));
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
