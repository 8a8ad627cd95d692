#include "dptrain/parallel/barrier.hpp"

#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DPTRAIN_CPU_PAUSE() _mm_pause()
#else
#define DPTRAIN_CPU_PAUSE() ((void)0)
#endif

namespace dptrain::parallel {

namespace {
// About 10-40 us of spinning: longer than a well-balanced step's imbalance, far shorter than a
// scheduler time slice.
constexpr int kSpinRounds = 4000;
}  // namespace

void spin_then_wait(const std::atomic<std::uint32_t>& word, std::uint32_t old) {
  for (int i = 0; i < kSpinRounds; ++i) {
    if (word.load(std::memory_order_acquire) != old) return;
    DPTRAIN_CPU_PAUSE();
  }
  while (word.load(std::memory_order_acquire) == old) word.wait(old, std::memory_order_acquire);
}

Barrier::Barrier(std::size_t participants) : participants_(participants), remaining_(participants) {
  if (participants == 0) throw std::invalid_argument("Barrier needs at least one participant");
}

void Barrier::arrive_and_wait() {
  const std::uint32_t phase = phase_.load(std::memory_order_acquire);
  if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    remaining_.store(participants_, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);
    phase_.notify_all();
    return;
  }
  spin_then_wait(phase_, phase);
}

}  // namespace dptrain::parallel
