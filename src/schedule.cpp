#include "dptrain/schedule.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "dptrain/error.hpp"

namespace dptrain {

void ScheduleConfig::validate() const {
  if (kind == ScheduleKind::step && step_epochs == 0)
    throw Error("step schedule needs at least 1 epoch between decays", ErrorTopic::schedule);
  if (!(gamma > 0 && std::isfinite(gamma))) throw Error("schedule gamma must be positive");
  if (!(min_lr >= 0 && std::isfinite(min_lr))) throw Error("minimum learning rate must be >= 0");
}

double learning_rate_at(const ScheduleConfig& s, double base_lr, std::size_t step,
                        std::size_t steps_per_epoch, std::size_t total_steps) {
  switch (s.kind) {
    case ScheduleKind::constant:
      return base_lr;
    case ScheduleKind::step: {
      const std::size_t epoch = steps_per_epoch ? step / steps_per_epoch : 0;
      return base_lr * std::pow(s.gamma, double(epoch / s.step_epochs));
    }
    case ScheduleKind::cosine: {
      if (total_steps == 0) return base_lr;
      const double progress = std::min(1.0, double(step) / double(total_steps));
      return s.min_lr + (base_lr - s.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return base_lr;
}

}  // namespace dptrain
