// The machine topology (hwloc, or the fallback) and binding threads to cores (Note [Pinning]).
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dptrain/dptrain.hpp"
#include "dptrain/topology.hpp"

namespace dptrain {
namespace {

bool has_pu(const CpuCore& core, int cpu) {
  return std::find(core.pus.begin(), core.pus.end(), cpu) != core.pus.end();
}

std::size_t affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  return std::size_t(CPU_COUNT(&set));
}

/// Every core index appears in exactly one of `groups`, and core.*group* agrees.
void expect_partition(const Topology& t, const std::vector<CoreGroup>& groups,
                      std::size_t CpuCore::*group, const char* what) {
  ASSERT_FALSE(groups.empty()) << what;
  std::vector<int> seen(t.cores.size(), 0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    EXPECT_FALSE(groups[g].cores.empty()) << what << " " << g;
    for (std::size_t c : groups[g].cores) {
      ASSERT_LT(c, t.cores.size()) << what;
      ++seen[c];
      EXPECT_EQ(t.cores[c].*group, g) << what << ": core " << c;
    }
  }
  for (std::size_t c = 0; c < seen.size(); ++c)
    EXPECT_EQ(seen[c], 1) << "core " << c << " is in " << seen[c] << " " << what << "s";
}

TEST(Topology, IsConsistent) {
  const Topology& t = machine_topology();
  ASSERT_GE(t.physical_cores(), 1u);
  EXPECT_GE(t.pus(), t.physical_cores());
  EXPECT_LE(t.pus(), parallel::hardware_threads());
  expect_partition(t, t.l3_groups, &CpuCore::l3, "L3 group");
  expect_partition(t, t.numa_nodes, &CpuCore::numa, "NUMA node");
  // Cores come L3 group by group: "the first n cores" fill one cache domain first.
  for (std::size_t c = 1; c < t.cores.size(); ++c)
    EXPECT_LE(t.cores[c - 1].l3, t.cores[c].l3) << "core " << c;
  // No hardware thread belongs to two cores.
  std::vector<int> pus;
  for (const CpuCore& c : t.cores) pus.insert(pus.end(), c.pus.begin(), c.pus.end());
  std::sort(pus.begin(), pus.end());
  EXPECT_EQ(std::adjacent_find(pus.begin(), pus.end()), pus.end());
  const std::string text = t.describe();
  EXPECT_NE(text.find(std::to_string(t.physical_cores()) + " core"), std::string::npos) << text;
  EXPECT_NE(text.find("NUMA"), std::string::npos) << text;
  EXPECT_EQ(&t, &machine_topology()) << "read once";
}

TEST(Topology, BindsTheCallingThreadOrSaysItCannot) {
  const Topology& t = machine_topology();
  const std::size_t before = affinity_count();
  const std::size_t last = t.physical_cores() - 1;
  const bool bound = bind_this_thread_to_core(last);
  EXPECT_EQ(bound, thread_binding_supported());
  if (bound) {
    EXPECT_TRUE(has_pu(t.cores[last], sched_getcpu())) << "running on cpu " << sched_getcpu();
    EXPECT_EQ(affinity_count(), std::max<std::size_t>(1, t.cores[last].pus.size()));
    EXPECT_TRUE(unbind_this_thread());
  }
  EXPECT_EQ(affinity_count(), before);
  EXPECT_THROW(bind_this_thread_to_core(t.physical_cores()), Error);
}

TEST(Topology, PinOrderFillsTheCoresInOrderAndWraps) {
  const std::size_t cores = machine_topology().physical_cores();
  const std::vector<std::size_t> order = pin_order(2 * cores + 1);
  ASSERT_EQ(order.size(), 2 * cores + 1);
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i % cores);
}

/// Pinned workers of `backend` run on the cores asked for, in reverse order so that a pool that
/// happens to run worker i on cpu i cannot pass by luck; unpinned afterwards.
void expect_pinned_workers(parallel::Backend backend) {
  const Topology& t = machine_topology();
  if (!thread_binding_supported() || t.physical_cores() < 2) GTEST_SKIP() << "needs 2 cores";
  const std::size_t n = std::min<std::size_t>(t.physical_cores(), 4);
  parallel::WorkerPool pool(backend, n);
  std::vector<std::size_t> cores(n);
  for (std::size_t i = 0; i < n; ++i) cores[i] = n - 1 - i;
  const std::size_t before = affinity_count();
  {
    WorkerPinning pinning(pool, cores);
    ASSERT_TRUE(pinning.bound());
    for (int round = 0; round < 20; ++round) {
      std::vector<int> cpu(n, -1);
      pool.run([&](std::size_t i) { cpu[i] = sched_getcpu(); });
      for (std::size_t i = 0; i < n; ++i)
        EXPECT_TRUE(has_pu(t.cores[cores[i]], cpu[i]))
            << "worker " << i << " ran on cpu " << cpu[i] << ", asked core " << cores[i];
    }
  }
  std::vector<std::size_t> after(n, 0);
  pool.run([&](std::size_t i) { after[i] = affinity_count(); });
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(after[i], before) << "worker " << i;
}

TEST(Topology, PinsThreadsBackendWorkersToTheirCores) {
  expect_pinned_workers(parallel::Backend::threads);
}

TEST(Topology, PinsOpenMpWorkersToTheirCores) {
  expect_pinned_workers(parallel::Backend::openmp);
}

TEST(Topology, PinningRefusesCoresThatDoNotExist) {
  parallel::WorkerPool pool(parallel::Backend::threads, 1);
  EXPECT_THROW(WorkerPinning(pool, {}), Error);
  EXPECT_THROW(WorkerPinning(pool, {machine_topology().physical_cores()}), Error);
}

EngineConfig pinned_config(parallel::Backend backend, std::vector<std::string>& warnings) {
  EngineConfig c;
  c.threads = 2;
  c.backend = backend;
  c.pin_cores = pin_order(2);
  c.on_warning = [&warnings](const std::string& w) { warnings.push_back(w); };
  return c;
}

TEST(Topology, EnginePinsExceptOnTbbWhereItWarns) {
  Model<float> model(ModelSpec::mlp({4, 8, 2}, Activation::relu, Activation::softmax));
  model.initialize(1);
  std::vector<std::string> warnings;
  { Engine tbb(model, pinned_config(parallel::Backend::tbb, warnings)); }
  const auto mentions_tbb = [](const std::string& w) { return w.find("tbb") != w.npos; };
  EXPECT_EQ(std::count_if(warnings.begin(), warnings.end(), mentions_tbb), 1);
  warnings.clear();
  const std::size_t before = affinity_count();
  {
    Engine threads(model, pinned_config(parallel::Backend::threads, warnings));
    EXPECT_EQ(std::count_if(warnings.begin(), warnings.end(), mentions_tbb), 0);
    // Worker 0 of the threads backend is the caller: bound while the engine lives.
    if (thread_binding_supported()) {
      EXPECT_EQ(affinity_count(), std::max<std::size_t>(1, machine_topology().cores[0].pus.size()));
    }
  }
  EXPECT_EQ(affinity_count(), before) << "the engine unbinds its workers when it goes";
}

}  // namespace
}  // namespace dptrain
