#include "scale_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "dptrain/io.hpp"
#include "options.hpp"
#include "projection.hpp"

namespace dptrain::cli {

std::string Strategy::name() const {
  if (parallelism == Parallelism::intra) return "intra";
  return group_threads <= 1 ? "data" : "Gx" + std::to_string(group_threads);
}

Strategy strategy_of(const Point& p) {
  return {p.config.plan.parallelism, p.config.plan.parallelism == Parallelism::intra
                                         ? std::size_t(1)
                                         : p.config.plan.group_threads};
}

namespace {

using nlohmann::json;

/// Cores of the projection (printed and written as a projection, never as a measurement).
constexpr std::size_t kProjectionCores[] = {16, 32, 64};

/// The statistics of one measured point.
struct PointStats {
  Strategy strategy;
  WindowStats windows;
  RatioStats speedup;     ///< against the same strategy's 1-thread point (GxT: the sweep's first)
  double vs_data1 = NAN;  ///< median ratio to the data strategy's 1-thread point (if measured)
  bool noisy = false, oversubscribed = false;
  PhaseTimes times;  ///< of the typical window (typical_window())
};

/// Everything the table and the files show.
struct ScaleResults {
  std::vector<PointStats> stats;  ///< parallel to ScaleSweep::points
  std::vector<AmdahlFit> fits;    ///< parallel to ScaleSettings::strategies

