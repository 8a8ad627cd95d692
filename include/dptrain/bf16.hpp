#pragma once
// bfloat16 values (the upper half of an IEEE float) for the bf16 precision mode: products take
// bf16 inputs and accumulate in fp32 (Note [Precision] in engine.hpp).
#include <cstddef>
#include <cstdint>

namespace dptrain {

using bf16 = std::uint16_t;

/// out[i] = in[i] rounded to the nearest bf16 (ties to even), for i < n; NaN stays NaN.
/// Uses AVX512_BF16 when the CPU has it (inputs below FLT_MIN then round to zero), else a
/// portable loop with the same rounding for normal numbers. Thread-safe.
void to_bf16(const float* in, bf16* out, std::size_t n);

/// The float a bf16 value stands for (exact).
float from_bf16(bf16 value);

/// Whether this CPU runs bf16 dot products natively (AVX512_BF16).
bool cpu_has_bf16();

}  // namespace dptrain
