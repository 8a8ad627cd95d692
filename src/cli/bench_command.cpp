// dptrain bench: steady-state training throughput of the reference models for a list of thread
// counts, measured in one run with the runs interleaved, so every ratio it prints (speedup,
// fraction of the machine's SGEMM rate) compares figures taken side by side.
//
// --json PATH writes the same figures machine-readably. --quality adds a fixed-step training
// check per model on learnable data (fixed initial parameters, fixed cyclic row order, one
// thread) and reports the final loss and metric; --export DIR writes that check's data, initial
// parameters and hyper-parameters so another framework can replay it exactly
// (scripts/bench_pytorch.py --replay DIR; scripts/compare-pytorch.sh).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_common.hpp"
#include "commands.hpp"
#include "dptrain/dptrain.hpp"
#include "options.hpp"

namespace dptrain::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Point {
  std::size_t threads;
  TrainConfig config;
  std::unique_ptr<Model<float>> model;
  std::vector<double> samples_per_s;
  PhaseTimes times;
  std::size_t workers = 1, extra_bytes = 0, engine = 0;
};

/// Number for JSON: null for NaN/Inf.
json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

std::string bytes_of(const void* data, std::size_t bytes) {
  return std::string(static_cast<const char*>(data), bytes);
}

/// Writes the replay files of one quality check into `dir` and returns its manifest entry.
/// Data files are shared between models that use the same data (A and B).
json export_replay(const std::string& dir, const Reference& ref, const Dataset& data,
                   const Model<float>& model, const TrainConfig& config, std::size_t steps,
                   std::set<std::string>& written) {
  namespace fs = std::filesystem;
  const std::string data_key =
      ref.quality_data + (ref.quality_rows ? "-" + std::to_string(data.rows) : "");
  json d = {{"spec", ref.quality_data},          {"rows", data.rows},
            {"features", data.features},         {"classes", data.classes},
            {"target_width", data.target_width}, {"x", data_key + ".x.f32"}};
  auto write = [&](const std::string& name, const std::string& content) {
    if (written.insert(name).second)
      write_file_atomically((fs::path(dir) / name).string(), content);
  };
  write(data_key + ".x.f32", bytes_of(data.x.data(), data.x.size() * sizeof(float)));
  if (data.classification()) {
    d["labels"] = data_key + ".labels.i32";
    write(data_key + ".labels.i32",
          bytes_of(data.labels.data(), data.labels.size() * sizeof(std::int32_t)));
  } else {
    d["targets"] = data_key + ".targets.f32";
    write(data_key + ".targets.f32",
          bytes_of(data.targets.data(), data.targets.size() * sizeof(float)));
  }
  json init = json::array();
  const auto params = model.parameters();
  std::size_t i = 0;
  for (const DenseLayout& l : model.dense_layers()) {
    const std::string w = ref.name + ".w" + std::to_string(i) + ".f32";
    const std::string b = ref.name + ".b" + std::to_string(i) + ".f32";
    write(w, bytes_of(params.data() + l.weight_offset, l.in * l.out * sizeof(float)));
    write(b, bytes_of(params.data() + l.bias_offset, l.out * sizeof(float)));
    init.push_back({{"in", l.in},
                    {"out", l.out},
                    {"activation", activation_name(l.activation)},
                    {"weight", w},
                    {"weight_layout", "in x out, row-major"},
                    {"bias", b}});
    ++i;
  }
  const OptimizerConfig& o = config.optimizer;
  return {{"name", ref.name},
          {"what", ref.what},
          {"layers", ref.widths},
          {"hidden", activation_name(ref.hidden)},
          {"output", activation_name(ref.output)},
          {"loss", loss_name(ref.loss)},
          {"loss_note",
           "ce: mean softmax cross-entropy; bce: mean BCE on logits over rows and "
           "outputs; mse: 0.5 x mean squared error"},
          {"optimizer", optimizer_name(o.kind)},
          {"lr", o.learning_rate},
          {"momentum", o.momentum},
          {"beta1", o.beta1},
          {"beta2", o.beta2},
          {"epsilon", o.effective_epsilon()},
          {"batch", config.batch_size},
          {"steps", steps},
          {"order", "step s trains rows (s * batch + j) mod rows, j < batch"},
          {"data", d},
          {"init", init}};
}

