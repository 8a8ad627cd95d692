#pragma once
// The epoch loop of `dptrain train`: epochs with validation and early stopping (patience, then
// the best weights restored). Kept apart so that it can give way wholesale to the library's
// Trainer::fit(const Dataset&, const FitOptions&), which is to do the same: run_epochs(),
// EpochEnd and EpochLoopResult have the shape of fit(), its per-epoch report and its result.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

#include "dptrain/dptrain.hpp"

namespace dptrain::cli {

/// A one-line progress bar on stderr, redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::size_t epoch, std::size_t epochs, std::size_t batch)
      : epoch_(epoch), epochs_(epochs), batch_(batch), start_(Clock::now()) {}
  void update(std::size_t done, std::size_t total) {
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done * batch_) / secs : 0;
    const double eta = done ? secs * double(total - done) / double(done) : 0;
    constexpr int kWidth = 30;
    const int filled = int(kWidth * done / std::max<std::size_t>(total, 1));
    std::fprintf(stderr, "\repoch %zu/%zu [%.*s%*s] %3zu%%  %.0f samples/s  ETA %.0fs ", epoch_,
                 epochs_, filled, "##############################", kWidth - filled, "",
                 100 * done / std::max<std::size_t>(total, 1), rate, eta);
    std::fflush(stderr);
  }
  static void clear() { std::fprintf(stderr, "\r%*s\r", 100, ""); }

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t epoch_, epochs_, batch_;
  Clock::time_point start_, last_{};
};

/// Early stopping on the validation loss; kept in checkpoints so that a resumed run goes on.
struct EarlyStopping {
  std::optional<std::size_t> patience;  ///< off when empty
  double best_loss = -1;                ///< the best validation loss; < 0: none yet
  std::size_t since_best = 0;           ///< epochs since best_loss
  /// Weights of best_loss. After a resume they are known only if the resumed weights are the
  /// best (epochs_since_best == 0); empty when unknown.
  std::vector<float> best_params;
};

/// What one epoch of run_epochs() gives its callback.
struct EpochEnd {
  EpochResult train;
  std::optional<Evaluation> validation;
  bool stopping = false;  ///< early stopping ends training after this epoch
};

struct EpochLoopResult {
  bool stopped_early = false;  ///< patience ran out
  bool restored_best = false;  ///< the model now holds the best epoch's weights
};

/// The epoch loop: trains `train` until config().epochs epochs are done in all, evaluates
/// `validation` (when not null) after each, keeps the early-stopping state, and calls
/// `on_epoch_end` after every epoch. When patience runs out it stops and restores the best weights
/// if they are known. Draws `bar` (when not null) during each epoch.
EpochLoopResult run_epochs(Trainer& trainer, Model<float>& model, const Dataset& train,
                           const Dataset* validation, EarlyStopping& stop,
                           std::optional<ProgressBar>* bar,
                           const std::function<void(const EpochEnd&)>& on_epoch_end);

}  // namespace dptrain::cli
