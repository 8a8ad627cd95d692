#pragma once
// Counter-based random numbers. Every random choice in dptrain is a pure function of the seed
// and a position (step, row, unit), so results do not depend on which thread draws them or in
// what order: the same seed gives the same bits for any sharding of a batch.
#include <cstdint>

namespace dptrain {

/// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Hash of a seed and up to three coordinates; distinct streams use distinct `stream` tags.
constexpr std::uint64_t hash_position(std::uint64_t seed, std::uint64_t stream, std::uint64_t a,
                                      std::uint64_t b = 0, std::uint64_t c = 0) {
  return mix64(mix64(mix64(mix64(seed ^ mix64(stream)) ^ a) ^ b) ^ c);
}

/// Uniform double in [0, 1) from the top 53 bits.
constexpr double to_unit_double(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

/// A small sequential generator (a counter through mix64) for set-up work such as initialisation
/// and shuffling. Its sequence is fixed by this code, not by the standard library's
/// implementation-defined distributions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return mix64(state_++); }
  double uniform() { return to_unit_double(next()); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller; one value per call, the partner is discarded for simplicity).
  double normal();
  /// Uniform integer in [0, n) without modulo bias. Requires n > 0.
  std::uint64_t below(std::uint64_t n);
  std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

/// Stream tags for hash_position().
enum RngStream : std::uint64_t {
  kStreamInit = 1,
  kStreamShuffle = 2,
  kStreamDropout = 3,
  kStreamData = 4,
};

}  // namespace dptrain
