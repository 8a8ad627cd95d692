// dptrain bench --sweep (bench_sweep.hpp).
#include "bench_sweep.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dptrain/dptrain.hpp"
#include "machine_report.hpp"

namespace dptrain::cli {

using nlohmann::json;
using tuning::Point;
using tuning::RatioStats;
using tuning::WindowStats;

// Note [Sweep]. `bench --sweep` answers "is the default right on this machine?": at every
// thread count it measures the configuration asked for (by default what `train` runs: --gemm
// auto, the data plan, weight gradients chosen by measurement) interleaved with every fixed
// configuration of sweep_candidates (tuning.hpp), in the same windows (Note [Interleaved
// windows]), and reports default / best as the median of per-window ratios, with its range.
// Below 0.95 it names the faster configuration as flags to pass. A sweep point runs one kernel
// for every product, so the default, which may mix kernels per shape, can beat every point.

namespace {

/// "auto (cache): openblas 4 shapes ... , data/owner": what the default point ran.
std::string default_label(const Point& p) {
  std::string gemm = gemm_backend_name(p.config.gemm);
  WeightGradients wg = p.config.plan.weight_gradients;
  if (p.config.kernels) {  // "auto (cache): openblas 4 shapes, onednn 2" (the full table: --log)
    std::map<std::string, int> shapes;
    for (const KernelChoice::Entry& e : p.config.kernels->entries)
      ++shapes[gemm_backend_name(e.backend)];
    gemm = "auto (" + p.config.kernels->origin + "):";
    for (const auto& [name, count] : shapes)
      gemm += " " + name + " " + std::to_string(count) + (count == 1 ? " shape," : " shapes,");
    if (!shapes.empty()) gemm.pop_back();
    if (wg == WeightGradients::automatic) wg = p.config.kernels->weight_gradients;
  }
  Plan plan = p.config.plan;
  plan.weight_gradients = wg;
  return "default: " + gemm + "; plan " + to_string(plan);
}

/// The flags that run candidate `label` ("openblas 1x2/owner" -> "--gemm openblas --plan
/// 1x2/owner").
std::string candidate_flags(const std::string& label) {
  const std::size_t space = label.find(' ');
  return "--gemm " + label.substr(0, space) + " --plan " + label.substr(space + 1);
}

}  // namespace

json report_sweep(const Reference& ref, const std::vector<Point>& points, const SweepGroup& g) {
  const Point& def = points[g.default_point];
  std::vector<std::size_t> order(g.candidates.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Best first: the smallest default / candidate (medians of per-window ratios).
  std::vector<RatioStats> ratios;
  for (const std::size_t c : g.candidates) ratios.push_back(ratio_stats(def, points[c]));
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return ratios[a].median < ratios[b].median;
  });
  const RatioStats vs_best = ratios[order.front()];
  std::printf("sweep %s at %zu thread(s), samples/s (median of windows) and default / it:\n",
              ref.name.c_str(), g.threads);
  std::printf("  %-28s %12.0f   %s\n", "default", window_stats(def).median,
              default_label(def).c_str());
  json rows = json::array();
  for (const std::size_t i : order) {
    const Point& p = points[g.candidates[i]];
    const WindowStats w = window_stats(p);
    const RatioStats& r = ratios[i];
    std::printf("  %-28s %12.0f   %.2f [%.2f - %.2f]\n", g.labels[i].c_str(), w.median, r.median,
                r.min, r.max);
    rows.push_back({{"config", g.labels[i]},
                    {"samples_per_s", json_number(w.median)},
                    {"samples_per_s_min", json_number(w.min)},
                    {"samples_per_s_max", json_number(w.max)},
                    {"default_over_this", json_number(r.median)}});
  }
  const std::string& best_label = g.labels[order.front()];
  if (vs_best.median >= 0.95)
    std::printf(
        "%s at %zu thread(s): the default runs at %.2fx the best fixed configuration (%s)\n\n",
        ref.name.c_str(), g.threads, vs_best.median, best_label.c_str());
  else
    std::printf(
        "%s at %zu thread(s): the default is off: it runs at %.2fx [%.2f - %.2f] the best, %s "
        "(%s)\n\n",
        ref.name.c_str(), g.threads, vs_best.median, vs_best.min, vs_best.max, best_label.c_str(),
        candidate_flags(best_label).c_str());
  return {{"model", ref.name},
          {"threads", g.threads},
          {"default", default_label(def)},
          {"default_samples_per_s", json_number(window_stats(def).median)},
          {"best", best_label},
          {"best_flags", candidate_flags(best_label)},
          {"default_over_best", json_number(vs_best.median)},
          {"default_over_best_min", json_number(vs_best.min)},
          {"default_over_best_max", json_number(vs_best.max)},
          {"default_is_off", vs_best.median < 0.95},
          {"configurations", rows}};
}

std::vector<SweepGroup> add_sweep_points(const Reference& ref, const TrainConfig& base,
                                         const std::vector<std::size_t>& threads,
                                         std::vector<Point>& points) {
  std::vector<SweepGroup> groups;
  const std::size_t defaults = points.size();
  for (std::size_t i = 0; i < threads.size(); ++i) {
    SweepGroup g;
    g.threads = threads[i];
    g.default_point = i;
    for (tuning::SweepCandidate& c : tuning::sweep_candidates(base, g.threads)) {
      Point p = tuning::make_point(ref, c.config, g.threads, c.config.plan.parallelism);
      p.config.plan = c.config.plan;  // make_point keeps base's weight gradients otherwise
      g.candidates.push_back(points.size());
      g.labels.push_back(c.label);
      points.push_back(std::move(p));
    }
    groups.push_back(std::move(g));
  }
  std::printf("%s: sweeping %zu configurations, interleaved with the default\n", ref.name.c_str(),
              points.size() - defaults);
  return groups;
}

}  // namespace dptrain::cli
