#pragma once
// How a step uses the threads: the plan of an EngineConfig (engine.hpp, Notes [The step],
// [Owner computes] and [Groups]), as one value with one text form.
//
//   data       every thread a replica working on its shard of the batch (G x 1; the default)
//   intra      one replica, every product split over all threads
//   GxT        G replica groups of T threads, e.g. 4x2: data parallel across the groups, each
//              product split inside its group; G * T threads in all
//   auto       to be chosen on this machine for the model, batch and threads by
//              tuning::choose_plan (tuning.hpp); Trainer resolves it at construction
// Each of data, intra and GxT may end in /owner or /buffers, the weight-gradient strategy
// (Note [Owner computes]); without it the engine picks (WeightGradients::automatic). `auto`
// chooses the strategy too.
#include <cstddef>
#include <string>
#include <string_view>

#include "dptrain/names.hpp"

namespace dptrain {

enum class Parallelism {
  data,   ///< the minibatch is split across workers (Note [The step] in src/engine/engine.cpp)
  intra,  ///< one unit; every matrix product is split over the workers (as PyTorch on CPUs)
};
/// Note [Name tables].
inline constexpr NameTable<Parallelism, 2> kParallelismNames{
    "parallelism", {{{Parallelism::data, "data"}, {Parallelism::intra, "intra"}}}};
static_assert(kParallelismNames.complete_through(Parallelism::intra));
inline Parallelism parse_parallelism(std::string_view name) {
  return kParallelismNames.parse(name);
}
inline const char* parallelism_name(Parallelism p) {
  return kParallelismNames.name(p);
}

/// How a step forms the weight gradients (Note [Owner computes]).
enum class WeightGradients {
  automatic,  ///< owner where it applies (fp32, data strategy, one process), else buffers
  buffers,    ///< per-unit gradient buffers summed and applied by the Reducer
  owner,      ///< workers own row tiles of the weights: gradient over the whole batch, update
};
/// Note [Name tables].
inline constexpr NameTable<WeightGradients, 3> kWeightGradientsNames{
    "weight-gradient mode",
    {{{WeightGradients::automatic, "auto"},
      {WeightGradients::buffers, "buffers"},
      {WeightGradients::owner, "owner"}}}};
static_assert(kWeightGradientsNames.complete_through(WeightGradients::owner));
inline WeightGradients parse_weight_gradients(std::string_view name) {
  return kWeightGradientsNames.parse(name);
}
inline const char* weight_gradients_name(WeightGradients w) {
  return kWeightGradientsNames.name(w);
}

/// A plan (the header comment). The default is the data plan with the engine's choice of
/// weight gradients.
struct Plan {
  /// `auto`: not runnable as such; tuning::choose_plan (or Trainer) replaces it by a fixed plan.
  bool automatic = false;
  Parallelism parallelism = Parallelism::data;
  /// G of a GxT plan, whose threads must then be G * T; 0: threads / T, whatever they are.
  std::size_t groups = 0;
  /// T: threads per replica group (Note [Groups]); 1 is plain data parallelism (or intra).
  std::size_t group_threads = 1;
  WeightGradients weight_gradients = WeightGradients::automatic;

  bool operator==(const Plan&) const = default;
};

/// Parses "auto", "data", "intra" or "GxT" (whole numbers G, T >= 1), each but auto optionally
/// followed by "/owner" or "/buffers". Throws dptrain::Error with one message naming the text
/// and the expected forms otherwise (or when G x T exceeds kMaxThreads, limits.hpp).
Plan parse_plan(std::string_view text);

/// The text parse_plan reads back to `plan`: "auto", "data", "intra", "4x2", "data/buffers",
/// ... A G x T plan without G (groups 0) is written "Gx2", which does not parse.
std::string to_string(const Plan& plan);

/// The same without the weight-gradient suffix and with G filled in from `threads` (threads /
/// T): "data", "intra" or "4x2", as the CLI's headers show a running plan.
std::string plan_shape(const Plan& plan, std::size_t threads);

/// Throws dptrain::Error for a plan that cannot run on `threads` threads: auto (not yet
/// resolved), T 0 or not dividing `threads`, G x T other than `threads`, T > 1 with intra.
/// EngineConfig::validate checks the rest (owner needs fp32 and one process, bf16 data only).
void check_plan(const Plan& plan, std::size_t threads);

}  // namespace dptrain
