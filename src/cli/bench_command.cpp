// dptrain bench: steady-state training throughput of the reference models for a list of thread
// counts, measured in one run with the runs interleaved, so every ratio it prints (speedup,
// fraction of the machine's SGEMM rate) compares figures taken side by side.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

using Clock = std::chrono::steady_clock;

struct Reference {
  std::string name;
  std::vector<std::size_t> widths;
  Activation hidden, output;
  Loss loss;
  OptimizerKind optimizer;
  double lr;
  std::size_t batch;
  std::string what;
};

const std::vector<Reference>& references() {
  static const std::vector<Reference> refs = {
      {"A",
       {784, 128, 10},
       Activation::relu,
       Activation::softmax,
       Loss::ce,
       OptimizerKind::adam,
       1e-3,
       128,
       "784-128-10 relu/softmax CE, Adam, batch 128"},
      {"B",
       {784, 1024, 1024, 10},
       Activation::relu,
       Activation::softmax,
       Loss::ce,
       OptimizerKind::momentum,
       1e-2,
       256,
       "784-1024-1024-10 relu/softmax CE, SGD momentum, batch 256"},
      {"C",
       {8, 10, 8, 1},
       Activation::relu,
       Activation::sigmoid,
       Loss::bce,
       OptimizerKind::adam,
       1e-3,
       32,
       "8-10-8-1 relu/sigmoid BCE, Adam, batch 32"},
      {"xor",
       {2, 3, 1},
       Activation::sigmoid,
       Activation::sigmoid,
       Loss::bce,
       OptimizerKind::sgd,
       0.5,
       4,
       "2-3-1 sigmoid BCE, SGD, batch 4"},
      {"square",
       {1, 10, 1},
       Activation::relu,
       Activation::identity,
       Loss::mse,
       OptimizerKind::adam,
       1e-2,
       32,
       "1-10-1 relu MSE, Adam, batch 32"},
  };
  return refs;
}

/// Random inputs in [0, 1) and random targets of the model's shape: throughput does not depend
/// on the values, and loading is excluded from the measurement.
Dataset bench_data(const Reference& ref, std::size_t rows) {
  Dataset d;
  d.source = "bench-" + ref.name;
  d.rows = rows;
  d.features = ref.widths.front();
  Rng rng(1234);
  d.x.resize(rows * d.features);
  for (float& v : d.x) v = float(rng.uniform());
  const std::size_t outputs = ref.widths.back();
  if (ref.loss == Loss::mse) {
    d.target_width = outputs;
    d.targets.resize(rows * outputs);
    for (float& v : d.targets) v = float(rng.uniform());
  } else {
    d.classes = outputs == 1 ? 2 : outputs;
    d.labels.resize(rows);
    for (auto& l : d.labels) l = std::int32_t(rng.below(d.classes));
  }
  return d;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Single-thread SGEMM rate of (m x k)(k x n), the best of several timed rounds.
double sgemm_gflops(GemmBackend backend, std::size_t m, std::size_t n, std::size_t k,
                    double seconds) {
  AlignedBuffer<float> a(m * k), b(k * n), c(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) * 0.1f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) * 0.1f;
  double best = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = Clock::now();
    std::size_t reps = 0;
    do {
      gemm<float>(backend, Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n,
                  0.0f, c.data(), n);
      ++reps;
    } while (Clock::now() - t0 < std::chrono::milliseconds(50));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * double(m) * double(n) * double(k) * double(reps) / s / 1e9);
  } while (Clock::now() < end);
  return best;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

struct Point {
  std::size_t threads;
  TrainConfig config;
  std::unique_ptr<Model<float>> model;
  std::vector<double> samples_per_s;
  PhaseTimes times;
  std::size_t workers = 1, extra_bytes = 0;
};

}  // namespace