  const AmdahlFit& fit_of(const ScaleSettings& s, const Strategy& p) const {
    return fits[std::size_t(std::find(s.strategies.begin(), s.strategies.end(), p) -
                            s.strategies.begin())];
  }
};

const Point* find_point(const ScaleSweep& sweep, const Strategy& s, std::size_t threads) {
  for (const Point& p : sweep.points)
    if (strategy_of(p) == s && p.threads == threads) return &p;
  return nullptr;
}

/// The 1-thread point a point's speedup is measured against: its own strategy's, or for a GxT
/// strategy (which has none) the first 1-thread point of the sweep.
const Point& baseline_of(const ScaleSweep& sweep, const Point& p) {
  if (const Point* own = find_point(sweep, strategy_of(p), 1)) return *own;
  for (const Point& q : sweep.points)
    if (q.threads == 1) return q;
  return p;
}

ScaleResults statistics(const ScaleSettings& s, const ScaleSweep& sweep) {
  ScaleResults res;
  const Point* data1 = find_point(sweep, Strategy{}, 1);
  for (const Point& p : sweep.points) {
    PointStats st;
    st.strategy = strategy_of(p);
    st.windows = window_stats(p);
    st.noisy = st.windows.spread > s.noise_threshold;
    st.oversubscribed = p.threads > s.cores;
    st.times = p.window_times[typical_window(p, st.windows.median)];
    st.speedup = ratio_stats(p, baseline_of(sweep, p));
    if (data1) st.vs_data1 = ratio_stats(p, *data1).median;
    res.stats.push_back(st);
  }
  for (const Strategy& strategy : s.strategies) {
    std::vector<std::pair<std::size_t, double>> speedups;
    for (std::size_t i = 0; i < sweep.points.size(); ++i)
      if (res.stats[i].strategy == strategy)
        speedups.emplace_back(sweep.points[i].threads, res.stats[i].speedup.median);
    res.fits.push_back(fit_amdahl(speedups, s.cores));
  }
  return res;
}

std::string mb(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", double(bytes) / 1e6);
  return buf;
}

void print_table(const ScaleSettings& s, const ScaleSweep& sweep, const ScaleResults& res) {
  std::printf("\n%-8s %7s %6s %11s %21s %6s %7s %13s %5s %8s %8s %8s %7s %7s %7s  %s\n", "strategy",
              "threads", "batch", "samples/s", "[min - max]", "spread", "speedup", "[min - max]",
              "eff", "fwd+bwd", "red+upd", "wait", "eng MB", "RSS MB", "peak MB", "flags");
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const Point& p = sweep.points[i];
    const PointStats& st = res.stats[i];
    const StepSplit split = step_split_us(st.times);
    char range[48], srange[32], spread[16];
    std::snprintf(range, sizeof range, "[%.0f - %.0f]", st.windows.min, st.windows.max);
    std::snprintf(srange, sizeof srange, "[%.2f-%.2f]", st.speedup.min, st.speedup.max);
    std::snprintf(spread, sizeof spread, "%.0f%%", 100 * st.windows.spread);
    std::string flags = st.oversubscribed ? "oversubscribed" : "";
    if (st.noisy) flags += flags.empty() ? "NOISY" : " NOISY";
    std::printf(
        "%-8s %6zu%s %6zu %11.0f %21s %6s %7.2f %13s %5.2f %6.1fus %6.1fus %6.1fus %7s %7s %7s  "
        "%s\n",
        st.strategy.name().c_str(), p.threads, st.oversubscribed ? "*" : " ", p.config.batch_size,
        st.windows.median, range, spread, st.speedup.median, srange,
        st.speedup.median / double(p.threads), split.forward_backward, split.reduce_update,
        split.wait, mb(p.engine_bytes).c_str(), mb(p.rss).c_str(),
        sweep.peak_resettable ? mb(p.peak_rss).c_str() : "-", flags.c_str());
  }
  std::printf(
      "\nspeedup: median over repeats of samples/s / the same strategy's 1-thread window of the "
      "same repeat (GxT: the first strategy's); eff = speedup / threads;\ntime split per step, of "
      "the window closest to the "
      "median: fwd+bwd and red+upd are the mean busy time\nof the active workers, wait = step "
      "wall time - both;\n* = more threads "
      "than the %zu cores (oversubscribed); NOISY = (max - min) / median of samples/s > %.0f%% "
      "(kept, not hidden);\neng MB = memory the engine allocated; RSS/peak MB = process resident "
      "set after / at peak during the point's windows\n(includes heap kept from earlier "
      "points).\n",
      s.cores, 100 * s.noise_threshold);
  if (s.weak)
    std::printf(
        "WEAK scaling: batch = %zu x threads; speedup = throughput ratio to 1 thread, eff = "
        "samples/s at T / (T x samples/s at 1)\n",
        s.ref.batch);
  std::printf("load average (1, 5, 15 min): %s before the sweep, %s after it\n",
              sweep.load_start.c_str(), sweep.load_end.c_str());
}

void print_fits(const ScaleSettings& s, const ScaleResults& res) {
  std::printf(
      "\nAmdahl fit S(n) = 1 / (f + (1 - f) / n), least squares on 1/S(n) (the normalised step "
      "time) over each strategy's\nnon-oversubscribed points with n > 1:\n");
  for (const Strategy& strategy : s.strategies) {
    const AmdahlFit& f = res.fit_of(s, strategy);
    if (!f.valid) {
      std::printf("  %-6s no fit: no point with more than one thread\n", strategy.name().c_str());
      continue;
    }
    std::string used;
    for (std::size_t n : f.threads_used) {
      if (!used.empty()) used += ',';
      used += std::to_string(n);
    }
    char limit[32] = "unbounded";
    if (f.serial_fraction > 0) std::snprintf(limit, sizeof limit, "%.2fx", 1 / f.serial_fraction);
    std::printf("  %-6s serial fraction f = %.3f (n = %s%s; rms residual %.3f); limit 1/f = %s\n",
                strategy.name().c_str(), f.serial_fraction, used.c_str(),
                f.oversubscribed_included ? ", oversubscribed: no other points" : "",
                f.rms_residual, limit);
    std::printf("  %-6s PROJECTION from the fit (not measured): speedup", "");
    for (std::size_t c : kProjectionCores)
      std::printf("  %.2fx at %zu cores", amdahl_speedup(f.serial_fraction, double(c)), c);
    std::printf("\n");
  }
  if (s.cores <= 2)
    std::printf(
        "  (with %zu cores the fit rests on very few points: treat the projection as a rough "
        "bound)\n",
        s.cores);
}

std::string scale_csv(const ScaleSettings& s, const ScaleSweep& sweep, const ScaleResults& res) {
  std::string csv =
      "model,layers,batch,parallelism,backend,gemm,threads,cores,oversubscribed,repeats,"
      "samples_per_s,samples_per_s_min,samples_per_s_max,spread,noisy,us_per_step,speedup,"
      "speedup_min,speedup_max,efficiency,speedup_vs_data1,workers,fwd_bwd_us,"
      "reduce_update_us,wait_us,engine_bytes,rss_bytes,peak_rss_bytes,amdahl_serial_fraction,"
      "cpu_model,scaling,pinned,physical_cores,predicted_us_per_step\n";
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const Point& p = sweep.points[i];
    const PointStats& st = res.stats[i];
    const StepSplit split = step_split_us(st.times);
    csv += csv_line({csv_field(s.ref.name),
                     widths_text(s.ref.widths),
                     std::to_string(p.config.batch_size),
                     st.strategy.name(),
                     backend_name(s.base.backend),
                     csv_field(p.gemm),
                     std::to_string(p.threads),
                     std::to_string(s.cores),
                     st.oversubscribed ? "1" : "0",
                     std::to_string(s.windows.repeats),
                     csv_number(st.windows.median),
                     csv_number(st.windows.min),
                     csv_number(st.windows.max),
                     csv_number(st.windows.spread),
                     st.noisy ? "1" : "0",
                     csv_number(1e6 * double(p.config.batch_size) / st.windows.median),
                     csv_number(st.speedup.median),
                     csv_number(st.speedup.min),
                     csv_number(st.speedup.max),
                     csv_number(st.speedup.median / double(p.threads)),
                     csv_number(st.vs_data1),
                     std::to_string(p.workers),
                     csv_number(split.forward_backward),
                     csv_number(split.reduce_update),
                     csv_number(split.wait),
                     std::to_string(p.engine_bytes),
                     std::to_string(p.rss),
                     sweep.peak_resettable ? std::to_string(p.peak_rss) : "",
                     s.weak ? "" : csv_number(res.fit_of(s, st.strategy).serial_fraction),
                     csv_field(sweep.cpu),
                     s.weak ? "weak" : "strong",
                     s.base.pin_cores.empty() ? "0" : "1",
                     std::to_string(machine_topology().physical_cores()),
                     csv_number(predicted_point_us(s, sweep, p))});
  }
  return csv;
}

