#include "bench_common.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <span>

namespace dptrain::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::size_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::size_t(std::strtoull(line.c_str() + n + 1, nullptr, 10));
  return 0;
}

}  // namespace

const std::vector<Reference>& references() {
  static const std::vector<Reference> refs = {
      {"A",
       {784, 128, 10},
       Activation::relu,
       Activation::softmax,
       Loss::ce,
       OptimizerKind::adam,
       1e-3,
       128,
       "784-128-10 relu/softmax CE, Adam, batch 128",
       "fashion-mnist",
       8192,
       500},
      {"B",
       {784, 1024, 1024, 10},
       Activation::relu,
       Activation::softmax,
       Loss::ce,
       OptimizerKind::momentum,
       1e-2,
       256,
       "784-1024-1024-10 relu/softmax CE, SGD momentum, batch 256",
       "fashion-mnist",
       8192,
       100},
      {"C",
       {8, 10, 8, 1},
       Activation::relu,
       Activation::sigmoid,
       Loss::bce,
       OptimizerKind::adam,
       1e-3,
       32,
       "8-10-8-1 relu/sigmoid BCE, Adam, batch 32",
       "blobs8",
       0,
       1000},
      {"xor",
       {2, 3, 1},
       Activation::sigmoid,
       Activation::sigmoid,
       Loss::bce,
       OptimizerKind::sgd,
       0.5,
       4,
       "2-3-1 sigmoid BCE, SGD, batch 4",
       "xor",
       0,
       2000},
      {"square",
       {1, 10, 1},
       Activation::relu,
       Activation::identity,
       Loss::mse,
       OptimizerKind::adam,
       1e-2,
       32,
       "1-10-1 relu MSE, Adam, batch 32",
       "square",
       0,
       1000},
  };
  return refs;
}

const Reference& find_reference(const std::string& name, const std::string& option) {
  for (const Reference& ref : references())
    if (ref.name == name) return ref;
  throw Error("--" + option + ": unknown model '" + name + "' (expected A, B, C, xor, square)");
}

std::vector<const Reference*> parse_reference_list(const std::string& list,
                                                   const std::string& option) {
  std::vector<const Reference*> chosen;
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    chosen.push_back(&find_reference(list.substr(start, comma - start), option));
    start = comma + 1;
  }
  return chosen;
}

Reference custom_reference(const std::vector<std::size_t>& widths, std::size_t batch) {
  if (widths.size() < 2) throw Error("--layers needs at least an input and an output width");
  const bool binary = widths.back() == 1;
  std::string layers;
  for (std::size_t w : widths) {
    if (!layers.empty()) layers += '-';
    layers += std::to_string(w);
  }
  Reference r{"custom",
              widths,
              Activation::relu,
              binary ? Activation::sigmoid : Activation::softmax,
              binary ? Loss::bce : Loss::ce,
              OptimizerKind::adam,
              1e-3,
              batch,
              "",
              "",
              0,
              0};
  r.what = layers + (binary ? " relu/sigmoid BCE" : " relu/softmax CE") + ", Adam, batch " +
           std::to_string(batch);
  return r;
}

Dataset bench_data(const Reference& ref, std::size_t rows) {
  Dataset d;
  d.source = "bench-" + ref.name;
  d.rows = rows;
  d.features = ref.widths.front();
  Rng rng(1234);
  d.x.resize(rows * d.features);
  for (float& v : d.x) v = float(rng.uniform());
  const std::size_t outputs = ref.widths.back();
  if (ref.loss == Loss::mse) {
    d.target_width = outputs;
    d.targets.resize(rows * outputs);
    for (float& v : d.targets) v = float(rng.uniform());
  } else {
    d.classes = outputs == 1 ? 2 : outputs;
    d.labels.resize(rows);
    for (auto& l : d.labels) l = std::int32_t(rng.below(d.classes));
  }
  return d;
}

