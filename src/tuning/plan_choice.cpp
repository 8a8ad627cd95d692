// Plan auto (tuning.hpp: choose_plan): the cost model shortlists, a few measured steps decide.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

namespace {

/// data/owner and the (up to) two other plans with the lowest predicted steps at `threads`.
std::vector<StepPrediction> candidates(const Calibration& c, std::size_t threads) {
  const Assumptions a;
  std::vector<StepPrediction> all;
  for (std::size_t t = 1; t <= threads; ++t)
    if (threads % t == 0)
      for (PlanKind k : {PlanKind::owner, PlanKind::buffers})
        all.push_back(predict(c, a, k, threads, t));
  all.push_back(predict(c, a, PlanKind::intra, threads));
  std::stable_sort(
      all.begin() + 1, all.end(),
      [](const StepPrediction& x, const StepPrediction& y) { return x.total_us() < y.total_us(); });
  all.resize(std::min<std::size_t>(all.size(), 3));
  return all;
}

/// One line: the plan chosen, each candidate's measured and predicted step, the time it took.
std::string choice_line(const std::vector<StepPrediction>& shortlist,
                        const std::vector<Point>& points, std::size_t best, std::size_t batch,
                        double seconds, std::size_t threads) {
  std::string line = "plan auto: " + plan_label(shortlist[best]) +
                     " (us per step, measured / "
                     "predicted:";
  for (std::size_t i = 0; i < points.size(); ++i) {
    char part[96];
    std::snprintf(part, sizeof part, "%s %s %.0f / %.0f", i ? ";" : "",
                  plan_label(shortlist[i]).c_str(),
                  1e6 * double(batch) / window_stats(points[i]).median, shortlist[i].total_us());
    line += part;
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, "; %.2f s to calibrate and measure on %zu threads)", seconds,
                threads);
  return line + tail;
}

}  // namespace

std::string choose_plan(std::span<const std::size_t> widths, TrainConfig& config) {
  config.plan = Plan{};
  const char* why = config.threads == 1                   ? "one thread"
                    : config.deterministic                ? "--deterministic promises one T only"
                    : config.precision != Precision::fp32 ? "bf16 runs the data plan only"
                    : config.communicator                 ? "several ranks exchange whole gradients"
                                                          : nullptr;
  if (why) return std::string("plan auto: data (") + why + ")";
  const auto t0 = std::chrono::steady_clock::now();
  Workload w = custom_workload(widths, config.batch_size);
  w.optimizer = config.optimizer.kind;
  w.lr = config.optimizer.learning_rate;
  const Calibration c = calibrate(w, config, config.threads);
  // The cost model shortlists; a few steps of each shortlisted plan decide (the model's
  // split-product terms can be off by 30% on a loaded or small machine: docs/PERFORMANCE.md,
  // "Scaling curves").
  const std::vector<StepPrediction> shortlist = candidates(c, config.threads);
  std::vector<Point> points;
  for (const StepPrediction& p : shortlist) {
    points.push_back(make_point(w, config, config.threads, Parallelism::data));
    points.back().config.plan = to_plan(p);
  }
  measure_interleaved(w, points, WindowSettings{0.1, 0.05, 3});
  std::size_t best = 0;
  for (std::size_t i = 1; i < points.size(); ++i)
    if (window_stats(points[i]).median > window_stats(points[best]).median) best = i;
  config.plan = to_plan(shortlist[best]);
  return choice_line(shortlist, points, best, w.batch,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     config.threads);
}

}  // namespace dptrain::tuning
