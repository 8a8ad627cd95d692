#include "dptrain/fingerprint.hpp"

#include <cstring>

#include "dptrain/hash.hpp"

namespace dptrain {

namespace {

/// hash_bytes's mixing on four interleaved lanes of 64-bit words: four independent multiply
/// chains instead of one, so a training set of hundreds of megabytes hashes about four times
/// faster. The lanes, the tail and the length are folded by hash_bytes.
std::uint64_t hash_lanes(const void* data, std::size_t bytes) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t h[5] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL, 0x9e3779b97f4a7c15ULL,
                        0xc2b2ae3d27d4eb4fULL, bytes};
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 32 <= bytes; i += 32)
    for (std::size_t k = 0; k < 4; ++k) {
      std::uint64_t word;
      std::memcpy(&word, p + i + 8 * k, 8);
      h[k] = (h[k] ^ word) * kPrime;
      h[k] ^= h[k] >> 29;
    }
  h[0] ^= hash_bytes(p + i, bytes - i);
  return hash_bytes(h, sizeof h);
}

}  // namespace

DataFingerprint fingerprint(const Dataset& data) {
  DataFingerprint f;
  f.rows = data.rows;
  f.features = data.features;
  const std::span<const float> x = data.feature_values();
  const std::uint64_t parts[] = {
      hash_lanes(x.data(), x.size_bytes()),
      hash_lanes(data.labels.data(), data.labels.size() * sizeof(std::int32_t)),
      hash_lanes(data.targets.data(), data.targets.size() * sizeof(float))};
  f.hash = hash_bytes(parts, sizeof parts);
  return f;
}

DataFingerprint FingerprintCache::of(const Dataset& data) {
  const auto address = [](const void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  const std::array<std::uintptr_t, 6> key = {address(data.feature_values().data()),
                                             address(data.labels.data()),
                                             address(data.targets.data()),
                                             data.rows,
                                             data.features,
                                             data.classes};
  if (key != key_ || !value_.known()) value_ = fingerprint(data);
  key_ = key;
  return value_;
}

std::string fingerprint_difference(const DataFingerprint& recorded, const DataFingerprint& now,
                                   const std::string& source) {
  const std::string where = "data '" + source + "'";
  if (now.rows != recorded.rows)
    return where + " has " + std::to_string(now.rows) +
           " training rows where the checkpoint's position was counted on " +
           std::to_string(recorded.rows);
  if (now.features != recorded.features)
    return where + " has " + std::to_string(now.features) +
           " features where the checkpoint's position was counted on " +
           std::to_string(recorded.features);
  if (now.hash != recorded.hash)
    return where + " has other values, labels or row order in its " + std::to_string(now.rows) +
           " training rows than those the checkpoint's position was counted on";
  return {};
}

}  // namespace dptrain
