#include "dptrain/topology.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>

#include "dptrain/error.hpp"
#include "dptrain/parallel/pool.hpp"

#if DPTRAIN_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace dptrain {

namespace {

/// The OS cpu numbers in this thread's affinity mask (empty if it cannot be read).
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

bool set_affinity(const std::vector<int>& cpus) {
  if (cpus.empty()) return false;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/// Fallback: every allowed hardware thread is a core of its own, one L3 group, one NUMA node.
Topology fallback_topology(const std::vector<int>& cpus, const std::string& why) {
  Topology t;
  t.source = "fallback (" + why + ": one core per hardware thread)";
  const std::size_t n = std::max<std::size_t>(1, parallel::hardware_threads());
  for (std::size_t i = 0; i < n; ++i) {
    CpuCore c;
    c.os_index = unsigned(i);
    if (i < cpus.size()) c.pus = {cpus[i]};
    t.cores.push_back(c);
  }
  CoreGroup all;
  all.cores.resize(n);
  std::iota(all.cores.begin(), all.cores.end(), std::size_t{0});
  t.l3_groups = {all};
  t.numa_nodes = {all};
  return t;
}

#if DPTRAIN_HAVE_HWLOC

/// Cores of `topo` that hold at least one allowed PU, their allowed PUs, grouped by L3 cache
/// (cores without an L3 above them form one group) and NUMA node, ordered by L3 group.
Topology read_hwloc(hwloc_topology_t topo, const std::vector<int>& cpus) {
  Topology t;
  t.source = "hwloc " + std::string(HWLOC_VERSION);
  std::map<hwloc_obj_t, std::size_t> l3_index;  // nullptr: no L3 above the core
  const int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  std::vector<std::pair<std::size_t, CpuCore>> found;  // (L3 group, core)
  for (int i = 0; i < ncores; ++i) {
    hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, unsigned(i));
    CpuCore c;
    c.os_index = core->os_index;
    int pu = -1;
    hwloc_bitmap_foreach_begin(pu, core->cpuset) {
      if (std::find(cpus.begin(), cpus.end(), pu) != cpus.end()) c.pus.push_back(pu);
    }
    hwloc_bitmap_foreach_end();
    if (c.pus.empty()) continue;
    hwloc_obj_t l3 = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_L3CACHE, core);
    const auto [it, added] = l3_index.emplace(l3, l3_index.size());
    if (added) t.l3_groups.push_back({{}, l3 ? std::size_t(l3->attr->cache.size) : 0});
    c.l3 = it->second;
    const int nnodes = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    for (int n = 0; n < nnodes; ++n) {
      hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, unsigned(n));
      if (hwloc_bitmap_isincluded(core->cpuset, node->cpuset)) c.numa = std::size_t(n);
    }
    found.emplace_back(c.l3, c);
  }
  // hwloc's logical order already walks the cache tree; the stable sort only makes the
  // "L3 group by group" contract hold whatever the order of the objects.
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::map<std::size_t, std::size_t> numa_index;  // hwloc node -> index among used nodes
  for (auto& [l3, c] : found) {
    const std::size_t index = t.cores.size();
    t.l3_groups[l3].cores.push_back(index);
    const auto [it, added] = numa_index.emplace(c.numa, numa_index.size());
    if (added) {
      hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, unsigned(c.numa));
      t.numa_nodes.push_back({{}, node ? std::size_t(node->attr->numanode.local_memory) : 0});
    }
    c.numa = it->second;
    t.numa_nodes[c.numa].cores.push_back(index);
    t.cores.push_back(c);
  }
  return t;
}

#endif

/// The topology, the affinity the process started with, and hwloc's handle, read once.
struct Machine {
  Topology topology;
  std::vector<int> initial_cpus;
  bool can_bind = false;
#if DPTRAIN_HAVE_HWLOC
  hwloc_topology_t handle = nullptr;
#endif

  Machine() : initial_cpus(allowed_cpus()) {
#if DPTRAIN_HAVE_HWLOC
    // hwloc_topology_init() dlopens every plugin it finds (Debian: GL, OpenCL, PCI, libxml),
    // with their libraries (libGL, an OpenCL loader that may start GPU drivers): 35-55 ms here
    // before anything is read, for objects dptrain never looks at. Skip them unless the user
    // chose a blacklist. Only cores, caches and NUMA nodes are wanted from the load, too.
    setenv("HWLOC_PLUGINS_BLACKLIST", "hwloc_gl,hwloc_opencl,hwloc_pci,hwloc_xml_libxml", 0);
    if (hwloc_topology_init(&handle) == 0) {
      hwloc_topology_set_io_types_filter(handle, HWLOC_TYPE_FILTER_KEEP_NONE);
      hwloc_topology_set_icache_types_filter(handle, HWLOC_TYPE_FILTER_KEEP_NONE);
      hwloc_topology_set_type_filter(handle, HWLOC_OBJ_MISC, HWLOC_TYPE_FILTER_KEEP_NONE);
    }
    if (handle && hwloc_topology_load(handle) == 0) {
      topology = read_hwloc(handle, initial_cpus);
      const hwloc_topology_support* s = hwloc_topology_get_support(handle);
      can_bind = s && s->cpubind && s->cpubind->set_thread_cpubind;
    }
    if (!topology.cores.empty()) return;
    topology = fallback_topology(initial_cpus, "hwloc found no cores");
#else
    topology = fallback_topology(initial_cpus, "built without hwloc");
#endif
    can_bind = !initial_cpus.empty();
  }
  ~Machine() {
#if DPTRAIN_HAVE_HWLOC
    if (handle) hwloc_topology_destroy(handle);
#endif
  }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  bool bind(const std::vector<int>& cpus) const {
    if (!can_bind) return false;
#if DPTRAIN_HAVE_HWLOC
    if (topology.source.starts_with("hwloc")) {
      hwloc_bitmap_t set = hwloc_bitmap_alloc();
      for (int c : cpus) hwloc_bitmap_set(set, unsigned(c));
      const bool ok = hwloc_set_cpubind(handle, set, HWLOC_CPUBIND_THREAD) == 0;
      hwloc_bitmap_free(set);
      return ok;
    }
#endif
    return set_affinity(cpus);
  }
};

