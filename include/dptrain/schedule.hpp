#pragma once
// Learning-rate schedules, as a pure function of the step.
#include <cstddef>
#include <string_view>

#include "dptrain/names.hpp"

namespace dptrain {

enum class ScheduleKind { constant, step, cosine };
/// Note [Name tables].
inline constexpr NameTable<ScheduleKind, 3> kScheduleNames{"learning-rate schedule",
                                                           {{{ScheduleKind::constant, "constant"},
                                                             {ScheduleKind::step, "step"},
                                                             {ScheduleKind::cosine, "cosine"}}}};
static_assert(kScheduleNames.complete_through(ScheduleKind::cosine));

/// Throws dptrain::Error naming the value unless kScheduleNames has it.
inline ScheduleKind parse_schedule(std::string_view name) {
  return kScheduleNames.parse(name);
}
inline const char* schedule_name(ScheduleKind kind) {
  return kScheduleNames.name(kind);
}

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::constant;
  std::size_t step_epochs = 10;  ///< step: multiply by gamma every step_epochs epochs
  double gamma = 0.1;            ///< step
  double min_lr = 0.0;           ///< cosine: the floor reached at the last step
  void validate() const;
};

/// Learning rate for 0-based `step` of a run of `total_steps` with `steps_per_epoch`.
///   constant: base
///   step:     base * gamma^floor(epoch / step_epochs), epoch = step / steps_per_epoch
///   cosine:   min + (base - min) * (1 + cos(pi * step / total_steps)) / 2
double learning_rate_at(const ScheduleConfig& schedule, double base_lr, std::size_t step,
                        std::size_t steps_per_epoch, std::size_t total_steps);

}  // namespace dptrain
