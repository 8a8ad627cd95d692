#pragma once
// A reusable barrier that spins briefly and then blocks.
//
// Why not std::barrier: libstdc++ 12's version sleeps on a futex at once and costs 14-20 us per
// crossing on these machines (docs/DESIGN.md, "Waiting: spin, then block"). Why not spin
// forever: on a 2-core machine a spinning waiter steals the only other core from the thread it
// waits for.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dptrain::parallel {

class Barrier {
 public:
  /// `participants` threads must call arrive_and_wait() for any of them to pass. Requires >= 1.
  explicit Barrier(std::size_t participants);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Blocks until all participants of the current phase have arrived; then the barrier resets
  /// itself for the next phase. Thread-safe; each participant calls it once per phase.
  void arrive_and_wait();

  std::size_t participants() const { return participants_; }

 private:
  const std::size_t participants_;
  alignas(64) std::atomic<std::size_t> remaining_;
  alignas(64) std::atomic<std::uint32_t> phase_{0};
};

/// Spin on `word` while it equals `old`, with a pause instruction, for a bounded number of
/// rounds, then block in std::atomic::wait. Returns once word != old.
void spin_then_wait(const std::atomic<std::uint32_t>& word, std::uint32_t old);

}  // namespace dptrain::parallel
