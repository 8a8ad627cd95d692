// `--gemm auto` measured (Note [Kernel wisdom] in kernel_choice.hpp): the shapes one step of
// the model runs, each timed on every kernel of the build, and whole steps with owner and with
// buffers weight gradients; the results kept in the wisdom file (kernel_choice.cpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "dptrain/aligned_buffer.hpp"
#include "dptrain/data.hpp"
#include "dptrain/error.hpp"
#include "dptrain/kernel_choice.hpp"
#include "dptrain/loss.hpp"
#include "dptrain/optimizer.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/rng.hpp"
#include "wisdom.hpp"

namespace dptrain {

namespace detail {

namespace {
std::mutex recorder_mutex;
std::atomic<bool> recording{false};
std::vector<RecordedShape>* recorded = nullptr;  // guarded by recorder_mutex
}  // namespace

ShapeRecorder::ShapeRecorder() {
  const std::lock_guard<std::mutex> lock(recorder_mutex);
  if (recorded) throw std::logic_error("ShapeRecorder: one is already recording");
  recorded = new std::vector<RecordedShape>();
  recording.store(true);
}

ShapeRecorder::~ShapeRecorder() {
  const std::lock_guard<std::mutex> lock(recorder_mutex);
  recording.store(false);
  delete recorded;
  recorded = nullptr;
}

std::vector<RecordedShape> ShapeRecorder::shapes() const {
  const std::lock_guard<std::mutex> lock(recorder_mutex);
  return *recorded;
}

void note_gemm_shape(const GemmShape& shape, std::size_t lda, std::size_t ldb) {
  if (!recording.load(std::memory_order_relaxed)) return;
  const std::lock_guard<std::mutex> lock(recorder_mutex);
  if (!recorded) return;
  for (const RecordedShape& r : *recorded)
    if (r.shape == shape) return;
  recorded->push_back({shape, lda, ldb});
}

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Random data of the model's shape that the engine accepts for `loss`.
Dataset tuning_data(const ModelSpec& spec, Loss loss, std::size_t rows) {
  Dataset d;
  d.source = "kernel tuning";
  d.rows = rows;
  d.features = spec.inputs;
  d.x.resize(rows * spec.inputs);
  Rng rng(7);
  for (float& v : d.x) v = float(rng.uniform());
  const std::size_t outputs = spec.outputs();
  if (loss == Loss::mse) {
    d.target_width = outputs;
    d.targets.assign(rows * outputs, 0.5f);
  } else {
    d.classes = outputs > 1 ? outputs : 2;
    for (std::size_t r = 0; r < rows; ++r) d.labels.push_back(std::int32_t(r % d.classes));
  }
  return d;
}

/// The config whole tuning steps run with: `config` in one process, no pinning, no warnings.
EngineConfig step_config(const EngineConfig& config, WeightGradients w,
                         std::shared_ptr<const KernelChoice> kernels) {
  EngineConfig c = config;
  c.gemm = GemmBackend::automatic;
  c.kernels = std::move(kernels);
  c.plan.weight_gradients = w;
  c.communicator = nullptr;
  c.pin_cores.clear();
  c.on_warning = {};
  c.batch_size = config.batch_size;
  return c;
}

/// Owner weight gradients are possible for this config (engine.hpp, EngineConfig).
bool owner_possible(const EngineConfig& c) {
  return c.precision == Precision::fp32 && c.plan.parallelism == Parallelism::data &&
         !c.communicator;
}

/// The product shapes of one step of each strategy in `strategies` (first-seen order).
std::vector<detail::RecordedShape> record_shapes(const ModelSpec& spec, const EngineConfig& config,
                                                 const std::vector<WeightGradients>& strategies) {
  const Dataset data = tuning_data(spec, config.loss, config.batch_size);
  std::vector<std::uint32_t> rows(config.batch_size);
  std::iota(rows.begin(), rows.end(), 0u);
  const detail::ShapeRecorder recorder;
  for (const WeightGradients w : strategies) {
    Model<float> model(spec);
    model.initialize(42);
    Engine engine(model, step_config(config, w, nullptr));
    engine.step(data, rows, 0.0);
  }
  return recorder.shapes();
}

/// Seconds per call of `product` on each kernel (the fastest of interleaved rounds).
std::vector<double> time_kernels(const std::vector<GemmBackend>& kernels,
                                 const std::function<void(const GemmContext&)>& product) {
  std::vector<std::unique_ptr<GemmCache, GemmCacheDeleter>> caches;
  std::vector<std::size_t> reps;
  for (const GemmBackend b : kernels) {
    caches.push_back(make_gemm_cache());
    const GemmContext context{b, nullptr, caches.back().get()};
    product(context);  // creates the primitive, brings the data into cache
    const auto start = Clock::now();
    product(context);
    const double once = std::max(seconds_since(start), 1e-7);
    reps.push_back(std::size_t(std::clamp(2e-3 / once, 1.0, 2000.0)));  // ~2 ms a round
  }
  constexpr std::size_t kRounds = 5;
  std::vector<std::vector<double>> per_call(kernels.size());
  for (std::size_t round = 0; round < kRounds; ++round)
    for (std::size_t i = 0; i < kernels.size(); ++i) {
      const GemmContext context{kernels[i], nullptr, caches[i].get()};
      const auto start = Clock::now();
      for (std::size_t r = 0; r < reps[i]; ++r) product(context);
      per_call[i].push_back(seconds_since(start) / double(reps[i]));
    }
  // The fastest round: on a shared machine other work only ever adds time (as FFTW does).
  std::vector<double> best;
  for (const auto& v : per_call) best.push_back(*std::min_element(v.begin(), v.end()));
  return best;
}

/// The index of the fastest, the built-in kernel (index 0) kept unless another is 3% faster.
std::size_t fastest(const std::vector<double>& seconds) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < seconds.size(); ++i)
    if (seconds[i] < seconds[best] * (best == 0 ? 0.97 : 1.0)) best = i;
  return best;
}

