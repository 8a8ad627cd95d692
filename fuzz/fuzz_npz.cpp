// libFuzzer target for the .npz reader (zip directory and members); the input layout is
// described in fuzz_input.hpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dptrain::fuzz::run_npz(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
