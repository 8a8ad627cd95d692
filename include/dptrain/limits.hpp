#pragma once
// Sane limits for every size that comes from a flag or a file, checked before anything is
// allocated: an absurd value is a dptrain::Error naming the setting, never a crash, a hang or
// an out-of-memory kill.
#include <cstddef>
#include <span>
#include <string>

#include "dptrain/error.hpp"

namespace dptrain {

inline constexpr std::size_t kMaxLayerWidth = std::size_t(1) << 24;    ///< units of one layer
inline constexpr std::size_t kMaxBatchSize = std::size_t(1) << 24;     ///< rows of one step
inline constexpr std::size_t kMaxMicroBatches = std::size_t(1) << 16;  ///< units of one step
inline constexpr std::size_t kMaxThreads = 1024;

// Note [Exploded parameters]. A parameter beyond 1e15 in magnitude has exploded: the updates
// of a learning rate that is too high (or of a penalty that is) multiplied it. Trained models
// that work hold values many orders of magnitude smaller, even on unnormalised targets (a
// regression onto values near 1e9 needs biases near 1e9), while the product of two values of
// 1e15 with one input of 1e8 already passes 1e38, the end of fp32: such a model's outputs are
// infinite or meaningless. The trainer stops when a parameter passes it or turns NaN or
// infinite, or when the optimizer state does (Trainer::check_not_diverged), and checkpoints
// holding one are neither written nor read, so the last checkpoint written is a usable one.
inline constexpr double kMaxParameterMagnitude = 1e15;

/// Index of the first value that is NaN or infinite, or beyond ±`limit` when `limit` > 0;
/// values.size() when there is none.
std::size_t first_unusable(std::span<const float> values, double limit = 0);

/// Physical memory of this machine in bytes (sysconf), or 0 when unknown.
std::size_t physical_memory_bytes();

/// Throws dptrain::Error with `topic` when `bytes` (an estimate, computed in double so that it
/// cannot overflow) exceed this machine's physical memory; `what` names what needs it.
void check_fits_memory(double bytes, const std::string& what, ErrorTopic topic);

}  // namespace dptrain