/// The kernel that runs `r` fastest here (single-threaded, its operands in cache).
GemmBackend time_shape(const detail::RecordedShape& r, std::string* report) {
  const GemmShape& s = r.shape;
  const std::size_t a_size = (s.ta ? s.k : s.m) * r.lda, b_size = (s.tb ? s.n : s.k) * r.ldb;
  AlignedBuffer<float> a(std::max<std::size_t>(a_size, 1)), b(std::max<std::size_t>(b_size, 1)),
      c(s.m * s.n), bias(s.n);
  Rng rng(11);
  for (float& v : a.span()) v = float(rng.uniform()) - 0.5f;
  for (float& v : b.span()) v = float(rng.uniform()) - 0.5f;
  std::fill(bias.span().begin(), bias.span().end(), 0.25f);
  const Transpose ta = s.ta ? Transpose::yes : Transpose::no;
  const Transpose tb = s.tb ? Transpose::yes : Transpose::no;
  std::vector<GemmBackend> kernels = tunable_gemm_backends();
  const auto builtin = std::find(kernels.begin(), kernels.end(), default_gemm_backend());
  if (builtin != kernels.end()) std::iter_swap(kernels.begin(), builtin);
  const std::vector<double> seconds = time_kernels(kernels, [&](const GemmContext& context) {
    if (s.bias)
      gemm_bias<float>(context, ta, tb, s.m, s.n, s.k, a.data(), r.lda, b.data(), r.ldb,
                       bias.data(), c.data(), s.n);
    else
      gemm<float>(context, ta, tb, s.m, s.n, s.k, 1.0f, a.data(), r.lda, b.data(), r.ldb, 0.0f,
                  c.data(), s.n);
  });
  const std::size_t best = fastest(seconds);
  if (report) {
    *report = s.text() + ":";
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    for (std::size_t i = 0; i < kernels.size(); ++i) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.1f us (%.1f GFLOP/s)%s", gemm_backend_name(kernels[i]),
                    seconds[i] * 1e6, flops / seconds[i] * 1e-9, i == best ? " *" : "");
      *report += buf;
    }
  }
  return kernels[best];
}

