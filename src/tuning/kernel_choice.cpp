// The kernel table of `--gemm auto`, its text forms, the machine key and the wisdom file (Note
// [Kernel wisdom] in kernel_choice.hpp). The measuring is kernel_measure.cpp.
#include "dptrain/kernel_choice.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dptrain/error.hpp"
#include "dptrain/hash.hpp"
#include "dptrain/io.hpp"
#include "wisdom.hpp"

namespace dptrain {

namespace detail {

std::string shape_kind(const GemmShape& s) {
  return std::string(1, s.ta ? 'T' : 'N') + (s.tb ? 'T' : 'N') + (s.bias ? "+b" : "");
}

bool parse_shape_kind(const std::string& text, GemmShape& s) {
  if (text.size() != 2 && !(text.size() == 4 && text.substr(2) == "+b")) return false;
  for (const char c : text.substr(0, 2))
    if (c != 'N' && c != 'T') return false;
  s.ta = text[0] == 'T';
  s.tb = text[1] == 'T';
  s.bias = text.size() == 4;
  return true;
}

const KernelChoice::Entry* Wisdom::find(const GemmShape& shape) const {
  for (const KernelChoice::Entry& e : shapes)
    if (e.shape == shape) return &e;
  return nullptr;
}

void Wisdom::set(const GemmShape& shape, GemmBackend backend) {
  for (KernelChoice::Entry& e : shapes)
    if (e.shape == shape) {
      e.backend = backend;
      return;
    }
  shapes.push_back({shape, backend});
}

namespace {

constexpr const char* kWisdomHeader = "dptrain kernel wisdom 1";

/// A kernel the wisdom or a checkpoint may name: one of tunable_gemm_backends() by name.
bool parse_tunable(const std::string& name, GemmBackend& backend) {
  for (const GemmBackend b : {GemmBackend::onednn, GemmBackend::openblas, GemmBackend::eigen})
    if (name == gemm_backend_name(b)) {
      backend = b;
      return true;
    }
  return false;
}

bool parse_strategy(const std::string& name, WeightGradients& w) {
  if (name != "owner" && name != "buffers" && name != "auto") return false;
  w = parse_weight_gradients(name);
  return true;
}

/// Parses the lines after the key; returns what is wrong, or empty.
std::string parse_body(std::istream& in, Wisdom& w) {
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string tag;
    fields >> tag;
    if (tag == "end") {
      std::size_t n = 0;
      if (!(fields >> n) || n != count) return "its end line does not match its entries";
      return {};
    }
    ++count;
    std::string name, kind;
    if (tag == "shape") {
      GemmShape s;
      GemmBackend b{};
      if (!(fields >> name >> kind >> s.m >> s.n >> s.k) || !parse_tunable(name, b) ||
          !parse_shape_kind(kind, s))
        return "line '" + line + "' is not a shape entry";
      if (!gemm_backend_available(b)) return "it names kernel '" + name + "', not in this build";
      w.set(s, b);
    } else if (tag == "steps") {
      WeightGradients g{};
      std::string workload;
      if (!(fields >> name) || !parse_strategy(name, g) ||
          !std::getline(fields >> std::ws, workload))
        return "line '" + line + "' is not a steps entry";
      w.steps[workload] = g;
    } else {
      return "line '" + line + "' is not a wisdom entry";
    }
  }
  return "it has no end line (truncated)";
}

}  // namespace

Wisdom load_wisdom(const std::string& path, const std::string& key,
                   const std::function<void(const std::string&)>& on_note) {
  std::ifstream in(path);
  if (!in) return {};
  std::string header, key_line;
  std::getline(in, header);
  std::getline(in, key_line);
  Wisdom w;
  std::string why;
  if (header != kWisdomHeader)
    why = "it is not a dptrain kernel wisdom file of this version";
  else if (key_line != "key " + key)
    why = "it was measured on another machine or library (its key differs)";
  else
    why = parse_body(in, w);
  if (why.empty()) return w;
  if (on_note)
    on_note("ignoring kernel wisdom '" + path + "': " + why + "; measuring again (Note [Kernel " +
            "wisdom])");
  return {};
}

std::string wisdom_text(const std::string& key, const Wisdom& w) {
  std::string t = std::string(kWisdomHeader) + "\nkey " + key + "\n";
  for (const KernelChoice::Entry& e : w.shapes)
    t += std::string("shape ") + gemm_backend_name(e.backend) + " " + shape_kind(e.shape) + " " +
         std::to_string(e.shape.m) + " " + std::to_string(e.shape.n) + " " +
         std::to_string(e.shape.k) + "\n";
  for (const auto& [workload, g] : w.steps)
    t += std::string("steps ") + weight_gradients_name(g) + " " + workload + "\n";
  return t + "end " + std::to_string(w.shapes.size() + w.steps.size()) + "\n";
}

void save_wisdom(const std::string& path, const std::string& key, const Wisdom& w,
                 const std::function<void(const std::string&)>& on_note) {
  try {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    write_file_atomically(path, wisdom_text(key, w));
  } catch (const Error& e) {
    if (on_note) on_note(std::string("could not save the kernel wisdom: ") + e.what());
  }
}

}  // namespace detail

std::string GemmShape::text() const {
  return detail::shape_kind(*this) + " " + std::to_string(m) + "x" + std::to_string(n) + "x" +
         std::to_string(k);
}

