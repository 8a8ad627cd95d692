#include "dptrain/bf16.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dptrain {

namespace {

bf16 to_bf16_portable(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16((u >> 16) | 0x40);  // NaN stays quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                     // round to nearest even
  return bf16(u >> 16);
}

#if defined(__x86_64__)
// One instruction per 16 values; the tail goes through the same instruction under a mask, so
// every element rounds the same way wherever it sits.
__attribute__((target("avx512f,avx512bf16,avx512vl"))) void to_bf16_avx512(const float* in,
                                                                           bf16* out,
                                                                           std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(in + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), (__m256i)v);
  }
  if (i < n) {
    const __mmask16 mask = __mmask16((1u << (n - i)) - 1u);
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, in + i));
    _mm256_mask_storeu_epi16(out + i, mask, (__m256i)v);
  }
}
#endif

}  // namespace

bool cpu_has_bf16() {
#if defined(__x86_64__)
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
#else
  return false;
#endif
}

void to_bf16(const float* in, bf16* out, std::size_t n) {
#if defined(__x86_64__)
  if (cpu_has_bf16()) return to_bf16_avx512(in, out, n);
#endif
  for (std::size_t i = 0; i < n; ++i) out[i] = to_bf16_portable(in[i]);
}

float from_bf16(bf16 value) {
  const std::uint32_t u = std::uint32_t(value) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace dptrain
