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
#include "dptrain/rank_reducer.hpp"

namespace dptrain {

Parallelism parse_parallelism(std::string_view name) {
  if (name == "data") return Parallelism::data;
  if (name == "intra") return Parallelism::intra;
  throw Error("unknown parallelism '" + std::string(name) + "' (expected data or intra)");
}

const char* parallelism_name(Parallelism p) {
  return p == Parallelism::data ? "data" : "intra";
}

Precision parse_precision(std::string_view name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  throw Error("unknown precision '" + std::string(name) + "' (expected fp32 or bf16)");
}

const char* precision_name(Precision p) {
  return p == Precision::fp32 ? "fp32" : "bf16";
}

WeightGradients parse_weight_gradients(std::string_view name) {
  if (name == "auto") return WeightGradients::automatic;
  if (name == "buffers") return WeightGradients::buffers;
  if (name == "owner") return WeightGradients::owner;
  throw Error("unknown weight-gradient mode '" + std::string(name) +
              "' (expected auto, buffers or owner)");
}

const char* weight_gradients_name(WeightGradients w) {
  switch (w) {
    case WeightGradients::buffers:
      return "buffers";
    case WeightGradients::owner:
      return "owner";
    case WeightGradients::automatic:
      break;
  }
  return "auto";
}

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
  if (group_threads == 0 || threads % group_threads != 0)
    throw Error("threads per group (" + std::to_string(group_threads) +
                    ") must divide the threads (" + std::to_string(threads) + ")",
                ErrorTopic::threads);
  if (group_threads > 1 && parallelism != Parallelism::data)
    throw Error(
        "replica groups (a GxT plan) are a data-parallel plan; intra already splits "
        "every product over all threads");
  if (!gemm_backend_available(gemm))
    throw Error(std::string("GEMM backend '") + gemm_backend_name(gemm) + "' is not in this build");
  optimizer.validate();
  if (weight_gradients == WeightGradients::owner &&
      (precision != Precision::fp32 || parallelism != Parallelism::data || communicator))
    throw Error(
        "owner-computed weight gradients need fp32, the data strategy and a single process "
        "(use buffers)");
  if (precision == Precision::bf16) {
    if (!gemm_backend_available(GemmBackend::onednn))
      throw Error("bf16 precision needs oneDNN, which this build lacks");
    if (gemm != GemmBackend::onednn && gemm != GemmBackend::automatic)  // auto: onednn for bf16
      throw Error(std::string("bf16 precision runs on the onednn GEMM kernel, not ") +
                  gemm_backend_name(gemm));
    if (parallelism != Parallelism::data || group_threads > 1)
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
  double rows = 0;
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

/// Rows one worker's workspace must hold. Worker w only works when at least w + 1 workers do,
/// so its shard is at most ceil(B / (w + 1)) rows; with micro-batches it holds one at a time.
std::size_t workspace_rows(const EngineConfig& c, std::size_t w) {
  const std::size_t batch = c.batch_size;
  return c.deterministic ? (batch + c.micro_batches - 1) / c.micro_batches : (batch + w) / (w + 1);
}

/// Note [Owner computes]: where it applies, `automatic` means owner.
bool owner_computes(const EngineConfig& c) {
  if (c.weight_gradients != WeightGradients::automatic)
    return c.weight_gradients == WeightGradients::owner;
  return c.precision == Precision::fp32 && c.parallelism == Parallelism::data && !c.communicator;
}

std::unique_ptr<parallel::Reducer> make_reducer(const EngineConfig& c, std::size_t params,
                                                std::size_t workers) {
  if (c.communicator)
    return std::make_unique<RankReducer>(*c.communicator, params, workers, c.deterministic);
  return std::make_unique<parallel::InProcessReducer>(workers);
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
  const bool intra = config_.parallelism == Parallelism::intra;
  const std::size_t group = intra ? 1 : config_.group_threads;
  const std::size_t workers = intra ? 1 : config_.threads / group;
  check_engine_memory(model_, config_, workers);
  pool_ = make_pool(config_.backend, intra ? config_.threads : workers);
  for (std::size_t g = 0; group > 1 && g < workers; ++g)
    group_pools_.push_back(make_pool(parallel::Backend::threads, group));
  if (group > 1)  // evaluation_pool(): all the threads, for work outside the step
    flat_pool_ = make_pool(parallel::Backend::threads, config_.threads);
  pin_workers();
  reducer_ = make_reducer(config_, model_.parameter_count(), pool_->size());
  owner_ = owner_computes(config_);
  const std::size_t units = unit_capacity(config_, workers);
  if (!owner_)
    for (std::size_t u = 0; u < units; ++u) gradients_.emplace_back(model_.parameter_count());
  active_.reserve(units);
  unit_stats_.resize(units);
  busy_fb_.assign(config_.threads, 0.0);
  busy_ru_.assign(config_.threads, 0.0);
  for (std::size_t w = 0; w < workers; ++w) {
    parallel::WorkerPool* split = intra ? pool_.get() : group > 1 ? group_pools_[w].get() : nullptr;
    workspaces_.emplace_back(spec, workspace_rows(config_, w), GemmContext{config_.gemm, split, nullptr, config_.kernels.get()},
                             !owner_);
  }
  if (owner_) plan_tiles();
  if (config_.precision == Precision::bf16) {
    bf16_parameters_ = AlignedBuffer<bf16>(model_.parameter_count());
    for (auto& ws : workspaces_) ws.enable_bf16(spec, bf16_parameters_.data());
    parameters_changed();
  }
  prepared_.reserve(4);
  prepare(config_.batch_size);
}

void Engine::parameters_changed() {
  if (bf16_parameters_.size())
    to_bf16(model_.parameters().data(), bf16_parameters_.data(), bf16_parameters_.size());
}

void Engine::prepare(std::size_t rows) {
  if (rows == 0 || rows > config_.batch_size)
    throw std::invalid_argument("Engine::prepare: precondition 1 <= rows <= batch_size failed");
  if ((config_.gemm != GemmBackend::onednn && config_.gemm != GemmBackend::automatic) ||
      std::find(prepared_.begin(), prepared_.end(), rows) != prepared_.end())
    return;
  const parallel::StepPlan p = plan(rows);
  const ModelSpec& spec = model_.spec();
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  pool_->run(p.workers, [&](std::size_t w) {
    Workspace<float>& ws = workspaces_[w];
    const parallel::Range mine = p.worker_units(w);
    for (std::size_t u = mine.begin; u < mine.end; ++u) {
      const parallel::Range r = p.unit_rows(u);
      const std::size_t n = r.size();
      if (n == 0) continue;
      if (owner_) ws.bind_rows(*batch_ws_, r.begin, n);
      std::fill_n(ws.input(), n * spec.inputs, 0.0f);
      std::fill_n(ws.labels(), n, 0);
      model_.forward(ws, ws.input(), n, true, DropoutKey{});
      loss_forward_backward<float>(config_.loss, spec.output_activation(), ws.logits(), n,
                                   spec.outputs(), TargetsView{ws.labels(), nullptr, 1}, 1.0f,
                                   ws.outputs(), ws.logit_grad());
      model_.backward(ws, ws.input(), n, owner_ ? nullptr : gradients_[u].data(), !owner_);
    }
  });
  if (owner_)
    pool_->run(p.workers, [&](std::size_t w) { owned_gradients(w, p.workers, rows, 0, 0, false); });
  prepared_.push_back(rows);
}

Engine::~Engine() = default;

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
  return gradients_.empty() ? 0 : gradients_.front().bytes();
}

EngineMemory Engine::memory() const {
  EngineMemory m;
  m.parameters = model_.parameter_count() * sizeof(float);
  m.optimizer_state = optimizer_.bytes();
  for (const auto& ws : workspaces_) m.workspaces += ws.bytes();
  if (batch_ws_) m.workspaces += batch_ws_->bytes();
  m.gradient_buffers = gradients_.size() * gradient_buffer_bytes();
  for (const auto& t : tile_scratch_) m.gradient_buffers += t.bytes();
  m.reducer = reducer_->bytes();
  const std::size_t n = workspaces_.size();
  if (owner_)
    m.per_extra_worker = workspaces_.back().bytes() + tile_scratch_.back().bytes();
  else
    m.per_extra_worker = workspaces_.back().bytes() + kUpdateChunk * sizeof(float) +
                         (config_.deterministic || n == 1 ? 0 : gradient_buffer_bytes());
  return m;
}

void Engine::check_data(const Dataset& data) const {
  check_data_fits(model_.spec(), config_.loss, data);
}

void Engine::check_step(const Dataset& data, std::size_t rows) const {
  if (rows == 0 || rows > config_.batch_size)
    throw std::invalid_argument("Engine::step: precondition 1 <= rows (" + std::to_string(rows) +
                                ") <= batch_size (" + std::to_string(config_.batch_size) +
                                ") failed");
  if (data.features != model_.spec().inputs || !data.labelled())
    throw std::invalid_argument("Engine::step: precondition failed: data '" + data.source +
                                "' must be labelled and have the model's " +
                                std::to_string(model_.spec().inputs) + " features (check_data)");
}

parallel::StepPlan Engine::plan(std::size_t batch) const {
  Communicator* comm = config_.communicator;
  const std::size_t ranks = comm ? std::size_t(comm->size()) : 1;
  const std::size_t rank = comm ? std::size_t(comm->rank()) : 0;
  return parallel::plan_step(batch, ranks, rank, config_.deterministic ? config_.micro_batches : 0,
                             [this](std::size_t rows) { return workers_for(rows); });
}

std::span<float* const> Engine::active_buffers(const parallel::StepPlan& plan) {
  active_.clear();
  for (std::size_t u = 0; u < plan.units; ++u)
    if (!plan.unit_rows(u).empty()) active_.push_back(gradients_[u].data());
  return active_;
}

// Note [The step]: plan -> forward/backward per worker -> reduce + update -> sum the stats.
StepStats Engine::step(const Dataset& data, std::span<const std::uint32_t> rows,
                       double learning_rate) {
  check_step(data, rows.size());
  const OpenBlasSingleThreaded openblas_one_thread(config_.gemm);
  parallel::ScopedTimer wall(timing_ ? &times_.wall : nullptr);
  const parallel::StepPlan p = plan(rows.size());
  for (std::size_t u = 0; u < p.units; ++u) unit_stats_[u] = {};

  pool_->run(p.workers, [&](std::size_t w) { run_units(p, data, rows, w); });

  const std::uint64_t t = optimizer_.step() + 1;
  double exchange = 0;
  if (owner_)  // Note [Owner computes]: phase 2
    pool_->run(p.workers, [&](std::size_t w) {
      owned_gradients(w, p.workers, rows.size(), learning_rate, t, true);
    });
  else
    exchange = reduce_update(p, learning_rate, t);
  optimizer_.set_step(t);

  StepStats sum;
  for (std::size_t u = 0; u < p.units; ++u) {  // fixed order: reproducible sums
    sum.loss_sum += unit_stats_[u].stats.loss_sum;
    sum.metric_sum += unit_stats_[u].stats.metric_sum;
  }
  double sums[2] = {sum.loss_sum, sum.metric_sum};
  reducer_->sum_scalars(sums);  // every rank reports the whole batch's sums (Note [Ranks])
  if (timing_) record_times(p, exchange);
  return {sums[0], sums[1]};
}

double Engine::reduce_update(const parallel::StepPlan& p, double learning_rate, std::uint64_t t) {
  const std::span<float> params = model_.parameters();
  return reducer_->reduce_update(
      *pool_, p.workers, active_buffers(p), params.size(),
      [&](std::size_t begin, std::span<const float> grad) {
        optimizer_.update_range(params, begin, grad, learning_rate, t);
        // Note [Precision]: the bf16 copy of the chunk while it is still in cache.
        if (bf16_parameters_.size())
          to_bf16(params.data() + begin, bf16_parameters_.data() + begin, grad.size());
      },
      timing_ ? std::span<double>(busy_ru_) : std::span<double>());
}

void Engine::run_units(const parallel::StepPlan& p, const Dataset& data,
                       std::span<const std::uint32_t> rows, std::size_t w) {
  parallel::ScopedTimer busy(timing_ ? &busy_fb_[w] : nullptr);
  const parallel::Range mine = p.worker_units(w);
  for (std::size_t u = mine.begin; u < mine.end; ++u) {
    const parallel::Range r = p.unit_rows(u);
    if (r.empty()) continue;
    if (owner_) workspaces_[w].bind_rows(*batch_ws_, r.begin, r.size());
    float* grads = owner_ ? nullptr : gradients_[u].data();
    unit_stats_[u].stats =
        run_unit(data, rows.subspan(r.begin, r.size()), r.begin, p.batch, w, grads);
  }
}

void Engine::record_times(const parallel::StepPlan& p, double exchange) {
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

void gather(const Dataset& data, std::span<const std::uint32_t> rows, Workspace<float>& ws) {
  const std::size_t f = data.features;
  float* x = ws.input();
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

StepStats Engine::run_unit(const Dataset& data, std::span<const std::uint32_t> rows,
                           std::size_t first_row, std::size_t batch_rows, std::size_t worker,
                           float* grads) {
  Workspace<float>& ws = workspaces_[worker];
  const ModelSpec& spec = model_.spec();
  const std::size_t n = rows.size();
  gather(data, rows, ws);
  const DropoutKey key{config_.seed, optimizer_.step() + 1, first_row};
  model_.forward(ws, ws.input(), n, true, key);
  StepStats r;
  // Scaled by the whole batch's 1/B: the units' gradients sum to the batch mean.
  r.loss_sum = loss_forward_backward<float>(
      config_.loss, spec.output_activation(), ws.logits(), n, spec.outputs(), targets_of(data, ws),
      1.0f / float(batch_rows), ws.outputs(), ws.logit_grad());
  model_.backward(ws, ws.input(), n, grads, !owner_);
  r.metric_sum = metric_sum(data, ws, n, spec.outputs());
  return r;
}

}  // namespace dptrain
