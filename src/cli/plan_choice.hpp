#pragma once
// --plan (train, bench): how a step uses the threads (engine.hpp, Note [Groups]).
//   data   every thread a replica working on its shard of the batch (the default)
//   intra  one replica, every product split over all threads
//   GxT    G replica groups of T threads, e.g. 4x2 (data parallel across groups, each product
//          split inside its group); train runs G*T threads
//   auto   the cost model (cost_model.hpp, Note [The cost model]), calibrated on this machine
//          for this model, batch and thread count, shortlists data/owner and the two plans it
//          predicts fastest; a few interleaved steps of each (random data) pick the fastest
// `auto` is an opt-in, not the default: its pick follows a measurement, so two runs could pick
// different plans and then differ in their bits, which a fixed plan never does.
#include <cstddef>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "dptrain/trainer.hpp"

namespace dptrain::cli {

/// What --plan asked for beyond what read_plan_option already set.
struct PlanRequest {
  bool automatic = false;   ///< --plan auto: call choose_plan once the model is known
  std::size_t threads = 0;  ///< --plan GxT: G*T; 0 otherwise
};

/// Adds --plan to `options` (the Engine group).
void add_plan_option(cxxopts::Options& options);

/// Reads --plan into `config` (parallelism, group_threads). With `read_threads` (train), GxT
/// also sets config.threads = G*T, and an explicit --threads that differs is an error. Throws
/// Error for a malformed plan or --plan given together with --parallelism.
PlanRequest read_plan_option(const cxxopts::ParseResult& result, EngineConfig& config,
                             bool read_threads);

/// --plan auto for a model of layer widths `widths` trained with `config` (batch, optimizer,
/// threads, GEMM kernel, pool backend): calibrates the cost model, times ~0.15 s of steps of
/// each shortlisted plan, and sets config's parallelism, group_threads and weight_gradients to
/// the fastest (about a second in all). One thread, --deterministic (whose promise covers one T
/// only), bf16 and several ranks keep the data plan without measuring. Returns one line saying
/// what was chosen, with each candidate's measured and predicted step.
std::string choose_plan(const std::vector<std::size_t>& widths, TrainConfig& config);

/// "data", "intra" or "GxT" for a configuration (the data plan with group_threads > 1).
std::string plan_text(const EngineConfig& config);

}  // namespace dptrain::cli
