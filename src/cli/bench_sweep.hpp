#pragma once
// dptrain bench --sweep: the default configuration against every fixed kernel x weight
// gradients x plan at each thread count (Note [Sweep] in bench_sweep.cpp).
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dptrain/tuning.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

/// One thread count's sweep: the default point and the candidates' points (indices into the
/// model's points), and their labels.
struct SweepGroup {
  std::size_t threads = 1;
  std::size_t default_point = 0;
  std::vector<std::size_t> candidates;
  std::vector<std::string> labels;
};

/// Appends the sweep candidates of every thread count (tuning::sweep_candidates) to `points`,
/// whose first threads.size() entries are the default points in `threads` order; returns one
/// group per thread count. Throws dptrain::Error as sweep_candidates does.
std::vector<SweepGroup> add_sweep_points(const Reference& ref, const TrainConfig& base,
                                         const std::vector<std::size_t>& threads,
                                         std::vector<tuning::Point>& points);

/// Prints one thread count's measured sweep, best first, and returns it as JSON.
nlohmann::json report_sweep(const Reference& ref, const std::vector<tuning::Point>& points,
                            const SweepGroup& g);

}  // namespace dptrain::cli
