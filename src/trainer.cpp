#include "dptrain/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "dptrain/error.hpp"
#include "dptrain/parallel/partition.hpp"
#include "dptrain/parallel/reduce.hpp"
#include "dptrain/rng.hpp"

namespace dptrain {

Parallelism parse_parallelism(std::string_view name) {
  if (name == "data") return Parallelism::data;
  if (name == "intra") return Parallelism::intra;
  throw Error("unknown parallelism '" + std::string(name) + "' (expected data or intra)");
}

const char* parallelism_name(Parallelism p) {
  return p == Parallelism::data ? "data" : "intra";
}

void TrainConfig::validate() const {
  if (batch_size == 0) throw Error("batch size must be at least 1");
  if (threads == 0) throw Error("threads must be at least 1");
  if (threads > 1024) throw Error("threads must be at most 1024, got " + std::to_string(threads));
  if (deterministic && micro_batches == 0) throw Error("micro-batches must be at least 1");
  if (!gemm_backend_available(gemm))
    throw Error(std::string("GEMM backend '") + gemm_backend_name(gemm) + "' is not in this build");
  optimizer.validate();
  schedule.validate();
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr std::size_t kFloatsPerLine = kCacheLine / sizeof(float);

struct alignas(kCacheLine) UnitStats {
  double loss_sum = 0;
  double metric_sum = 0;
};
struct alignas(kCacheLine) WorkerClock {
  double busy = 0;
};

}  // namespace

Trainer::Trainer(Model<float>& model, TrainConfig config)
    : model_(model),
      config_(std::move(config)),
      units_capacity_(0),
      optimizer_(config_.optimizer, model.parameter_count(), model.weight_count()) {
  config_.validate();
  const ModelSpec& spec = model_.spec();
  check_loss_fits(config_.loss, spec.output_activation(), spec.outputs());

  const std::size_t cores = parallel::hardware_threads();
  if (config_.threads > cores && config_.on_warning)
    config_.on_warning(std::to_string(config_.threads) + " threads on " + std::to_string(cores) +
                       " available cores: oversubscribed, expect lower throughput");

  std::size_t workers = config_.threads;
  if (config_.parallelism == Parallelism::intra) {
    // One worker; Eigen's GEMM gets the threads (Eigen is the only kernel that can use them).
    workers = 1;
    config_.gemm = GemmBackend::eigen;
    set_eigen_threads(int(config_.threads));
  } else {
    set_eigen_threads(1);  // never let Eigen fork inside a worker
  }
  pool_ = std::make_unique<parallel::WorkerPool>(config_.backend, workers);

  const std::size_t batch = config_.batch_size;
  units_capacity_ = config_.deterministic ? config_.micro_batches : workers;
  for (std::size_t u = 0; u < units_capacity_; ++u)
    gradients_.emplace_back(model_.parameter_count());
  active_gradients_.reserve(units_capacity_);
  if (config_.communicator) config_.communicator->reserve(model_.parameter_count());
  for (std::size_t w = 0; w < workers; ++w) {
    // Worker w only works when at least w + 1 workers do, so its shard is at most
    // ceil(B / (w + 1)) rows; with micro-batches it holds one micro-batch at a time.
    const std::size_t rows = config_.deterministic
                                 ? (batch + config_.micro_batches - 1) / config_.micro_batches
                                 : (batch + w) / (w + 1);
    workspaces_.emplace_back(spec, rows, config_.gemm);
    update_scratch_.emplace_back(kUpdateChunk);
  }
}

Trainer::~Trainer() {
  if (config_.parallelism == Parallelism::intra) set_eigen_threads(1);
}

std::size_t Trainer::workers_for(std::size_t rows) const {
  const std::size_t pool = pool_->size();
  if (pool == 1 || rows == 0) return 1;
  const double flops = double(rows) * model_.flops_per_sample();
  std::size_t w = std::size_t(std::max(1.0, config_.min_flops_per_worker > 0
                                                ? std::floor(flops / config_.min_flops_per_worker)
                                                : double(pool)));
  w = std::min({w, pool, rows});
  if (config_.deterministic) w = std::min(w, config_.micro_batches);
  return w;
}

std::size_t Trainer::workspace_bytes(std::size_t worker) const {
  return workspaces_.at(worker).bytes();
}

std::size_t Trainer::gradient_buffer_bytes() const {
  return gradients_.front().bytes();
}

void Trainer::check_data(const Dataset& data) const {
  const ModelSpec& spec = model_.spec();
  const std::string where = "data '" + data.source + "'";
  if (data.features != spec.inputs)
    throw Error(where + " has " + std::to_string(data.features) +
                " features but the model's input layer takes " + std::to_string(spec.inputs) +
                " (check --layers)");
  const std::size_t outputs = spec.outputs();
  if (!data.labelled())
    throw Error(where + " has no label column; training and evaluation need one");
  if (data.classification()) {
    if (outputs == 1 && data.classes != 2)
      throw Error(where + " has " + std::to_string(data.classes) +
                  " classes; a single output unit only fits 2 classes");
    if (outputs > 1 && outputs != data.classes)
      throw Error(where + " has " + std::to_string(data.classes) +
                  " classes but the output layer has " + std::to_string(outputs) +
                  " units (check --layers)");
  } else {
    if (config_.loss == Loss::ce)
      throw Error(where + " has real-valued targets; loss ce needs class labels (use --loss mse)");
    if (data.target_width != outputs)
      throw Error(where + " has " + std::to_string(data.target_width) +
                  " target columns but the output layer has " + std::to_string(outputs) + " units");
  }
}

double Trainer::current_lr(std::size_t steps_per_epoch) const {
  return learning_rate_at(config_.schedule, config_.optimizer.learning_rate, optimizer_.step(),
                          steps_per_epoch, steps_per_epoch * config_.epochs);
}

void Trainer::gather(const Dataset& data, std::span<const std::uint32_t> rows,
                     Workspace<float>& ws) {
  const std::size_t f = data.features;
  float* x = ws.input();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(x + i * f, data.x.data() + std::size_t(rows[i]) * f, f * sizeof(float));
  if (data.classification()) {
    for (std::size_t i = 0; i < rows.size(); ++i) ws.labels()[i] = data.labels[rows[i]];
  } else if (data.target_width > 0) {  // unlabelled data (prediction) has neither
    const std::size_t t = data.target_width;
    for (std::size_t i = 0; i < rows.size(); ++i)
      std::memcpy(ws.target_values() + i * t, data.targets.data() + std::size_t(rows[i]) * t,
                  t * sizeof(float));
  }
}

namespace {

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

Trainer::StepResult Trainer::run_unit(const Dataset& data, std::span<const std::uint32_t> rows,
                                      std::size_t first_row, std::size_t batch_rows,
                                      std::size_t worker, float* grads) {
  Workspace<float>& ws = workspaces_[worker];
  const ModelSpec& spec = model_.spec();
  const std::size_t n = rows.size();
  gather(data, rows, ws);
  const DropoutKey key{config_.seed, optimizer_.step() + 1, first_row};
  model_.forward(ws, ws.input(), n, true, key);
  StepResult r;
  r.loss_sum = loss_forward_backward<float>(
      config_.loss, spec.output_activation(), ws.logits(), n, spec.outputs(), targets_of(data, ws),
      1.0f / float(batch_rows), ws.outputs(), ws.logit_grad());
  model_.backward(ws, ws.input(), n, grads);
  r.metric_sum = metric_sum(data, ws, n, spec.outputs());
  return r;
}

Trainer::StepResult Trainer::step(const Dataset& data, std::span<const std::uint32_t> rows) {
  const std::size_t batch = rows.size();  // the global batch, over all ranks
  if (batch == 0 || batch > config_.batch_size)
    throw std::logic_error("Trainer::step: the step must have 1..batch_size rows");
  Communicator* comm = config_.communicator;
  const std::size_t ranks = comm ? std::size_t(comm->size()) : 1;
  const std::size_t rank = comm ? std::size_t(comm->rank()) : 0;
  // This rank's units, each a range of global batch rows (Note [Ranks]).
  std::size_t units = 0, first_micro = 0;
  parallel::Range local{0, batch};
  if (config_.deterministic) {
    const parallel::Range mine = parallel::partition(config_.micro_batches, ranks, rank);
    first_micro = mine.begin;
    units = mine.size();
    if (!mine.empty())
      local = {parallel::partition(batch, config_.micro_batches, mine.begin).begin,
               parallel::partition(batch, config_.micro_batches, mine.end - 1).end};
    else
      local = {0, 0};
  } else {
    local = parallel::partition(batch, ranks, rank);
  }
  const std::size_t workers = workers_for(std::max<std::size_t>(local.size(), 1));
  if (!config_.deterministic) units = workers;
  auto unit_rows = [&](std::size_t u) -> parallel::Range {
    if (config_.deterministic)
      return parallel::partition(batch, config_.micro_batches, first_micro + u);
    const parallel::Range r = parallel::partition(local.size(), units, u);
    return {local.begin + r.begin, local.begin + r.end};
  };
  const std::uint64_t t = optimizer_.step() + 1;
  // Until an epoch has told the steps per epoch (steps driven by hand, or the first epoch of a
  // BatchSource), the schedule cannot place the step: use the base rate.
  const double lr =
      steps_per_epoch_ ? current_lr(steps_per_epoch_) : config_.optimizer.learning_rate;

  // Per-step scratch on the stack (no allocation in the step) unless there are > 64 units.
  UnitStats stats_small[64];
  std::vector<UnitStats> stats_large;
  UnitStats* stats = stats_small;
  if (units > 64) {
    stats_large.resize(units);  // only with > 64 micro-batches or threads
    stats = stats_large.data();
  }
  for (std::size_t u = 0; u < units; ++u) stats[u] = {};
  WorkerClock clocks_small[64];
  std::vector<WorkerClock> clocks_large;
  WorkerClock* clocks = clocks_small;
  if (workers > 64) {
    clocks_large.resize(workers);
    clocks = clocks_large.data();
  }

  const auto t0 = Clock::now();
  // Phase 1: forward + loss + backward, one private gradient buffer per unit.
  auto phase1 = [&](std::size_t w) {
    if (w >= workers) return;
    const auto start = timing_ ? Clock::now() : Clock::time_point{};
    const parallel::Range mine = parallel::partition(units, workers, w);
    for (std::size_t u = mine.begin; u < mine.end; ++u) {
      const parallel::Range r = unit_rows(u);
      if (r.empty()) continue;
      const StepResult s =
          run_unit(data, rows.subspan(r.begin, r.size()), r.begin, batch, w, gradients_[u].data());
      stats[u].loss_sum = s.loss_sum;
      stats[u].metric_sum = s.metric_sum;
    }
    if (timing_) clocks[w].busy = seconds_since(start);
  };
  if (workers == 1)
    phase1(0);
  else
    pool_->run(phase1);
  double fb = 0;
  if (timing_)
    for (std::size_t w = 0; w < workers; ++w) fb += clocks[w].busy, clocks[w].busy = 0;

  // Phase 2: fused reduce-scatter + update (Note [The step]).
  active_gradients_.clear();
  for (std::size_t u = 0; u < units; ++u)
    if (!unit_rows(u).empty()) active_gradients_.push_back(gradients_[u].data());
  const std::span<float> params = model_.parameters();
  double comm_seconds = 0;
  if (comm) {
    // Across ranks the in-process sum must exist whole before the exchange, so the fused pass
    // splits in three: sum units in-process (parallel), exchange (caller), update (parallel).
    if (active_gradients_.empty()) {  // no rows on this rank: contribute zeros
      gradients_[0].fill_zero();
      active_gradients_.push_back(gradients_[0].data());
    }
    const std::span<float* const> all_units(active_gradients_);
    if (all_units.size() > 1) {
      auto sum_task = [&](std::size_t w) {
        if (w >= workers) return;
        const auto start = timing_ ? Clock::now() : Clock::time_point{};
        const parallel::Range slice =
            parallel::partition_aligned(params.size(), workers, w, kFloatsPerLine);
        parallel::sum_in_order(all_units[0] + slice.begin, all_units, slice);
        if (timing_) clocks[w].busy = seconds_since(start);
      };
      if (workers == 1)
        sum_task(0);
      else
        pool_->run(sum_task);
    }
    const auto c0 = Clock::now();
    comm->allreduce_sum(all_units[0], params.size(), config_.deterministic);
    comm_seconds = seconds_since(c0);
    active_gradients_.resize(1);  // the update below reads the exchanged sum only
  }
  const std::span<float* const> sources(active_gradients_);
  auto phase2 = [&](std::size_t w) {
    if (w >= workers) return;
    const auto start = timing_ ? Clock::now() : Clock::time_point{};
    const parallel::Range slice =
        parallel::partition_aligned(params.size(), workers, w, kFloatsPerLine);
    float* sum = update_scratch_[w].data();
    for (std::size_t b = slice.begin; b < slice.end; b += kUpdateChunk) {
      const parallel::Range chunk{b, std::min(b + kUpdateChunk, slice.end)};
      std::span<const float> grads(sources[0] + b, chunk.size());
      if (sources.size() > 1) {  // one unit: its buffer already is the sum
        parallel::sum_in_order(sum, sources, chunk);
        grads = std::span<const float>(sum, chunk.size());
      }
      optimizer_.update_range(params, b, grads, lr, t);
    }
    if (timing_) clocks[w].busy += seconds_since(start);
  };
  if (workers == 1)
    phase2(0);
  else
    pool_->run(phase2);
  optimizer_.set_step(t);

  if (timing_) {
    double ru = 0;
    for (std::size_t w = 0; w < workers; ++w) ru += clocks[w].busy;
    times_.steps += 1;
    times_.wall += seconds_since(t0);
    times_.forward_backward += fb / double(workers);
    times_.reduce_update += ru / double(workers);
    times_.communication += comm_seconds;
  }

  StepResult result;
  for (std::size_t u = 0; u < units; ++u) {  // fixed order: reproducible sums
    result.loss_sum += stats[u].loss_sum;
    result.metric_sum += stats[u].metric_sum;
  }
  if (comm) {  // every rank reports the whole batch's sums
    double sums[2] = {result.loss_sum, result.metric_sum};
    comm->allreduce_sum(sums, 2);
    result = {sums[0], sums[1]};
  }
  return result;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.spec = model_.spec();
  const auto params = model_.parameters();
  c.parameters.assign(params.begin(), params.end());
  c.loss = config_.loss;
  c.optimizer = config_.optimizer;
  c.schedule = config_.schedule;
  c.seed = config_.seed;
  c.batch_size = config_.batch_size;
  c.epochs_total = config_.epochs;
  c.epochs_done = epochs_done_;
  c.step = optimizer_.step();
  c.deterministic = config_.deterministic;
  c.micro_batches = config_.micro_batches;
  const auto s0 = optimizer_.state(0), s1 = optimizer_.state(1);
  c.state0.assign(s0.begin(), s0.end());
  c.state1.assign(s1.begin(), s1.end());
  return c;
}

void Trainer::restore(const Checkpoint& c) {
  if (c.spec.describe() != model_.spec().describe() || c.spec.inputs != model_.spec().inputs)
    throw Error("checkpoint model " + c.spec.describe() + " does not match this model " +
                model_.spec().describe());
  if (c.optimizer.kind != config_.optimizer.kind)
    throw Error(std::string("checkpoint optimizer ") + optimizer_name(c.optimizer.kind) +
                " does not match " + optimizer_name(config_.optimizer.kind));
  const auto params = model_.parameters();
  if (c.parameters.size() != params.size())
    throw Error("checkpoint parameter count does not match");
  std::copy(c.parameters.begin(), c.parameters.end(), params.begin());
  const auto s0 = optimizer_.state(0), s1 = optimizer_.state(1);
  if (c.state0.size() != s0.size() || c.state1.size() != s1.size())
    throw Error("checkpoint optimizer state does not match");
  std::copy(c.state0.begin(), c.state0.end(), s0.begin());
  std::copy(c.state1.begin(), c.state1.end(), s1.begin());
  optimizer_.set_step(c.step);
  epochs_done_ = c.epochs_done;
}

EpochResult Trainer::train_epoch(const Dataset& data) {
  check_data(data);
  const auto t0 = Clock::now();
  const std::size_t n = data.rows;
  // The epoch's order is a pure function of (seed, epoch): resumable and thread-count free.
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0u);
  if (config_.shuffle) {
    Rng rng(hash_position(config_.seed, kStreamShuffle, epochs_done_));
    for (std::size_t i = n; i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
  }
  const std::size_t batch = config_.batch_size;
  steps_per_epoch_ = (n + batch - 1) / batch;
  EpochTally tally;
  for (std::size_t s = 0; s < steps_per_epoch_; ++s) {
    const std::size_t begin = s * batch, end = std::min(n, begin + batch);
    tally.add(epoch_step(data, std::span<const std::uint32_t>(order_).subspan(begin, end - begin),
                         s, steps_per_epoch_),
              data, end - begin);
  }
  return finish_epoch(tally, t0);
}

Trainer::StepResult Trainer::epoch_step(const Dataset& data, std::span<const std::uint32_t> rows,
                                        std::size_t index, std::size_t steps) {
  const StepResult r = step(data, rows);
  if (!std::isfinite(r.loss_sum))
    throw Error("training diverged: the loss is " +
                std::string(std::isnan(r.loss_sum) ? "NaN" : "infinite") + " at epoch " +
                std::to_string(epochs_done_ + 1) + ", step " + std::to_string(index + 1) +
                " (try a lower learning rate or normalised features)");
  if (config_.on_step) config_.on_step(index + 1, steps);
  return r;
}

void Trainer::EpochTally::add(const StepResult& r, const Dataset& batch, std::size_t rows) {
  ++steps;
  samples += rows;
  metric_values += batch.classification() ? rows : rows * batch.target_width;
  loss_sum += r.loss_sum;
  metric_sum += r.metric_sum;
}

EpochResult Trainer::finish_epoch(const EpochTally& tally,
                                  std::chrono::steady_clock::time_point t0) {
  steps_per_epoch_ = tally.steps;
  ++epochs_done_;
  EpochResult e;
  e.epoch = epochs_done_;
  e.steps = tally.steps;
  e.train_loss = tally.loss_sum / double(tally.samples);
  e.train_metric = tally.metric_sum / double(tally.metric_values);
  e.learning_rate =
      learning_rate_at(config_.schedule, config_.optimizer.learning_rate, optimizer_.step() - 1,
                       tally.steps, tally.steps * config_.epochs);
  e.seconds = seconds_since(t0);
  e.samples_per_second = e.seconds > 0 ? double(tally.samples) / e.seconds : 0;
  return e;
}

std::vector<float> Trainer::predict(const Dataset& data) {
  const ModelSpec& spec = model_.spec();
  if (data.features != spec.inputs)
    throw Error("data '" + data.source + "' has " + std::to_string(data.features) +
                " features but the model's input layer takes " + std::to_string(spec.inputs));
  const std::size_t cols = spec.outputs();
  std::vector<float> out(data.rows * cols);
  std::vector<std::uint32_t> all(data.rows);
  std::iota(all.begin(), all.end(), 0u);
  const std::size_t workers = std::min(pool_->size(), workers_for(data.rows));
  auto task = [&](std::size_t w) {
    if (w >= workers) return;
    Workspace<float>& ws = workspaces_[w];
    const parallel::Range mine = parallel::partition(data.rows, workers, w);
    for (std::size_t b = mine.begin; b < mine.end; b += ws.max_rows()) {
      const std::size_t n = std::min(ws.max_rows(), mine.end - b);
      gather(data, std::span<const std::uint32_t>(all.data() + b, n), ws);
      model_.forward(ws, ws.input(), n, false);
      float* dst = out.data() + b * cols;
      std::copy(ws.logits(), ws.logits() + n * cols, dst);
      activation_forward(spec.output_activation(), dst, n, cols);
    }
  };
  if (workers == 1)
    task(0);
  else
    pool_->run(task);
  return out;
}

EpochResult Trainer::train_epoch(BatchSource& source) {
  const auto t0 = Clock::now();
  source.start_epoch(epochs_done_);
  Dataset batch;
  std::vector<std::uint32_t> rows;
  EpochTally tally;
  while (source.next_batch(batch, config_.batch_size)) {
    if (batch.rows == 0 || batch.rows > config_.batch_size)
      throw Error("batch source gave " + std::to_string(batch.rows) + " rows; a batch holds 1 to " +
                  std::to_string(config_.batch_size));
    batch.validate();
    check_data(batch);
    rows.resize(batch.rows);
    std::iota(rows.begin(), rows.end(), 0u);
    tally.add(epoch_step(batch, rows, tally.steps, 0), batch, batch.rows);
  }
  if (tally.steps == 0)
    throw Error("batch source gave no batches for epoch " + std::to_string(epochs_done_ + 1));
  return finish_epoch(tally, t0);
}

std::vector<EpochResult> Trainer::fit(const Dataset& train,
                                      const std::function<bool(const EpochResult&)>& on_epoch_end) {
  std::vector<EpochResult> results;
  while (epochs_done_ < config_.epochs) {
    results.push_back(train_epoch(train));
    if (on_epoch_end && !on_epoch_end(results.back())) break;
  }
  return results;
}

Evaluation Trainer::evaluate(const Dataset& data) {
  check_data(data);
  const ModelSpec& spec = model_.spec();
  const std::size_t cols = spec.outputs();
  std::vector<std::uint32_t> all(data.rows);
  std::iota(all.begin(), all.end(), 0u);
  const std::size_t workers = std::min(pool_->size(), workers_for(data.rows));
  std::vector<double> losses(workers, 0.0);
  std::vector<ConfusionMatrix> confusion(workers, ConfusionMatrix(data.classes));
  std::vector<RegressionMetrics> regression(workers);
  auto task = [&](std::size_t w) {
    if (w >= workers) return;
    Workspace<float>& ws = workspaces_[w];
    const parallel::Range mine = parallel::partition(data.rows, workers, w);
    for (std::size_t b = mine.begin; b < mine.end; b += ws.max_rows()) {
      const std::size_t n = std::min(ws.max_rows(), mine.end - b);
      const std::span<const std::uint32_t> rows(all.data() + b, n);
      gather(data, rows, ws);
      model_.forward(ws, ws.input(), n, false);
      losses[w] +=
          loss_forward_backward<float>(config_.loss, spec.output_activation(), ws.logits(), n, cols,
                                       targets_of(data, ws), 1.0f, ws.outputs(), nullptr);
      const float* out = ws.outputs();
      if (data.classification()) {
        for (std::size_t r = 0; r < n; ++r)
          confusion[w].add(std::size_t(ws.labels()[r]), predicted_class(out + r * cols, cols));
      } else {
        const float* y = ws.target_values();
        for (std::size_t i = 0; i < n * cols; ++i) {
          const double d = double(out[i]) - double(y[i]);
          regression[w].sum_squared_error += d * d;
          regression[w].sum_absolute_error += std::abs(d);
        }
        regression[w].count += n * cols;
      }
    }
  };
  if (workers == 1)
    task(0);
  else
    pool_->run(task);
  Evaluation e;
  e.rows = data.rows;
  e.classification = data.classification();
  e.confusion = ConfusionMatrix(data.classes);
  for (std::size_t w = 0; w < workers; ++w) {
    e.loss += losses[w];
    if (e.classification)
      e.confusion += confusion[w];
    else
      e.regression += regression[w];
  }
  e.loss /= double(data.rows);
  return e;
}

}  // namespace dptrain
