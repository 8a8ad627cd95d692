// Trainer::fit for optimizer lbfgs: L-BFGS iterations (lbfgs.hpp) over the engine's full-batch
// loss and gradient (Note [Full-batch gradient] in engine.hpp), each reported as an epoch.
#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/lbfgs.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain {

FitResult Trainer::fit_lbfgs(const Dataset& train, const FitOptions& options) {
  if (options.patience)
    throw Error("early stopping (patience " + std::to_string(options.patience) +
                ") needs a stochastic optimizer: lbfgs runs full-batch iterations");
  check_data(train);
  if (options.validation) check_data(*options.validation);
  classes_ = train.classes;
  if (!train.schema.empty()) schema_ = train.schema;
  fingerprint_ = fingerprints_.of(train);
  progress_ = {};
  FitResult result;
  if (epochs_done_ >= config_.epochs) return result;
  std::vector<std::uint32_t> rows(train.rows);
  std::iota(rows.begin(), rows.end(), 0u);
  const std::span<float> params = engine_.model().parameters();
  std::vector<double> x(params.begin(), params.end());
  std::vector<float> gradient(params.size());
  const double metric_values =
      double(train.rows) * double(train.classification() ? 1 : train.target_width);
  LossGradient last;
  std::size_t evaluations = 0;  // of the current iteration
  auto f = [&](std::span<const double> at, std::span<double> g) {
    std::transform(at.begin(), at.end(), params.begin(), [](double v) { return float(v); });
    engine_.parameters_changed();
    last = engine_.loss_gradient(train, rows, gradient);
    std::copy(gradient.begin(), gradient.end(), g.begin());
    // As after a step (the Python binding's Ctrl-C check throws from here).
    if (config_.on_step) config_.on_step(++evaluations, 0);
    return last.loss;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto on_iteration = [&](const LbfgsIteration& it) {
    // The line search's last evaluation is the point it accepted: `last` is that point's.
    EpochResult e;
    e.epoch = epochs_done_ + 1;
    e.steps = 1;
    e.evaluations = it.evaluations;
    e.train_loss = last.data_loss;
    e.train_metric = last.metric_sum / metric_values;
    e.learning_rate = it.step;
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    e.samples_per_second =
        e.seconds > 0 ? double(train.rows) * double(it.evaluations) / e.seconds : 0;
    ++epochs_done_;
    engine_.optimizer().set_step(engine_.optimizer().step() + 1);
    result.epochs.push_back(e);
    EpochReport report;
    report.train = e;
    if (options.validation) report.validation = evaluate(*options.validation);
    const bool go_on = !options.on_epoch_end || options.on_epoch_end(report);
    if (stop_requested()) {
      result.stopped = true;
      stop_.store(false, std::memory_order_relaxed);  // consumed
      return false;
    }
    t0 = std::chrono::steady_clock::now();
    evaluations = 0;
    return go_on;
  };
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  result.lbfgs = minimize_lbfgs(x, config_.epochs - epochs_done_, config_.lbfgs, f, on_iteration);
  // The last evaluation may have been a point the line search rejected: back to the accepted.
  std::transform(x.begin(), x.end(), params.begin(), [](double v) { return float(v); });
  engine_.parameters_changed();
  check_not_diverged();
  return result;
}

}  // namespace dptrain
