#pragma once
// Sane limits for every size that comes from a flag or a file, checked before anything is
// allocated: an absurd value is a dptrain::Error naming the setting, never a crash, a hang or
// an out-of-memory kill.
#include <cstddef>
#include <string>

#include "dptrain/error.hpp"

namespace dptrain {

inline constexpr std::size_t kMaxLayerWidth = std::size_t(1) << 24;    ///< units of one layer
inline constexpr std::size_t kMaxBatchSize = std::size_t(1) << 24;     ///< rows of one step
inline constexpr std::size_t kMaxMicroBatches = std::size_t(1) << 16;  ///< units of one step
inline constexpr std::size_t kMaxThreads = 1024;

/// Physical memory of this machine in bytes (sysconf), or 0 when unknown.
std::size_t physical_memory_bytes();

/// Throws dptrain::Error with `topic` when `bytes` (an estimate, computed in double so that it
/// cannot overflow) exceed this machine's physical memory; `what` names what needs it.
void check_fits_memory(double bytes, const std::string& what, ErrorTopic topic);

}  // namespace dptrain
