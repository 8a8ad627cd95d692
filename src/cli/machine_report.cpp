#include "machine_report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "dptrain/io.hpp"

namespace dptrain::cli {

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  if (!(f >> a >> b >> c)) return "";
  return a + " " + b + " " + c;
}

double sgemm_gflops(GemmBackend backend, std::size_t m, std::size_t n, std::size_t k,
                    double seconds) {
  AlignedBuffer<float> a(m * k), b(k * n), c(m * n);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i % 7) * 0.1f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(i % 5) * 0.1f;
  double best = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = Clock::now();
    std::size_t reps = 0;
    do {
      gemm<float>(backend, Transpose::no, Transpose::no, m, n, k, 1.0f, a.data(), k, b.data(), n,
                  0.0f, c.data(), n);
      ++reps;
    } while (Clock::now() - t0 < std::chrono::milliseconds(50));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * double(m) * double(n) * double(k) * double(reps) / s / 1e9);
  } while (Clock::now() < end);
  return best;
}

nlohmann::json topology_json(const Topology& t) {
  auto groups = [](const std::vector<CoreGroup>& gs) {
    nlohmann::json out = nlohmann::json::array();
    for (const CoreGroup& g : gs) out.push_back({{"cores", g.cores}, {"bytes", g.bytes}});
    return out;
  };
  return {{"cores", t.physical_cores()},
          {"pus", t.pus()},
          {"l3_groups", t.l3_groups.size()},
          {"numa_nodes", t.numa_nodes.size()},
          {"l3_group_cores", groups(t.l3_groups)},
          {"numa_node_cores", groups(t.numa_nodes)},
          {"source", t.source},
          {"description", t.describe()}};
}

nlohmann::json json_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

void write_json(const std::string& path, const nlohmann::json& doc) {
  write_file_atomically(path, doc.dump(2) + "\n");
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string csv_number(double value) {
  if (!std::isfinite(value)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + fields[i];
  return line + "\n";
}

}  // namespace dptrain::cli
