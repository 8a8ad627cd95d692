// The configurations `dptrain bench --sweep` measures against the default (tuning.hpp:
// sweep_candidates).
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/tuning.hpp"

namespace dptrain::tuning {

namespace {

/// `base` with one fixed kernel and plan, no kernel choice (the fixed kernel runs every product).
SweepCandidate fixed(const TrainConfig& base, std::size_t threads, GemmBackend gemm, Plan plan) {
  SweepCandidate c;
  c.config = base;
  c.config.threads = threads;
  c.config.gemm = gemm;
  c.config.kernels = nullptr;
  c.config.plan = plan;
  c.label = std::string(gemm_backend_name(gemm)) + " " + to_string(plan);
  return c;
}

}  // namespace

std::vector<SweepCandidate> sweep_candidates(const TrainConfig& base, std::size_t threads) {
  if (base.precision != Precision::fp32)
    throw Error(
        "--sweep compares fp32 configurations (owner weight gradients, intra and GxT plans need "
        "fp32): drop --precision " +
        std::string(precision_name(base.precision)));
  if (base.communicator) throw Error("--sweep runs on one process only, not under MPI");
  if (threads == 0) throw Error("--sweep: thread count 0");
  std::vector<SweepCandidate> out;
  for (const GemmBackend gemm : tunable_gemm_backends()) {
    for (const WeightGradients wg : {WeightGradients::owner, WeightGradients::buffers}) {
      Plan data;
      data.weight_gradients = wg;
      out.push_back(fixed(base, threads, gemm, data));
      // G x T: every T > 1 dividing the threads (T = threads: one group splitting every
      // product, its elementwise work on the leader alone).
      for (std::size_t t = 2; t <= threads; ++t) {
        if (threads % t != 0) continue;
        Plan groups = data;
        groups.groups = threads / t;
        groups.group_threads = t;
        out.push_back(fixed(base, threads, gemm, groups));
      }
    }
    if (threads > 1) {  // intra: one replica, its weight gradients in its own products
      Plan intra;
      intra.parallelism = Parallelism::intra;
      intra.weight_gradients = WeightGradients::buffers;
      out.push_back(fixed(base, threads, gemm, intra));
      out.back().label = std::string(gemm_backend_name(gemm)) + " intra";
    }
  }
  return out;
}

}  // namespace dptrain::tuning
