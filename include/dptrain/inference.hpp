#pragma once
// Inference: evaluation and prediction of a trained Model<float> over a data set. No optimizer
// state, no gradients: each worker runs forward passes over its own contiguous share of the
// rows, chunk by chunk, through a workspace of `chunk_rows` rows (Note [Reproducibility] in
// engine.hpp says what is bitwise repeatable).
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/metrics.hpp"
#include "dptrain/model.hpp"
#include "dptrain/parallel/pool.hpp"

namespace dptrain {

struct Evaluation {
  std::size_t rows = 0;
  double loss = 0;  ///< mean per-sample loss
  bool classification = false;
  ConfusionMatrix confusion;
  RegressionMetrics regression;
  /// accuracy or MSE
  double metric() const { return classification ? confusion.accuracy() : regression.mse(); }
  const char* metric_name() const { return classification ? "acc" : "mse"; }
};

struct InferenceOptions {
  /// Rows are split over this pool's workers; null: the caller's thread. Not owned. The caller
  /// must not be running inside one of its tasks.
  parallel::WorkerPool* pool = nullptr;
  /// Rows per forward pass: bounds each worker's workspace (memory = chunk_rows x widest layer).
  std::size_t chunk_rows = 256;
  GemmBackend gemm = default_gemm_backend();
  /// With gemm `automatic`: the kernel per product shape (kernel_choice.hpp; evaluation chunks
  /// take the nearest trained shape's, Note [Nearest shape] in src/tuning/kernel_choice.cpp);
  /// null: the built-in kernel.
  std::shared_ptr<const KernelChoice> kernels{};
  /// Forks only when each worker gets at least this much arithmetic (Note [When to fork]).
  double min_flops_per_worker = 2.0e6;
};

/// Reusable inference for one model shape: workspaces are allocated once, here.
class Inference {
 public:
  /// Throws std::invalid_argument for chunk_rows == 0.
  Inference(const ModelSpec& spec, InferenceOptions options);

  /// Loss and metrics of `model` over all rows of `data` (no dropout). Throws dptrain::Error
  /// naming the data set when it does not fit the model and loss (check_data_fits).
  /// Requires model.spec() to equal the spec given to the constructor.
  Evaluation evaluate(const Model<float>& model, const Dataset& data, Loss loss);

  /// Outputs f(logits) (rows x outputs: probabilities, or values for regression) for every row
  /// of `data`, which may be unlabelled. Throws dptrain::Error when the feature count does not
  /// fit the model.
  std::vector<float> predict(const Model<float>& model, const Dataset& data);
  /// The same into `out` (data.rows x outputs values).
  void predict_into(const Model<float>& model, const Dataset& data, std::span<float> out);

  const InferenceOptions& options() const { return options_; }

 private:
  std::size_t workers_for(const Model<float>& model, std::size_t rows) const;
  std::vector<Workspace<float>> workspaces_;
  std::vector<Activations<float>> activations_;  // one per worker, chunk_rows each
  InferenceOptions options_;
};

/// One-off forms of the above (allocate workspaces per call).
Evaluation evaluate(const Model<float>& model, const Dataset& data, Loss loss,
                    const InferenceOptions& options = {});
std::vector<float> predict(const Model<float>& model, const Dataset& data,
                           const InferenceOptions& options = {});

}  // namespace dptrain
