// dptrain tune: (re)measures the `--gemm auto` choice (Note [Kernel wisdom] in
// kernel_choice.hpp) for reference or custom models at the given thread counts, prints every
// timing, and refreshes the wisdom file. Also the train command's resolution of `--gemm auto`
// and the text that names a run's kernels (tune_command.hpp).
#include "tune_command.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "options.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

namespace {

void print_note(const std::string& note) {
  std::fprintf(stderr, "dptrain: %s\n", note.c_str());
}

cxxopts::Options tune_options() {
  cxxopts::Options options(
      "dptrain tune",
      "Measure which GEMM kernel runs each product shape of a model fastest on this machine, "
      "and owner vs buffers weight gradients on whole steps, for --gemm auto; refreshes the "
      "cached choice ($XDG_CACHE_HOME/dptrain or ~/.cache/dptrain; Note [Kernel wisdom]).");
  options.add_options()("models", "Reference models: A, B, C, xor, square (comma-separated)",
                        cxxopts::value<std::string>()->default_value("A,B,C"))(
      "layers", "Custom widths input,hidden...,output instead of --models (batch 128)",
      cxxopts::value<std::string>())("batch-size", "Batch size (default: the model's)",
                                     cxxopts::value<std::string>())("h,help", "Show this help");
  add_engine_options(options);
  return options;
}

/// One model at one thread count: measured again, printed, kept in the wisdom.
void tune_one(const Reference& ref, const TrainConfig& base, std::size_t threads) {
  TrainConfig config = tuning::workload_config(ref, base, threads);
  config.gemm = GemmBackend::automatic;
  const ModelSpec spec = ModelSpec::mlp(ref.widths, ref.hidden, ref.output);
  std::printf("%s %s batch %zu, %zu thread(s):\n", ref.name.c_str(),
              widths_text(ref.widths).c_str(), config.batch_size, threads);
  KernelTuning tuning;
  tuning.refresh = true;
  tuning.report = true;
  tuning.on_note = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
  const KernelChoice choice = choose_kernels(spec, config, tuning);
  std::printf("  -> %s; weight gradients %s\n", choice.summary().c_str(),
              weight_gradients_name(choice.weight_gradients));
  std::fflush(stdout);
}

}  // namespace

void resolve_kernels(const ModelSpec& spec, EngineConfig& config) {
  KernelTuning tuning;
  tuning.on_note = print_note;
  resolve_automatic_gemm(spec, config, tuning);
}

std::string kernel_text(const EngineConfig& config) {
  if (config.gemm != GemmBackend::automatic || !config.kernels)
    return gemm_kernel_description(config.gemm);
  return config.kernels->summary();
}

int tune_command(int argc, char** argv) {
  cxxopts::Options options = tune_options();
  const auto r = options.parse(argc, argv);
  if (r.count("help")) {
    std::printf("%s\n", options.help().c_str());
    return 0;
  }
  if (tuning_mode() == TuningMode::builtin)
    throw Error(
        "dptrain tune measures and writes the kernel wisdom; DPTRAIN_TUNING=builtin "
        "turns measuring off (unset it, or set cache or fresh)");
  TrainConfig base;
  const std::vector<std::size_t> threads =
      parse_thread_list(r["threads"].as<std::string>(), "threads");
  base.threads = 1;
  read_engine_options(r, base, false);
  std::vector<Reference> models;
  if (r.count("layers")) {
    if (r.count("models")) throw Error("--models and --layers are exclusive: choose one");
    models.push_back(
        custom_reference(parse_size_list(r["layers"].as<std::string>(), "layers"), 128));
  } else {
    for (const Reference* ref : parse_reference_list(r["models"].as<std::string>(), "models"))
      models.push_back(*ref);
  }
  if (r.count("batch-size")) {
    const std::size_t batch = parse_count(r["batch-size"].as<std::string>(), "batch-size", 1);
    for (Reference& ref : models) ref.batch = batch;
  }
  const std::string path = tuning_mode() == TuningMode::cache ? wisdom_path() : "";
  std::printf("kernels: %s\nmachine key: %s\n",
              gemm_kernel_description(GemmBackend::automatic).c_str(), wisdom_key().c_str());
  for (const Reference& ref : models)
    for (const std::size_t t : threads) tune_one(ref, base, t);
  std::printf("wisdom: %s\n", path.empty() ? "not written (DPTRAIN_TUNING=fresh, or no cache "
                                             "folder)"
                                           : path.c_str());
  return 0;
}

}  // namespace dptrain::cli
