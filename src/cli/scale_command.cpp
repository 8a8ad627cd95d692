// dptrain scale: a thread-scaling sweep of one model. For every (strategy, thread count) point
// it measures steady-state training throughput in timed windows after a warm-up, repeated with
// the points interleaved within each repeat (so drift of a shared machine hits all points
// alike), and reports median/min/max, speedup, efficiency, the time split of a step and memory.
// It fits Amdahl's law to the speedups and prints the fit's projection to larger machines,
// labelled as such. --out writes the points as CSV and the whole run as JSON beside it.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_common.hpp"
#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

using nlohmann::json;

/// Cores of the projection (printed and written as a projection, never as a measurement).
constexpr std::size_t kProjectionCores[] = {16, 32, 64};

struct Point {
  Parallelism parallelism;
  std::size_t threads;
  TrainConfig config;
  std::unique_ptr<Model<float>> model;
  std::vector<double> samples_per_s;  // one per repeat
  std::vector<PhaseTimes> window_times;
  PhaseTimes times;  // of the median window (the one closest to the median samples/s)
  std::size_t workers = 1;
  std::size_t engine = 0, rss = 0, peak_rss = 0;
  std::string gemm;
  // Derived.
  double median = 0, min = 0, max = 0, spread = 0;
  double speedup = 0, speedup_min = 0, speedup_max = 0, vs_data1 = NAN;
  bool noisy = false, oversubscribed = false;
};

struct AmdahlFit {
  bool valid = false;
  double serial_fraction = NAN;
  double rms_residual = NAN;  ///< of the speedup, over the points used
  std::vector<std::size_t> threads_used;
  bool oversubscribed_included = false;
};

double amdahl_speedup(double f, double n) {
  return 1.0 / (f + (1.0 - f) / n);
}

/// Least squares on 1/S(n) = f + (1 - f)/n, i.e. on the normalised step time:
/// 1/S - 1/n = f (1 - 1/n), a line through the origin, f = sum(x y) / sum(x^2), clamped to
/// [0, 1]. Uses the points with 1 < n <= cores; only when there are none (a 1-core machine),
/// all points with n > 1.
AmdahlFit fit_amdahl(const std::vector<const Point*>& points, std::size_t cores) {
  AmdahlFit fit;
  std::vector<const Point*> use;
  for (const Point* p : points)
    if (p->threads > 1 && p->threads <= cores && std::isfinite(p->speedup) && p->speedup > 0)
      use.push_back(p);
  if (use.empty()) {
    for (const Point* p : points)
      if (p->threads > 1 && std::isfinite(p->speedup) && p->speedup > 0) use.push_back(p);
    fit.oversubscribed_included = !use.empty();
  }
  if (use.empty()) return fit;
  double sxy = 0, sxx = 0;
  for (const Point* p : use) {
    const double n = double(p->threads);
    const double x = 1.0 - 1.0 / n, y = 1.0 / p->speedup - 1.0 / n;
    sxy += x * y;
    sxx += x * x;
    fit.threads_used.push_back(p->threads);
  }
  fit.serial_fraction = std::clamp(sxy / sxx, 0.0, 1.0);
  double sq = 0;
  for (const Point* p : use) {
    const double d = p->speedup - amdahl_speedup(fit.serial_fraction, double(p->threads));
    sq += d * d;
  }
  fit.rms_residual = std::sqrt(sq / double(use.size()));
  fit.valid = true;
  return fit;
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

std::vector<Parallelism> parse_strategies(const std::string& text) {
  std::vector<Parallelism> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    if (part != "data" && part != "intra")
      throw Error("--parallelism: unknown strategy '" + part + "' (expected data, intra or both, " +
                  "comma-separated)");
    const Parallelism p = parse_parallelism(part);
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    start = comma + 1;
  }
  return out;
}

json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

std::string mb(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", double(bytes) / 1e6);
  return buf;
}

}  // namespace

