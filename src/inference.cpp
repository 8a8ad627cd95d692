#include "dptrain/inference.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "dptrain/error.hpp"
#include "dptrain/parallel/partition.hpp"

namespace dptrain {

namespace {

std::size_t pool_size(const InferenceOptions& o) {
  return o.pool ? o.pool->size() : 1;
}

/// Copies rows [begin, begin + n) of `data` into the activations' input and the workspace
/// (labels/targets when the data has them).
void load_rows(const Dataset& data, std::size_t begin, std::size_t n, Workspace<float>& ws,
               ActivationRows<float> a) {
  const std::size_t f = data.features;
  std::memcpy(a.input(), data.feature_values().data() + begin * f, n * f * sizeof(float));
  if (data.classification())
    std::copy_n(data.labels.data() + begin, n, ws.labels());
  else if (data.target_width > 0)
    std::memcpy(ws.target_values(), data.targets.data() + begin * data.target_width,
                n * data.target_width * sizeof(float));
}

/// Per-worker sums of an evaluation.
struct Partial {
  double loss = 0;
  ConfusionMatrix confusion;
  RegressionMetrics regression;
};

void add_metrics(const Dataset& data, Workspace<float>& ws, std::size_t n, std::size_t cols,
                 Partial& p) {
  const float* out = ws.outputs();
  if (data.classification()) {
    for (std::size_t r = 0; r < n; ++r)
      p.confusion.add(std::size_t(ws.labels()[r]), predicted_class(out + r * cols, cols));
    return;
  }
  p.regression.add(out, ws.target_values(), n, cols);
}

/// Splits the rows into `workers` contiguous shares on the pool (or the caller), loads and
/// forwards each share chunk by chunk, and calls on_chunk(worker, workspace, activations,
/// first row, rows).
template <class OnChunk>
void forward_chunks(const Model<float>& model, const Dataset& data,
                    std::vector<Workspace<float>>& workspaces,
                    std::vector<Activations<float>>& activations, parallel::WorkerPool* pool,
                    std::size_t workers, OnChunk&& on_chunk) {
  auto task = [&](std::size_t w) {
    Workspace<float>& ws = workspaces[w];
    const ActivationRows<float> a = activations[w].rows(0);
    const parallel::Range mine = parallel::partition(data.rows, workers, w);
    for (std::size_t b = mine.begin; b < mine.end; b += ws.max_rows()) {
      const std::size_t n = std::min(ws.max_rows(), mine.end - b);
      load_rows(data, b, n, ws, a);
      model.forward(ws, a, a.input(), n, false);
      on_chunk(w, ws, a, b, n);
    }
  };
  if (pool)
    pool->run(workers, task);
  else
    task(0);
}

}  // namespace

Inference::Inference(const ModelSpec& spec, InferenceOptions options) : options_(options) {
  if (options_.chunk_rows == 0) throw std::invalid_argument("Inference: chunk_rows must be >= 1");
  // Workers run single-threaded kernels: the rows, not the products, are split (Note [Threads]).
  for (std::size_t w = 0; w < pool_size(options_); ++w) {
    workspaces_.emplace_back(spec, options_.chunk_rows,
                             GemmContext{options_.gemm, nullptr, nullptr, options_.kernels.get()});
    activations_.emplace_back(spec, options_.chunk_rows);
  }
}

std::size_t Inference::workers_for(const Model<float>& model, std::size_t rows) const {
  const std::size_t most = workspaces_.size();
  if (most == 1 || rows == 0) return 1;
  // Forward only: about a third of a training step's arithmetic per row.
  const double flops = double(rows) * model.flops_per_sample() / 3.0;
  const double min = options_.min_flops_per_worker;
  const double w = min > 0 ? std::floor(flops / min) : double(most);
  return std::min({std::size_t(std::max(1.0, w)), most, rows});
}

Evaluation Inference::evaluate(const Model<float>& model, const Dataset& data, Loss loss) {
  const OpenBlasSingleThreaded openblas_one_thread(options_.gemm);
  const ModelSpec& spec = model.spec();
  check_data_fits(spec, loss, data);
  const std::size_t cols = spec.outputs(), workers = workers_for(model, data.rows);
  std::vector<Partial> partial(workers, Partial{0, ConfusionMatrix(data.classes), {}});
  forward_chunks(model, data, workspaces_, activations_, options_.pool, workers,
                 [&](std::size_t w, Workspace<float>& ws, ActivationRows<float> a, std::size_t,
                     std::size_t n) {
                   const TargetsView targets = data.classification()
                                                   ? TargetsView{ws.labels(), nullptr, 1}
                                                   : TargetsView{nullptr, ws.target_values(), cols};
                   partial[w].loss +=
                       loss_forward_backward<float>(loss, spec.output_activation(), a.logits(), n,
                                                    cols, targets, 1.0f, ws.outputs(), nullptr);
                   add_metrics(data, ws, n, cols, partial[w]);
                 });
  Evaluation e;
  e.rows = data.rows;
  e.classification = data.classification();
  e.confusion = ConfusionMatrix(data.classes);
  for (const Partial& p : partial) {  // worker order: the same sums for the same split
    e.loss += p.loss;
    if (e.classification)
      e.confusion += p.confusion;
    else
      e.regression += p.regression;
  }
  e.loss /= double(data.rows);
  return e;
}

std::vector<float> Inference::predict(const Model<float>& model, const Dataset& data) {
  std::vector<float> out(data.rows * model.spec().outputs());
  predict_into(model, data, out);
  return out;
}

void Inference::predict_into(const Model<float>& model, const Dataset& data, std::span<float> out) {
  const OpenBlasSingleThreaded openblas_one_thread(options_.gemm);
  const ModelSpec& spec = model.spec();
  check_features_fit(spec, data);
  const std::size_t cols = spec.outputs(), workers = workers_for(model, data.rows);
  if (out.size() != data.rows * cols)
    throw std::invalid_argument("Inference::predict_into: out must hold rows x outputs values");
  forward_chunks(
      model, data, workspaces_, activations_, options_.pool, workers,
      [&](std::size_t, Workspace<float>&, ActivationRows<float> a, std::size_t b, std::size_t n) {
        float* dst = out.data() + b * cols;
        std::copy(a.logits(), a.logits() + n * cols, dst);
        activation_forward(spec.output_activation(), dst, n, cols);
      });
}

Evaluation evaluate(const Model<float>& model, const Dataset& data, Loss loss,
                    const InferenceOptions& options) {
  return Inference(model.spec(), options).evaluate(model, data, loss);
}

std::vector<float> predict(const Model<float>& model, const Dataset& data,
                           const InferenceOptions& options) {
  return Inference(model.spec(), options).predict(model, data);
}

}  // namespace dptrain