int bench_command(int argc, char** argv) {
  cxxopts::Options options("dptrain bench",
                           "Measure steady-state training throughput and thread scaling of the "
                           "reference models (random data; loading excluded).");
  options.add_options()("models", "Reference models: A, B, C, xor, square (comma-separated)",
                        cxxopts::value<std::string>()->default_value("A,B,C"))(
      "seconds", "Seconds per timed window", cxxopts::value<std::string>()->default_value("1"))(
      "repeats", "Timed windows per point (median, min, max reported)",
      cxxopts::value<std::string>()->default_value("5"))("h,help", "Show this help");
  add_engine_options(options);
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  reject_unmatched(r);
  // Here --threads is a list: one measured point per entry.
  const std::vector<std::size_t> thread_list =
      parse_size_list(r["threads"].as<std::string>(), "threads");
  const double seconds = parse_real(r["seconds"].as<std::string>(), "seconds");
  if (!(seconds > 0)) throw Error("--seconds must be positive");
  const std::size_t repeats = parse_count(r["repeats"].as<std::string>(), "repeats", 1);

  std::vector<const Reference*> chosen;
  {
    std::string list = r["models"].as<std::string>();
    std::size_t start = 0;
    while (start <= list.size()) {
      const std::size_t comma = std::min(list.find(',', start), list.size());
      const std::string name = list.substr(start, comma - start);
      const Reference* found = nullptr;
      for (const Reference& ref : references())
        if (ref.name == name) found = &ref;
      if (!found)
        throw Error("--models: unknown model '" + name + "' (expected A, B, C, xor, square)");
      chosen.push_back(found);
      start = comma + 1;
    }
  }

  TrainConfig base;
  base.threads = 1;
  read_engine_options(r, base, false);  // backend, gemm, parallelism
  const std::size_t cores = parallel::hardware_threads();

  std::printf("dptrain %s bench on %s, %zu cores available\n", version_string, cpu_model().c_str(),
              cores);
  std::printf("GEMM: %s; backend %s; parallelism %s%s\n",
              gemm_kernel_description(base.gemm).c_str(), parallel::backend_name(base.backend),
              parallelism_name(base.parallelism), base.deterministic ? "; deterministic" : "");
  set_eigen_threads(1);
  const double sgemm_rate = sgemm_gflops(base.gemm, 256, 1024, 1024, std::min(1.0, seconds));
  std::printf("single-thread SGEMM rate (256x1024 * 1024x1024): %.1f GFLOP/s\n\n", sgemm_rate);

  std::printf("%-6s %7s %12s %20s %10s %8s %6s %7s %9s %9s %9s %12s\n", "model", "threads",
              "samples/s", "[min - max]", "us/step", "speedup", "eff", "GFLOP/s", "fwd+bwd",
              "red+upd", "wait", "mem/worker");
  for (const Reference* ref : chosen) {
    const Dataset data = bench_data(*ref, std::max<std::size_t>(ref->batch * 32, 4096));
    std::vector<std::uint32_t> order(data.rows);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = std::uint32_t(i);
    std::vector<Point> points;
    for (std::size_t n : thread_list) {
      TrainConfig c = base;
      c.threads = n;
      c.batch_size = ref->batch;
      c.loss = ref->loss;
      c.optimizer.kind = ref->optimizer;
      c.optimizer.learning_rate = ref->lr;
      Point p;
      p.threads = n;
      p.config = c;
      p.model =
          std::make_unique<Model<float>>(ModelSpec::mlp(ref->widths, ref->hidden, ref->output));
      p.model->initialize(42);
      points.push_back(std::move(p));
    }
    std::size_t cursor = 0;
    auto run_steps = [&](Trainer& t, double secs) {
      std::size_t steps = 0;
      const auto t0 = Clock::now();
      double elapsed = 0;
      do {
        if (cursor + ref->batch > order.size()) cursor = 0;
        t.step(data, std::span<const std::uint32_t>(order).subspan(cursor, ref->batch));
        cursor += ref->batch;
        ++steps;
        elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (elapsed < secs);
      return double(steps * ref->batch) / elapsed;
    };
    // One trainer (and so one worker pool) alive at a time: oneTBB applies the smallest
    // thread limit of all live pools. Each window builds it, warms up, then times.
    auto window = [&](Point& p) {
      Trainer t(*p.model, p.config);
      run_steps(t, std::max(0.1, 0.25 * seconds));  // warm-up: pages, caches, thread wake-up
      t.set_timing(true);
      p.samples_per_s.push_back(run_steps(t, seconds));
      const PhaseTimes& pt = t.times();
      p.times.steps += pt.steps;
      p.times.wall += pt.wall;
      p.times.forward_backward += pt.forward_backward;
      p.times.reduce_update += pt.reduce_update;
      p.workers = t.workers_for(ref->batch);
      p.extra_bytes = p.threads > 1 ? t.workspace_bytes(1) + t.gradient_buffer_bytes() : 0;
    };
    for (std::size_t rep = 0; rep < repeats; ++rep)
      for (Point& p : points) window(p);  // interleaved: drift hits all points alike

    const double base_rate = median(points.front().samples_per_s);
    const double flops_per_sample = 6.0 * double(points.front().model->trainable_count());
    for (Point& p : points) {
      const double med = median(p.samples_per_s);
      const auto [lo, hi] = std::minmax_element(p.samples_per_s.begin(), p.samples_per_s.end());
      // Speedup: median over repeats of the ratio to the first point's window of the same
      // repeat. Windows of one repeat are adjacent in time, so slow drifts of a shared machine
      // cancel in each ratio.
      std::vector<double> ratios;
      for (std::size_t rep = 0; rep < p.samples_per_s.size(); ++rep)
        ratios.push_back(p.samples_per_s[rep] / points.front().samples_per_s[rep]);
      const double speedup = median(ratios);
      const double steps = double(std::max<std::uint64_t>(p.times.steps, 1));
      const std::size_t extra = p.extra_bytes;
      char range[64], mem[32];
      std::snprintf(range, sizeof range, "[%.0f - %.0f]", *lo, *hi);
      std::snprintf(mem, sizeof mem, "%.2f MB", double(extra) / 1e6);
      std::printf("%-6s %5zu%s %12.0f %20s %10.1f %8.2f %6.2f %7.1f %8.1fus %8.1fus %8.1fus %12s\n",
                  ref->name.c_str(), p.threads, p.threads > cores ? "*" : " ", med, range,
                  1e6 * double(ref->batch) / med, speedup, speedup / double(p.threads),
                  flops_per_sample * med / 1e9, 1e6 * p.times.forward_backward / steps,
                  1e6 * p.times.reduce_update / steps, 1e6 * p.times.waiting() / steps, mem);
    }
    const double gf = flops_per_sample * base_rate / 1e9;
    std::printf(
        "%-6s %s; %zu worker(s) per step at %zu threads; %.1f GFLOP/s at %zu thread(s) = "
        "%.0f%% of the SGEMM rate\n\n",
        ref->name.c_str(), ref->what.c_str(), points.back().workers, points.back().threads, gf,
        points.front().threads, 100.0 * gf / sgemm_rate);
  }
  std::printf(
      "GFLOP/s counts 6 x parameters per sample (it includes the input layer's input "
      "gradient, which dptrain never computes,\nso a model can exceed 100%% of the SGEMM "
      "rate); * = more threads than cores (oversubscribed); eff = speedup / threads;\n"
      "mem/worker = workspace + gradient buffer an extra worker adds.\n");
  return 0;
}

}  // namespace dptrain::cli