/// Trains a fresh copy of `ref` for `steps` steps on its learnable data set and evaluates the
/// final parameters on the same rows.
json quality_check(const Reference& ref, const TrainConfig& base, std::size_t steps,
                   const std::string& export_dir, std::set<std::string>& written, json& manifest) {
  json q = {{"model", ref.name}, {"data", ref.quality_data}, {"steps", steps}, {"threads", 1}};
  Dataset data;
  try {
    data = load_dataset(ref.quality_data, 42);
  } catch (const Error& e) {
    q["skipped"] = e.what();
    return q;
  }
  if (ref.quality_rows) data = data.head(ref.quality_rows);
  q["rows"] = data.rows;
  TrainConfig c = reference_config(ref, base, 1);
  c.parallelism = Parallelism::data;
  Model<float> model(ModelSpec::mlp(ref.widths, ref.hidden, ref.output));
  model.initialize(42);
  json entry;
  if (!export_dir.empty()) entry = export_replay(export_dir, ref, data, model, c, steps, written);
  Trainer trainer(model, c);
  trainer.check_data(data);
  std::vector<std::uint32_t> rows(c.batch_size);
  const auto t0 = Clock::now();
  for (std::size_t s = 0; s < steps; ++s) {
    for (std::size_t j = 0; j < rows.size(); ++j)
      rows[j] = std::uint32_t((s * c.batch_size + j) % data.rows);
    trainer.step(data, rows);
  }
  q["seconds"] = std::chrono::duration<double>(Clock::now() - t0).count();
  const Evaluation e = trainer.evaluate(data);
  q["loss"] = number(e.loss);
  q["metric"] = number(e.metric());
  q["metric_name"] = e.metric_name();
  if (!export_dir.empty()) {
    entry["dptrain"] = {
        {"loss", q["loss"]}, {"metric", q["metric"]}, {"metric_name", e.metric_name()}};
    manifest["models"].push_back(entry);
  }
  return q;
}

}  // namespace

