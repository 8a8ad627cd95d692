// G x T plans (Note [Groups] in engine.hpp): G replica groups run the data strategy, each
// splitting its products over T threads. They compute the same mathematics as one thread, keep
// the bits promises of the data strategy per T, refuse settings that cannot work, and pin each
// group to its own cores.
#include <gtest/gtest.h>
#include <sched.h>

#include <cmath>
#include <cstdlib>
#include <numeric>
#include <string>

#include "dptrain/topology.hpp"
#include "test_util.hpp"

namespace dptrain {
namespace {

/// Wide enough that a group's products are split (gemm.cpp: at least 1 MFLOP per part): with
/// batch 256 and two groups, a 128 x 64 x 256 product is 4.2 MFLOP.
const ModelSpec& wide_spec() {
  static const ModelSpec s =
      ModelSpec::mlp({64, 256, 256, 4}, Activation::relu, Activation::softmax);
  return s;
}

Dataset wide_data() {
  Dataset d;
  d.source = "groups";
  d.rows = 512;
  d.features = 64;
  d.classes = 4;
  d.x.resize(d.rows * d.features);
  d.labels.resize(d.rows);
  for (std::size_t i = 0; i < d.x.size(); ++i) d.x[i] = std::sin(0.37f * float(i));
  for (std::size_t r = 0; r < d.rows; ++r) d.labels[r] = std::int32_t((r * 7) % 4);
  return d;
}

TrainConfig group_config(std::size_t threads, std::size_t group_threads) {
  TrainConfig c;
  c.loss = Loss::ce;
  c.batch_size = 256;
  c.threads = threads;
  c.plan.group_threads = group_threads;
  c.min_flops_per_worker = 0;
  c.optimizer.kind = OptimizerKind::adam;
  c.optimizer.learning_rate = 1e-3;
  c.backend = test::first_test_backend();
  return c;
}

/// Parameters after `steps` steps over the first rows of the data.
std::vector<float> train_steps(const TrainConfig& c, int steps) {
  const Dataset d = wide_data();
  Model<float> m(wide_spec());
  m.initialize(7);
  Trainer t(m, c);
  std::vector<std::uint32_t> rows(c.batch_size);
  for (int s = 0; s < steps; ++s) {
    std::iota(rows.begin(), rows.end(), std::uint32_t(s % 2) * 256u);
    t.step(d, rows);
  }
  return {m.parameters().begin(), m.parameters().end()};
}

TEST(Groups, TrainLikeOneThread) {
  const auto one = train_steps(group_config(1, 1), 3);
  for (auto [threads, group] : {std::pair{2u, 2u}, {4u, 2u}, {6u, 3u}}) {
    const auto many = train_steps(group_config(threads, group), 3);
    ASSERT_EQ(many.size(), one.size());
    double worst = 0;
    for (std::size_t i = 0; i < one.size(); ++i)
      worst = std::max(worst, double(std::abs(many[i] - one[i])));
    EXPECT_LT(worst, 1e-5) << threads << " threads in groups of " << group;
  }
}

TEST(Groups, SameBitsEveryRun) {
  const TrainConfig c = group_config(4, 2);
  EXPECT_EQ(train_steps(c, 2), train_steps(c, 2));
}

TEST(Groups, DeterministicSameBitsForAnyGroupCount) {
  auto run = [](std::size_t threads) {
    TrainConfig c = group_config(threads, 2);
    c.deterministic = true;
    c.micro_batches = 4;  // 64-row micro-batches: 2 x 64 x 256 x 256 = 8.4 MFLOP, split in two
    return params_hash<float>(std::span<const float>(train_steps(c, 2)));
  };
  const std::uint64_t reference = run(2);
  for (std::size_t threads : {4u, 6u}) EXPECT_EQ(run(threads), reference) << threads;
}

TEST(Groups, EngineReportsItsShape) {
  Model<float> m(wide_spec());
  Engine e(m, group_config(6, 3));
  EXPECT_EQ(e.groups(), 2u);
  EXPECT_EQ(e.group_threads(), 3u);
  EXPECT_EQ(e.pool().size(), 2u);
  EXPECT_EQ(e.weight_gradients(), WeightGradients::owner);
  EXPECT_EQ(e.evaluation_pool().size(), 6u) << "evaluation uses every thread, not the leaders";
  Engine plain(m, group_config(4, 1));
  EXPECT_EQ(plain.groups(), 4u);
  EXPECT_EQ(plain.group_threads(), 1u);
  EXPECT_EQ(&plain.evaluation_pool(), &plain.pool());
}

TEST(Groups, RefusesWhatCannotWork) {
  Model<float> m(wide_spec());
  auto message = [&](TrainConfig c) -> std::string {
    try {
      Engine e(m, c);
    } catch (const Error& x) {
      return x.what();
    }
    return "";
  };
  EXPECT_NE(message(group_config(4, 3)).find("must divide the threads (4)"), std::string::npos);
  EXPECT_NE(message(group_config(4, 0)).find("must divide"), std::string::npos);
  TrainConfig intra = group_config(4, 2);
  intra.plan.parallelism = Parallelism::intra;
  EXPECT_NE(message(intra).find("data-parallel plan"), std::string::npos);
}

std::size_t affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return std::size_t(CPU_COUNT(&set));
}

TEST(Groups, PinsEachGroupToItsCores) {
  if (!thread_binding_supported()) GTEST_SKIP() << "the OS does not bind threads here";
  TrainConfig c = group_config(4, 2);
  c.backend = parallel::Backend::threads;
  c.pin_cores = pin_order(4);
  std::vector<std::string> warnings;
  c.on_warning = [&](const std::string& w) {
    if (w.find("oversubscribed") == std::string::npos) warnings.push_back(w);
  };
  const std::size_t before = affinity_count();
  {
    Model<float> m(wide_spec());
    Trainer t(m, c);
    // The caller is leader 0 (threads backend) and worker 0 of its group: bound to core 0.
    EXPECT_EQ(affinity_count(), machine_topology().cores[0].pus.size());
  }
  EXPECT_EQ(affinity_count(), before) << "the engine unbinds its threads when it goes";
  const auto pinned = train_steps(c, 2);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  c.pin_cores.clear();
  EXPECT_EQ(pinned, train_steps(c, 2)) << "pinning changes where threads run, not the bits";
}

}  // namespace
}  // namespace dptrain
