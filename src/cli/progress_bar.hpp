#pragma once
// The progress bar of `dptrain train`.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>

namespace dptrain::cli {

/// A one-line progress bar on stderr, redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::size_t epoch, std::size_t epochs, std::size_t batch)
      : epoch_(epoch), epochs_(epochs), batch_(batch), start_(Clock::now()) {}
  void update(std::size_t done, std::size_t total) {
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done * batch_) / secs : 0;
    const double eta = done ? secs * double(total - done) / double(done) : 0;
    constexpr int kWidth = 30;
    const int filled = int(kWidth * done / std::max<std::size_t>(total, 1));
    std::fprintf(stderr, "\repoch %zu/%zu [%.*s%*s] %3zu%%  %.0f samples/s  ETA %.0fs ", epoch_,
                 epochs_, filled, "##############################", kWidth - filled, "",
                 100 * done / std::max<std::size_t>(total, 1), rate, eta);
    std::fflush(stderr);
  }
  static void clear() { std::fprintf(stderr, "\r%*s\r", 100, ""); }

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t epoch_, epochs_, batch_;
  Clock::time_point start_, last_{};
};

}  // namespace dptrain::cli
