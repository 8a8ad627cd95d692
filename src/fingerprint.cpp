#include "dptrain/fingerprint.hpp"

#include "dptrain/hash.hpp"

namespace dptrain {

DataFingerprint fingerprint(const Dataset& data) {
  DataFingerprint f;
  f.rows = data.rows;
  f.features = data.features;
  const std::span<const float> x = data.feature_values();
  const std::uint64_t parts[] = {
      hash_bytes(x.data(), x.size_bytes()),
      hash_bytes(data.labels.data(), data.labels.size() * sizeof(std::int32_t)),
      hash_bytes(data.targets.data(), data.targets.size() * sizeof(float))};
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
