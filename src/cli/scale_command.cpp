// dptrain scale: a thread-scaling sweep of one model. For every (strategy, thread count) point
// it measures steady-state training throughput in timed windows after a warm-up, repeated with
// the points interleaved within each repeat (tuning.hpp), and reports median/min/max, speedup,
// efficiency, the time split of a step and memory, a cost model's prediction of each point and
// its projection to larger machines (projection.hpp), and an Amdahl fit, labelled as such
// (scale_report.hpp). --out writes the points as CSV and the whole
// run as JSON beside it.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "dptrain/limits.hpp"
#include "machine_report.hpp"
#include "options.hpp"
#include "projection.hpp"
#include "scale_report.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

namespace {

cxxopts::Options scale_options() {
  cxxopts::Options options(
      "dptrain scale",
      "Thread-scaling sweep of one model: throughput, speedup, efficiency, time split and memory "
      "per thread count for the data, intra and GxT strategies; a cost model measured on this "
      "machine "
      "(GEMM rate by rows per worker, copy bandwidth, fork/join latency) predicts each point and "
      "projects the best plan to --project cores (labelled PROJECTION), plus an Amdahl fit "
      "(random data; loading excluded).");
  options.add_options()("model", "Reference model: A, B, C, xor, square",
                        cxxopts::value<std::string>()->default_value("A"))(
      "layers",
      "Custom widths input,hidden...,output instead of --model (relu hidden; "
      "softmax+CE, or sigmoid+BCE for one output; Adam, lr 1e-3)",
      cxxopts::value<std::string>())("batch-size",
                                     "Batch size (default: the model's; 128 for --layers)",
                                     cxxopts::value<std::string>())(
      "threads",
      "Thread counts (comma-separated, 0 = every physical core; default 1, 2, 4, ... up to 2 x "
      "physical cores; 1 is always measured: it is the speedup baseline)",
      cxxopts::value<std::string>())(
      "parallelism",
      "Strategies, comma-separated: data, intra, GxT (replica groups of T threads, at the "
      "thread counts T divides; e.g. Gx2)",
      cxxopts::value<std::string>()->default_value("data,intra"))(
      "backend", "Worker pool: tbb, openmp or threads",
      cxxopts::value<std::string>()->default_value("tbb"))(
      "gemm",
      "GEMM kernel: onednn, openblas, eigen or reference (default: the fastest in this build)",
      cxxopts::value<std::string>())(
      "precision", "fp32, or bf16 (data strategy only; the default strategies become data)",
      cxxopts::value<std::string>()->default_value("fp32"))(
      "weight-grads", "Data strategy: auto, owner or buffers (see dptrain train --help)",
      cxxopts::value<std::string>()->default_value("auto"))(
      "deterministic", "Fixed micro-batches summed in fixed order (see dptrain train --help)")(
      "micro-batches", "Micro-batches per step with --deterministic",
      cxxopts::value<std::string>()->default_value("16"))(
      "repeats", "Timed windows per point (median, min, max reported)",
      cxxopts::value<std::string>()->default_value("5"))(
      "seconds", "Seconds per timed window", cxxopts::value<std::string>()->default_value("0.5"))(
      "warmup", "Seconds of untimed steps before each window (default max(0.1, seconds / 4))",
      cxxopts::value<std::string>())(
      "noise-threshold",
      "Flag a point as noisy when (max - min) / median of its windows exceeds "
      "this",
      cxxopts::value<std::string>()->default_value("0.2"))(
      "out",
      "Write the points to this .csv file and the whole run to the .json beside it "
      "(both atomically)",
      cxxopts::value<std::string>())(
      "weak",
      "Weak scaling: the batch grows with the threads (batch x threads), so every worker keeps "
      "the 1-thread batch; reports throughput and efficiency = samples/s at T / (T x at 1)")(
      "project",
      "Core counts of the cost model's PROJECTION (comma-separated): the plan with the lowest "
      "predicted step and its split (compute / exchange / update / sync); assumed beyond "
      "the measured cores: the single-thread GEMM rate per core, one socket, elementwise work "
      "left out",
      cxxopts::value<std::string>()->default_value("16,32,64,128"))(
      "mem-bandwidth",
      "Projection assumption: memory bandwidth of one socket in GB/s (read + write), the cap on "
      "the copy bandwidth beyond the measured cores",
      cxxopts::value<std::string>()->default_value("100"))(
      "sync-latency-us",
      "Projection assumption: one fork/join in microseconds beyond the measured worker counts "
      "(default: extrapolated linearly from the last two measured counts)",
      cxxopts::value<std::string>())("h,help", "Show this help");
  add_pin_option(options);
  return options;
}

/// 1, 2, 4, ... below 2 x cores, plus cores and 2 x cores themselves.
std::vector<std::size_t> default_threads(std::size_t cores) {
  std::vector<std::size_t> t;
  for (std::size_t n = 1; n < 2 * cores; n *= 2) t.push_back(n);
  t.push_back(cores);
  t.push_back(2 * cores);
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

/// Weak scaling (--weak): the point at `threads` threads steps on batch x threads rows.
TrainConfig& weak_point_config(TrainConfig& c, const Reference& ref, std::size_t threads) {
  c.batch_size = ref.batch * threads;
  return c;
}

/// "data", "intra", "GxT" for T >= 2 threads per group (also "xT").
Strategy parse_strategy(const std::string& part) {
  if (part == "data" || part == "intra") return {parse_parallelism(part), 1};
  const std::string t = part.starts_with("Gx")  ? part.substr(2)
                        : part.starts_with("x") ? part.substr(1)
                                                : "";
  std::size_t group = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), group);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || group < 2 ||
      group > kMaxThreads)
    throw Error("--parallelism: unknown strategy '" + part +
                "' (expected data, intra or GxT with T >= 2 threads per group, e.g. Gx2; "
                "comma-separated)");
  return {Parallelism::data, group};
}

