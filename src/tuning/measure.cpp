// Interleaved measurement (tuning.hpp, Note [Interleaved windows]): timed windows of training
// steps of several points, and their statistics.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <span>
#include "dptrain/kernel_choice.hpp"

#include "dptrain/kernel_choice.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

namespace {

using Clock = std::chrono::steady_clock;

std::size_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::size_t(std::strtoull(line.c_str() + n + 1, nullptr, 10));
  return 0;
}

/// One timed window of `p` (Note [Interleaved windows]): a fresh trainer, the warm-up, the timed
/// steps, then what the trainer tells about its workers and memory.
void run_window(Point& p, StepRunner& runner, const WindowSettings& settings, std::size_t batch) {
  reset_peak_rss();
  Trainer t(*p.model, p.config);
  runner.run_for(t, settings.warmup);
  t.set_timing(true);
  p.samples_per_s.push_back(runner.run_for(t, settings.seconds));
  p.window_times.push_back(t.times());
  p.workers = t.workers_for(batch);
  // intra runs one replica whatever --threads says: no extra worker memory.
  const EngineMemory memory = t.engine().memory();
  p.extra_worker_bytes =
      p.threads > 1 && p.config.plan.parallelism == Parallelism::data ? memory.per_extra_worker : 0;
  p.engine_bytes = memory.total();
  p.gemm = gemm_kernel_description(t.config().gemm);
  p.rss = std::max(p.rss, current_rss_bytes());
  p.peak_rss = std::max(p.peak_rss, peak_rss_bytes());
}

}  // namespace

StepRunner::StepRunner(const Dataset& data, std::size_t batch)
    : data_(data), batch_(batch), order_(data.rows) {
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = std::uint32_t(i);
}

double StepRunner::run_for(Trainer& trainer, double seconds) {
  if (Communicator* comm = trainer.config().communicator; comm && comm->size() > 1) {
    // Every step is collective, so all ranks must take the same number of steps: rank 0 times
    // a few, and every rank runs the count that fits `seconds` at rank 0's pace.
    constexpr std::size_t kProbe = 5;
    const auto p0 = Clock::now();
    for (std::size_t i = 0; i < kProbe; ++i) step_once(trainer);
    double per_step[1] = {comm->rank() == 0
                              ? std::chrono::duration<double>(Clock::now() - p0).count() / kProbe
                              : 0.0};
    comm->allreduce_sum(per_step, 1);
    const std::size_t steps =
        std::max<std::size_t>(1, std::size_t(seconds / std::max(per_step[0], 1e-9)));
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < steps; ++i) step_once(trainer);
    return double(steps * batch_) / std::chrono::duration<double>(Clock::now() - t0).count();
  }
  std::size_t steps = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    step_once(trainer);
    ++steps;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < seconds);
  return double(steps * batch_) / elapsed;
}

void StepRunner::step_once(Trainer& trainer) {
  if (cursor_ + batch_ > order_.size()) cursor_ = 0;
  trainer.step(data_, std::span<const std::uint32_t>(order_).subspan(cursor_, batch_));
  cursor_ += batch_;
}

Point make_point(const Workload& ref, const TrainConfig& base, std::size_t threads,
                 Parallelism parallelism) {
  Point p;
  p.threads = threads;
  p.config = workload_config(ref, base, threads);
  p.config.plan.parallelism = parallelism;
  // Owner-computed weight gradients exist for the data strategy only (engine.hpp).
  if (parallelism != Parallelism::data && p.config.plan.weight_gradients == WeightGradients::owner)
    p.config.plan.weight_gradients = WeightGradients::automatic;
  p.model = std::make_unique<Model<float>>(ModelSpec::mlp(ref.widths, ref.hidden, ref.output));
  p.model->initialize(42);
  return p;
}

void measure_interleaved(const Workload& ref, std::vector<Point>& points,
                         const WindowSettings& settings,
                         const std::function<void(std::size_t)>& on_repeat) {
  for (Point& p : points)
    resolve_automatic_gemm(p.model->spec(), p.config);  // once, not per window
  std::size_t largest = ref.batch;
  for (const Point& p : points) largest = std::max(largest, p.config.batch_size);
  const Dataset data = random_data(ref, std::max<std::size_t>({ref.batch * 32, largest * 4, 4096}));
  // One runner per point: each steps with its own batch (weak scaling grows it with threads).
  std::vector<StepRunner> runners;
  runners.reserve(points.size());
  for (const Point& p : points) runners.emplace_back(data, p.config.batch_size);
  for (std::size_t rep = 0; rep < settings.repeats; ++rep) {
    for (std::size_t i = 0; i < points.size(); ++i)
      run_window(points[i], runners[i], settings, points[i].config.batch_size);
    if (on_repeat) on_repeat(rep);
  }
}

WindowStats window_stats(const Point& p) {
  WindowStats s;
  s.median = median(p.samples_per_s);
  const auto [lo, hi] = std::minmax_element(p.samples_per_s.begin(), p.samples_per_s.end());
  s.min = *lo;
  s.max = *hi;
  s.spread = (s.max - s.min) / s.median;
  return s;
}

RatioStats ratio_stats(const Point& p, const Point& baseline) {
  std::vector<double> ratios;
  for (std::size_t rep = 0; rep < p.samples_per_s.size(); ++rep)
    ratios.push_back(p.samples_per_s[rep] / baseline.samples_per_s[rep]);
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  return {median(ratios), *lo, *hi};
}

std::size_t typical_window(const Point& p, double median) {
  std::size_t typical = 0;
  for (std::size_t w = 1; w < p.samples_per_s.size(); ++w)
    if (std::abs(p.samples_per_s[w] - median) < std::abs(p.samples_per_s[typical] - median))
      typical = w;
  return typical;
}

PhaseTimes summed_times(const Point& p) {
  PhaseTimes sum;
  for (const PhaseTimes& t : p.window_times) {
    sum.steps += t.steps;
    sum.wall += t.wall;
    sum.forward_backward += t.forward_backward;
    sum.reduce_update += t.reduce_update;
    sum.communication += t.communication;
  }
  return sum;
}

StepSplit step_split_us(const PhaseTimes& t) {
  const double steps = double(std::max<std::uint64_t>(t.steps, 1));
  return {1e6 * t.forward_backward / steps, 1e6 * t.reduce_update / steps,
          1e6 * t.communication / steps, 1e6 * t.waiting() / steps};
}

std::size_t current_rss_bytes() {
  return status_kb("VmRSS") * 1024;
}
std::size_t peak_rss_bytes() {
  return status_kb("VmHWM") * 1024;
}

bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace dptrain::tuning
