#pragma once
// A persistent pool of workers that runs one task per worker index and joins.
//
// The pool is the only owner of threads in dptrain: the caller picks the worker count once
// (the CLI's --threads) and the engine never spawns threads anywhere else. Backends differ only
// in how "run f(i) for every i, then join" is carried out; everything the engine synchronises
// on (slice ownership, fixed reduction order) lives in code shared by all backends, so that a
// ThreadSanitizer run of one backend checks it for all (docs/DESIGN.md, "Sanitizers and
// prebuilt libraries": why TSan runs without TBB and libgomp).
#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "dptrain/parallel/function_ref.hpp"

namespace dptrain::parallel {

enum class Backend {
  tbb,      ///< oneTBB task_arena + parallel_for with a static partitioner (default)
  openmp,   ///< one OpenMP parallel region per run
  threads,  ///< dptrain's own std::thread workers with a spin-then-block barrier
};

/// The names of the backends ("tbb", "openmp", "threads"): dptrain::kBackendNames
/// (include/dptrain/engine.hpp).

/// Number of hardware threads this process may run on (sched affinity), at least 1.
std::size_t hardware_threads();

/// The system refused a thread (the process limit, ulimit -u, or no memory for its stack,
/// ulimit -v): "could not start worker thread 2 of 4 (Resource temporarily unavailable)".
/// Threads count from 1, the caller's own thread; none of the threads started is left running.
class ThreadStartError : public std::runtime_error {
 public:
  ThreadStartError(std::size_t thread, std::size_t threads, std::error_code code);
  std::size_t thread() const { return thread_; }
  std::size_t threads() const { return threads_; }
  std::error_code code() const { return code_; }

 private:
  std::size_t thread_, threads_;
  std::error_code code_;
};

/// Runs task(t) for t in [0, n) on n new threads, all alive at once, and joins them. When the
/// system refuses one, joins those started (their tasks run to their end) and throws
/// ThreadStartError. For measurements that need threads of their own (calibration).
void run_on_new_threads(std::size_t n, FunctionRef<void(std::size_t)> task);

class WorkerPool {
 public:
  /// Creates `workers` workers (>= 1). With one worker no thread is created and run() calls the
  /// task inline. Throws std::invalid_argument for 0 workers, and ThreadStartError when the
  /// system refuses a thread (Note [Starting threads]).
  WorkerPool(Backend backend, std::size_t workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  std::size_t size() const { return workers_; }
  Backend backend() const { return backend_; }

  /// Calls task(i) exactly once for every i in [0, size()) and returns when all calls have
  /// finished: the return is a barrier, and everything the tasks wrote is visible to the caller
  /// and to the next run(). Calls may run concurrently (and with more workers than cores, do
  /// not all run at once): tasks must not wait for each other. If tasks throw, every task still
  /// runs to its end and the exception of the lowest index is rethrown here.
  /// One run at a time: call from one thread, not from inside a task.
  void run(FunctionRef<void(std::size_t)> task) { run(workers_, task); }

  /// The same on exactly the first `n` workers: task(i) for i in [0, n), inline on the caller
  /// when n == 1, and the other workers are not woken. Requires 1 <= n <= size() (throws
  /// std::invalid_argument otherwise).
  void run(std::size_t n, FunctionRef<void(std::size_t)> task);

  struct Impl;  ///< backend implementation (pool.cpp)

 private:
  Backend backend_;
  std::size_t workers_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dptrain::parallel
