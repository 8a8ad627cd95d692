#include "dptrain/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "dptrain/bf16.hpp"
#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/metrics.hpp"
#include "dptrain/parallel/timer.hpp"
#include "weight_update.hpp"

namespace dptrain {

void EngineConfig::validate() const {
  if (batch_size == 0 || batch_size > kMaxBatchSize)
    throw Error("batch size must be 1 to " + std::to_string(kMaxBatchSize) + ", got " +
                    std::to_string(batch_size),
                ErrorTopic::batch_size);
  if (threads == 0 || threads > kMaxThreads)
    throw Error(
        "threads must be 1 to " + std::to_string(kMaxThreads) + ", got " + std::to_string(threads),
        ErrorTopic::threads);
  if (deterministic && (micro_batches == 0 || micro_batches > kMaxMicroBatches))
    throw Error("micro-batches must be 1 to " + std::to_string(kMaxMicroBatches) + ", got " +
                    std::to_string(micro_batches),
                ErrorTopic::micro_batches);
  check_plan(plan, threads);
  if (!gemm_backend_available(gemm))
    throw Error(std::string("GEMM backend '") + gemm_backend_name(gemm) + "' is not in this build");
  optimizer.validate();
  if (plan.weight_gradients == WeightGradients::owner &&
      (precision != Precision::fp32 || plan.parallelism != Parallelism::data || communicator))
    throw Error(
        "owner-computed weight gradients need fp32, the data strategy and a single process "
        "(use buffers)");
  if (precision == Precision::bf16) {
    if (!gemm_backend_available(GemmBackend::onednn))
      throw Error("bf16 precision needs oneDNN, which this build lacks");
    if (gemm != GemmBackend::onednn && gemm != GemmBackend::automatic)  // auto: onednn for bf16
      throw Error(std::string("bf16 precision runs on the onednn GEMM kernel, not ") +
                  gemm_backend_name(gemm));
    if (plan.parallelism != Parallelism::data || plan.group_threads > 1)
      throw Error("bf16 precision supports the data plan only, not intra or GxT");
    if (const std::string why = bf16_products_unavailable(); !why.empty()) throw Error(why);
  }
}

namespace {

std::size_t unit_capacity(const EngineConfig& c, std::size_t workers);
std::size_t workspace_rows(const EngineConfig& c, std::size_t w);

/// What the engine is about to allocate, estimated in double (no overflow) and checked against
/// the machine's memory before any of it is allocated.
void check_engine_memory(const Model<float>& model, const EngineConfig& c, std::size_t workers) {
  double widths = double(model.spec().inputs);
  for (const DenseLayout& d : model.dense_layers()) widths += 4.0 * double(d.out);
  double rows = double(c.batch_size);  // the batch's activations, then each worker's scratch
  for (std::size_t w = 0; w < workers; ++w) rows += double(workspace_rows(c, w));
  const double params = double(model.parameter_count()) * sizeof(float);
  const double bytes = params * (3.0 + double(unit_capacity(c, workers))) + rows * widths * 4.0;
  check_fits_memory(bytes,
                    "the engine (batch size " + std::to_string(c.batch_size) + ", " +
                        std::to_string(unit_capacity(c, workers)) + " gradient buffers of " +
                        std::to_string(model.parameter_count()) + " values)",
                    c.deterministic ? ErrorTopic::micro_batches : ErrorTopic::batch_size);
}

/// Units a step can have: one per worker, or the micro-batches.
std::size_t unit_capacity(const EngineConfig& c, std::size_t workers) {
  return c.deterministic ? c.micro_batches : workers;
}

/// Rows one worker's scratch must hold. Worker w only works when at least w + 1 workers do,
/// so its shard is at most ceil(B / (w + 1)) rows; with micro-batches it holds one at a time.
std::size_t workspace_rows(const EngineConfig& c, std::size_t w) {
  const std::size_t batch = c.batch_size;
  return c.deterministic ? (batch + c.micro_batches - 1) / c.micro_batches : (batch + w) / (w + 1);
}

/// A pool of `workers`; a thread the system refuses becomes an Error (Note [Starting threads]).
std::unique_ptr<parallel::WorkerPool> make_pool(parallel::Backend backend, std::size_t workers) {
  try {
    return std::make_unique<parallel::WorkerPool>(backend, workers);
  } catch (const parallel::ThreadStartError& e) {
    throw Error(e.what(), ErrorTopic::thread_start);
  }
}

}  // namespace

namespace detail {

/// Note [Owner computes]: where it applies, `automatic` means owner.
std::unique_ptr<WeightUpdate> make_weight_update(const UpdateContext& c, std::size_t units) {
  const EngineConfig& k = c.config;
  const bool owner = k.plan.weight_gradients == WeightGradients::automatic
                         ? k.precision == Precision::fp32 &&
                               k.plan.parallelism == Parallelism::data && !k.communicator
                         : k.plan.weight_gradients == WeightGradients::owner;
  return owner ? make_owner_update(c) : make_buffer_update(c, units);
}

}  // namespace detail

Engine::Engine(Model<float>& model, EngineConfig config)
    : model_(model),
      config_(std::move(config)),
      optimizer_(config_.optimizer, model.parameter_count(), model.weight_count()) {
  config_.validate();
  const ModelSpec& spec = model_.spec();
  check_loss_fits(config_.loss, spec.output_activation(), spec.outputs());
  const std::size_t cores = parallel::hardware_threads();
  if (config_.threads > cores && config_.on_warning)
    config_.on_warning(std::to_string(config_.threads) + " threads on " + std::to_string(cores) +
                       " available cores: oversubscribed, expect lower throughput");
  // Intra (Note [Threads]): one unit on the caller, its products split over the whole pool.
  // G x T (Note [Groups]): G workers, each splitting its products over its group's pool.
  const bool intra = config_.plan.parallelism == Parallelism::intra;
  const std::size_t group = intra ? 1 : config_.plan.group_threads;
  const std::size_t workers = intra ? 1 : config_.threads / group;
  check_engine_memory(model_, config_, workers);
  pool_ = make_pool(config_.backend, intra ? config_.threads : workers);
  for (std::size_t g = 0; group > 1 && g < workers; ++g)
    group_pools_.push_back(make_pool(parallel::Backend::threads, group));
  if (group > 1)  // evaluation_pool(): all the threads, for work outside the step
    flat_pool_ = make_pool(parallel::Backend::threads, config_.threads);
  pin_workers();
  const std::size_t units = unit_capacity(config_, workers);
  unit_stats_.resize(units);
  busy_fb_.assign(config_.threads, 0.0);
  busy_ru_.assign(config_.threads, 0.0);
  for (std::size_t w = 0; w < workers; ++w) {
    parallel::WorkerPool* split = intra ? pool_.get() : group > 1 ? group_pools_[w].get() : nullptr;
    workspaces_.emplace_back(spec, workspace_rows(config_, w),
                             GemmContext{config_.gemm, split, nullptr, config_.kernels.get()});
  }
  activations_ = std::make_unique<Activations<float>>(spec, config_.batch_size);
  update_ = detail::make_weight_update(
      {model_, optimizer_, *pool_, workspaces_, *activations_, config_}, units);
  prepared_.reserve(4);
  prepare(config_.batch_size);
}

Engine::~Engine() = default;

void Engine::parameters_changed() {
  update_->parameters_changed();
}

WeightGradients Engine::weight_gradients() const {
  return update_->kind();
}

void Engine::prepare(std::size_t rows) {
  if (rows == 0 || rows > config_.batch_size)
    throw std::invalid_argument("Engine::prepare: precondition 1 <= rows <= batch_size failed");
  if ((config_.gemm != GemmBackend::onednn && config_.gemm != GemmBackend::automatic) ||
      std::find(prepared_.begin(), prepared_.end(), rows) != prepared_.end())
    return;
  const parallel::RowPartition p = partition(rows);
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  pool_->run(p.workers, [&](std::size_t w) {
    Workspace<float>& ws = workspaces_[w];
    const parallel::Range mine = p.worker_units(w);
    for (std::size_t u = mine.begin; u < mine.end; ++u) {
      const parallel::Range r = p.unit_rows(u);
      if (r.empty()) continue;
      const ActivationRows<float> a = activations_->rows(r.begin - p.local.begin);
      std::fill_n(a.input(), r.size() * model_.spec().inputs, 0.0f);
      std::fill_n(ws.labels(), r.size(), 0);
      forward_backward(ws, a, r.size(), TargetsView{ws.labels(), nullptr, 1}, 1.0f, DropoutKey{},
                       update_->unit_gradients(u));
    }
  });
  update_->prepare(p);
  prepared_.push_back(rows);
}

std::size_t Engine::workers_for(std::size_t rows) const {
  const std::size_t most = workspaces_.size();
  if (most == 1 || rows == 0) return 1;
  const double flops = double(rows) * model_.flops_per_sample();
  const double min = config_.min_flops_per_worker;
  const double w = min > 0 ? std::floor(flops / min) : double(most);
  return std::min({std::size_t(std::max(1.0, w)), most, rows});
}

std::size_t Engine::workspace_bytes(std::size_t worker) const {
  return workspaces_.at(worker).bytes();
}

std::size_t Engine::gradient_buffer_bytes() const {
  return update_->bytes().one_buffer;
}

EngineMemory Engine::memory() const {
  const detail::UpdateBytes u = update_->bytes();
  EngineMemory m;
  m.parameters = model_.parameter_count() * sizeof(float);
  m.optimizer_state = optimizer_.bytes();
  m.workspaces = activations_->bytes();
  for (const auto& ws : workspaces_) m.workspaces += ws.bytes();
  m.gradient_buffers = u.gradients;
  m.reducer = u.reducer;
  m.per_extra_worker = workspaces_.back().bytes() + u.per_extra_worker;
  return m;
}

void Engine::check_data(const Dataset& data) const {
  check_data_fits(model_.spec(), config_.loss, data);
}

void Engine::check_step(const Dataset& data, std::size_t rows) const {
  if (config_.optimizer.kind == OptimizerKind::lbfgs)
    throw Error(
        "optimizer lbfgs takes no minibatch steps: it runs full-batch iterations "
        "(Trainer::fit, over Engine::loss_gradient)");
  if (rows == 0 || rows > config_.batch_size)
    throw std::invalid_argument("Engine::step: precondition 1 <= rows (" + std::to_string(rows) +
                                ") <= batch_size (" + std::to_string(config_.batch_size) +
                                ") failed");
  if (data.features != model_.spec().inputs || !data.labelled())
    throw std::invalid_argument("Engine::step: precondition failed: data '" + data.source +
                                "' must be labelled and have the model's " +
                                std::to_string(model_.spec().inputs) + " features (check_data)");
}

parallel::RowPartition Engine::partition(std::size_t batch) const {
  Communicator* comm = config_.communicator;
  const std::size_t ranks = comm ? std::size_t(comm->size()) : 1;
  const std::size_t rank = comm ? std::size_t(comm->rank()) : 0;
  return parallel::partition_rows(batch, ranks, rank,
                                  config_.deterministic ? config_.micro_batches : 0,
                                  [this](std::size_t rows) { return workers_for(rows); });
}

// Note [The step]. A minibatch of B rows (a slice of the epoch's shuffled order) is cut into
// units (parallel::partition_rows): one contiguous shard per worker, or, with `deterministic`,
// M fixed micro-batches. Phase 1: each worker gathers its units' rows into the batch's
// activations at their rows (Note [One activation layout]) and runs forward, loss and backward
// against the shared read-only parameters, the deltas already scaled by 1/B; backward also
// writes the unit's whole gradient where the update strategy asks for it. After the join,
// phase 2 is the strategy chosen at construction (src/engine/weight_update.hpp): each worker's
// weight tiles over the whole batch (Note [Owner computes]), or the units' buffers reduced and
// applied slice by slice (src/engine/buffer_update.cpp), across ranks too (Note [Ranks]). The
// units' loss and metric sums are added in unit order; the next step starts after the second
// join. docs/DESIGN.md, "The step", walks through both strategies.
StepStats Engine::step(const Dataset& data, std::span<const std::uint32_t> rows,
                       double learning_rate) {
  check_step(data, rows.size());
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  parallel::ScopedTimer wall(timing_ ? &times_.wall : nullptr);
  const parallel::RowPartition p = partition(rows.size());
  // Scaled by the whole batch's 1/B: the units' gradients sum to the batch mean.
  const StepStats sum = phase_one(p, data, rows, 1.0f / float(p.batch));

  const std::uint64_t t = optimizer_.step() + 1;
  const double exchange =
      update_->update(p, learning_rate, t, timing_ ? busy_ru_ : std::span<double>());
  optimizer_.set_step(t);

  double sums[2] = {sum.loss_sum, sum.metric_sum};
  update_->sum_scalars(sums);  // every rank reports the whole batch's sums (Note [Ranks])
  if (timing_) record_times(p, exchange);
  return {sums[0], sums[1]};
}

// Note [One activation layout]. Every plan keeps one Activations for the step's rows (this
// rank's, from row 0): unit u's pass reads and writes its rows of it, whichever worker runs it,
// and a worker's Workspace holds only what one pass needs on the side (kernel state, dropout
// masks, outputs, labels, bf16 scratch). The owner strategy's phase 2 reads the whole batch's
// inputs and deltas from it; the buffer strategy ignores it after phase 1. The cost is B rows
// of activations instead of one shard's per worker, small beside the parameters.
StepStats Engine::phase_one(const parallel::RowPartition& p, const Dataset& data,
                            std::span<const std::uint32_t> rows, float scale) {
  for (std::size_t u = 0; u < p.units; ++u) unit_stats_[u] = {};
  pool_->run(p.workers, [&](std::size_t w) { run_units(p, data, rows, w, scale); });
  StepStats sum;
  for (std::size_t u = 0; u < p.units; ++u) {  // fixed order: reproducible sums
    sum.loss_sum += unit_stats_[u].stats.loss_sum;
    sum.metric_sum += unit_stats_[u].stats.metric_sum;
  }
  return sum;
}

void Engine::run_units(const parallel::RowPartition& p, const Dataset& data,
                       std::span<const std::uint32_t> rows, std::size_t w, float scale) {
  parallel::ScopedTimer busy(timing_ ? &busy_fb_[w] : nullptr);
  const parallel::Range mine = p.worker_units(w);
  for (std::size_t u = mine.begin; u < mine.end; ++u) {
    const parallel::Range r = p.unit_rows(u);
    if (r.empty()) continue;
    unit_stats_[u].stats = run_unit(p, u, data, rows.subspan(r.begin, r.size()), w, scale);
  }
}

void Engine::record_times(const parallel::RowPartition& p, double exchange) {
  double fb = 0, ru = 0;
  for (std::size_t w = 0; w < p.workers; ++w) {
    fb += busy_fb_[w], ru += busy_ru_[w];
    busy_fb_[w] = busy_ru_[w] = 0;
  }
  times_.steps += 1;
  times_.forward_backward += fb / double(p.workers);
  times_.reduce_update += ru / double(p.workers);
  times_.communication += exchange;
}

namespace {

void gather(const Dataset& data, std::span<const std::uint32_t> rows, Workspace<float>& ws,
            float* x) {
  const std::size_t f = data.features;
  const float* values = data.feature_values().data();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(x + i * f, values + std::size_t(rows[i]) * f, f * sizeof(float));
  if (data.classification()) {
    for (std::size_t i = 0; i < rows.size(); ++i) ws.labels()[i] = data.labels[rows[i]];
  } else {
    const std::size_t t = data.target_width;
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::memcpy(ws.target_values() + i * t, data.targets.data() + std::size_t(rows[i]) * t,
                  t * sizeof(float));
  }
}

TargetsView targets_of(const Dataset& data, Workspace<float>& ws) {
  if (data.classification()) return {ws.labels(), nullptr, 1};
  return {nullptr, ws.target_values(), data.target_width};
}

/// Correct predictions (classification) or sum of squared errors (regression) of `rows` outputs.
double metric_sum(const Dataset& data, Workspace<float>& ws, std::size_t rows, std::size_t cols) {
  double sum = 0;
  const float* out = ws.outputs();
  if (data.classification()) {
    for (std::size_t r = 0; r < rows; ++r)
      sum += predicted_class(out + r * cols, cols) == std::size_t(ws.labels()[r]) ? 1 : 0;
  } else {
    const float* y = ws.target_values();
    for (std::size_t i = 0; i < rows * cols; ++i) sum += double(out[i] - y[i]) * (out[i] - y[i]);
  }
  return sum;
}

}  // namespace

double Engine::forward_backward(Workspace<float>& ws, ActivationRows<float> a, std::size_t n,
                                TargetsView targets, float scale, DropoutKey key, float* grads) {
  const ModelSpec& spec = model_.spec();
  model_.forward(ws, a, a.input(), n, true, key);
  const double loss =
      loss_forward_backward<float>(config_.loss, spec.output_activation(), a.logits(), n,
                                   spec.outputs(), targets, scale, ws.outputs(), a.logit_grad());
  model_.backward(ws, a, a.input(), n, grads, grads != nullptr);
  return loss;
}

StepStats Engine::run_unit(const parallel::RowPartition& p, std::size_t u, const Dataset& data,
                           std::span<const std::uint32_t> rows, std::size_t worker, float scale) {
  Workspace<float>& ws = workspaces_[worker];
  const std::size_t first_row = p.unit_rows(u).begin;
  const ActivationRows<float> a = activations_->rows(first_row - p.local.begin);
  gather(data, rows, ws, a.input());
  StepStats r;
  r.loss_sum = forward_backward(ws, a, rows.size(), targets_of(data, ws), scale,
                                DropoutKey{config_.seed, optimizer_.step() + 1, first_row},
                                update_->unit_gradients(u));
  r.metric_sum = metric_sum(data, ws, rows.size(), model_.spec().outputs());
  return r;
}

}  // namespace dptrain