json point_json(const ScaleSweep& sweep, const Point& p, const PointStats& st) {
  const StepSplit split = step_split_us(st.times);
  return {{"parallelism", st.strategy.name()},
          {"group_threads", st.strategy.group_threads},
          {"threads", p.threads},
          {"batch", p.config.batch_size},
          {"oversubscribed", st.oversubscribed},
          {"gemm", p.gemm},
          {"workers", p.workers},
          {"windows_samples_per_s", p.samples_per_s},
          {"samples_per_s", json_number(st.windows.median)},
          {"samples_per_s_min", json_number(st.windows.min)},
          {"samples_per_s_max", json_number(st.windows.max)},
          {"spread", json_number(st.windows.spread)},
          {"noisy", st.noisy},
          {"us_per_step", json_number(1e6 * double(p.config.batch_size) / st.windows.median)},
          {"speedup", json_number(st.speedup.median)},
          {"speedup_min", json_number(st.speedup.min)},
          {"speedup_max", json_number(st.speedup.max)},
          {"efficiency", json_number(st.speedup.median / double(p.threads))},
          {"speedup_vs_data1", json_number(st.vs_data1)},
          {"time_split_us_per_step",
           {{"forward_backward", json_number(split.forward_backward)},
            {"reduce_update", json_number(split.reduce_update)},
            {"wait", json_number(split.wait)},
            {"steps_timed", st.times.steps}}},
          {"memory_bytes",
           {{"engine", p.engine_bytes},
            {"rss", p.rss},
            {"peak_rss", sweep.peak_resettable ? json(p.peak_rss) : json(nullptr)}}}};
}

json fit_json(const AmdahlFit& f) {
  json proj = json::array();
  if (f.valid)
    for (std::size_t c : kProjectionCores)
      proj.push_back({{"cores", c}, {"speedup", amdahl_speedup(f.serial_fraction, double(c))}});
  return {
      {"model", "S(n) = 1 / (f + (1 - f) / n)"},
      {"method",
       "least squares on 1/S(n) (normalised step time), f clamped to [0, 1], over the "
       "strategy's points with 1 < n <= cores (all points with n > 1 only when there are "
       "none)"},
      {"threads_used", f.threads_used},
      {"oversubscribed_included", f.oversubscribed_included},
      {"serial_fraction", json_number(f.serial_fraction)},
      {"rms_residual_speedup", json_number(f.rms_residual)},
      {"projection",
       {{"label", "PROJECTION extrapolated from the Amdahl fit, not measured"}, {"points", proj}}}};
}