const Machine& machine() {
  static const Machine m;
  return m;
}

std::string megabytes(std::size_t bytes) {
  char buf[32];
  if (bytes >= (std::size_t(1) << 30))
    std::snprintf(buf, sizeof buf, "%.0f GiB", double(bytes) / double(1 << 30));
  else
    std::snprintf(buf, sizeof buf, "%.0f MiB", double(bytes) / double(1 << 20));
  return buf;
}

/// "1 L3 group (32 MiB)", "2 L3 groups of 8 cores (32 MiB each)", "3 L3 groups of 8,8,4 cores".
std::string describe_groups(const std::vector<CoreGroup>& groups, const char* what) {
  std::string text = std::to_string(groups.size()) + " " + what + (groups.size() == 1 ? "" : "s");
  bool same = true;
  for (const CoreGroup& g : groups)
    same = same && g.cores.size() == groups[0].cores.size() && g.bytes == groups[0].bytes;
  if (groups.size() > 1) {
    text += " of ";
    if (same) {
      text += std::to_string(groups[0].cores.size());
    } else {
      for (std::size_t i = 0; i < groups.size(); ++i) {
        if (i > 0) text += ',';
        text += std::to_string(groups[i].cores.size());
      }
    }
    text += same && groups[0].cores.size() == 1 ? " core" : " cores";
  }
  if (same && groups[0].bytes > 0)
    text += " (" + megabytes(groups[0].bytes) + (groups.size() > 1 ? " each)" : ")");
  return text;
}

}  // namespace

std::size_t Topology::pus() const {
  std::size_t n = 0;
  for (const CpuCore& c : cores) n += std::max<std::size_t>(1, c.pus.size());
  return n;
}

std::string Topology::describe() const {
  std::string text = std::to_string(cores.size()) + (cores.size() == 1 ? " core, " : " cores, ") +
                     std::to_string(pus()) + (pus() == 1 ? " PU" : " PUs");
  if (pus() == cores.size()) text += " (no SMT)";
  text += ", " + describe_groups(l3_groups, "L3 group");
  text += ", " + describe_groups(numa_nodes, "NUMA node");
  return text + " [" + source + "]";
}

const Topology& machine_topology() {
  return machine().topology;
}

bool thread_binding_supported() {
  return machine().can_bind;
}

bool bind_this_thread_to_core(std::size_t core) {
  const Topology& t = machine_topology();
  if (core >= t.cores.size())
    throw Error("core " + std::to_string(core) + " does not exist: this machine has " +
                std::to_string(t.cores.size()) + " core(s) available");
  return machine().bind(t.cores[core].pus);
}

bool unbind_this_thread() {
  return machine().bind(machine().initial_cpus);
}

std::vector<std::size_t> pin_order(std::size_t threads) {
  const std::size_t cores = machine_topology().cores.size();
  std::vector<std::size_t> order(threads);
  for (std::size_t i = 0; i < threads; ++i) order[i] = i % cores;
  return order;
}

WorkerPinning::WorkerPinning(parallel::WorkerPool& pool, std::vector<std::size_t> cores)
    : pool_(pool), cores_(std::move(cores)) {
  if (cores_.empty()) throw Error("worker pinning needs at least one core");
  const std::size_t available = machine_topology().cores.size();
  for (std::size_t c : cores_)
    if (c >= available)
      throw Error("cannot pin a worker to core " + std::to_string(c) + ": this machine has " +
                  std::to_string(available) + " core(s) available");
  // One slot per worker, written by that worker only; read after the run's join.
  std::vector<char> ok(pool_.size(), 0);
  pool_.run([&](std::size_t i) { ok[i] = bind_this_thread_to_core(core_of(i)) ? 1 : 0; });
  bound_ = std::all_of(ok.begin(), ok.end(), [](char b) { return b != 0; });
}

WorkerPinning::~WorkerPinning() {
  try {
    pool_.run([](std::size_t) { unbind_this_thread(); });
  } catch (...) {
    // A destructor must not throw; unbinding never does, but the pool's run may in principle.
  }
}

}  // namespace dptrain
