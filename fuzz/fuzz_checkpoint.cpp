// libFuzzer target for decode_checkpoint; the input is a checkpoint file as it is.
//
// Almost every mutation of a checkpoint breaks its trailing CRC-32, which decode_checkpoint checks
// before it parses the metadata, and any change in the metadata's length breaks the length that
// precedes it, so a plain byte fuzzer hardly ever gets to the JSON. The custom mutator therefore
// (5 times in 8) mutates the metadata alone and rewrites its length, and rewrites the CRC of all
// but 1 in 8 mutated inputs; the rest are plain byte mutations.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string_view>
#include <vector>

#include "fuzz_input.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

// "DPTCKPT\n", u32 version, u64 metadata length, metadata, floats..., u32 CRC-32.
constexpr std::size_t kMetaLengthAt = 12, kMetaAt = 20, kCrcSize = 4;

void fix_crc(std::uint8_t* data, std::size_t size) {
  const auto crc = static_cast<std::uint32_t>(crc32(0L, data, static_cast<uInt>(size - kCrcSize)));
  std::memcpy(data + size - kCrcSize, &crc, kCrcSize);  // little-endian, as the format stores it
}

/// Mutates only the metadata of a well-framed checkpoint; 0 if `data` is not one.
std::size_t mutate_metadata(std::uint8_t* data, std::size_t size, std::size_t max_size) {
  if (size < kMetaAt + kCrcSize) return 0;
  std::uint64_t n = 0;
  std::memcpy(&n, data + kMetaLengthAt, sizeof n);
  if (n > size - kMetaAt - kCrcSize) return 0;
  const std::size_t others = size - n;  // header, floats and CRC
  std::vector<std::uint8_t> meta(data + kMetaAt, data + kMetaAt + n);
  meta.resize(max_size - others);
  if (meta.empty()) return 0;
  const std::size_t m = LLVMFuzzerMutate(meta.data(), n, meta.size());
  const std::vector<std::uint8_t> tail(data + kMetaAt + n, data + size);
  const std::uint64_t new_n = m;
  std::memcpy(data + kMetaLengthAt, &new_n, sizeof new_n);
  if (m > 0) std::memcpy(data + kMetaAt, meta.data(), m);
  std::memcpy(data + kMetaAt + m, tail.data(), tail.size());
  return kMetaAt + m + tail.size();
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  const unsigned choice = rng() % 8;
  std::size_t out = choice < 5 ? mutate_metadata(data, size, max_size) : 0;
  if (out == 0) out = LLVMFuzzerMutate(data, size, max_size);
  if (out >= kMetaAt + kCrcSize && choice != 7) fix_crc(data, out);
  return out;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dptrain::fuzz::run_checkpoint(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
