#include "cost_model.hpp"

#include <algorithm>

#include "dptrain/engine.hpp"
#include "dptrain/error.hpp"

namespace dptrain::cli {

namespace {

double flops_us(double flops, double gflops) {
  return flops / (gflops * 1e3);
}

/// A layer's rates are its rates alone times this with `workers` running at once.
double contention(const LayerCalibration& l, std::size_t workers) {
  return workers > 1 ? l.contended : 1.0;
}

/// Phase 1 of the data strategy for one of `workers` workers of `rows` rows: forward and
/// input-gradient products, plus the weight-gradient product when the worker keeps its own
/// buffer.
double phase1_us(const Calibration& c, std::size_t rows, std::size_t workers,
                 bool weight_gradient) {
  double us = 0;
  for (std::size_t k = 0; k < c.layers.size(); ++k) {
    const LayerCalibration& l = c.layers[k];
    const double product = 2.0 * double(rows) * double(l.in) * double(l.out);
    const double products = (k == 0 ? 1.0 : 2.0) + (weight_gradient ? 1.0 : 0.0);
    us += flops_us(products * product, rate_at(l.forward, rows) * contention(l, workers));
  }
  return us;
}

/// Phase 2 with owner-computed gradients: each worker's share of the weight tiles as the engine
/// deals them out (owned_weight_tiles), at the tile rate measured for each layer; the slowest
/// worker.
double phase2_us(const Calibration& c, std::size_t workers) {
  std::vector<std::size_t> widths{c.layers.front().in};
  for (const LayerCalibration& l : c.layers) widths.push_back(l.out);
  double slowest = 0;
  for (std::size_t w = 0; w < workers; ++w) {
    double us = 0;
    for (const WeightTile& t : owned_weight_tiles(widths, w, workers, false)) {
      const LayerCalibration& l = c.layers[t.layer];
      us += flops_us(2.0 * double(c.batch) * double(t.end - t.begin) * double(l.out),
                     l.tile_gflops * contention(l, workers));
    }
    slowest = std::max(slowest, us);
  }
  return slowest;
}

double parameters(const Calibration& c) {
  double p = 0;
  for (const LayerCalibration& l : c.layers) p += double(l.in + 1) * double(l.out);
  return p;
}

/// Microseconds to move `bytes` at `gbs` GB/s.
double bytes_us(double bytes, double gbs) {
  return bytes / (gbs * 1e3);
}

StepPrediction predict_intra(const Calibration& c, const Assumptions& a, std::size_t cores,
                             double update_bytes) {
  StepPrediction p;
  p.plan = PlanKind::intra;
  p.cores = cores;
  double products = 0;
  for (std::size_t k = 0; k < c.layers.size(); ++k) {
    const LayerCalibration& l = c.layers[k];
    const double n = k == 0 ? 2.0 : 3.0;
    products += n;
    const double flops = n * 2.0 * double(c.batch) * double(l.in) * double(l.out);
    // The pool splits the larger of rows and columns; the worker's share of it is costed like
    // that many rows (the measured curve), never above the full batch's rate.
    const std::size_t split = (std::max(c.batch, l.out) + cores - 1) / cores;
    p.compute_us += flops_us(
        flops, double(cores) * rate_at(l.forward, std::min(split, c.batch)) * contention(l, cores));
  }
  p.update_us = bytes_us(update_bytes, bandwidth_gbs(c, a, cores));
  p.sync_us = cores > 1 ? products * fork_join_us(c, a, cores) : 0.0;
  return p;
}

}  // namespace

const char* plan_name(PlanKind p) {
  switch (p) {
    case PlanKind::owner:
      return "data/owner";
    case PlanKind::buffers:
      return "data/buffers";
    case PlanKind::intra:
      return "intra";
  }
  return "?";
}

std::size_t tile_rows(std::size_t in, std::size_t out) {
  return weight_tile_rows(in, out);
}

double rate_at(const std::vector<RatePoint>& curve, std::size_t rows) {
  if (curve.empty()) throw Error("cost model: no measured GEMM rate");
  std::vector<RatePoint> s = curve;
  std::sort(s.begin(), s.end(),
            [](const RatePoint& x, const RatePoint& y) { return x.rows < y.rows; });
  if (rows <= s.front().rows) return s.front().gflops;
  if (rows >= s.back().rows) return s.back().gflops;
  std::size_t i = 1;
  while (s[i].rows < rows) ++i;
  const double x0 = std::log(double(s[i - 1].rows)), x1 = std::log(double(s[i].rows));
  const double t = (std::log(double(rows)) - x0) / (x1 - x0);
  return s[i - 1].gflops + t * (s[i].gflops - s[i - 1].gflops);
}

double bandwidth_gbs(const Calibration& c, const Assumptions& a, std::size_t cores) {
  const double n = double(std::max<std::size_t>(cores, 1));
  const double measured = double(std::max<std::size_t>(c.copy_threads, 1));
  if (n <= measured) {
    if (measured == 1) return c.copy_gbs_one;
    return c.copy_gbs_one + (n - 1) / (measured - 1) * (c.copy_gbs_all - c.copy_gbs_one);
  }
  return std::min(n * c.copy_gbs_all / measured, std::max(a.mem_bandwidth_gbs, c.copy_gbs_all));
}

double fork_join_us(const Calibration& c, const Assumptions& a, std::size_t workers) {
  const std::vector<double>& f = c.fork_join_us;
  if (workers <= 1) return f.empty() ? 0.0 : f.front();
  if (workers <= f.size()) return f[workers - 1];
  if (std::isfinite(a.sync_latency_us)) return a.sync_latency_us;
  if (f.empty()) return 0.0;
  if (f.size() == 1) return f.front();
  const double slope = std::max(0.0, f.back() - f[f.size() - 2]);
  return f.back() + slope * double(workers - f.size());
}

StepPrediction predict(const Calibration& c, const Assumptions& a, PlanKind plan,
                       std::size_t cores) {
  cores = std::max<std::size_t>(cores, 1);
  const double params = parameters(c);
  const double update_bytes = params * 4.0 * (1.0 + c.optimizer_states) * 2.0;
  if (plan == PlanKind::intra) return predict_intra(c, a, cores, update_bytes);
  StepPrediction p;
  p.plan = plan;
  p.cores = cores;
  // The engine uses no more workers than rows.
  const std::size_t workers = std::min(cores, std::max<std::size_t>(c.batch, 1));
  const std::size_t rows = (c.batch + workers - 1) / workers;
  const double bw = bandwidth_gbs(c, a, cores);
  if (plan == PlanKind::owner) {
    p.compute_us = phase1_us(c, rows, workers, false) + phase2_us(c, workers);
    double bytes = 0;
    for (const LayerCalibration& l : c.layers)
      bytes += double(c.batch) * double(l.in + l.out) * 4.0;
    p.exchange_us = bytes_us(bytes, bw);
  } else {
    p.compute_us = phase1_us(c, rows, workers, true);
    p.exchange_us = workers > 1 ? bytes_us(double(workers) * params * 4.0 * 2.0, bw) : 0.0;
  }
  p.update_us = bytes_us(update_bytes, bw);
  p.sync_us = 2.0 * fork_join_us(c, a, workers);
  return p;
}

StepPrediction best_plan(const Calibration& c, const Assumptions& a, std::size_t cores) {
  StepPrediction best = predict(c, a, PlanKind::owner, cores);
  for (PlanKind k : {PlanKind::buffers, PlanKind::intra}) {
    const StepPrediction p = predict(c, a, k, cores);
    if (p.total_us() < best.total_us()) best = p;
  }
  return best;
}

}  // namespace dptrain::cli
