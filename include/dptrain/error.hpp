#pragma once
// The one exception type dptrain throws for bad input: unreadable or corrupt files, shapes that
// do not fit, invalid settings. The message says what is wrong and where. Programming errors
// (broken invariants) are std::logic_error. Only the CLI turns exceptions into exit codes.
#include <stdexcept>
#include <string>

namespace dptrain {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace dptrain
