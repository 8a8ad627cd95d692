#pragma once
// The machine as the worker pool sees it: physical cores, their hardware threads (PUs), which
// cores share an L3 cache, which NUMA node each belongs to; and binding a thread to one core.
//
// Read through hwloc (Debian's libhwloc-dev) when the build found it; otherwise a fallback with
// one core per allowed hardware thread, one L3 group and one NUMA node. Either way only the
// hardware threads this process may run on (its affinity mask when the topology is first read)
// count, so `taskset -c 0-3 dptrain ...` sees 4 PUs.
//
// Note [Pinning]. `--pin` binds worker i of the pool to core pin_cores[i] (EngineConfig),
// where the CLI passes the cores in the order of Topology::cores: one L3 domain filled before
// the next, so the workers of a step share as few caches as they must. A worker is bound to all
// PUs of its core (the OS picks among SMT siblings). The pool's workers of the `threads` and
// `openmp` backends are OS threads that keep their index from run to run (worker 0 is the
// caller), so binding once per worker lasts; oneTBB maps tasks to its threads freely, so the
// engine does not pin the `tbb` backend (it warns instead). Threads inherit their creator's
// binding, so whoever pins must unpin (WorkerPinning does, on destruction).
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace dptrain {

namespace parallel {
class WorkerPool;
}

/// One physical core this process may run on.
struct CpuCore {
  std::vector<int> pus;   ///< OS numbers of its hardware threads (what sched_getcpu() returns)
  std::size_t l3 = 0;     ///< index into Topology::l3_groups
  std::size_t numa = 0;   ///< index into Topology::numa_nodes
  unsigned os_index = 0;  ///< the OS's core id (hwloc), for messages
};

/// A set of cores sharing one resource (an L3 cache, a NUMA node's memory).
struct CoreGroup {
  std::vector<std::size_t> cores;  ///< indices into Topology::cores, ascending
  std::size_t bytes = 0;           ///< L3: its size; NUMA: its memory (0 when unknown)
};

/// Contract: cores is non-empty; every core is in exactly one L3 group and one NUMA node (the
/// groups partition 0..cores.size()-1); pus() >= cores.size(). Cores are ordered by L3 group
/// (all of group 0, then group 1, ...), so "the first n cores" fill one cache domain first.
struct Topology {
  std::vector<CpuCore> cores;
  std::vector<CoreGroup> l3_groups;
  std::vector<CoreGroup> numa_nodes;
  std::string source;  ///< "hwloc 2.9.0" or "fallback (no hwloc: one core per hardware thread)"

  std::size_t physical_cores() const { return cores.size(); }
  /// Logical processors (hardware threads) over all cores.
  std::size_t pus() const;
  /// One line for headers: "2 cores, 2 PUs (no SMT), 1 L3 group (32 MB), 1 NUMA node (hwloc
  /// 2.9.0)"; group sizes are listed when they differ ("L3 groups of 8,8,4 cores").
  std::string describe() const;
};

/// The topology of this machine, read once (thread-safe) and cached for the process.
const Topology& machine_topology();

/// Whether this build and OS can bind threads (hwloc's thread binding, or sched_setaffinity
/// in the fallback).
bool thread_binding_supported();

/// Binds the calling thread to the PUs of core `core` (an index into machine_topology().cores).
/// Returns false when binding is unsupported or refused (the thread stays as it was); throws
/// dptrain::Error for an index past the last core.
bool bind_this_thread_to_core(std::size_t core);

/// Gives the calling thread back the affinity the process had when the topology was read.
/// Returns false when that is unsupported or refused.
bool unbind_this_thread();

/// Note [Pinning]: binds worker i of `pool` to core cores[i % cores.size()] (one pool run, on
/// the caller's thread for worker 0) and unbinds every worker on destruction. `pool` must
/// outlive this object. Throws dptrain::Error for an empty list or a core index past the last
/// core. Binding refused by the OS is not an error: bound() tells.
class WorkerPinning {
 public:
  WorkerPinning(parallel::WorkerPool& pool, std::vector<std::size_t> cores);
  ~WorkerPinning();
  WorkerPinning(const WorkerPinning&) = delete;
  WorkerPinning& operator=(const WorkerPinning&) = delete;

  /// Whether every worker was bound as asked.
  bool bound() const { return bound_; }
  /// The core index worker i was asked to bind to.
  std::size_t core_of(std::size_t worker) const { return cores_[worker % cores_.size()]; }

 private:
  parallel::WorkerPool& pool_;
  std::vector<std::size_t> cores_;
  bool bound_ = false;
};

/// The cores `--pin` gives `threads` workers: 0, 1, ..., wrapping around when there are more
/// workers than cores (oversubscribed workers then share cores in the same order).
std::vector<std::size_t> pin_order(std::size_t threads);

}  // namespace dptrain
