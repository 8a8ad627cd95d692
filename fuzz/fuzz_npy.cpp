// libFuzzer target for the .npy reader; the input layout is described in fuzz_input.hpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dptrain::fuzz::run_npy(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
