// The engine's pools and their pinning (Note [Pinning] in topology.hpp).
//
// Note [Why groups]. G x T plans (Note [Groups] in engine.hpp) sit between data and intra
// because each end fails at many cores: the data strategy's shards shrink to a few rows each,
// where products run at a fraction of their rate, while intra pays a fork/join per product on
// all cores. G x T keeps shards of B/G rows and forks only T threads per product. The group
// pools use the `threads` backend whatever `backend` is, because a parallel region inside
// another one would run serialised (OpenMP) or share one thread budget (oneTBB).
#include <algorithm>

#include "dptrain/engine.hpp"

namespace dptrain {

// Note [Pinning] (topology.hpp) and Note [Groups]: worker i of a one-level pool is bound to
// pin_cores[i]; with groups of T, leader g to pin_cores[g T] and its group pool's worker t (the
// leader for t = 0) to pin_cores[g T + t], bound from the leader's own thread.
void Engine::pin_workers() {
  const std::vector<std::size_t>& cores = config_.pin_cores;
  if (cores.empty()) return;
  if (config_.backend == parallel::Backend::tbb) {
    if (config_.on_warning)
      config_.on_warning(
          "pinning (--pin) is ignored by the tbb backend, whose tasks move "
          "between threads: use the openmp or threads backend");
    return;
  }
  const std::size_t group = group_pools_.empty() ? 1 : group_pools_[0]->size();
  std::vector<std::size_t> leaders;
  for (std::size_t g = 0; g < pool_->size(); ++g)
    leaders.push_back(cores[g * group % cores.size()]);
  pinning_ = std::make_unique<WorkerPinning>(*pool_, std::move(leaders));
  bool bound = pinning_->bound();
  if (group > 1) {
    group_pinning_.resize(group_pools_.size());
    std::vector<char> ok(group_pools_.size(), 0);
    pool_->run([&](std::size_t g) {
      std::vector<std::size_t> mine;
      for (std::size_t t = 0; t < group; ++t) mine.push_back(cores[(g * group + t) % cores.size()]);
      group_pinning_[g] = std::make_unique<WorkerPinning>(*group_pools_[g], std::move(mine));
      ok[g] = group_pinning_[g]->bound() ? 1 : 0;
    });
    bound = bound && std::all_of(ok.begin(), ok.end(), [](char b) { return b != 0; });
  }
  if (!bound && config_.on_warning)
    config_.on_warning("pinning (--pin): the OS refused to bind the workers; they run unbound");
}

}  // namespace dptrain
