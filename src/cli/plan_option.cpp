// --plan: reading it into EngineConfig::plan (plan_option.hpp).
#include "plan_option.hpp"

#include <string>

#include "dptrain/error.hpp"

namespace dptrain::cli {

void add_plan_option(cxxopts::Options& options) {
  options.add_options("Engine")(
      "plan",
      "How a step uses the threads: data (every thread a replica on its batch shard), intra "
      "(one replica, each product split over all threads), GxT (G replica groups of T threads "
      "each splitting its products, e.g. 4x2 = 8 threads), or auto (the fastest of the plans "
      "the cost model shortlists, timed at start-up for this model: about a second; its pick, "
      "and so the bits, may vary between runs); data, intra and GxT may end in /owner or "
      "/buffers (as --weight-grads). Replaces --parallelism",
      cxxopts::value<std::string>());
}

PlanRequest read_plan_option(const cxxopts::ParseResult& r, EngineConfig& c, bool read_threads) {
  if (!r.count("plan")) return {};
  if (r.count("parallelism"))
    throw Error(
        "--plan and --parallelism: give one (--plan data|intra is --parallelism data|intra)");
  const std::string text = r["plan"].as<std::string>();
  Plan plan;
  try {
    plan = parse_plan(text);
  } catch (const Error& e) {
    throw Error(std::string("--") + e.what());
  }
  if (plan.automatic && r.count("weight-grads"))
    throw Error(
        "--plan auto chooses the weight gradients too: drop --weight-grads, or name "
        "the plan (data, intra or GxT)");
  if (plan.weight_gradients != WeightGradients::automatic && r.count("weight-grads"))
    throw Error("--plan " + text + " names the weight gradients: drop --weight-grads");
  if (plan.weight_gradients == WeightGradients::automatic)
    plan.weight_gradients = c.plan.weight_gradients;  // --weight-grads
  if (plan.automatic) plan.weight_gradients = WeightGradients::automatic;
  const std::size_t threads = plan.groups * plan.group_threads;
  if (!read_threads) plan.groups = 0;
  c.plan = plan;
  if (plan.automatic) return {true, 0};
  if (threads == 0) return {};
  if (read_threads) {
    if (r.count("threads") && c.threads != threads)
      throw Error("--plan " + text + " runs " + std::to_string(threads) +
                  " threads, but --threads says " + r["threads"].as<std::string>() +
                  (r["threads"].as<std::string>() != std::to_string(c.threads)
                       ? " (" + std::to_string(c.threads) + ")"
                       : "") +
                  ": drop --threads or make them agree");
    c.threads = threads;
  }
  return {false, threads};
}

}  // namespace dptrain::cli
