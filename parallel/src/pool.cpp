#include "dptrain/parallel/pool.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "dptrain/parallel/barrier.hpp"

namespace dptrain::parallel {

std::size_t hardware_threads() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? n : 1;
}

ThreadStartError::ThreadStartError(std::size_t thread, std::size_t threads, std::error_code code)
    : std::runtime_error("could not start worker thread " + std::to_string(thread) + " of " +
                         std::to_string(threads) + " (" + code.message() + ")"),
      thread_(thread),
      threads_(threads),
      code_(code) {}

void run_on_new_threads(std::size_t n, FunctionRef<void(std::size_t)> task) {
  std::vector<std::thread> team;
  team.reserve(n);
  std::optional<ThreadStartError> refused;
  for (std::size_t t = 0; t < n && !refused; ++t) {
    try {
      team.emplace_back([&task, t] { task(t); });
    } catch (const std::system_error& e) {
      refused.emplace(t + 1, n, e.code());
    }
  }
  for (std::thread& thread : team) thread.join();  // never a joinable std::thread destroyed
  if (refused) throw *refused;
}

namespace {

// Note [Starting threads]. oneTBB and libgomp start their threads lazily, inside a run, and
// neither can hand a refused thread back to the caller: oneTBB throws from a noexcept path
// (std::terminate: "pthread_create has failed"), libgomp prints "Thread creation failed" and
// calls exit(1). So before either backend gets work, the pool starts its n - 1 threads itself,
// with the stack size the backend will give them (oneTBB's own; libgomp's is the default), all
// alive at once, each allocating as a worker does (glibc reserves address space for an arena
// per thread that allocates), and ends them: a refusal -- the process limit (ulimit -u) or no
// memory for a stack (ulimit -v) -- becomes a ThreadStartError while nothing else is running.
// Then one empty run makes the backend start its own threads at once, while the limit just
// held. A limit that tightens later, or another thread of the process taking the last slot in
// between, is not covered. The threads backend starts its threads in its constructor and
// reports a refusal directly; run_on_new_threads() likewise.
struct Probe {
  std::mutex m;
  std::condition_variable released;
  bool release = false;

  static void* hold(void* self) {
    auto& p = *static_cast<Probe*>(self);
    void* volatile block = std::malloc(64);
    std::free(block);
    std::unique_lock lock(p.m);
    p.released.wait(lock, [&] { return p.release; });
    return nullptr;
  }
};

/// Starts n - 1 threads of `stack_bytes` (0: the default) at once, then ends them; throws
/// ThreadStartError naming the first the system refused.
void check_threads_start(std::size_t n, std::size_t stack_bytes) {
  Probe probe;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (stack_bytes) pthread_attr_setstacksize(&attr, stack_bytes);
  std::vector<pthread_t> started;
  started.reserve(n - 1);
  int refused = 0;
  for (std::size_t i = 1; i < n && !refused; ++i) {
    pthread_t t;
    refused = pthread_create(&t, &attr, &Probe::hold, &probe);
    if (!refused) started.push_back(t);
  }
  pthread_attr_destroy(&attr);
  {
    const std::lock_guard lock(probe.m);
    probe.release = true;
  }
  probe.released.notify_all();
  for (pthread_t t : started) pthread_join(t, nullptr);
  if (refused)
    throw ThreadStartError(started.size() + 2, n,
                           std::error_code(refused, std::generic_category()));
}

}  // namespace

struct WorkerPool::Impl {
  explicit Impl(std::size_t n) : errors(n) {}
  virtual ~Impl() = default;
  /// Runs guarded(i) for i in [0, n) and joins; 2 <= n <= errors.size().
  virtual void run_all(std::size_t n, FunctionRef<void(std::size_t)> guarded) = 0;
  std::vector<std::exception_ptr> errors;  // one slot per worker, allocated once
};

namespace {

struct TbbImpl final : WorkerPool::Impl {
  explicit TbbImpl(std::size_t n) : Impl(n), arena(static_cast<int>(n)) {
    // oneTBB caps its worker count at the hardware concurrency; asking for more threads than
    // cores (oversubscription) needs the process-wide limit raised explicitly.
    if (n > static_cast<std::size_t>(tbb::this_task_arena::max_concurrency()))
      limit.emplace(tbb::global_control::max_allowed_parallelism, n);
  }
  void run_all(std::size_t n, FunctionRef<void(std::size_t)> guarded) override {
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, n, 1),
          [&](const tbb::blocked_range<std::size_t>& r) {
            for (std::size_t i = r.begin(); i != r.end(); ++i) guarded(i);
          },
          tbb::static_partitioner());
    });
  }
  std::optional<tbb::global_control> limit;
  tbb::task_arena arena;
};

