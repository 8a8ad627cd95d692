#pragma once
// What `dptrain bench` and `dptrain scale` report besides their measurements (which are
// tuning.hpp's: points, interleaved windows and their statistics): the machine facts (CPU,
// load, SGEMM rate, topology) and the CSV/JSON output helpers.
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dptrain/dptrain.hpp"
#include "options.hpp"
#include "workloads.hpp"

namespace dptrain::cli {

std::string cpu_model();
/// The 1, 5 and 15 minute load averages ("0.52 0.61 0.70"; empty when unavailable): on a shared
/// machine, the first thing to look at when figures are noisy.
std::string load_average();

/// Single-thread SGEMM rate of (m x k)(k x n), the best of several timed rounds.
double sgemm_gflops(GemmBackend backend, std::size_t m, std::size_t n, std::size_t k,
                    double seconds);

/// The topology for result files: cores, pus, l3_groups and numa_nodes (counts), the cores of
/// each L3 group and NUMA node with its bytes, the source (hwloc or fallback) and describe().
nlohmann::json topology_json(const Topology& topology);

/// A number for JSON: null for NaN/Inf.
nlohmann::json json_number(double value);
/// Writes `doc` indented by 2, with a final newline, atomically (dptrain::write_file_atomically).
void write_json(const std::string& path, const nlohmann::json& doc);

/// A CSV field, quoted when it holds a comma, quote or newline (RFC 4180).
std::string csv_field(const std::string& text);
/// A number for CSV: %.6g, empty for NaN/Inf.
std::string csv_number(double value);
/// The fields, already formatted, joined by commas and ended by a newline.
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace dptrain::cli
