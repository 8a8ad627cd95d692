// dptrain bench: steady-state training throughput of the reference models for a list of thread
// counts, measured in one run with the windows interleaved (tuning.hpp), so every ratio it
// prints (speedup, fraction of the machine's SGEMM rate, fraction of the register-only fp32 FMA
// peak, peak.hpp) compares figures taken side by side.
//
// --json PATH writes the same figures machine-readably; --quality and --export add a fixed-step
// training check per model (bench_quality.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_quality.hpp"
#include "bench_sweep.hpp"
#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "machine_report.hpp"
#include "options.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

namespace {

using nlohmann::json;

/// Everything the command line asks for, checked before anything is measured.
struct BenchSettings {
  std::vector<std::size_t> threads;  ///< one point per entry, the first is the speedup baseline
  WindowSettings windows;
  std::vector<const Reference*> models;
  std::shared_ptr<const Reference> custom;  ///< --layers: the one model benched (in `models`)
  std::string json_path;                    ///< empty: no JSON
  QualitySettings quality;
  TrainConfig base;        ///< engine settings: backend, GEMM, parallelism, determinism
  bool auto_plan = false;  ///< --plan auto: choose_plan at every point
  bool sweep = false;      ///< --sweep: the default against every kernel x plan (Note [Sweep])
};

/// What the results are relative to.
struct Machine {
  std::size_t cores = 1;
  std::string cpu;
  std::size_t ranks = 1;  ///< MPI ranks: a point's rate is the whole job's
  double sgemm_gflops = 0;
  double fp32_peak_gflops = 0;  ///< one core, register-only FMA probe (0: no AVX2/AVX-512)
  double bf16_peak_gflops = 0;  ///< one core, vdpbf16ps probe (0: no AVX512_BF16)
  /// The fp32 probe on T pool workers at once, for every benched thread count T.
  std::map<std::size_t, double> fp32_measured_by_threads;

