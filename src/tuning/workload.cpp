// Workloads to measure (tuning.hpp): a model's shape, its random data and its trainer settings.
#include <cstdint>

#include "dptrain/error.hpp"
#include "dptrain/rng.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

Workload custom_workload(std::span<const std::size_t> widths, std::size_t batch) {
  if (widths.size() < 2) throw Error("a workload needs at least an input and an output width");
  const bool binary = widths.back() == 1;
  Workload w;
  w.name = "custom";
  w.widths.assign(widths.begin(), widths.end());
  w.hidden = Activation::relu;
  w.output = binary ? Activation::sigmoid : Activation::softmax;
  w.loss = binary ? Loss::bce : Loss::ce;
  w.optimizer = OptimizerKind::adam;
  w.lr = 1e-3;
  w.batch = batch;
  return w;
}

Dataset random_data(const Workload& w, std::size_t rows) {
  Dataset d;
  d.source = "bench-" + w.name;
  d.rows = rows;
  d.features = w.widths.front();
  Rng rng(1234);
  d.x.resize(rows * d.features);
  for (float& v : d.x) v = float(rng.uniform());
  const std::size_t outputs = w.widths.back();
  if (w.loss == Loss::mse) {
    d.target_width = outputs;
    d.targets.resize(rows * outputs);
    for (float& v : d.targets) v = float(rng.uniform());
  } else {
    d.classes = outputs == 1 ? 2 : outputs;
    d.labels.resize(rows);
    for (auto& l : d.labels) l = std::int32_t(rng.below(d.classes));
  }
  return d;
}

TrainConfig workload_config(const Workload& w, const TrainConfig& base, std::size_t threads) {
  TrainConfig c = base;
  c.threads = threads;
  c.batch_size = w.batch;
  c.loss = w.loss;
  c.optimizer.kind = w.optimizer;
  c.optimizer.learning_rate = w.lr;
  c.on_step = nullptr;
  c.stop = nullptr;
  c.checkpoint_every = {};
  return c;
}

}  // namespace dptrain::tuning
