#include "train_epochs.hpp"

#include <algorithm>

namespace dptrain::cli {

EpochLoopResult run_epochs(Trainer& trainer, Model<float>& model, const Dataset& train,
                           const Dataset* validation, EarlyStopping& stop,
                           std::optional<ProgressBar>* bar,
                           const std::function<void(const EpochEnd&)>& on_epoch_end) {
  const TrainConfig& config = trainer.config();
  EpochLoopResult result;
  for (std::size_t e = trainer.epochs_done(); e < config.epochs; ++e) {
    if (bar) bar->emplace(e + 1, config.epochs, config.batch_size);
    EpochEnd end{trainer.train_epoch(train), std::nullopt, false};
    if (bar) ProgressBar::clear();
    if (validation) end.validation = trainer.evaluate(*validation);
    if (end.validation && stop.patience) {
      if (stop.best_loss < 0 || end.validation->loss < stop.best_loss) {
        stop.best_loss = end.validation->loss;
        stop.since_best = 0;
        const auto p = model.parameters();
        stop.best_params.assign(p.begin(), p.end());
      } else {
        ++stop.since_best;
      }
    }
    end.stopping = stop.patience && stop.since_best >= *stop.patience;
    on_epoch_end(end);
    if (end.stopping) {
      result.stopped_early = true;
      break;
    }
  }
  if (result.stopped_early && !stop.best_params.empty()) {
    std::copy(stop.best_params.begin(), stop.best_params.end(), model.parameters().begin());
    result.restored_best = true;
  }
  return result;
}

}  // namespace dptrain::cli