  /// The fp32 peak a point at `threads` threads is compared with: min(threads, cores) x the
  /// single-core peak, on every rank. Not the probe measured on the pool: on a shared machine
  /// that one swings by 2x from run to run (all workers must hold a core at the same time),
  /// which would make the fractions noise; it is reported beside it as a check (below
  /// min(T, cores) x single-core when cores are shared with other work or are SMT siblings).
  double fp32_peak_for(std::size_t threads) const {
    return double(ranks) * double(std::min(threads, cores)) * fp32_peak_gflops;
  }
  double fp32_measured_for(std::size_t threads) const {
    const auto it = fp32_measured_by_threads.find(threads);
    return it == fp32_measured_by_threads.end() ? 0 : double(ranks) * it->second;
  }
};

cxxopts::Options bench_options() {
  cxxopts::Options options("dptrain bench",
                           "Measure steady-state training throughput and thread scaling of the "
                           "reference models (random data; loading excluded).");
  options.add_options()("models", "Reference models: A, B, C, xor, square (comma-separated)",
                        cxxopts::value<std::string>()->default_value("A,B,C"))(
      "layers",
      "Custom widths input,hidden...,output instead of --models (relu hidden; softmax+CE, or "
      "sigmoid+BCE for one output; Adam, lr 1e-3, batch 128)",
      cxxopts::value<std::string>())("seconds", "Seconds per timed window",
                                     cxxopts::value<std::string>()->default_value("1"))(
      "repeats", "Timed windows per point (median, min, max reported)",
      cxxopts::value<std::string>()->default_value("5"))(
      "json", "Also write the results as JSON to PATH (atomically)", cxxopts::value<std::string>())(
      "quality",
      "Also train each model for a fixed number of steps on learnable data (A, B: first 8192 "
      "Fashion-MNIST rows; C: blobs8; xor; square) and report the final loss and metric")(
      "quality-steps", "Steps of the quality check (implies --quality; default per model)",
      cxxopts::value<std::string>())(
      "export",
      "Write the quality check's data, initial parameters and settings to folder DIR "
      "(implies --quality; for scripts/bench_pytorch.py --replay DIR)",
      cxxopts::value<std::string>())(
      "sweep",
      "Also measure, interleaved with the configuration asked for (the default: --gemm auto, "
      "--plan data), every kernel of this build x owner/buffers weight gradients x plan (data, "
      "GxT, intra) at each thread count, and say how far the default is from the best found "
      "(fp32, one process)")("h,help", "Show this help");
  add_engine_options(options);
  add_plan_option(options);
  add_pin_option(options);
  return options;
}

/// Creates the --export folder (before measuring, so that a bad path fails at once).
void make_export_folder(const std::string& dir) {
  if (dir.empty()) throw Error("--export: empty folder name");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw Error("--export: cannot create folder '" + dir + "'" + (ec ? ": " + ec.message() : ""));
}

BenchSettings read_bench_settings(const cxxopts::ParseResult& r) {
  BenchSettings s;
  // Here --threads is a list: one measured point per entry.
  s.threads = parse_thread_list(r["threads"].as<std::string>(), "threads");
  s.windows.seconds = parse_real(r["seconds"].as<std::string>(), "seconds");
  if (!(s.windows.seconds > 0)) throw Error("--seconds must be positive");
  s.windows.warmup = std::max(0.1, 0.25 * s.windows.seconds);
  s.windows.repeats = parse_count(r["repeats"].as<std::string>(), "repeats", 1);
  if (r.count("layers")) {  // like scale --layers
    if (r.count("models")) throw Error("--models and --layers are exclusive: choose one");
    s.custom = std::make_shared<const Reference>(
        custom_reference(parse_size_list(r["layers"].as<std::string>(), "layers"), 128));
    s.models = {s.custom.get()};
  } else {
    s.models = parse_reference_list(r["models"].as<std::string>(), "models");
  }
  if (r.count("json")) {
    s.json_path = r["json"].as<std::string>();
    check_output_path(s.json_path, "json");
  }
  if (r.count("export")) {
    s.quality.export_dir = r["export"].as<std::string>();
    make_export_folder(s.quality.export_dir);
  }
  s.sweep = r.count("sweep") > 0;
  s.quality.enabled = r.count("quality") || r.count("quality-steps") || r.count("export");
  if (s.quality.enabled && s.custom)
    throw Error("--quality and --export need the reference models (--models), not --layers");
  if (r.count("quality-steps"))
    s.quality.steps = parse_count(r["quality-steps"].as<std::string>(), "quality-steps", 1);
  s.base.threads = 1;
  const PlanRequest plan = read_engine_options(r, s.base, false);  // backend, gemm, plan
  s.auto_plan = plan.automatic;
  if (plan.threads && !r.count("threads")) s.threads = {1, plan.threads};  // --plan GxT alone
  if (s.sweep) (void)sweep_candidates(s.base, 1);  // refuses bf16 and MPI before measuring
  return s;
}

void print_banner(const BenchSettings& s, const Machine& m, const Communicator* comm) {
  std::printf("dptrain %s bench on %s, %zu cores available\n", version_string, m.cpu.c_str(),
              m.cores);
  if (comm)
    std::printf(
        "MPI: %d ranks; batch split across ranks, then threads; 'mpi' = gradient exchange\n",
        comm->size());
  std::printf("machine: %s%s\n", machine_topology().describe().c_str(),
              s.base.pin_cores.empty() ? "" : "; workers pinned to cores");
  std::string plan =
      s.auto_plan ? "auto (per thread count, below)" : plan_shape(s.base.plan, s.base.threads);
  if (s.base.plan.group_threads > 1)
    plan = "groups of " + std::to_string(s.base.plan.group_threads) +
           " threads (data where that does not divide the threads)";
  std::printf("GEMM: %s; backend %s; plan %s; precision %s; weight gradients %s%s\n",
              gemm_kernel_description(s.base.gemm).c_str(), backend_name(s.base.backend),
              plan.c_str(), precision_name(s.base.precision),
              weight_gradients_name(s.base.plan.weight_gradients),
              s.base.deterministic ? "; deterministic" : "");
}

/// 100 * value / of with `decimals` decimals and a percent sign; "n/a" when `of` is unknown (0).
std::string percent(double value, double of, int decimals) {
  if (!(of > 0)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f%%", decimals, 100.0 * value / of);
  return text;
}

/// Measures the register-only peaks (peak.hpp) and prints them: one core, and the fp32 probe on
/// T workers of a pool at once for every thread count T (oversubscribed counts share the cores
/// and add no peak). Runs before any trainer: one pool alive at a time (Note [Interleaved
/// windows]). Short probes (0.1 s at most each): a rate of registers needs no long window.
void measure_peaks(const BenchSettings& s, Machine& m) {
  const double seconds = std::min(0.1, s.windows.seconds);
  m.fp32_peak_gflops = fp32_fma_peak_gflops(seconds);
  m.bf16_peak_gflops = bf16_dot_peak_gflops(seconds);
  for (std::size_t t : s.threads) {
    if (m.fp32_measured_by_threads.count(t)) continue;
    if (t == 1) {
      m.fp32_measured_by_threads[t] = m.fp32_peak_gflops;
      continue;
    }
    parallel::WorkerPool pool(s.base.backend, t);
    m.fp32_measured_by_threads[t] = fp32_fma_peak_gflops(pool, seconds);
  }
  char bf16[64] = "n/a (no AVX512_BF16)";
  if (m.bf16_peak_gflops > 0) std::snprintf(bf16, sizeof bf16, "%.1f GFLOP/s", m.bf16_peak_gflops);
  std::printf("single-core peaks: fp32 FMA %.1f GFLOP/s (%s), bf16 dot %s (register-only probes)\n",
              m.fp32_peak_gflops, fp32_fma_probe_isa(), bf16);
  std::printf("%-50s", "fp32 FMA peak for T threads, min(T, cores) x 1-core:");
  for (const auto& point : m.fp32_measured_by_threads)
    std::printf("  %zu: %.1f", point.first, m.fp32_peak_for(point.first) / double(m.ranks));
  std::printf(" GFLOP/s%s (%%peak below)\n%-50s", m.ranks > 1 ? " per rank" : "",
              "  check, the probe on T pool threads at once:");
  for (const auto& [t, gf] : m.fp32_measured_by_threads) std::printf("  %zu: %.1f", t, gf);
  std::printf(" GFLOP/s (lower: cores busy with other work, or SMT siblings)\n");
}

/// Prints the table row of one point and returns its JSON result. `first` is the baseline of
/// the speedup (the first thread count).
json report_point(const Reference& ref, const Point& p, const Point& first, const Machine& m) {
  // "gflops" in the JSON keeps its first definition, 6 x parameters per sample; the table and
  // the peak fractions use the exact count (Model::flops_per_sample).
  const double flops_per_sample = 6.0 * double(first.model->trainable_count());
  const double exact_per_sample = first.model->flops_per_sample();
  const WindowStats w = window_stats(p);
  const double speedup = ratio_stats(p, first).median;
  const StepSplit split = step_split_us(summed_times(p));
  const double us_per_step = 1e6 * double(ref.batch) / w.median;
  const double gflops = flops_per_sample * w.median / 1e9;
  const double exact_gflops = exact_per_sample * w.median / 1e9;
  const double peak = m.fp32_peak_for(p.threads);
  const double fraction = peak > 0 ? exact_gflops / peak : std::nan("");
  char range[64], mem[32];
  std::snprintf(range, sizeof range, "[%.0f - %.0f]", w.min, w.max);
  std::snprintf(mem, sizeof mem, "%.2f MB", double(p.extra_worker_bytes) / 1e6);
  std::printf(
      "%-6s %5zu%s %12.0f %20s %10.1f %8.2f %6.2f %7.1f %6s %8.1fus %8.1fus %8.1fus %8.1fus "
      "%12s\n",
      ref.name.c_str(), p.threads, p.threads > m.cores ? "*" : " ", w.median, range, us_per_step,
      speedup, speedup / double(p.threads), exact_gflops, percent(exact_gflops, peak, 1).c_str(),
      split.forward_backward, split.reduce_update, split.communication, split.wait, mem);
  return {{"model", ref.name},
          {"what", ref.what},
          {"layers", ref.widths},
          {"batch", ref.batch},
          {"threads", p.threads},
          {"plan", plan_shape(p.config.plan, p.config.threads)},
          {"oversubscribed", p.threads > m.cores},
          {"samples_per_s", json_number(w.median)},
          {"samples_per_s_min", json_number(w.min)},
          {"samples_per_s_max", json_number(w.max)},
          {"windows_samples_per_s", p.samples_per_s},
          {"us_per_step", json_number(us_per_step)},
          {"speedup", json_number(speedup)},
          {"efficiency", json_number(speedup / double(p.threads))},
          {"gflops", json_number(gflops)},
          {"exact_flops_per_sample", exact_per_sample},
          {"exact_gflops", json_number(exact_gflops)},
          {"fp32_peak_gflops", json_number(peak)},
          {"fp32_peak_fraction", json_number(fraction)},
          {"fp32_peak_measured_gflops", json_number(m.fp32_measured_for(p.threads))},
          {"precision", precision_name(p.config.precision)},
          {"bf16_peak_fraction",
           json_number(m.bf16_peak_gflops > 0 && p.config.precision == Precision::bf16
                           ? exact_gflops / (m.fp32_peak_for(p.threads) / m.fp32_peak_gflops *
                                             m.bf16_peak_gflops)
                           : std::nan(""))},
          {"fwd_bwd_us", json_number(split.forward_backward)},
          {"reduce_update_us", json_number(split.reduce_update)},
          {"wait_us", json_number(split.wait)},
          {"workers", p.workers},
          {"extra_bytes_per_worker", p.extra_worker_bytes},
          {"engine_bytes", p.engine_bytes}};
}

/// Measures `ref` at every thread count (with --sweep, and every sweep candidate, all
/// interleaved), prints its rows and summary line, and appends its JSON results to `results`
/// (and to `sweeps`).
void bench_model(const Reference& ref, const BenchSettings& s, const Machine& m, json& results,
                 json& sweeps) {
  std::vector<Point> points;
  for (std::size_t n : s.threads) {
    Point p = make_point(ref, s.base, n, s.base.plan.parallelism);
    // --plan GxT: groups of T at the thread counts T divides, the data plan at the others (the
    // 1-thread baseline).
    if (n % p.config.plan.group_threads != 0) p.config.plan.group_threads = 1;
    if (s.auto_plan)
      std::printf("%s at %zu thread(s): %s\n", ref.name.c_str(), n,
                  choose_plan(ref.widths, p.config).c_str());
    points.push_back(std::move(p));
  }
  const std::size_t defaults = points.size();
  std::vector<SweepGroup> groups;
  if (s.sweep) groups = add_sweep_points(ref, s.base, s.threads, points);
  measure_interleaved(ref, points, s.windows);
  for (std::size_t i = 0; i < defaults; ++i)
    results.push_back(report_point(ref, points[i], points.front(), m));
  const Point& first = points.front();
  const double gf = first.model->flops_per_sample() * median(first.samples_per_s) / 1e9;
  std::printf(
      "%-6s %s; %zu worker(s) per step at %zu threads; %.1f GFLOP/s at %zu thread(s) = "
      "%s of the SGEMM rate, %s of the fp32 FMA peak%s%s\n\n",
      ref.name.c_str(), ref.what.c_str(), points[defaults - 1].workers,
      points[defaults - 1].threads, gf, first.threads, percent(gf, m.sgemm_gflops, 0).c_str(),
      percent(gf, m.fp32_peak_for(first.threads), 0).c_str(),
      s.base.precision == Precision::bf16 ? ", " : "",
      s.base.precision == Precision::bf16
          ? (percent(gf, m.bf16_peak_gflops, 0) + " of the bf16 dot peak").c_str()
          : "");
  for (const SweepGroup& g : groups) sweeps.push_back(report_sweep(ref, points, g));
}

json bench_document(const BenchSettings& s, const Machine& m, const json& results) {
  return {{"tool", "dptrain bench"},
          {"version", version_string},
          {"timestamp", iso_timestamp()},
          {"cpu_model", m.cpu},
          {"cores", m.cores},
          {"topology", topology_json(machine_topology())},
          {"pinned", !s.base.pin_cores.empty()},
          {"gemm", gemm_kernel_description(s.base.gemm)},
          {"backend", backend_name(s.base.backend)},
          {"parallelism", parallelism_name(s.base.plan.parallelism)},
          {"deterministic", s.base.deterministic},
          {"sgemm_gflops", json_number(m.sgemm_gflops)},
          {"fp32_fma_peak_gflops", json_number(m.fp32_peak_gflops)},
          {"bf16_dot_peak_gflops", json_number(m.bf16_peak_gflops)},
          {"fp32_fma_probe_isa", fp32_fma_probe_isa()},
          {"seconds", s.windows.seconds},
          {"repeats", s.windows.repeats},
          {"results", results}};
}

int run_bench(BenchSettings s) {
  // Under MPI every rank runs the benchmark in lockstep; rank 0 alone prints and writes.
  Communicator* comm = job_communicator();
  s.base.communicator = comm;
  const bool leader = !comm || comm->rank() == 0;
  if (comm && s.quality.enabled)
    throw Error("--quality and --export run on one process only, not under MPI");
  if (!leader && !std::freopen("/dev/null", "w", stdout)) throw Error("cannot silence rank output");
  Machine m;
  m.cores = parallel::hardware_threads();
  m.cpu = cpu_model();
  m.ranks = comm ? std::size_t(comm->size()) : 1;
  print_banner(s, m, comm);
  m.sgemm_gflops = sgemm_gflops(s.base.gemm, 256, 1024, 1024, std::min(1.0, s.windows.seconds));
  std::printf("single-thread SGEMM rate (256x1024 * 1024x1024): %.1f GFLOP/s\n", m.sgemm_gflops);
  measure_peaks(s, m);
  std::printf("\n");

  json results = json::array(), sweeps = json::array();
  std::printf("%-6s %7s %12s %20s %10s %8s %6s %7s %6s %9s %9s %9s %9s %12s\n", "model", "threads",
              "samples/s", "[min - max]", "us/step", "speedup", "eff", "GFLOP/s", "%peak",
              "fwd+bwd", "red+upd", "mpi", "wait", "mem/worker");
  for (const Reference* ref : s.models) bench_model(*ref, s, m, results, sweeps);
  std::printf(
      "GFLOP/s counts the exact FLOPs of a step: 2 x in x out per dense layer for the forward "
      "pass, the weight gradient,\nand the input gradient of every layer but the first (never "
      "computed); biases and activations are not counted.\n%%peak = GFLOP/s / (min(threads, "
      "cores) x the single-core fp32 FMA peak) (JSON: exact_gflops, fp32_peak_fraction;\n"
      "\"gflops\" keeps its old count, 6 x parameters per sample). * = more threads than cores "
      "(oversubscribed);\neff = speedup / threads; mem/worker = workspace + gradient buffer an "
      "extra worker adds.\n");

  json quality = json::array();
  if (s.quality.enabled) quality = run_quality_checks(s.models, s.base, s.quality);
  if (!s.json_path.empty()) {
    json doc = bench_document(s, m, results);
    if (s.quality.enabled) doc["quality"] = quality;
    if (s.sweep) doc["sweep"] = sweeps;
    if (leader) write_json(s.json_path, doc);
    std::printf("wrote %s\n", s.json_path.c_str());
  }
  return 0;
}

}  // namespace

int bench_command(int argc, char** argv) {
  cxxopts::Options options = bench_options();
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  return run_bench(read_bench_settings(r));
}

}  // namespace dptrain::cli