json scale_json(const ScaleSettings& s, const ScaleSweep& sweep, const ScaleResults& res) {
  json points = json::array();
  for (std::size_t i = 0; i < sweep.points.size(); ++i)
    points.push_back(point_json(sweep, sweep.points[i], res.stats[i]));
  json fits = json::object();
  for (const Strategy& strategy : s.strategies)
    fits[strategy.name()] = fit_json(res.fit_of(s, strategy));
  const Reference& ref = s.ref;
  return {{"tool", "dptrain scale"},
          {"version", version_string},
          {"timestamp", iso_timestamp()},
          {"command", s.command},
          {"machine",
           {{"cpu_model", sweep.cpu},
            {"cores", s.cores},
            {"topology", topology_json(machine_topology())},
            {"load_average_start", sweep.load_start},
            {"load_average_end", sweep.load_end}}},
          {"model",
           {{"name", ref.name},
            {"what", ref.what},
            {"layers", ref.widths},
            {"batch", ref.batch},
            {"loss", loss_name(ref.loss)},
            {"optimizer", optimizer_name(ref.optimizer)},
            {"flops_per_sample", sweep.points.front().model->flops_per_sample()}}},
          {"settings",
           {{"backend", backend_name(s.base.backend)},
            {"deterministic", s.base.deterministic},
            {"scaling", s.weak ? "weak" : "strong"},
            {"pinned", !s.base.pin_cores.empty()},
            {"repeats", s.windows.repeats},
            {"seconds", s.windows.seconds},
            {"warmup_seconds", s.windows.warmup},
            {"noise_threshold", s.noise_threshold},
            {"order", "points interleaved within each repeat; one worker pool alive at a time"},
            {"speedup",
             "median over repeats of the ratio to the same strategy's 1-thread window "
             "of the same repeat"},
            {"time_split",
             "per step, of the window whose samples/s is closest to the median; "
             "forward_backward and reduce_update are the mean busy time of the active "
             "workers, wait = step wall time - both"}}},
          {"points", points},
          {"amdahl", s.weak ? json(nullptr) : fits}};
}

}  // namespace

double amdahl_speedup(double serial_fraction, double n) {
  return 1.0 / (serial_fraction + (1.0 - serial_fraction) / n);
}

// Least squares on 1/S(n) = f + (1 - f)/n, i.e. on the normalised step time:
// 1/S - 1/n = f (1 - 1/n), a line through the origin, f = sum(x y) / sum(x^2), clamped to
// [0, 1]. Uses the points with 1 < n <= cores; only when there are none (a 1-core machine),
// all points with n > 1.
AmdahlFit fit_amdahl(const std::vector<std::pair<std::size_t, double>>& speedups,
                     std::size_t cores) {
  AmdahlFit fit;
  auto usable = [](const std::pair<std::size_t, double>& p) {
    return p.first > 1 && std::isfinite(p.second) && p.second > 0;
  };
  std::vector<std::pair<std::size_t, double>> use;
  for (const auto& p : speedups)
    if (usable(p) && p.first <= cores) use.push_back(p);
  if (use.empty()) {
    for (const auto& p : speedups)
      if (usable(p)) use.push_back(p);
    fit.oversubscribed_included = !use.empty();
  }
  if (use.empty()) return fit;
  double sxy = 0, sxx = 0;
  for (const auto& [threads, speedup] : use) {
    const double n = double(threads);
    const double x = 1.0 - 1.0 / n, y = 1.0 / speedup - 1.0 / n;
    sxy += x * y;
    sxx += x * x;
    fit.threads_used.push_back(threads);
  }
  fit.serial_fraction = std::clamp(sxy / sxx, 0.0, 1.0);
  double sq = 0;
  for (const auto& [threads, speedup] : use) {
    const double d = speedup - amdahl_speedup(fit.serial_fraction, double(threads));
    sq += d * d;
  }
  fit.rms_residual = std::sqrt(sq / double(use.size()));
  fit.valid = true;
  return fit;
}

void report_scale(const ScaleSettings& settings, const ScaleSweep& sweep) {
  const ScaleResults res = statistics(settings, sweep);
  print_table(settings, sweep, res);
  print_projection(settings, sweep);
  if (!settings.weak) print_fits(settings, res);  // Amdahl's law is about a fixed batch
  if (settings.csv_path.empty()) return;
  const std::string csv = scale_csv(settings, sweep, res);
  json doc = scale_json(settings, sweep, res);
  doc["projection"] = projection_json(settings, sweep);
  write_file_atomically(settings.csv_path, csv);
  write_json(settings.json_path, doc);
  std::printf("\nwrote %s and %s\n", settings.csv_path.c_str(), settings.json_path.c_str());
}

}  // namespace dptrain::cli