TrainConfig reference_config(const Reference& ref, const TrainConfig& base, std::size_t threads) {
  TrainConfig c = base;
  c.threads = threads;
  c.batch_size = ref.batch;
  c.loss = ref.loss;
  c.optimizer.kind = ref.optimizer;
  c.optimizer.learning_rate = ref.lr;
  return c;
}

StepRunner::StepRunner(const Dataset& data, std::size_t batch)
    : data_(data), batch_(batch), order_(data.rows) {
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = std::uint32_t(i);
}

double StepRunner::run_for(Trainer& trainer, double seconds) {
  if (Communicator* comm = trainer.config().communicator; comm && comm->size() > 1) {
    // Every step is collective, so all ranks must take the same number of steps: rank 0 times
    // a few, and every rank runs the count that fits `seconds` at rank 0's pace.
    constexpr std::size_t kProbe = 5;
    const auto p0 = Clock::now();
    for (std::size_t i = 0; i < kProbe; ++i) step_once(trainer);
    double per_step[1] = {comm->rank() == 0
                              ? std::chrono::duration<double>(Clock::now() - p0).count() / kProbe
                              : 0.0};
    comm->allreduce_sum(per_step, 1);
    const std::size_t steps =
        std::max<std::size_t>(1, std::size_t(seconds / std::max(per_step[0], 1e-9)));
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < steps; ++i) step_once(trainer);
    return double(steps * batch_) / std::chrono::duration<double>(Clock::now() - t0).count();
  }
  std::size_t steps = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    step_once(trainer);
    ++steps;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < seconds);
  return double(steps * batch_) / elapsed;
}

void StepRunner::step_once(Trainer& trainer) {
  if (cursor_ + batch_ > order_.size()) cursor_ = 0;
  trainer.step(data_, std::span<const std::uint32_t>(order_).subspan(cursor_, batch_));
  cursor_ += batch_;
}

std::size_t engine_bytes(const Trainer& trainer, const Model<float>& model) {
  const TrainConfig& c = trainer.config();
  const std::size_t workers = c.parallelism == Parallelism::intra ? 1 : c.threads;
  const std::size_t units = c.deterministic ? c.micro_batches : workers;
  const std::size_t params = model.parameter_count() * sizeof(float);
  std::size_t bytes = params * (1 + state_slots(c.optimizer.kind));
  for (std::size_t w = 0; w < workers; ++w)
    bytes += trainer.workspace_bytes(w) + kUpdateChunk * sizeof(float);
  return bytes + units * trainer.gradient_buffer_bytes();
}

std::size_t current_rss_bytes() {
  return status_kb("VmRSS") * 1024;
}
std::size_t peak_rss_bytes() {
  return status_kb("VmHWM") * 1024;
}

bool reset_peak_rss() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

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

void check_output_path(const std::string& path, const std::string& option) {
  namespace fs = std::filesystem;
  if (path.empty()) throw Error("--" + option + ": empty path");
  const fs::path p(path);
  if (!p.has_filename() || p.filename() == "." || p.filename() == "..")
    throw Error("--" + option + ": '" + path + "' does not name a file");
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw Error("--" + option + ": '" + path + "' is a folder");
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw Error("--" + option + ": folder '" + dir.string() + "' does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    throw Error("--" + option + ": cannot write in folder '" + dir.string() +
                "': " + std::strerror(errno));
}

void write_file_atomically(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::string name = ".";
  name += p.filename().string();
  name += ".tmp.XXXXXX";
  std::string tmp = (dir / name).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  auto fail = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error("cannot write '" + path + "' (" + what + "): " + reason);
  };
  const char* data = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    data += n;
    left -= std::size_t(n);
  }
  // mkstemp creates 0600; give the file the mode an ordinary create would (0666 & ~umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(fd, 0666 & ~mask) != 0) fail("chmod");
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error("cannot write '" + path + "' (close): " + reason);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error("cannot write '" + path + "' (rename): " + reason);
  }
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

}  // namespace dptrain::cli
