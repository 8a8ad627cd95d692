#pragma once
// --plan (train, bench): how a step uses the threads, parsed by parse_plan (plan.hpp): data,
// intra, GxT (train runs G*T threads), each optionally /owner or /buffers, or auto: the plan
// tuning::choose_plan (tuning.hpp) picks for this model, batch and thread count by calibrating
// the cost model and timing a few steps of its shortlist.
// `auto` is an opt-in, not the default: its pick follows a measurement, so two runs could pick
// different plans and then differ in their bits, which a fixed plan never does.
#include <cstddef>

#include <cxxopts.hpp>

#include "dptrain/engine.hpp"

namespace dptrain::cli {

/// What --plan asked for beyond what read_plan_option already set.
struct PlanRequest {
  bool automatic = false;   ///< --plan auto: call choose_plan once the model is known
  std::size_t threads = 0;  ///< --plan GxT: G*T; 0 otherwise
};

/// Adds --plan to `options` (the Engine group).
void add_plan_option(cxxopts::Options& options);

/// Reads --plan into config.plan (over what --parallelism and --weight-grads set). With
/// `read_threads` (train), GxT also sets config.threads = G*T, and an explicit --threads that
/// differs is an error; without (bench), G is left open (plan.groups 0: T at every thread
/// count). Throws Error for a malformed plan, --plan given together with --parallelism, or a
/// weight-gradient strategy given twice.
PlanRequest read_plan_option(const cxxopts::ParseResult& result, EngineConfig& config,
                             bool read_threads);

}  // namespace dptrain::cli
