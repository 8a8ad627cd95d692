// --plan: parsing, and the automatic choice from the cost model (plan_choice.hpp).
#include "plan_choice.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"
#include "measure.hpp"
#include "projection.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

namespace {

/// "4x2" -> {4, 2}; {0, 0} when `text` is not two whole numbers >= 1 around an 'x'.
std::pair<std::size_t, std::size_t> parse_groups(const std::string& text) {
  const std::size_t x = text.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == text.size()) return {0, 0};
  std::size_t g = 0, t = 0;
  const char* end = text.data() + text.size();
  const auto a = std::from_chars(text.data(), text.data() + x, g);
  const auto b = std::from_chars(text.data() + x + 1, end, t);
  if (a.ec != std::errc() || a.ptr != text.data() + x || b.ec != std::errc() || b.ptr != end ||
      g == 0 || t == 0)
    return {0, 0};
  return {g, t};
}

}  // namespace

void add_plan_option(cxxopts::Options& options) {
  options.add_options("Engine")(
      "plan",
      "How a step uses the threads: data (every thread a replica on its batch shard), intra "
      "(one replica, each product split over all threads), GxT (G replica groups of T threads "
      "each splitting its products, e.g. 4x2 = 8 threads), or auto (the fastest of the plans "
      "the cost model shortlists, timed at start-up for this model: about a second; its pick, "
      "and so the bits, may vary between runs). Replaces --parallelism",
      cxxopts::value<std::string>());
}

PlanRequest read_plan_option(const cxxopts::ParseResult& r, EngineConfig& c, bool read_threads) {
  if (!r.count("plan")) return {};
  if (r.count("parallelism"))
    throw Error(
        "--plan and --parallelism: give one (--plan data|intra is --parallelism data|intra)");
  const std::string text = r["plan"].as<std::string>();
  if (text == "auto") {
    if (r.count("weight-grads"))
      throw Error(
          "--plan auto chooses the weight gradients too: drop --weight-grads, or name "
          "the plan (data, intra or GxT)");
    return {true, 0};
  }
  c.group_threads = 1;
  if (text == "data" || text == "intra") {
    c.parallelism = parse_parallelism(text);
    return {};
  }
  const auto [groups, group_threads] = parse_groups(text);
  if (groups == 0)
    throw Error(
        "--plan: expected auto, data, intra or GxT (G replica groups of T threads, e.g. "
        "4x2), got '" +
        text + "'");
  if (groups > kMaxThreads / group_threads)
    throw Error("--plan " + text + ": more than " + std::to_string(kMaxThreads) + " threads");
  c.parallelism = Parallelism::data;
  c.group_threads = group_threads;
  const std::size_t threads = groups * group_threads;
  if (read_threads) {
    if (r.count("threads") && c.threads != threads)
      throw Error("--plan " + text + " runs " + std::to_string(threads) +
                  " threads, but --threads says " + r["threads"].as<std::string>() +
                  (r["threads"].as<std::string>() != std::to_string(c.threads)
                       ? " (" + std::to_string(c.threads) + ")"
                       : "") +
                  ": drop --threads or make them agree");
    c.threads = threads;
  }
  return {false, threads};
}

std::string plan_text(const EngineConfig& c) {
  if (c.parallelism == Parallelism::intra) return "intra";
  if (c.group_threads <= 1) return "data";
  return std::to_string(c.threads / c.group_threads) + "x" + std::to_string(c.group_threads);
}

namespace {

/// Sets `config` to run the plan of `p` at p.cores threads.
void apply(const StepPrediction& p, TrainConfig& config) {
  config.parallelism = p.plan == PlanKind::intra ? Parallelism::intra : Parallelism::data;
  config.group_threads = p.plan == PlanKind::intra ? 1 : p.group_threads;
  config.weight_gradients =
      p.plan == PlanKind::buffers ? WeightGradients::buffers : WeightGradients::automatic;
}

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

}  // namespace

std::string choose_plan(const std::vector<std::size_t>& widths, TrainConfig& config) {
  config.group_threads = 1;
  config.parallelism = Parallelism::data;
  const char* why = config.threads == 1                   ? "one thread"
                    : config.deterministic                ? "--deterministic promises one T only"
                    : config.precision != Precision::fp32 ? "bf16 runs the data plan only"
                    : config.communicator                 ? "several ranks exchange whole gradients"
                                                          : nullptr;
  if (why) return std::string("plan auto: data (") + why + ")";
  const auto t0 = std::chrono::steady_clock::now();
  Reference ref = custom_reference(widths, config.batch_size);
  ref.optimizer = config.optimizer.kind;
  ref.lr = config.optimizer.learning_rate;
  const Calibration c = calibrate(ref, config, config.threads);
  // The cost model shortlists; a few steps of each shortlisted plan decide (the model's
  // split-product terms can be off by 30% on a loaded or small machine: README, scaling).
  const std::vector<StepPrediction> shortlist = candidates(c, config.threads);
  std::vector<Point> points;
  for (const StepPrediction& p : shortlist) {
    points.push_back(make_point(ref, config, config.threads, Parallelism::data));
    apply(p, points.back().config);
  }
  measure_interleaved(ref, points, WindowSettings{0.1, 0.05, 3});
  std::size_t best = 0;
  for (std::size_t i = 1; i < points.size(); ++i)
    if (window_stats(points[i]).median > window_stats(points[best]).median) best = i;
  apply(shortlist[best], config);
  std::string line = "plan auto: " + plan_label(shortlist[best]) +
                     " (us per step, measured / "
                     "predicted:";
  for (std::size_t i = 0; i < points.size(); ++i) {
    char part[96];
    std::snprintf(
        part, sizeof part, "%s %s %.0f / %.0f", i ? ";" : "", plan_label(shortlist[i]).c_str(),
        1e6 * double(ref.batch) / window_stats(points[i]).median, shortlist[i].total_us());
    line += part;
  }
  char tail[96];
  std::snprintf(tail, sizeof tail, "; %.2f s to calibrate and measure on %zu threads)",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                config.threads);
  return line + tail;
}

}  // namespace dptrain::cli
