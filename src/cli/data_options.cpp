#include "data_options.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>

#include "dptrain/csv_cache.hpp"
#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/npy.hpp"
#include "dptrain/table.hpp"
#include "options.hpp"

namespace dptrain::cli {

const char* const kDataSpecHelp =
    "fashion-mnist, fashion-mnist:test, idx:<images>,<labels>, csv:<path>, npy:<x.npy>[,<y.npy>], "
    "npz:<file.npz>[:<x>[,<y>]] (default arrays x or X, y or Y), sqlite:<db-path>, "
    "xor, square, blobs8, linear";

void add_data_options(cxxopts::Options& options, bool training) {
  auto group = options.add_options("Data");
  group("data", std::string("Data: ") + kDataSpecHelp,
        training ? cxxopts::value<std::string>()->default_value("fashion-mnist")
                 : cxxopts::value<std::string>());
  if (training)
    group("test-data",
          "Test data (same syntax; default: the matching test split or a fresh sample, 'none' for "
          "no test set)",
          cxxopts::value<std::string>());
  group("label",
        "csv/sqlite: label column, a name or 0-based index (default: last column, or the "
        "model's label column by name; 'none': unlabelled, for predict). Class labels may be "
        "text or numbers",
        cxxopts::value<std::string>());
  group("labels",
        "csv:PATH: the labels of --data from a separate file, one per line (quote a label "
        "holding the delimiter); its first line is a header when the file has one line more "
        "than --data has rows and that line is not a number (or with --header yes); every "
        "column of --data is then a feature. npy:PATH: a NumPy array of one label per row; "
        "npz:PATH[:NAME]: array NAME (default y or Y) of a NumPy archive",
        cxxopts::value<std::string>());
  group("header", "csv: first row is a header: yes, no or detect",
        cxxopts::value<std::string>()->default_value("detect"));
  group("delimiter", "csv: field delimiter (one character; 'tab' for a tab)",
        cxxopts::value<std::string>()->default_value(","));
  group("skip-rows",
        "csv: skip the first N lines (e.g. scikit-learn's counts line); '#' lines are comments",
        cxxopts::value<std::string>()->default_value("0"));
  group("table", "sqlite: read every column of this table", cxxopts::value<std::string>());
  group("query", "sqlite: run this SELECT instead of --table", cxxopts::value<std::string>());
  group("limit", "Use only the first N rows", cxxopts::value<std::string>());
  if (!training) return;
  group("test-limit", "Use only the first N test rows", cxxopts::value<std::string>());
  group("shuffle",
        "Epoch order: full (a uniform permutation of all rows) or window (blocks of 4 MiB of "
        "rows in shuffled order, rows shuffled within windows of 16 blocks: for npy:/npz: "
        "features mapped from a file larger than memory, paged in a window ahead)",
        cxxopts::value<std::string>()->default_value("full"));
  group("cache",
        "csv: read --data through a binary cache at PATH: mapped when it was written from this "
        "file with these options, else written once (atomically) from the parsed CSV",
        cxxopts::value<std::string>());
}

ShuffleMode read_shuffle_option(const cxxopts::ParseResult& r) {
  try {
    return kShuffleModeNames.parse(r["shuffle"].as<std::string>());
  } catch (const Error& e) {
    throw Error(std::string("--shuffle: ") + e.what());
  }
}

namespace {

/// The memory limit of this process's cgroup (v1 memory controller or v2), or 0 when none.
std::size_t cgroup_memory_limit() {
  std::ifstream groups("/proc/self/cgroup");
  for (std::string line; std::getline(groups, line);) {
    const std::size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == line.npos || b == line.npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    const std::string file = controllers == "memory"
                                 ? "/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes"
                             : controllers.empty() ? "/sys/fs/cgroup" + path + "/memory.max"
                                                   : "";
    std::ifstream in(file);
    unsigned long long limit = 0;
    if (!file.empty() && (in >> limit) && limit < (1ULL << 60)) return std::size_t(limit);
  }
  return 0;
}

}  // namespace

void note_if_larger_than_memory(const Dataset& train, ShuffleMode mode) {
  if (mode != ShuffleMode::full || !train.borrowed_from_file) return;
  std::size_t memory = physical_memory_bytes();
  if (const std::size_t limit = cgroup_memory_limit(); limit && (!memory || limit < memory))
    memory = limit;
  const double bytes = double(train.feature_values().size_bytes());
  if (memory && bytes > double(memory) / 2)
    print_note("train", "the features of '" + train.source + "' (" +
                            std::to_string(std::llround(bytes / 1e6)) +
                            " MB, mapped) exceed half the memory available (" +
                            std::to_string(memory / 1000000) +
                            " MB): --shuffle window reads them a window at a time");
}

TableOptions read_table_options(const cxxopts::ParseResult& r, bool classification) {
  TableOptions t;
  t.classification = classification;
  if (r.count("label")) t.label = r["label"].as<std::string>();
  const std::string header = r["header"].as<std::string>();
  if (header == "yes")
    t.header = TableOptions::Header::yes;
  else if (header == "no")
    t.header = TableOptions::Header::no;
  else if (header == "detect")
    t.header = TableOptions::Header::detect;
  else
    throw Error("--header: '" + header + "' is not one of yes, no, detect");
  const std::string delim = r["delimiter"].as<std::string>();
  if (delim == "tab")
    t.delimiter = '\t';
  else if (delim.size() == 1 && delim != "\"" && delim != "\n")
    t.delimiter = delim[0];
  else
    throw Error("--delimiter must be one character (or 'tab'), got '" + delim + "'");
  t.skip_rows = parse_count(r["skip-rows"].as<std::string>(), "skip-rows", 0);
  if (r.count("table")) t.table = r["table"].as<std::string>();
  if (r.count("query")) t.query = r["query"].as<std::string>();
  if (!t.table.empty() && !t.query.empty()) throw Error("give --table or --query, not both");
  return t;
}

std::vector<std::string> data_spec_files(const std::string& spec) {
  for (const char* prefix : {"csv:", "sqlite:"})
    if (spec.starts_with(prefix)) return {spec.substr(std::string(prefix).size())};
  if (spec.starts_with("npz:")) return {parse_npz_spec(spec.substr(4)).path};
  if (!spec.starts_with("idx:") && !spec.starts_with("npy:")) return {};
  const std::string pair = spec.substr(4);
  const std::size_t comma = pair.find(',');
  if (comma == std::string::npos) return {pair};
  return {pair.substr(0, comma), pair.substr(comma + 1)};
}

std::vector<std::string> input_files(const cxxopts::ParseResult& r) {
  std::vector<std::string> files;
  for (const char* option : {"data", "test-data", "labels"})
    if (r.count(option))
      for (std::string& f : data_spec_files(r[option].as<std::string>()))
        files.push_back(std::move(f));
  return files;
}

void print_note(const std::string& command, const std::string& note) {
  if (!note.empty()) std::fprintf(stderr, "dptrain %s: note: %s\n", command.c_str(), note.c_str());
}

Dataset conform_data(Dataset d, const DataSchema& model, const std::string& command) {
  std::string note;
  d = conform_to_schema(std::move(d), model, &note);
  print_note(command, note);
  return d;
}

/// --data read as features only, with --labels csv:PATH attached.
Dataset load_with_labels(const cxxopts::ParseResult& r, std::uint64_t seed, TableOptions table) {
  const std::string labels = r["labels"].as<std::string>();
  if ((!labels.starts_with("csv:") && !labels.starts_with("npy:") && !labels.starts_with("npz:")) ||
      labels.size() == 4)
    throw Error("--labels must be csv:<path>, npy:<path> or npz:<path>[:<name>], got '" + labels +
                "'");
  if (r.count("label")) throw Error("give --label (a column of --data) or --labels, not both");
  table.label = "none";
  Dataset d = load_dataset(r["data"].as<std::string>(), seed, table);
  const std::string path = labels.substr(4);
  if (labels.starts_with("npz:")) {
    NpzSpec npz = parse_npz_spec(path);
    if (!npz.labels.empty())
      throw Error("--labels npz:<file.npz>[:<name>] names one array, got '" + labels + "'");
    npz.labels = npz.features;  // npz:<file>:<name> names the labels (empty: y or Y)
    attach_npz_labels(d, npz, table);
  } else if (labels.starts_with("npy:")) {
    attach_npy_labels(d, path, table);
  } else {
    attach_labels(d, read_file(path), path, table);
  }
  if (r.count("limit")) d = d.head(parse_count(r["limit"].as<std::string>(), "limit", 1));
  return d;
}

/// The progress of a long CSV load on stderr (a terminal): rows, MB and MB/s, redrawn at most
/// ten times a second once half a second has passed, and cleared at the end.
class LoadProgress {
 public:
  explicit LoadProgress(std::string path) : path_(std::move(path)) {}
  ~LoadProgress() {
    if (drawn_) std::fprintf(stderr, "\r%*s\r", 100, "");
  }
  void operator()(std::size_t rows, std::size_t bytes) {
    const auto now = Clock::now();
    const double secs = std::chrono::duration<double>(now - start_).count();
    if (secs < 0.5 || now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    std::fprintf(stderr, "\rloading '%s': %zu rows, %.0f MB in %.1fs (%.0f MB/s) ", path_.c_str(),
                 rows, double(bytes) / 1e6, secs, double(bytes) / 1e6 / secs);
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string path_;
  Clock::time_point start_ = Clock::now(), last_{};
  bool drawn_ = false;
};

Dataset load_main_data(const cxxopts::ParseResult& r, std::uint64_t seed, const TableOptions& table,
                       bool progress) {
  if (!r.count("data") && !r["data"].has_default()) throw Error("--data is required");
  const std::string spec = r["data"].as<std::string>();
  if (spec.starts_with("sqlite:") && table.table.empty() && table.query.empty())
    throw Error("sqlite data needs --table <name> or --query \"SELECT ...\"");
  if (r.count("labels")) return load_with_labels(r, seed, table);
  Dataset d;
  if (r.count("cache")) {
    if (!spec.starts_with("csv:") || spec.size() == 4)
      throw Error("--cache caches a CSV file: give --data csv:<path>, not '" + spec + "'");
    const std::string cache = r["cache"].as<std::string>();
    CacheUse use = CacheUse::read;
    d = load_csv_cached(spec.substr(4), cache, table, {}, &use);
    print_note("train", use == CacheUse::read
                            ? "read '" + spec.substr(4) + "' from its cache '" + cache + "'"
                            : "wrote the cache '" + cache + "' of '" + spec.substr(4) + "'");
  } else if (progress && spec.starts_with("csv:") && spec.size() > 4 && ::isatty(STDERR_FILENO)) {
    LoadProgress shown(spec.substr(4));
    d = load_csv(spec.substr(4), table, std::ref(shown));
  } else {
    d = load_dataset(spec, seed, table);
  }
  if (r.count("limit")) d = d.head(parse_count(r["limit"].as<std::string>(), "limit", 1));
  d.validate();
  return d;
}

}  // namespace dptrain::cli
