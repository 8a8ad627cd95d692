// The cost model (tuning.hpp, Note [The cost model]): pure arithmetic over a Calibration.
#include <algorithm>
#include <stdexcept>

#include "../engine/weight_tiles.hpp"
#include "dptrain/engine.hpp"
#include "dptrain/error.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

namespace {

double flops_us(double flops, double gflops) {
  return flops / (gflops * 1e3);
}

/// A layer's rates are its rates alone times this with `workers` running at once.
double contention(const LayerCalibration& l, std::size_t workers) {
  return workers > 1 ? l.contended : 1.0;
}

/// Phase 1 of the data strategy for one of `groups` workers of `rows` rows, each product split
/// over `group` threads (Note [Groups]; 1: not split): forward and input-gradient products, plus
/// the weight-gradient product when the worker keeps its own buffer. Adds the per-product
/// fork/joins of the split to `sync_us`.
double phase1_us(const Calibration& c, const Assumptions& a, std::size_t rows, std::size_t cores,
                 std::size_t group, bool weight_gradient, double& sync_us) {
  double us = 0;
  for (std::size_t k = 0; k < c.layers.size(); ++k) {
    const LayerCalibration& l = c.layers[k];
    const double product = 2.0 * double(rows) * double(l.in) * double(l.out);
    const double products = (k == 0 ? 1.0 : 2.0) + (weight_gradient ? 1.0 : 0.0);
    const double parts = split_parts(product, group);
    const double rate = parts > 1 ? split_rate(l, rows, group) * l.split : rate_at(l.forward, rows);
    us += flops_us(products * product, rate * contention(l, cores));
    if (parts > 1) sync_us += products * fork_join_us(c, a, group);
  }
  return us;
}

/// Phase 2 with owner-computed gradients: each of `groups` workers' share of the weight tiles as
/// the engine deals them out (owned_weight_tiles), at the tile rate measured for each layer
/// times the threads a tile is split over; the slowest worker. Adds its fork/joins to `sync_us`.
double phase2_us(const Calibration& c, const Assumptions& a, std::size_t groups, std::size_t cores,
                 std::size_t group, double& sync_us) {
  std::vector<std::size_t> widths{c.layers.front().in};
  for (const LayerCalibration& l : c.layers) widths.push_back(l.out);
  double slowest = 0, slowest_sync = 0;
  for (std::size_t w = 0; w < groups; ++w) {
    double us = 0, sync = 0;
    for (const WeightTile& t : owned_weight_tiles(widths, w, groups, false)) {
      const LayerCalibration& l = c.layers[t.layer];
      const double flops = 2.0 * double(c.batch) * double(t.end - t.begin) * double(l.out);
      const double parts = split_parts(flops, group);
      us +=
          flops_us(flops, parts * l.tile_gflops * contention(l, cores) * (parts > 1 ? l.split : 1));
      if (parts > 1) sync += fork_join_us(c, a, group);
    }
    if (us + sync > slowest + slowest_sync) slowest = us, slowest_sync = sync;
  }
  sync_us += slowest_sync;
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
    const double flops = 2.0 * double(c.batch) * double(l.in) * double(l.out);
    const bool split = split_parts(flops, cores) > 1;
    if (split) products += n;
    p.compute_us +=
        flops_us(n * flops, split ? split_rate(l, c.batch, cores) * l.split * contention(l, cores)
                                  : rate_at(l.forward, c.batch));
  }
  p.update_us = bytes_us(update_bytes, bandwidth_gbs(c, a, cores));
  p.sync_us = cores > 1 ? products * fork_join_us(c, a, cores) : 0.0;
  return p;
}

}  // namespace

double split_parts(double flops, std::size_t threads) {
  return double(gemm_split_parts(flops, threads));
}

double split_rate(const LayerCalibration& l, std::size_t rows, std::size_t threads) {
  const double flops = 2.0 * double(rows) * double(l.in) * double(l.out);
  const double parts = split_parts(flops, threads);
  if (parts <= 1) return rate_at(l.forward, rows);
  // The larger of rows and columns is cut; a part's share is costed like that many rows (the
  // measured curve), never above the full rows' rate.
  const std::size_t share = std::size_t(std::ceil(double(std::max(rows, l.out)) / parts));
  return parts * rate_at(l.forward, std::min(share, rows));
}

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

Plan to_plan(const StepPrediction& p) {
  Plan plan;
  if (p.plan == PlanKind::intra) {
    plan.parallelism = Parallelism::intra;
    return plan;
  }
  plan.weight_gradients =
      p.plan == PlanKind::owner ? WeightGradients::owner : WeightGradients::buffers;
  if (p.group_threads > 1) {
    plan.group_threads = p.group_threads;
    plan.groups = p.cores / p.group_threads;
  }
  return plan;
}

std::string plan_label(const StepPrediction& p) {
  return to_string(to_plan(p));
}

StepPrediction predict(const Calibration& c, const Assumptions& a, PlanKind plan, std::size_t cores,
                       std::size_t group_threads) {
  cores = std::max<std::size_t>(cores, 1);
  const double params = parameters(c);
  const double update_bytes = params * 4.0 * (1.0 + c.optimizer_states) * 2.0;
  if (plan == PlanKind::intra) return predict_intra(c, a, cores, update_bytes);
  const std::size_t group = group_threads;
  if (group == 0 || cores % group != 0)
    throw std::invalid_argument("cost model: group threads must divide the cores");
  StepPrediction p;
  p.plan = plan;
  p.cores = cores;
  p.group_threads = group;
  // The engine uses no more workers (group leaders) than rows.
  const std::size_t workers = std::min(cores / group, std::max<std::size_t>(c.batch, 1));
  const std::size_t rows = (c.batch + workers - 1) / workers;
  const double bw = bandwidth_gbs(c, a, cores), leaders_bw = bandwidth_gbs(c, a, workers);
  if (plan == PlanKind::owner) {
    p.compute_us = phase1_us(c, a, rows, cores, group, false, p.sync_us) +
                   phase2_us(c, a, workers, cores, group, p.sync_us);
    double bytes = 0;
    for (const LayerCalibration& l : c.layers)
      bytes += double(c.batch) * double(l.in + l.out) * 4.0;
    p.exchange_us = bytes_us(bytes, bw);
  } else {
    p.compute_us = phase1_us(c, a, rows, cores, group, true, p.sync_us);
    p.exchange_us = workers > 1 ? bytes_us(double(workers) * params * 4.0 * 2.0, leaders_bw) : 0.0;
  }
  p.update_us = bytes_us(update_bytes, leaders_bw);
  p.sync_us += 2.0 * fork_join_us(c, a, workers);
  return p;
}

StepPrediction best_plan(const Calibration& c, const Assumptions& a, std::size_t cores) {
  cores = std::max<std::size_t>(cores, 1);
  StepPrediction best = predict(c, a, PlanKind::owner, cores);
  for (std::size_t group = 1; group <= cores; ++group) {
    if (cores % group != 0) continue;
    for (PlanKind k : {PlanKind::owner, PlanKind::buffers}) {
      const StepPrediction p = predict(c, a, k, cores, group);
      if (p.total_us() < best.total_us()) best = p;
    }
  }
  const StepPrediction intra = predict(c, a, PlanKind::intra, cores);
  if (intra.total_us() < best.total_us()) best = intra;
  return best;
}

}  // namespace dptrain::tuning
