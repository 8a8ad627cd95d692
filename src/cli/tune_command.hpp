#pragma once
// `--gemm auto` in the CLI (Note [Kernel wisdom] in kernel_choice.hpp): its resolution before a
// run, with warnings on stderr, and the text that names a run's kernels (header, --log).
#include <string>

#include "dptrain/dptrain.hpp"

namespace dptrain::cli {

/// resolve_automatic_gemm with the wisdom's warnings on stderr ("dptrain: ignoring ...").
void resolve_kernels(const ModelSpec& spec, EngineConfig& config);

/// gemm_kernel_description of a named kernel; for `auto`, KernelChoice::summary() (the shapes
/// and the kernel of each, and where the choice came from).
std::string kernel_text(const EngineConfig& config);

}  // namespace dptrain::cli
