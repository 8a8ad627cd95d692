// The Trainer's optional services: plan auto resolved at construction, and step-level
// checkpoints (CheckpointEvery). trainer.cpp has the epoch loop.
#include <chrono>
#include <string>
#include <vector>

#include "dptrain/checkpoint.hpp"
#include "dptrain/error.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/trainer.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain {

void TrainConfig::validate() const {
  if (plan.automatic) {  // choose_plan replaces it by a fixed plan: check the rest as data
    TrainConfig fixed = *this;
    fixed.plan = Plan{};
    return fixed.validate();
  }
  EngineConfig::validate();
  schedule.validate();
  if (schedule.kind == ScheduleKind::cosine && schedule.min_lr > optimizer.learning_rate)
    throw Error("the cosine schedule's final learning rate " + std::to_string(schedule.min_lr) +
                " is above the learning rate " + std::to_string(optimizer.learning_rate));
  if (optimizer.kind == OptimizerKind::lbfgs) {
    lbfgs.validate();
    if (checkpoint_every.active())
      throw Error(
          "optimizer lbfgs checkpoints between iterations only: no step-level "
          "checkpoints (--save-every)");
    if (communicator)
      throw Error("optimizer lbfgs runs in one process: it is not offered across ranks (MPI)");
  }
  if (checkpoint_every.seconds < 0 || !(checkpoint_every.seconds < 1e300))
    throw Error("checkpoint_every.seconds must be 0 (off) or a positive number of seconds, got " +
                std::to_string(checkpoint_every.seconds));
}

TrainConfig Trainer::resolved(const Model<float>& model, TrainConfig config, std::string& choice) {
  // lbfgs's passes are an sgd step's phases without the update (Note [Full-batch gradient]):
  // plan and kernels are measured on sgd steps.
  const OptimizerKind kind = config.optimizer.kind;
  if (kind == OptimizerKind::lbfgs) {
    for (const LayerSpec& l : model.spec().layers)
      if (l.kind == LayerSpec::Kind::dropout && l.rate > 0)
        throw Error("optimizer lbfgs needs a model without dropout (" + model.spec().describe() +
                    "): dropout makes every evaluation another objective");
    config.optimizer.kind = OptimizerKind::sgd;
  }
  if (config.plan.automatic) {
    config.validate();  // before a second of measuring
    choice = tuning::choose_plan(model.spec().widths(), config);
  }
  // Then the kernels for the plan chosen (Note [Kernel wisdom]); a no-op unless gemm is auto.
  resolve_automatic_gemm(model.spec(), config, {tuning_mode(), false, false, config.on_warning});
  config.optimizer.kind = kind;
  return config;
}

void Trainer::checkpoint_if_due(std::size_t done, std::size_t total) {
  const CheckpointEvery& every = config_.checkpoint_every;
  if (!every.active() || done == total) return;  // the epoch's last step: the caller's
  const double since =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_checkpoint_).count();
  if (!(every.steps && step_count() % every.steps == 0) &&
      !(every.seconds > 0 && since >= every.seconds))
    return;
  check_not_diverged();  // Note [Exploded parameters]: never a checkpoint of those
  last_checkpoint_ = std::chrono::steady_clock::now();
  if (every.sink)
    every.sink(*this);
  else
    save_checkpoint(every.path, checkpoint());
}

}  // namespace dptrain
