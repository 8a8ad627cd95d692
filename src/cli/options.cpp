#include "options.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "commands.hpp"
#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/topology.hpp"

namespace dptrain::cli {

std::size_t parse_count(const std::string& text, const std::string& option, std::size_t minimum) {
  std::size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    throw Error("--" + option + ": '" + text + "' is not a whole number");
  if (value < minimum)
    throw Error("--" + option + " must be at least " + std::to_string(minimum) + ", got " + text);
  return value;
}

double parse_real(const std::string& text, const std::string& option) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value))
    throw Error("--" + option + ": '" + text + "' is not a number");
  return value;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

std::vector<std::size_t> parse_size_list(const std::string& text, const std::string& option) {
  std::vector<std::size_t> values;
  for (const std::string& part : split_list(text)) {
    if (part.empty()) throw Error("--" + option + ": empty entry in '" + text + "'");
    values.push_back(parse_count(part, option, 1));
  }
  return values;
}

std::size_t parse_threads(const std::string& text, const std::string& option) {
  const std::size_t n = parse_count(text, option, 0);
  return n == 0 ? machine_topology().physical_cores() : n;
}

std::vector<std::size_t> parse_thread_list(const std::string& text, const std::string& option) {
  std::vector<std::size_t> values;
  for (const std::string& part : split_list(text)) {
    if (part.empty()) throw Error("--" + option + ": empty entry in '" + text + "'");
    values.push_back(parse_threads(part, option));
  }
  return values;
}

void add_pin_option(cxxopts::Options& options) {
  options.add_options("Engine")(
      "pin",
      "Bind worker i to physical core i, one L3 domain filled before the next (openmp and "
      "threads backends; ignored with a warning for tbb)");
}

void read_pin_option(const cxxopts::ParseResult& r, EngineConfig& c) {
  if (!r.count("pin")) return;
  if (c.backend == parallel::Backend::tbb) {
    std::fprintf(stderr,
                 "dptrain: warning: --pin is ignored by the tbb backend, whose tasks move "
                 "between threads (use --backend threads or openmp)\n");
    return;
  }
  c.pin_cores = pin_order(machine_topology().physical_cores());
}

void add_engine_options(cxxopts::Options& options) {
  options.add_options("Engine")(
      "threads",
      "Worker threads, 0 for every physical core (data: minibatch shards; intra: each product "
      "split over them)",
      cxxopts::value<std::string>()->default_value("1"))(
      "backend", "Worker pool: tbb, openmp or threads",
      cxxopts::value<std::string>()->default_value("tbb"))(
      "parallelism",
      "data (split the minibatch) or intra (one replica, products split over the threads); "
      "--plan says the same and more",
      cxxopts::value<std::string>()->default_value("data"))(
      "deterministic", "Same bits for every --threads: fixed micro-batches summed in fixed order")(
      "micro-batches", "Micro-batches per step with --deterministic",
      cxxopts::value<std::string>()->default_value("16"))(
      "gemm",
      "GEMM kernel: auto (per product shape, the fastest measured on this machine, cached; "
      "DPTRAIN_TUNING=builtin: oneDNN), onednn, openblas, eigen or reference",
      cxxopts::value<std::string>()->default_value("auto"))(
      "precision", "fp32, or bf16 (bf16 products, fp32 accumulation and weights; onednn kernel)",
      cxxopts::value<std::string>()->default_value("fp32"))(
      "weight-grads",
      "auto, owner (workers own weight tiles: gradient over the whole batch, no buffers) or "
      "buffers (one gradient buffer per worker, reduced); auto: with --gemm auto the faster "
      "of the two measured on whole steps (cached), else owner for fp32 data-parallel runs in "
      "one process",
      cxxopts::value<std::string>()->default_value("auto"));
}

PlanRequest read_engine_options(const cxxopts::ParseResult& r, EngineConfig& c, bool read_threads) {
  if (read_threads) c.threads = parse_threads(r["threads"].as<std::string>(), "threads");
  c.backend = parse_backend(r["backend"].as<std::string>());
  c.plan.parallelism = parse_parallelism(r["parallelism"].as<std::string>());
  c.plan.weight_gradients = parse_weight_gradients(r["weight-grads"].as<std::string>());
  const PlanRequest plan = read_plan_option(r, c, read_threads);
  c.deterministic = r.count("deterministic") > 0;
  c.micro_batches = parse_count(r["micro-batches"].as<std::string>(), "micro-batches", 1);
  c.gemm = parse_gemm_backend(r["gemm"].as<std::string>());
  c.precision = parse_precision(r["precision"].as<std::string>());
  read_pin_option(r, c);
  return plan;
}

void check_output_path(const std::string& path, const std::string& option,
                       const std::vector<std::string>& inputs, bool stdout_ok) {
  if (is_stdout_path(path)) {
    if (stdout_ok) return;
    throw Error("--" + option +
                ": '-' (standard output) is not supported here; name a file (./- for a file "
                "called '-')");
  }
  try {
    check_output_file(path, inputs);
  } catch (const Error& e) {
    const bool descriptor =
        std::string_view(e.what()).find("open file descriptor") != std::string_view::npos;
    throw Error("--" + option + ": " + e.what() +
                (stdout_ok && descriptor ? " (for standard output use --" + option + " -)" : ""));
  }
}

void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const auto& [option, path] = outputs[i];
      const auto& [earlier, earlier_path] = outputs[j];
      if (is_stdout_path(path) || is_stdout_path(earlier_path)) continue;
      if (same_output(path, earlier_path))
        throw Error("--" + option + ": '" + path + "' is the same file as --" + earlier + " '" +
                    earlier_path + "'; give each output its own file");
    }
}

LineLog::~LineLog() {
  if (fd_ >= 0) ::close(fd_);
}

void LineLog::open(const std::string& path, bool append) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC),
               0666);
  if (fd_ < 0)
    throw Error("cannot open log file '" + path + "' for writing: " + std::strerror(errno));
}

void LineLog::write_line(const std::string& line) {
  const std::string text = line + "\n";
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n > 0) {
      done += std::size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      const int error = n < 0 ? errno : ENOSPC;
      // Not a torn line: cut back what part of it was written (a regular file only).
      if (start >= 0) {
        const int ignored = ::ftruncate(fd_, start);
        (void)ignored;
      }
      throw Error("cannot write log file '" + path_ + "': " + std::strerror(error) +
                  " (it keeps the lines written before)");
    }
  }
}

void write_output(const std::string& path, std::string_view bytes, const std::string& option) {
  if (!is_stdout_path(path)) {
    write_file_atomically(path, bytes);
    return;
  }
  std::fflush(stdout);  // after anything printed before
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() ||
      std::fflush(stdout) != 0)
    throw Error("--" + option + " -: cannot write to standard output: " + std::strerror(errno));
}

namespace {
Communicator* job = nullptr;
}  // namespace
void set_job_communicator(Communicator* communicator) {
  job = communicator;
}
Communicator* job_communicator() {
  return job;
}

std::string iso_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

void reject_unmatched(const cxxopts::ParseResult& result) {
  if (!result.unmatched().empty())
    throw Error("unexpected argument '" + result.unmatched().front() + "'");
}

}  // namespace dptrain::cli