// Note [Nearest shape]. Products outside the table (an epoch's last partial batch, evaluation
// and prediction chunks, the cost model's calibration at B/2, B/4, ... rows) take the kernel of
// the table's nearest shape: the same transposes and bias, two of m, n, k equal, the third the
// closest in ratio (the first such entry on a tie). A row count changes which kernel wins far
// less than the layer's width does, and the answer is a function of the table alone, so runs
// with the same table still give the same bits. No such entry: the built-in kernel.
GemmBackend KernelChoice::backend_for(const GemmShape& shape) const {
  const Entry* nearest = nullptr;
  double distance = 0;
  for (const Entry& e : entries) {
    if (e.shape == shape) return e.backend;
    const GemmShape& t = e.shape;
    if (t.ta != shape.ta || t.tb != shape.tb || t.bias != shape.bias) continue;
    if (int(t.m == shape.m) + int(t.n == shape.n) + int(t.k == shape.k) != 2) continue;
    const double d = std::abs(std::log(double(t.m) * double(t.n) * double(t.k) /
                                       (double(shape.m) * double(shape.n) * double(shape.k))));
    if (!nearest || d < distance) {
      nearest = &e;
      distance = d;
    }
  }
  return nearest ? nearest->backend : default_gemm_backend();
}

std::string KernelChoice::encode() const {
  std::string t = weight_gradients_name(weight_gradients);
  for (const Entry& e : entries) {
    t += ';';
    t += detail::shape_kind(e.shape);
    for (const std::size_t v : {e.shape.m, e.shape.n, e.shape.k}) {
      t += ',';
      t += std::to_string(v);
    }
    t += ',';
    t += gemm_backend_name(e.backend);
  }
  return t;
}

KernelChoice KernelChoice::decode(const std::string& text) {
  KernelChoice c;
  std::istringstream in(text);
  std::string item;
  if (!std::getline(in, item, ';') || !detail::parse_strategy(item, c.weight_gradients))
    throw Error("kernel choice '" + text + "': it must start with owner, buffers or auto");
  while (std::getline(in, item, ';')) {
    std::istringstream f(item);
    std::string kind, m, n, k, name;
    Entry e;
    const bool read = std::getline(f, kind, ',') && std::getline(f, m, ',') &&
                      std::getline(f, n, ',') && std::getline(f, k, ',') && std::getline(f, name);
    const auto number = [](const std::string& s, std::size_t& v) {
      if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 12)
        return false;
      v = std::stoull(s);
      return true;
    };
    if (!read || !detail::parse_shape_kind(kind, e.shape) || !number(m, e.shape.m) ||
        !number(n, e.shape.n) || !number(k, e.shape.k) || !detail::parse_tunable(name, e.backend))
      throw Error("kernel choice: '" + item + "' is not a product shape and kernel");
    if (!gemm_backend_available(e.backend))
      throw Error("kernel choice: it runs '" + item + "' on " + name + ", not in this build");
    c.entries.push_back(e);
  }
  return c;
}

std::string KernelChoice::summary() const {
  if (entries.empty()) return "auto (" + origin + "): " + gemm_backend_name(default_gemm_backend());
  std::string t = "auto (" + origin + "):";
  for (std::size_t i = 0; i < entries.size(); ++i)
    t += (i ? ", " : " ") + entries[i].shape.text() + " " + gemm_backend_name(entries[i].backend);
  return t;
}

std::string recorded_kernels(const EngineConfig& config, WeightGradients actual) {
  if (config.gemm != GemmBackend::automatic || !config.kernels) return {};
  KernelChoice recorded = *config.kernels;
  recorded.weight_gradients = actual;
  return recorded.encode();
}

void apply_recorded_kernels(const std::string& encoded, EngineConfig& config) {
  if (config.gemm != GemmBackend::automatic || encoded.empty()) return;
  auto kernels = std::make_shared<KernelChoice>(KernelChoice::decode(encoded));
  kernels->origin = "checkpoint";
  if (config.plan.weight_gradients == WeightGradients::automatic)
    config.plan.weight_gradients = kernels->weight_gradients;
  config.kernels = std::move(kernels);
}

TuningMode tuning_mode() {
  const char* v = std::getenv("DPTRAIN_TUNING");
  const std::string mode = v ? v : "";
  if (mode.empty() || mode == "cache") return TuningMode::cache;
  if (mode == "fresh") return TuningMode::fresh;
  if (mode == "builtin") return TuningMode::builtin;
  throw Error("DPTRAIN_TUNING='" + mode + "' is not cache, fresh or builtin");
}

namespace {

/// The value of the first /proc/cpuinfo line called `field`, or empty.
std::string cpuinfo(const std::string& field) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, field.size(), field) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 1 + (colon + 1 < line.size()));
    }
  return {};
}

std::string env_or_unset(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "unset";
}

}  // namespace

std::string wisdom_key() {
  // The flags are long: their hash stands for them (a different flag set, a different key).
  // The CPU does not change while a process runs: /proc/cpuinfo is read once.
  static const std::string cpu = [] {
    const std::string flags = cpuinfo("flags");
    return "cpu '" + cpuinfo("model name") + "' flags " +
           hash_hex(hash_bytes(flags.data(), flags.size()));
  }();
  return cpu + " ONEDNN_MAX_CPU_ISA=" + env_or_unset("ONEDNN_MAX_CPU_ISA") +
         " OPENBLAS_CORETYPE=" + env_or_unset("OPENBLAS_CORETYPE") + " | " +
         gemm_library_versions();
}

std::string wisdom_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::string folder;
  if (xdg && xdg[0] == '/')  // the XDG rule: a relative value is ignored
    folder = xdg;
  else if (home && home[0])
    folder = std::string(home) + "/.cache";
  else
    return {};
  const std::string key = wisdom_key();
  return folder + "/dptrain/kernels-" + hash_hex(hash_bytes(key.data(), key.size())) + ".txt";
}

}  // namespace dptrain