std::vector<Strategy> parse_strategies(const std::string& text) {
  std::vector<Strategy> out;
  for (const std::string& part : split_list(text)) {
    const Strategy p = parse_strategy(part);
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  // A GxT curve has no 1-thread point of its own: its speedups are against data's or intra's.
  if (std::none_of(out.begin(), out.end(), [](const Strategy& p) { return p.group_threads == 1; }))
    throw Error(
        "--parallelism: GxT curves need data or intra in the list too (their 1-thread "
        "point is the speedup baseline)");
  return out;
}

/// Every curve's settings must work and every GxT curve must have a point: checked before
/// measuring (e.g. bf16 runs the data strategy only).
void check_strategies(const ScaleSettings& s) {
  for (const Strategy& strategy : s.strategies) {
    const auto n = std::find_if(s.threads.begin(), s.threads.end(),
                                [&](std::size_t t) { return strategy.runs_at(t); });
    if (n == s.threads.end())
      throw Error("--parallelism " + strategy.name() + ": no thread count in --threads is a " +
                  "multiple of " + std::to_string(strategy.group_threads));
    TrainConfig c = workload_config(s.ref, s.base, *n);
    c.plan.parallelism = strategy.parallelism;
    c.plan.group_threads = strategy.group_threads;
    if (c.plan.parallelism != Parallelism::data &&
        c.plan.weight_gradients == WeightGradients::owner)
      c.plan.weight_gradients = WeightGradients::automatic;  // as make_point does
    c.validate();
  }
}

/// --model or --layers, with --batch-size.
Reference read_workload(const cxxopts::ParseResult& r) {
  if (r.count("layers")) {
    if (r.count("model")) throw Error("--model and --layers are exclusive: choose one");
    const std::size_t batch = r.count("batch-size")
                                  ? parse_count(r["batch-size"].as<std::string>(), "batch-size", 1)
                                  : 128;
    return custom_reference(parse_size_list(r["layers"].as<std::string>(), "layers"), batch);
  }
  Reference ref = find_reference(r["model"].as<std::string>(), "model");
  if (r.count("batch-size"))
    ref.batch = parse_count(r["batch-size"].as<std::string>(), "batch-size", 1);
  return ref;
}

/// --repeats, --seconds, --warmup.
WindowSettings read_windows(const cxxopts::ParseResult& r) {
  WindowSettings w;
  w.repeats = parse_count(r["repeats"].as<std::string>(), "repeats", 1);
  w.seconds = parse_real(r["seconds"].as<std::string>(), "seconds");
  if (!(w.seconds > 0))
    throw Error("--seconds must be positive, got " + r["seconds"].as<std::string>());
  w.warmup = r.count("warmup") ? parse_real(r["warmup"].as<std::string>(), "warmup")
                               : std::max(0.1, 0.25 * w.seconds);
  if (!(w.warmup >= 0)) throw Error("--warmup must not be negative");
  return w;
}

/// --project, --mem-bandwidth, --sync-latency-us.
void read_projection_options(const cxxopts::ParseResult& r, ScaleSettings& s) {
  s.project = parse_size_list(r["project"].as<std::string>(), "project");
  for (std::size_t c : s.project)
    if (c == 0) throw Error("--project: core counts must be at least 1");
  s.assumptions.mem_bandwidth_gbs =
      parse_real(r["mem-bandwidth"].as<std::string>(), "mem-bandwidth");
  if (!(s.assumptions.mem_bandwidth_gbs > 0) || !std::isfinite(s.assumptions.mem_bandwidth_gbs))
    throw Error("--mem-bandwidth must be a positive number of GB/s, got " +
                r["mem-bandwidth"].as<std::string>());
  if (r.count("sync-latency-us")) {
    s.assumptions.sync_latency_us =
        parse_real(r["sync-latency-us"].as<std::string>(), "sync-latency-us");
    if (!(s.assumptions.sync_latency_us >= 0) || !std::isfinite(s.assumptions.sync_latency_us))
      throw Error("--sync-latency-us must be a non-negative number, got " +
                  r["sync-latency-us"].as<std::string>());
  }
}

/// All options, checked in command-line order before anything is measured.
ScaleSettings read_scale_settings(const cxxopts::ParseResult& r) {
  ScaleSettings s;
  s.cores = parallel::hardware_threads();
  s.ref = read_workload(r);
  s.threads = r.count("threads") ? parse_thread_list(r["threads"].as<std::string>(), "threads")
                                 : default_threads(machine_topology().physical_cores());
  s.threads.push_back(1);
  std::sort(s.threads.begin(), s.threads.end());
  s.threads.erase(std::unique(s.threads.begin(), s.threads.end()), s.threads.end());
  s.base.precision = parse_precision(r["precision"].as<std::string>());
  // bf16 runs the data strategy only: without an explicit choice, sweep just that.
  const bool bf16 = s.base.precision == Precision::bf16;
  s.strategies = parse_strategies(
      bf16 && !r.count("parallelism") ? std::string("data") : r["parallelism"].as<std::string>());
  s.base.backend = parse_backend(r["backend"].as<std::string>());
  read_pin_option(r, s.base);
  s.weak = r.count("weak") > 0;
  if (r.count("gemm")) s.base.gemm = parse_gemm_backend(r["gemm"].as<std::string>());
  s.base.plan.weight_gradients = parse_weight_gradients(r["weight-grads"].as<std::string>());
  s.base.deterministic = r.count("deterministic") > 0;
  s.base.micro_batches = parse_count(r["micro-batches"].as<std::string>(), "micro-batches", 1);
  s.windows = read_windows(r);
  read_projection_options(r, s);
  s.noise_threshold = parse_real(r["noise-threshold"].as<std::string>(), "noise-threshold");
  if (!(s.noise_threshold > 0)) throw Error("--noise-threshold must be positive");
  if (r.count("out")) {
    s.csv_path = r["out"].as<std::string>();
    if (s.csv_path.size() < 5 || !s.csv_path.ends_with(".csv"))
      throw Error("--out: '" + s.csv_path + "' must name a .csv file (the JSON goes beside it)");
    check_output_path(s.csv_path, "out");
    s.json_path = s.csv_path.substr(0, s.csv_path.size() - 4) + ".json";
    check_output_path(s.json_path, "out");  // written beside the CSV: checked as early
    check_distinct_outputs({{"out", s.csv_path}, {"out", s.json_path}});  // r.json -> r.csv
  }
  // Model and config errors (e.g. a loss that does not fit) surface here, before measuring.
  Model<float> probe(ModelSpec::mlp(s.ref.widths, s.ref.hidden, s.ref.output));
  TrainConfig c = workload_config(s.ref, s.base, 1);
  c.validate();
  // The largest thread count (the last), and with --weak its batch, must pass the limits too.
  TrainConfig largest = workload_config(s.ref, s.base, s.threads.back());
  largest.validate();
  if (s.weak) weak_point_config(largest, s.ref, s.threads.back()).validate();
  check_loss_fits(c.loss, probe.spec().output_activation(), probe.spec().outputs());
  check_strategies(s);
  return s;
}

ScaleSweep run_sweep(const ScaleSettings& s) {
  ScaleSweep sweep;
  sweep.cpu = cpu_model();
  sweep.load_start = load_average();
  std::printf("dptrain %s scale on %s, %zu cores available (load average %s)\n", version_string,
              sweep.cpu.c_str(), s.cores, sweep.load_start.c_str());
  std::printf("machine: %s%s\n", machine_topology().describe().c_str(),
              s.base.pin_cores.empty() ? "" : "; workers pinned to cores");
  std::printf("model %s: %s; backend %s; precision %s%s\n", s.ref.name.c_str(), s.ref.what.c_str(),
              backend_name(s.base.backend), precision_name(s.base.precision),
              s.base.deterministic ? "; deterministic" : "");
  if (s.weak)
    std::printf("WEAK scaling: batch = %zu x threads (every worker keeps %zu rows per step)\n",
                s.ref.batch, s.ref.batch);
  std::printf(
      "%zu repeat(s) x %.3g s timed windows, %.3g s warm-up before each; points interleaved "
      "within each repeat, one worker pool alive at a time\n",
      s.windows.repeats, s.windows.seconds, s.windows.warmup);
  std::fflush(stdout);

  for (const Strategy& strategy : s.strategies)
    for (std::size_t n : s.threads) {
      if (!strategy.runs_at(n)) continue;
      sweep.points.push_back(make_point(s.ref, s.base, n, strategy.parallelism));
      sweep.points.back().config.plan.group_threads = strategy.group_threads;
      if (s.weak) weak_point_config(sweep.points.back().config, s.ref, n);
    }
  sweep.peak_resettable = reset_peak_rss();
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  measure_interleaved(s.ref, sweep.points, s.windows, [&](std::size_t rep) {
    if (progress) std::fprintf(stderr, "\rrepeat %zu/%zu done", rep + 1, s.windows.repeats);
  });
  if (progress) std::fprintf(stderr, "\n");
  sweep.load_end = load_average();
  // The cost model's parameters, measured once the sweep's pools are gone.
  sweep.calibration = calibrate(s.ref, s.base, s.cores);
  return sweep;
}

}  // namespace

int scale_command(int argc, char** argv) {
  cxxopts::Options options = scale_options();
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  ScaleSettings settings = read_scale_settings(r);
  settings.command = "dptrain";
  for (int i = 0; i < argc; ++i) settings.command += std::string(" ") + argv[i];
  report_scale(settings, run_sweep(settings));
  return 0;
}

}  // namespace dptrain::cli