/// Seconds per step of `spec` with `kernels` and strategy `w` (median of rounds, interleaved by
/// the caller). A fresh engine per round: one pool alive at a time.
double time_steps(const ModelSpec& spec, const EngineConfig& config, WeightGradients w,
                  const std::shared_ptr<const KernelChoice>& kernels, const Dataset& data) {
  std::vector<std::uint32_t> rows(config.batch_size);
  std::iota(rows.begin(), rows.end(), 0u);
  Model<float> model(spec);
  model.initialize(42);
  Engine engine(model, step_config(config, w, kernels));
  engine.step(data, rows, 0.0);  // the first step creates the kernels' state
  std::size_t steps = 0;
  const auto start = Clock::now();
  do {
    engine.step(data, rows, 0.0);
    ++steps;
  } while (steps < 2 || seconds_since(start) < 0.1);
  return seconds_since(start) / double(steps);
}

/// The wisdom's name for `spec` trained with `config`: what decides the step's shapes and work.
std::string workload_text(const ModelSpec& spec, const EngineConfig& c) {
  return spec.describe() + " loss " + loss_name(c.loss) + " optimizer " +
         optimizer_name(c.optimizer.kind) + " batch " + std::to_string(c.batch_size) + " threads " +
         std::to_string(c.threads) + " plan " + parallelism_name(c.plan.parallelism) +
         " groups-of " + std::to_string(c.plan.group_threads) + " pool " + backend_name(c.backend) +
         (c.deterministic ? " deterministic " + std::to_string(c.micro_batches) : "");
}

/// Owner or buffers, by whole steps with `kernels` (the fastest of 3 interleaved rounds; owner,
/// the built-in strategy, kept unless buffers is 3% faster).
WeightGradients time_strategies(const ModelSpec& spec, const EngineConfig& config,
                                const std::shared_ptr<const KernelChoice>& kernels,
                                const KernelTuning& tuning) {
  const Dataset data = tuning_data(spec, config.loss, config.batch_size);
  std::vector<double> owner, buffers;
  for (int round = 0; round < 3; ++round) {
    owner.push_back(time_steps(spec, config, WeightGradients::owner, kernels, data));
    buffers.push_back(time_steps(spec, config, WeightGradients::buffers, kernels, data));
  }
  std::sort(owner.begin(), owner.end());  // the fastest round counts, as for the kernels
  std::sort(buffers.begin(), buffers.end());
  const bool use_buffers = buffers[0] < owner[0] * 0.97;
  if (tuning.report && tuning.on_note) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "weight gradients: owner %.1f us/step, buffers %.1f us/step -> %s",
                  owner[0] * 1e6, buffers[0] * 1e6, use_buffers ? "buffers" : "owner");
    tuning.on_note(buf);
  }
  return use_buffers ? WeightGradients::buffers : WeightGradients::owner;
}

// Note [Wisdom in memory]. Resolving `--gemm auto` records one step of the model (an engine
// built and stepped) and reads the wisdom file: about a millisecond, paid by every Trainer a
// process builds (scikit-learn's searches build hundreds). A process therefore keeps the choices
// it resolved in cache mode, keyed by the file, the machine key and the workload (what decides
// the shapes: workload_text and the strategy asked for), and reuses one while the file's size
// and modification time are unchanged: the same choice the file would give, so the same bits.
// `dptrain tune` (refresh) and fresh mode never read it.
class WisdomMemo {
 public:
  /// The remembered choice of `name` if `path` is still as it was when it was remembered.
  std::optional<KernelChoice> find(const std::string& name, const std::string& path) {
    const std::string state = file_state(path);
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = choices_.find(name);
    if (it == choices_.end() || state.empty() || it->second.first != state) return std::nullopt;
    return it->second.second;
  }
  void remember(const std::string& name, const std::string& path, const KernelChoice& choice) {
    const std::string state = file_state(path);
    if (state.empty()) return;  // the file could not be written: nothing to check against
    KernelChoice kept = choice;
    kept.origin = "cache";
    const std::lock_guard<std::mutex> lock(mutex_);
    choices_[name] = {state, std::move(kept)};
  }

