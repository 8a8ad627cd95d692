// Printing and recording the cost model's projection (projection.hpp).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "projection.hpp"

namespace dptrain::cli {

namespace {

using nlohmann::json;

constexpr PlanKind kPlans[] = {PlanKind::owner, PlanKind::buffers, PlanKind::intra};

/// The G x T plan (1 < T < cores) with the lowest predicted step, or data/owner if none.
StepPrediction best_groups(const Calibration& c, const Assumptions& a, std::size_t cores) {
  StepPrediction best = predict(c, a, PlanKind::owner, cores);
  bool found = false;
  for (std::size_t t = 2; t < cores; ++t) {
    if (cores % t != 0) continue;
    for (PlanKind k : {PlanKind::owner, PlanKind::buffers}) {
      const StepPrediction p = predict(c, a, k, cores, t);
      if (!found || p.total_us() < best.total_us()) best = p, found = true;
    }
  }
  return best;
}

/// Whether the model covers a point: fp32, per-worker shards (no micro-batches), fixed batch.
bool modelled(const ScaleSettings& s, const Point& p) {
  return !s.weak && !p.config.deterministic && p.config.precision == Precision::fp32 &&
         p.config.batch_size == s.ref.batch;
}

double measured_us(const Point& p) {
  return 1e6 * double(p.config.batch_size) / window_stats(p).median;
}

std::string assumptions_text(const ScaleSettings& s, const ScaleSweep& sweep) {
  char buf[512];
  const Assumptions& a = s.assumptions;
  std::string sync = std::isfinite(a.sync_latency_us)
                         ? std::to_string(a.sync_latency_us) + " us (--sync-latency-us)"
                         : "extrapolated linearly from the last two measured counts";
  std::snprintf(buf, sizeof buf,
                "beyond the %zu measured cores: memory bandwidth %.0f GB/s for the socket "
                "(--mem-bandwidth), fork/join %s, GEMM rate per core as measured on one thread "
                "times its fraction with every measured core at once, one socket",
                sweep.calibration.copy_threads, a.mem_bandwidth_gbs, sync.c_str());
  return buf;
}

void print_calibration(const Calibration& c) {
  std::printf("\ncost model calibration (%.2f s, single-thread GEMM GFLOP/s at rows per worker):\n",
              c.seconds);
  for (const LayerCalibration& l : c.layers) {
    std::printf("  %zux%zu:", l.in, l.out);
    for (const RatePoint& r : l.forward) std::printf(" %zu:%.1f", r.rows, r.gflops);
    std::printf(
        "; weight-gradient tile %zux%zu (K=%zu): %.1f; with every core at once: %.0f%%; split "
        "over them: %.0f%% of the arithmetic\n",
        tile_rows(l.in, l.out), l.out, c.batch, l.tile_gflops, 100.0 * l.contended,
        100.0 * l.split);
  }
  std::printf("  memcpy %.1f GB/s with 1 thread, %.1f GB/s with %zu at once; fork/join us:",
              c.copy_gbs_one, c.copy_gbs_all, c.copy_threads);
  for (std::size_t w = 0; w < c.fork_join_us.size(); ++w)
    std::printf(" %zu:%.1f", w + 1, c.fork_join_us[w]);
  std::printf("\n");
}

void print_split(const StepPrediction& p) {
  std::printf(" %9.1f %9.1f %8.1f %7.1f", p.compute_us, p.exchange_us, p.update_us, p.sync_us);
}

void print_comparison(const ScaleSettings& s, const ScaleSweep& sweep) {
  std::printf(
      "\npredicted (cost model) vs measured step, us (error = predicted / measured - 1):\n"
      "%-13s %7s %10s %10s %7s %9s %9s %8s %7s\n",
      "plan", "threads", "measured", "predicted", "error", "compute", "exchange", "update", "sync");
  for (const Point& p : sweep.points) {
    if (!modelled(s, p)) continue;
    const StepPrediction pr = predict(sweep.calibration, s.assumptions, point_plan(p), p.threads,
                                      p.config.plan.group_threads);
    const double m = measured_us(p);
    std::printf("%-13s %6zu%s %10.1f %10.1f %+6.0f%%", plan_label(pr).c_str(), p.threads,
                p.threads > s.cores ? "*" : " ", m, pr.total_us(), 100 * (pr.total_us() / m - 1));
    print_split(pr);
    std::printf("\n");
  }
  if (s.threads.back() > s.cores)
    std::printf("(* more threads than cores: the prediction is for as many cores as threads)\n");
  const double load = std::atof(sweep.load_start.c_str());
  if (load > double(s.cores))
    std::printf(
        "(load average %.1f over %zu cores when the sweep began: measured steps include time "
        "other processes ran; the model predicts an idle machine)\n",
        load, s.cores);
}

void print_projection_table(const ScaleSettings& s, const ScaleSweep& sweep) {
  const Calibration& c = sweep.calibration;
  std::printf(
      "\nPROJECTION from the cost model (not measured), batch %zu; %s:\n"
      "%-10s %-13s %10s %9s %9s %8s %7s %10s   %s\n",
      s.ref.batch, assumptions_text(s, sweep).c_str(), "", "plan", "step us", "compute", "exchange",
      "update", "sync", "samples/s", "step us: data/owner / data/buffers / intra / best GxT");
  for (std::size_t cores : s.project) {
    const StepPrediction best = best_plan(c, s.assumptions, cores);
    std::printf("PROJECTION %-4zu %-12s %10.1f", cores, plan_label(best).c_str(), best.total_us());
    print_split(best);
    const StepPrediction groups = best_groups(c, s.assumptions, cores);
    char group_text[48] = "-";  // no T with 1 < T < cores divides a prime count
    if (groups.group_threads > 1)
      std::snprintf(group_text, sizeof group_text, "%s %.1f", plan_label(groups).c_str(),
                    groups.total_us());
    std::printf(" %10.0f   %.1f / %.1f / %.1f / %s\n", best.samples_per_s(c.batch),
                predict(c, s.assumptions, PlanKind::owner, cores).total_us(),
                predict(c, s.assumptions, PlanKind::buffers, cores).total_us(),
                predict(c, s.assumptions, PlanKind::intra, cores).total_us(), group_text);
  }
  std::printf(
      "(cores = threads; plans: data/owner = owner-computed weight gradients, data/buffers = one "
      "gradient buffer per worker + reduce, intra = one replica, GxT = G replica groups of T "
      "threads splitting each product; --plan GxT runs one)\n");
}

json split_json(const StepPrediction& p, std::size_t batch) {
  return {{"plan", plan_label(p)},
          {"cores", p.cores},
          {"group_threads", p.group_threads},
          {"step_us", json_number(p.total_us())},
          {"compute_us", json_number(p.compute_us)},
          {"exchange_us", json_number(p.exchange_us)},
          {"update_us", json_number(p.update_us)},
          {"sync_us", json_number(p.sync_us)},
          {"samples_per_s", json_number(p.samples_per_s(batch))}};
}

json calibration_json(const Calibration& c) {
  json layers = json::array();
  for (const LayerCalibration& l : c.layers) {
    json rates = json::array();
    for (const RatePoint& r : l.forward) rates.push_back({{"rows", r.rows}, {"gflops", r.gflops}});
    layers.push_back({{"in", l.in},
                      {"out", l.out},
                      {"forward_gflops_by_rows", rates},
                      {"tile_rows", tile_rows(l.in, l.out)},
                      {"tile_gflops", json_number(l.tile_gflops)},
                      {"contended_fraction", json_number(l.contended)},
                      {"split_fraction", json_number(l.split)}});
  }
  return {
      {"seconds", c.seconds},
      {"gemm",
       "single-thread, best of 3 rounds; forward (rows x in)(in x out), tile "
       "(tile_rows x batch)(batch x out)"},
      {"layers", layers},
      {"optimizer_states_per_parameter", c.optimizer_states},
      {"copy_gbs_one_thread", json_number(c.copy_gbs_one)},
      {"copy_gbs_all_threads", json_number(c.copy_gbs_all)},
      {"copy_threads", c.copy_threads},
      {"copy",
       "memcpy of 8 MB per thread (threads at once), bytes read + written per second, best of 4"},
      {"fork_join_us_by_workers", c.fork_join_us}};
}

}  // namespace

PlanKind point_plan(const Point& p) {
  if (p.config.plan.parallelism == Parallelism::intra) return PlanKind::intra;
  return p.config.plan.weight_gradients == WeightGradients::buffers ? PlanKind::buffers
                                                                    : PlanKind::owner;
}

double predicted_point_us(const ScaleSettings& s, const ScaleSweep& sweep, const Point& p) {
  if (!modelled(s, p) || sweep.calibration.layers.empty()) return NAN;
  return predict(sweep.calibration, s.assumptions, point_plan(p), p.threads,
                 p.config.plan.group_threads)
      .total_us();
}

void print_projection(const ScaleSettings& s, const ScaleSweep& sweep) {
  print_calibration(sweep.calibration);
  if (s.weak)
    std::printf("(weak scaling: the model covers the fixed batch only; no comparison)\n");
  else
    print_comparison(s, sweep);
  print_projection_table(s, sweep);
}

json projection_json(const ScaleSettings& s, const ScaleSweep& sweep) {
  const Calibration& c = sweep.calibration;
  json compared = json::array();
  for (const Point& p : sweep.points) {
    if (!modelled(s, p)) continue;
    json j = split_json(
        predict(c, s.assumptions, point_plan(p), p.threads, p.config.plan.group_threads), c.batch);
    j["measured_us"] = json_number(measured_us(p));
    j["error"] = json_number(j["step_us"].get<double>() / measured_us(p) - 1);
    j["oversubscribed"] = p.threads > s.cores;
    compared.push_back(j);
  }
  json projected = json::array();
  for (std::size_t cores : s.project) {
    json j = split_json(best_plan(c, s.assumptions, cores), c.batch);
    for (PlanKind k : kPlans)
      j["step_us_by_plan"][plan_name(k)] =
          json_number(predict(c, s.assumptions, k, cores).total_us());
    for (std::size_t t = 2; t < cores; ++t)  // G x T with owner-computed gradients
      if (cores % t == 0) {
        const StepPrediction g = predict(c, s.assumptions, PlanKind::owner, cores, t);
        j["step_us_by_plan"][plan_label(g)] = json_number(g.total_us());
      }
    projected.push_back(j);
  }
  return {{"label", "PROJECTION from the cost model, not measured"},
          {"model",
           "compute (phase 1 rows and phase 2 tiles at measured GEMM rates) + exchange (batch "
           "activations and deltas; buffers: W gradient buffers written and read) + update "
           "(parameters and optimizer state read and written) + sync (fork/joins); see "
           "include/dptrain/tuning.hpp, Note [The cost model]"},
          {"assumptions",
           {{"mem_bandwidth_gbs_per_socket", s.assumptions.mem_bandwidth_gbs},
            {"sync_latency_us", json_number(s.assumptions.sync_latency_us)},
            {"text", assumptions_text(s, sweep)}}},
          {"calibration", calibration_json(c)},
          {"predicted_vs_measured", compared},
          {"points", projected}};
}

}  // namespace dptrain::cli
