// Note [Signals during oneDNN kernels] (src/gemm_onednn.cpp): signals handled on a thread while
// it runs oneDNN's products must not corrupt anything. An executable of its own because ctest
// runs it twice, once capped to oneDNN's AVX2 kernels (ONEDNN_MAX_CPU_ISA=AVX2, read when oneDNN
// first starts), where the generated "gemm:jit" kernels ran with RSP in the heap and this test
// aborted within a second ("double free or corruption") before the products held signals.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "dptrain/gemm.hpp"

namespace {

std::atomic<long> handled{0};
extern "C" void count_signal(int) {
  handled.fetch_add(1, std::memory_order_relaxed);
}

TEST(OnednnSignals, HandlersDuringProductsCorruptNothing) {
  using namespace dptrain;
  if (!gemm_backend_available(GemmBackend::onednn)) GTEST_SKIP() << "no oneDNN in this build";
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);

  // 64 x 784 times 784 x 512, the shape of a first layer: oneDNN's, not the small-product path.
  constexpr std::size_t m = 64, k = 784, n = 512;
  ASSERT_TRUE(onednn_runs(m, n, k));
  const std::vector<float> a(m * k, 1.0f), b(k * n, 0.5f);
  std::vector<float> c(m * n);
  const auto cache = make_gemm_cache();
  const GemmContext context(GemmBackend::onednn, nullptr, cache.get());

  const pthread_t target = pthread_self();
  std::atomic<bool> done{false};
  std::thread sender([&] {
    while (!done.load(std::memory_order_relaxed)) {
      pthread_kill(target, SIGUSR1);
      std::this_thread::yield();
    }
  });
  std::size_t wrong = 0;
  for (int i = 0; i < 4000; ++i) {
    // Heap traffic around the products, so that a corrupted chunk is found by free().
    const auto churn = std::make_unique<std::vector<char>>(1000 + std::size_t(i % 4000));
    gemm<float>(context, Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n,
                0.0f, c.data(), n);
    wrong += c[std::size_t(i) % c.size()] != 392.0f;  // 784 x 1 x 0.5, exact in float
  }
  done = true;
  sender.join();
  sigaction(SIGUSR1, &previous, nullptr);
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(handled.load(), 100) << "the signals were sent and handled, between the products";
}

}  // namespace