 private:
  static std::string file_state(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return {};
    const auto time = std::filesystem::last_write_time(path, ec);
    if (ec) return {};
    return std::to_string(size) + " " + std::to_string(time.time_since_epoch().count());
  }
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, KernelChoice>> choices_;
};

WisdomMemo& wisdom_memo() {
  static WisdomMemo memo;
  return memo;
}

}  // namespace

KernelChoice choose_kernels(const ModelSpec& spec, const EngineConfig& config,
                            const KernelTuning& tuning) {
  config.validate();
  KernelChoice choice;
  choice.weight_gradients = config.plan.weight_gradients;
  if (tuning.mode == TuningMode::builtin || config.precision != Precision::fp32) return choice;
  const bool measure_steps =
      config.plan.weight_gradients == WeightGradients::automatic && owner_possible(config);
  std::vector<WeightGradients> strategies{config.plan.weight_gradients};
  if (measure_steps) strategies = {WeightGradients::owner, WeightGradients::buffers};
  const std::string path = tuning.mode == TuningMode::cache ? wisdom_path() : "";
  const std::string key = path.empty() ? "" : wisdom_key();
  // Note [Wisdom in memory].
  const std::string memo_name =
      path + "\n" + key + "\n" + workload_text(spec, config) + " weight-gradients " +
      weight_gradients_name(config.plan.weight_gradients) + " ranks " +
      std::to_string(config.communicator ? config.communicator->size() : 1) + " min-flops " +
      std::to_string(config.min_flops_per_worker);
  if (!path.empty() && !tuning.refresh)
    if (std::optional<KernelChoice> known = wisdom_memo().find(memo_name, path)) return *known;
  detail::Wisdom wisdom =
      path.empty() ? detail::Wisdom{} : detail::load_wisdom(path, key, tuning.on_note);
  bool measured = false;
  for (const detail::RecordedShape& r : record_shapes(spec, config, strategies)) {
    const KernelChoice::Entry* known = wisdom.find(r.shape);
    std::string report;
    if (!known || tuning.refresh) {
      wisdom.set(r.shape, time_shape(r, &report));
      measured = true;
      if (tuning.report && tuning.on_note) tuning.on_note(report);
    }
    choice.entries.push_back(*wisdom.find(r.shape));
  }
  if (measure_steps) {
    const std::string workload = workload_text(spec, config);
    const auto known = wisdom.steps.find(workload);
    if (known == wisdom.steps.end() || tuning.refresh) {
      const auto kernels = std::make_shared<const KernelChoice>(choice);
      wisdom.steps[workload] = time_strategies(spec, config, kernels, tuning);
      measured = true;
    }
    choice.weight_gradients = wisdom.steps[workload];
  } else if (config.plan.weight_gradients == WeightGradients::automatic) {
    choice.weight_gradients = WeightGradients::buffers;  // owner is not possible here
  }
  choice.origin = measured ? "measured" : "cache";
  if (measured && !path.empty()) detail::save_wisdom(path, key, wisdom, tuning.on_note);
  if (!path.empty()) wisdom_memo().remember(memo_name, path, choice);
  return choice;
}

void resolve_automatic_gemm(const ModelSpec& spec, EngineConfig& config,
                            const KernelTuning& tuning) {
  if (config.gemm != GemmBackend::automatic) return;
  if (config.precision == Precision::bf16) {  // bf16 products are oneDNN's alone
    config.gemm = GemmBackend::onednn;
    return;
  }
  if (!config.kernels)
    config.kernels = std::make_shared<const KernelChoice>(choose_kernels(spec, config, tuning));
  if (config.plan.weight_gradients == WeightGradients::automatic)
    config.plan.weight_gradients = config.kernels->weight_gradients;
}

}  // namespace dptrain
