#pragma once
// params_hash: a 64-bit fingerprint of parameter bytes, printed by the CLI so runs can be
// compared from a shell (equal hash <=> bitwise equal parameters, barring collisions).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace dptrain {

/// FNV-1a over the bytes, processed in 64-bit words for speed.
std::uint64_t hash_bytes(const void* data, std::size_t bytes);

template <class T>
std::uint64_t params_hash(std::span<const T> params) {
  return hash_bytes(params.data(), params.size_bytes());
}

/// 16 lower-case hex digits.
std::string hash_hex(std::uint64_t hash);

}  // namespace dptrain