int bench_command(int argc, char** argv) {
  cxxopts::Options options("dptrain bench",
                           "Measure steady-state training throughput and thread scaling of the "
                           "reference models (random data; loading excluded).");
  options.add_options()("models", "Reference models: A, B, C, xor, square (comma-separated)",
                        cxxopts::value<std::string>()->default_value("A,B,C"))(
      "seconds", "Seconds per timed window", cxxopts::value<std::string>()->default_value("1"))(
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
      cxxopts::value<std::string>())("h,help", "Show this help");
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
  const std::vector<const Reference*> chosen =
      parse_reference_list(r["models"].as<std::string>(), "models");
  const std::string json_path = r.count("json") ? r["json"].as<std::string>() : "";
  if (r.count("json")) check_output_path(json_path, "json");
  const std::string export_dir = r.count("export") ? r["export"].as<std::string>() : "";
  if (r.count("export")) {
    if (export_dir.empty()) throw Error("--export: empty folder name");
    std::error_code ec;
    std::filesystem::create_directories(export_dir, ec);
    if (ec || !std::filesystem::is_directory(export_dir))
      throw Error("--export: cannot create folder '" + export_dir + "'" +
                  (ec ? ": " + ec.message() : ""));
  }
  const bool quality = r.count("quality") || r.count("quality-steps") || r.count("export");
  const std::size_t quality_steps =
      r.count("quality-steps")
          ? parse_count(r["quality-steps"].as<std::string>(), "quality-steps", 1)
          : 0;

  TrainConfig base;
  base.threads = 1;
  read_engine_options(r, base, false);  // backend, gemm, parallelism
  // Under MPI every rank runs the benchmark in lockstep; rank 0 alone prints and writes.
  Communicator* comm = job_communicator();
  base.communicator = comm;
  const bool leader = !comm || comm->rank() == 0;
  if (comm && quality) throw Error("--quality and --export run on one process only, not under MPI");
  if (!leader && !std::freopen("/dev/null", "w", stdout)) throw Error("cannot silence rank output");
  const std::size_t cores = parallel::hardware_threads();
  const std::string cpu = cpu_model();

  std::printf("dptrain %s bench on %s, %zu cores available\n", version_string, cpu.c_str(), cores);
  if (comm)
    std::printf(
        "MPI: %d ranks; batch split across ranks, then threads; 'mpi' = gradient exchange\n",
        comm->size());
  std::printf("GEMM: %s; backend %s; parallelism %s%s\n",
              gemm_kernel_description(base.gemm).c_str(), parallel::backend_name(base.backend),
              parallelism_name(base.parallelism), base.deterministic ? "; deterministic" : "");
  const double sgemm_rate = sgemm_gflops(base.gemm, 256, 1024, 1024, std::min(1.0, seconds));
  std::printf("single-thread SGEMM rate (256x1024 * 1024x1024): %.1f GFLOP/s\n\n", sgemm_rate);

  json results = json::array();
  std::printf("%-6s %7s %12s %20s %10s %8s %6s %7s %9s %9s %9s %9s %12s\n", "model", "threads",
              "samples/s", "[min - max]", "us/step", "speedup", "eff", "GFLOP/s", "fwd+bwd",
              "red+upd", "mpi", "wait", "mem/worker");
  for (const Reference* ref : chosen) {
    const Dataset data = bench_data(*ref, std::max<std::size_t>(ref->batch * 32, 4096));
    StepRunner runner(data, ref->batch);
    std::vector<Point> points;
    for (std::size_t n : thread_list) {
      Point p;
      p.threads = n;
      p.config = reference_config(*ref, base, n);
      p.model =
          std::make_unique<Model<float>>(ModelSpec::mlp(ref->widths, ref->hidden, ref->output));
      p.model->initialize(42);
      points.push_back(std::move(p));
    }
    // One trainer (and so one worker pool) alive at a time: oneTBB applies the smallest
    // thread limit of all live pools. Each window builds it, warms up, then times.
    auto window = [&](Point& p) {
      Trainer t(*p.model, p.config);
      runner.run_for(t, std::max(0.1, 0.25 * seconds));  // warm-up: pages, caches, wake-up
      t.set_timing(true);
      p.samples_per_s.push_back(runner.run_for(t, seconds));
      const PhaseTimes& pt = t.times();
      p.times.steps += pt.steps;
      p.times.wall += pt.wall;
      p.times.forward_backward += pt.forward_backward;
      p.times.reduce_update += pt.reduce_update;
      p.times.communication += pt.communication;
      p.workers = t.workers_for(ref->batch);
      // intra runs one worker whatever --threads says: no extra worker memory.
      p.extra_bytes = p.threads > 1 && p.config.parallelism == Parallelism::data
                          ? t.workspace_bytes(1) + t.gradient_buffer_bytes()
                          : 0;
      p.engine = engine_bytes(t, *p.model);
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
      std::printf(
          "%-6s %5zu%s %12.0f %20s %10.1f %8.2f %6.2f %7.1f %8.1fus %8.1fus %8.1fus %8.1fus %12s\n",
          ref->name.c_str(), p.threads, p.threads > cores ? "*" : " ", med, range,
          1e6 * double(ref->batch) / med, speedup, speedup / double(p.threads),
          flops_per_sample * med / 1e9, 1e6 * p.times.forward_backward / steps,
          1e6 * p.times.reduce_update / steps, 1e6 * p.times.communication / steps,
          1e6 * p.times.waiting() / steps, mem);
      results.push_back({{"model", ref->name},
                         {"what", ref->what},
                         {"layers", ref->widths},
                         {"batch", ref->batch},
                         {"threads", p.threads},
                         {"oversubscribed", p.threads > cores},
                         {"samples_per_s", number(med)},
                         {"samples_per_s_min", number(*lo)},
                         {"samples_per_s_max", number(*hi)},
                         {"windows_samples_per_s", p.samples_per_s},
                         {"us_per_step", number(1e6 * double(ref->batch) / med)},
                         {"speedup", number(speedup)},
                         {"efficiency", number(speedup / double(p.threads))},
                         {"gflops", number(flops_per_sample * med / 1e9)},
                         {"fwd_bwd_us", number(1e6 * p.times.forward_backward / steps)},
                         {"reduce_update_us", number(1e6 * p.times.reduce_update / steps)},
                         {"wait_us", number(1e6 * p.times.waiting() / steps)},
                         {"workers", p.workers},
                         {"extra_bytes_per_worker", extra},
                         {"engine_bytes", p.engine}});
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

  json quality_results = json::array();
  if (quality) {
    std::printf(
        "\nquality check: fixed initial parameters (seed 42), rows in fixed cyclic order, "
        "1 thread; loss and metric of the final parameters on the training rows\n");
    std::printf("%-6s %-14s %6s %7s %10s %10s %8s\n", "model", "data", "rows", "steps", "loss",
                "metric", "seconds");
    json manifest = {{"format", "dptrain-replay-1"},
                     {"dptrain_version", version_string},
                     {"models", json::array()}};
    std::set<std::string> written;
    for (const Reference* ref : chosen) {
      const std::size_t steps = quality_steps ? quality_steps : ref->quality_steps;
      json q = quality_check(*ref, base, steps, export_dir, written, manifest);
      if (q.contains("skipped")) {
        std::printf("%-6s %-14s skipped: %s\n", ref->name.c_str(), ref->quality_data.c_str(),
                    q["skipped"].get<std::string>().c_str());
      } else {
        std::printf("%-6s %-14s %6zu %7zu %10.5f %6s %.4f %7.2fs\n", ref->name.c_str(),
                    ref->quality_data.c_str(), q["rows"].get<std::size_t>(), steps,
                    q["loss"].is_null() ? NAN : q["loss"].get<double>(),
                    q["metric_name"].get<std::string>().c_str(),
                    q["metric"].is_null() ? NAN : q["metric"].get<double>(),
                    q["seconds"].get<double>());
      }
      quality_results.push_back(std::move(q));
    }
    if (!export_dir.empty()) {
      write_file_atomically((std::filesystem::path(export_dir) / "manifest.json").string(),
                            manifest.dump(2) + "\n");
      std::printf("replay files written to %s (manifest.json)\n", export_dir.c_str());
    }
  }

  if (!json_path.empty()) {
    json doc = {{"tool", "dptrain bench"},
                {"version", version_string},
                {"timestamp", iso_timestamp()},
                {"cpu_model", cpu},
                {"cores", cores},
                {"gemm", gemm_kernel_description(base.gemm)},
                {"backend", parallel::backend_name(base.backend)},
                {"parallelism", parallelism_name(base.parallelism)},
                {"deterministic", base.deterministic},
                {"sgemm_gflops", number(sgemm_rate)},
                {"seconds", seconds},
                {"repeats", repeats},
                {"results", results}};
    if (quality) doc["quality"] = quality_results;
    if (leader) write_file_atomically(json_path, doc.dump(2) + "\n");
    std::printf("wrote %s\n", json_path.c_str());
  }
  return 0;
}

}  // namespace dptrain::cli
