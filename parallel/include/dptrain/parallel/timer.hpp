#pragma once
// Phase timing without inline clock arithmetic: a ScopedTimer adds the seconds between its
// construction and destruction to a sink, or reads no clock at all when the sink is null.
#include <chrono>

namespace dptrain::parallel {

class ScopedTimer {
 public:
  /// `sink` may be null (timing off: no clock is read). Not thread-safe on a shared sink: give
  /// each worker its own.
  explicit ScopedTimer(double* sink)
      : sink_(sink), start_(sink ? Clock::now() : Clock::time_point{}) {}
  ~ScopedTimer() {
    if (sink_) *sink_ += std::chrono::duration<double>(Clock::now() - start_).count();
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  using Clock = std::chrono::steady_clock;
  double* sink_;
  Clock::time_point start_;
};

}  // namespace dptrain::parallel