struct OpenMpImpl final : WorkerPool::Impl {
  using Impl::Impl;
  void run_all(std::size_t count, FunctionRef<void(std::size_t)> guarded) override {
    const int n = static_cast<int>(count);
#pragma omp parallel num_threads(n)
    {
      // OpenMP may grant fewer threads than asked (thread limits, dynamic adjustment):
      // the tasks are then shared round-robin among those that exist.
      const int nt = omp_get_num_threads();
      for (int i = omp_get_thread_num(); i < n; i += nt) guarded(static_cast<std::size_t>(i));
    }
  }
};

// Each worker waits on its own cache line, so a run on n workers wakes exactly n - 1 threads;
// the caller runs index 0 and then waits for the count of unfinished tasks to reach zero.
struct ThreadsImpl final : WorkerPool::Impl {
  struct alignas(64) Signal {
    std::atomic<std::uint32_t> generation{0};
  };
  explicit ThreadsImpl(std::size_t n) : Impl(n), signals(new Signal[n]) {
    threads.reserve(n - 1);
    for (std::size_t i = 1; i < n; ++i) {
      try {
        threads.emplace_back([this, i] { worker_loop(i); });
      } catch (const std::system_error& e) {  // Note [Starting threads]
        shut_down();
        throw ThreadStartError(i + 1, n, e.code());
      }
    }
  }
  ~ThreadsImpl() override { shut_down(); }
  /// Stops and joins the workers started so far.
  void shut_down() noexcept {
    stop.store(true, std::memory_order_relaxed);
    for (std::size_t i = 1; i <= threads.size(); ++i) {
      signals[i].generation.fetch_add(1, std::memory_order_release);
      signals[i].generation.notify_one();
    }
    for (auto& t : threads) t.join();
    threads.clear();
  }
  void run_all(std::size_t n, FunctionRef<void(std::size_t)> guarded) override {
    task = &guarded;
    unfinished.store(static_cast<std::uint32_t>(n - 1), std::memory_order_relaxed);
    for (std::size_t i = 1; i < n; ++i) {
      signals[i].generation.fetch_add(1, std::memory_order_release);
      signals[i].generation.notify_one();
    }
    guarded(0);  // the caller is worker 0
    for (std::uint32_t left; (left = unfinished.load(std::memory_order_acquire)) != 0;)
      spin_then_wait(unfinished, left);
    task = nullptr;
  }
  void worker_loop(std::size_t index) {
    std::uint32_t seen = 0;
    for (;;) {
      spin_then_wait(signals[index].generation, seen);
      seen = signals[index].generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_relaxed)) return;
      (*task)(index);
      if (unfinished.fetch_sub(1, std::memory_order_acq_rel) == 1) unfinished.notify_one();
    }
  }
  const FunctionRef<void(std::size_t)>* task = nullptr;
  std::unique_ptr<Signal[]> signals;
  alignas(64) std::atomic<std::uint32_t> unfinished{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
};

}  // namespace

WorkerPool::WorkerPool(Backend backend, std::size_t workers)
    : backend_(backend), workers_(workers) {
  if (workers == 0) throw std::invalid_argument("a worker pool needs at least one worker");
  if (workers == 1) return;  // serial: run() calls the task inline, no threads, no overhead
  switch (backend) {
    case Backend::tbb:  // Note [Starting threads]
      check_threads_start(
          workers, tbb::global_control::active_value(tbb::global_control::thread_stack_size));
      impl_ = std::make_unique<TbbImpl>(workers);
      impl_->run_all(workers, [](std::size_t) {});
      break;
    case Backend::openmp:
      check_threads_start(workers, 0);
      impl_ = std::make_unique<OpenMpImpl>(workers);
      impl_->run_all(workers, [](std::size_t) {});
      break;
    case Backend::threads:
      impl_ = std::make_unique<ThreadsImpl>(workers);
      break;
  }
}

WorkerPool::~WorkerPool() = default;

void WorkerPool::run(std::size_t n, FunctionRef<void(std::size_t)> task) {
  if (n == 0 || n > workers_)
    throw std::invalid_argument("WorkerPool::run: " + std::to_string(n) + " workers requested of " +
                                std::to_string(workers_) + " (need 1 <= n <= size())");
  if (n == 1) {
    task(0);
    return;
  }
  auto& errors = impl_->errors;
  auto guarded = [&](std::size_t i) {
    try {
      task(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  impl_->run_all(n, guarded);
  for (auto& e : errors) {
    if (e) {
      std::exception_ptr first = e;
      for (auto& other : errors) other = nullptr;
      std::rethrow_exception(first);
    }
  }
}

}  // namespace dptrain::parallel