int scale_command(int argc, char** argv) {
  cxxopts::Options options(
      "dptrain scale",
      "Thread-scaling sweep of one model: throughput, speedup, efficiency, time split and memory "
      "per thread count for the data and intra strategies, an Amdahl fit and its projection "
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
      "Thread counts (comma-separated; default 1, 2, 4, ... up to 2 x cores; 1 is "
      "always measured: it is the speedup baseline)",
      cxxopts::value<std::string>())("parallelism", "Strategies: data, intra, or data,intra",
                                     cxxopts::value<std::string>()->default_value("data,intra"))(
      "backend", "Worker pool: tbb, openmp or threads",
      cxxopts::value<std::string>()->default_value("tbb"))(
      "gemm",
      "GEMM kernel of the data strategy: openblas, eigen or reference (intra always uses "
      "Eigen)",
      cxxopts::value<std::string>())(
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
      cxxopts::value<std::string>())("h,help", "Show this help");
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);

  // --- options, all checked before anything is measured ------------------------------------
  const std::size_t cores = parallel::hardware_threads();
  Reference ref;
  if (r.count("layers")) {
    if (r.count("model")) throw Error("--model and --layers are exclusive: choose one");
    const std::size_t batch = r.count("batch-size")
                                  ? parse_count(r["batch-size"].as<std::string>(), "batch-size", 1)
                                  : 128;
    ref = custom_reference(parse_size_list(r["layers"].as<std::string>(), "layers"), batch);
  } else {
    ref = find_reference(r["model"].as<std::string>(), "model");
    if (r.count("batch-size"))
      ref.batch = parse_count(r["batch-size"].as<std::string>(), "batch-size", 1);
  }
  std::vector<std::size_t> thread_list =
      r.count("threads") ? parse_size_list(r["threads"].as<std::string>(), "threads")
                         : default_threads(cores);
  thread_list.push_back(1);
  std::sort(thread_list.begin(), thread_list.end());
  thread_list.erase(std::unique(thread_list.begin(), thread_list.end()), thread_list.end());
  const std::vector<Parallelism> strategies = parse_strategies(r["parallelism"].as<std::string>());
  TrainConfig base;
  base.backend = parallel::parse_backend(r["backend"].as<std::string>());
  if (r.count("gemm")) base.gemm = parse_gemm_backend(r["gemm"].as<std::string>());
  base.deterministic = r.count("deterministic") > 0;
  base.micro_batches = parse_count(r["micro-batches"].as<std::string>(), "micro-batches", 1);
  const std::size_t repeats = parse_count(r["repeats"].as<std::string>(), "repeats", 1);
  const double seconds = parse_real(r["seconds"].as<std::string>(), "seconds");
  if (!(seconds > 0))
    throw Error("--seconds must be positive, got " + r["seconds"].as<std::string>());
  const double warmup = r.count("warmup") ? parse_real(r["warmup"].as<std::string>(), "warmup")
                                          : std::max(0.1, 0.25 * seconds);
  if (!(warmup >= 0)) throw Error("--warmup must not be negative");
  const double threshold = parse_real(r["noise-threshold"].as<std::string>(), "noise-threshold");
  if (!(threshold > 0)) throw Error("--noise-threshold must be positive");
  std::string csv_path, json_path;
  if (r.count("out")) {
    csv_path = r["out"].as<std::string>();
    if (csv_path.size() < 5 || csv_path.compare(csv_path.size() - 4, 4, ".csv") != 0)
      throw Error("--out: '" + csv_path + "' must name a .csv file (the JSON goes beside it)");
    check_output_path(csv_path, "out");
    json_path = csv_path.substr(0, csv_path.size() - 4) + ".json";
  }
  // Model and config errors (e.g. a loss that does not fit) surface here, before measuring.
  {
    Model<float> probe(ModelSpec::mlp(ref.widths, ref.hidden, ref.output));
    TrainConfig c = reference_config(ref, base, 1);
    c.validate();
    check_loss_fits(c.loss, probe.spec().output_activation(), probe.spec().outputs());
  }

  // --- measure -----------------------------------------------------------------------------
  const std::string cpu = cpu_model();
  const std::string load_start = load_average();
  std::printf("dptrain %s scale on %s, %zu cores available (load average %s)\n", version_string,
              cpu.c_str(), cores, load_start.c_str());
  std::printf("model %s: %s; backend %s%s\n", ref.name.c_str(), ref.what.c_str(),
              parallel::backend_name(base.backend), base.deterministic ? "; deterministic" : "");
  std::printf(
      "%zu repeat(s) x %.3g s timed windows, %.3g s warm-up before each; points interleaved "
      "within each repeat, one worker pool alive at a time\n",
      repeats, seconds, warmup);
  std::fflush(stdout);

  const Dataset data = bench_data(ref, std::max<std::size_t>(ref.batch * 32, 4096));
  StepRunner runner(data, ref.batch);
  std::vector<Point> points;
  for (Parallelism s : strategies)
    for (std::size_t n : thread_list) {
      Point p;
      p.parallelism = s;
      p.threads = n;
      p.config = reference_config(ref, base, n);
      p.config.parallelism = s;
      p.model = std::make_unique<Model<float>>(ModelSpec::mlp(ref.widths, ref.hidden, ref.output));
      p.model->initialize(42);
      p.oversubscribed = n > cores;
      points.push_back(std::move(p));
    }
  const bool peak_resettable = reset_peak_rss();
  // One trainer (and so one worker pool) alive at a time: oneTBB applies the smallest thread
  // limit of all live pools.
  auto window = [&](Point& p) {
    reset_peak_rss();
    Trainer t(*p.model, p.config);
    runner.run_for(t, warmup);
    t.set_timing(true);
    p.samples_per_s.push_back(runner.run_for(t, seconds));
    p.window_times.push_back(t.times());
    p.workers = t.workers_for(ref.batch);
    p.engine = engine_bytes(t, *p.model);
    p.gemm = gemm_kernel_description(t.config().gemm);
    p.rss = std::max(p.rss, current_rss_bytes());
    p.peak_rss = std::max(p.peak_rss, peak_rss_bytes());
  };
  const bool progress = ::isatty(STDERR_FILENO) == 1;
  for (std::size_t rep = 0; rep < repeats; ++rep) {
    for (Point& p : points) window(p);
    if (progress) std::fprintf(stderr, "\rrepeat %zu/%zu done", rep + 1, repeats);
  }
  if (progress) std::fprintf(stderr, "\n");
  const std::string load_end = load_average();

  // --- statistics --------------------------------------------------------------------------
  auto find = [&](Parallelism s, std::size_t n) -> const Point* {
    for (const Point& p : points)
      if (p.parallelism == s && p.threads == n) return &p;
    return nullptr;
  };
  for (Point& p : points) {
    const Point& one = *find(p.parallelism, 1);
    const Point* data1 = find(Parallelism::data, 1);
    p.median = median(p.samples_per_s);
    const auto [lo, hi] = std::minmax_element(p.samples_per_s.begin(), p.samples_per_s.end());
    p.min = *lo;
    p.max = *hi;
    p.spread = (p.max - p.min) / p.median;
    p.noisy = p.spread > threshold;
    // The time split of one typical window: a mean over windows would let one disturbed
    // window (a neighbour process, a descheduled worker) dominate it.
    std::size_t typical = 0;
    for (std::size_t w = 1; w < p.samples_per_s.size(); ++w)
      if (std::abs(p.samples_per_s[w] - p.median) < std::abs(p.samples_per_s[typical] - p.median))
        typical = w;
    p.times = p.window_times[typical];
    // Ratios within a repeat: those windows ran next to each other, so slow drifts cancel.
    std::vector<double> ratios, vs;
    for (std::size_t rep = 0; rep < repeats; ++rep) {
      ratios.push_back(p.samples_per_s[rep] / one.samples_per_s[rep]);
      if (data1) vs.push_back(p.samples_per_s[rep] / data1->samples_per_s[rep]);
    }
    p.speedup = median(ratios);
    p.speedup_min = *std::min_element(ratios.begin(), ratios.end());
    p.speedup_max = *std::max_element(ratios.begin(), ratios.end());
    if (data1) p.vs_data1 = median(vs);
  }
  std::vector<AmdahlFit> fits;
  for (Parallelism s : strategies) {
    std::vector<const Point*> mine;
    for (const Point& p : points)
      if (p.parallelism == s) mine.push_back(&p);
    fits.push_back(fit_amdahl(mine, cores));
  }
  auto fit_of = [&](Parallelism s) -> const AmdahlFit& {
    return fits[std::size_t(std::find(strategies.begin(), strategies.end(), s) -
                            strategies.begin())];
  };

  // --- table -------------------------------------------------------------------------------
  std::printf("\n%-8s %7s %11s %21s %6s %7s %13s %5s %8s %8s %8s %7s %7s %7s  %s\n", "strategy",
              "threads", "samples/s", "[min - max]", "spread", "speedup", "[min - max]", "eff",
              "fwd+bwd", "red+upd", "wait", "eng MB", "RSS MB", "peak MB", "flags");
  for (const Point& p : points) {
    const double steps = double(std::max<std::uint64_t>(p.times.steps, 1));
    char range[48], srange[32], spread[16];
    std::snprintf(range, sizeof range, "[%.0f - %.0f]", p.min, p.max);
    std::snprintf(srange, sizeof srange, "[%.2f-%.2f]", p.speedup_min, p.speedup_max);
    std::snprintf(spread, sizeof spread, "%.0f%%", 100 * p.spread);
    std::string flags = p.oversubscribed ? "oversubscribed" : "";
    if (p.noisy) flags += flags.empty() ? "NOISY" : " NOISY";
    std::printf(
        "%-8s %6zu%s %11.0f %21s %6s %7.2f %13s %5.2f %6.1fus %6.1fus %6.1fus %7s %7s %7s  %s\n",
        parallelism_name(p.parallelism), p.threads, p.oversubscribed ? "*" : " ", p.median, range,
        spread, p.speedup, srange, p.speedup / double(p.threads),
        1e6 * p.times.forward_backward / steps, 1e6 * p.times.reduce_update / steps,
        1e6 * p.times.waiting() / steps, mb(p.engine).c_str(), mb(p.rss).c_str(),
        peak_resettable ? mb(p.peak_rss).c_str() : "-", flags.c_str());
  }
  std::printf(
      "\nspeedup: median over repeats of samples/s / the same strategy's 1-thread window of the "
      "same repeat; eff = speedup / threads;\ntime split per step, of the window closest to the "
      "median: fwd+bwd and red+upd are the mean busy time\nof the active workers, wait = step "
      "wall time - both;\n* = more threads "
      "than the %zu cores (oversubscribed); NOISY = (max - min) / median of samples/s > %.0f%% "
      "(kept, not hidden);\neng MB = memory the engine allocated; RSS/peak MB = process resident "
      "set after / at peak during the point's windows\n(includes heap kept from earlier "
      "points).\n",
      cores, 100 * threshold);

  std::printf("load average (1, 5, 15 min): %s before the sweep, %s after it\n", load_start.c_str(),
              load_end.c_str());

  std::printf(
      "\nAmdahl fit S(n) = 1 / (f + (1 - f) / n), least squares on 1/S(n) (the normalised step "
      "time) over each strategy's\nnon-oversubscribed points with n > 1:\n");
  for (Parallelism s : strategies) {
    const AmdahlFit& f = fit_of(s);
    if (!f.valid) {
      std::printf("  %-6s no fit: no point with more than one thread\n", parallelism_name(s));
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
                parallelism_name(s), f.serial_fraction, used.c_str(),
                f.oversubscribed_included ? ", oversubscribed: no other points" : "",
                f.rms_residual, limit);
    std::printf("  %-6s PROJECTION from the fit (not measured): speedup", "");
    for (std::size_t c : kProjectionCores)
      std::printf("  %.2fx at %zu cores", amdahl_speedup(f.serial_fraction, double(c)), c);
    std::printf("\n");
  }
  if (cores <= 2)
    std::printf(
        "  (with %zu cores the fit rests on very few points: treat the projection as a rough "
        "bound)\n",
        cores);

  // --- files -------------------------------------------------------------------------------
  if (!csv_path.empty()) {
    std::string layers;
    for (std::size_t w : ref.widths) {
      if (!layers.empty()) layers += '-';
      layers += std::to_string(w);
    }
    std::string csv =
        "model,layers,batch,parallelism,backend,gemm,threads,cores,oversubscribed,repeats,"
        "samples_per_s,samples_per_s_min,samples_per_s_max,spread,noisy,us_per_step,speedup,"
        "speedup_min,speedup_max,efficiency,speedup_vs_data1,workers,fwd_bwd_us,"
        "reduce_update_us,wait_us,engine_bytes,rss_bytes,peak_rss_bytes,amdahl_serial_fraction,"
        "cpu_model\n";
    for (const Point& p : points) {
      const double steps = double(std::max<std::uint64_t>(p.times.steps, 1));
      const AmdahlFit& f = fit_of(p.parallelism);
      const std::vector<std::string> fields = {csv_field(ref.name),
                                               layers,
                                               std::to_string(ref.batch),
                                               parallelism_name(p.parallelism),
                                               parallel::backend_name(base.backend),
                                               csv_field(p.gemm),
                                               std::to_string(p.threads),
                                               std::to_string(cores),
                                               p.oversubscribed ? "1" : "0",
                                               std::to_string(repeats),
                                               csv_number(p.median),
                                               csv_number(p.min),
                                               csv_number(p.max),
                                               csv_number(p.spread),
                                               p.noisy ? "1" : "0",
                                               csv_number(1e6 * double(ref.batch) / p.median),
                                               csv_number(p.speedup),
                                               csv_number(p.speedup_min),
                                               csv_number(p.speedup_max),
                                               csv_number(p.speedup / double(p.threads)),
                                               csv_number(p.vs_data1),
                                               std::to_string(p.workers),
                                               csv_number(1e6 * p.times.forward_backward / steps),
                                               csv_number(1e6 * p.times.reduce_update / steps),
                                               csv_number(1e6 * p.times.waiting() / steps),
                                               std::to_string(p.engine),
                                               std::to_string(p.rss),
                                               peak_resettable ? std::to_string(p.peak_rss) : "",
                                               csv_number(f.serial_fraction),
                                               csv_field(cpu)};
      for (std::size_t i = 0; i < fields.size(); ++i) csv += (i ? "," : "") + fields[i];
      csv += "\n";
    }

    json jpoints = json::array();
    for (const Point& p : points) {
      const double steps = double(std::max<std::uint64_t>(p.times.steps, 1));
      jpoints.push_back({{"parallelism", parallelism_name(p.parallelism)},
                         {"threads", p.threads},
                         {"oversubscribed", p.oversubscribed},
                         {"gemm", p.gemm},
                         {"workers", p.workers},
                         {"windows_samples_per_s", p.samples_per_s},
                         {"samples_per_s", number(p.median)},
                         {"samples_per_s_min", number(p.min)},
                         {"samples_per_s_max", number(p.max)},
                         {"spread", number(p.spread)},
                         {"noisy", p.noisy},
                         {"us_per_step", number(1e6 * double(ref.batch) / p.median)},
                         {"speedup", number(p.speedup)},
                         {"speedup_min", number(p.speedup_min)},
                         {"speedup_max", number(p.speedup_max)},
                         {"efficiency", number(p.speedup / double(p.threads))},
                         {"speedup_vs_data1", number(p.vs_data1)},
                         {"time_split_us_per_step",
                          {{"forward_backward", number(1e6 * p.times.forward_backward / steps)},
                           {"reduce_update", number(1e6 * p.times.reduce_update / steps)},
                           {"wait", number(1e6 * p.times.waiting() / steps)},
                           {"steps_timed", p.times.steps}}},
                         {"memory_bytes",
                          {{"engine", p.engine},
                           {"rss", p.rss},
                           {"peak_rss", peak_resettable ? json(p.peak_rss) : json(nullptr)}}}});
    }
    json jfits = json::object();
    for (Parallelism s : strategies) {
      const AmdahlFit& f = fit_of(s);
      json proj = json::array();
      if (f.valid)
        for (std::size_t c : kProjectionCores)
          proj.push_back({{"cores", c}, {"speedup", amdahl_speedup(f.serial_fraction, double(c))}});
      jfits[parallelism_name(s)] = {
          {"model", "S(n) = 1 / (f + (1 - f) / n)"},
          {"method",
           "least squares on 1/S(n) (normalised step time), f clamped to [0, 1], over the "
           "strategy's points with 1 < n <= cores (all points with n > 1 only when there are "
           "none)"},
          {"threads_used", f.threads_used},
          {"oversubscribed_included", f.oversubscribed_included},
          {"serial_fraction", number(f.serial_fraction)},
          {"rms_residual_speedup", number(f.rms_residual)},
          {"projection",
           {{"label", "PROJECTION extrapolated from the Amdahl fit, not measured"},
            {"points", proj}}}};
    }
    std::string argv_text;
    for (int i = 0; i < argc; ++i) {
      if (i) argv_text += ' ';
      argv_text += argv[i];
    }
    const json doc = {
        {"tool", "dptrain scale"},
        {"version", version_string},
        {"timestamp", iso_timestamp()},
        {"command", "dptrain " + argv_text},
        {"machine",
         {{"cpu_model", cpu},
          {"cores", cores},
          {"load_average_start", load_start},
          {"load_average_end", load_end}}},
        {"model",
         {{"name", ref.name},
          {"what", ref.what},
          {"layers", ref.widths},
          {"batch", ref.batch},
          {"loss", loss_name(ref.loss)},
          {"optimizer", optimizer_name(ref.optimizer)},
          {"flops_per_sample", points.front().model->flops_per_sample()}}},
        {"settings",
         {{"backend", parallel::backend_name(base.backend)},
          {"deterministic", base.deterministic},
          {"repeats", repeats},
          {"seconds", seconds},
          {"warmup_seconds", warmup},
          {"noise_threshold", threshold},
          {"order", "points interleaved within each repeat; one worker pool alive at a time"},
          {"speedup",
           "median over repeats of the ratio to the same strategy's 1-thread window "
           "of the same repeat"},
          {"time_split",
           "per step, of the window whose samples/s is closest to the median; "
           "forward_backward and reduce_update are the mean busy time of the active "
           "workers, wait = step wall time - both"}}},
        {"points", jpoints},
        {"amdahl", jfits}};
    write_file_atomically(csv_path, csv);
    write_file_atomically(json_path, doc.dump(2) + "\n");
    std::printf("\nwrote %s and %s\n", csv_path.c_str(), json_path.c_str());
  }
  return 0;
}

}  // namespace dptrain::cli
