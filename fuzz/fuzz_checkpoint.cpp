// libFuzzer target for decode_checkpoint; the input is a checkpoint file as it is.
//
// Almost every mutation of a checkpoint breaks its trailing CRC-32, which decode_checkpoint checks
// before it parses the metadata, so a plain fuzzer would hardly ever get past the checksum. The
// custom mutator below therefore rewrites the CRC of most mutated inputs (7 in 8), so that the
// JSON metadata and the model checks get fuzzed too; the rest keep a broken CRC.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_input.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  if (size >= 8 + 4 + 4 && seed % 8 != 0) {
    const auto crc = static_cast<std::uint32_t>(crc32(0L, data, static_cast<uInt>(size - 4)));
    std::memcpy(data + size - 4, &crc, 4);  // little-endian, as the format stores it
  }
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dptrain::fuzz::run_checkpoint(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
