#pragma once
// Command-line parsing shared by the dptrain subcommands. Everything here throws dptrain::Error
// (or cxxopts' exceptions) for bad input; main() turns them into exit status 2.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cxxopts.hpp>

#include "dptrain/trainer.hpp"
#include "plan_option.hpp"

namespace dptrain::cli {

/// "a,b,,c" -> {"a", "b", "", "c"}: the comma-separated parts of an option value, empty ones
/// included (an empty `text` is one empty part), for the caller to check and name its option.
std::vector<std::string> split_list(const std::string& text);

/// "784,128,10" -> {784, 128, 10}; throws Error naming the option for empty or non-numeric parts.
std::vector<std::size_t> parse_size_list(const std::string& text, const std::string& option);

/// A whole number >= minimum from an option value, with an error naming the option.
std::size_t parse_count(const std::string& text, const std::string& option, std::size_t minimum);
double parse_real(const std::string& text, const std::string& option);

/// --threads: a whole number, 0 meaning every physical core of machine_topology().
std::size_t parse_threads(const std::string& text, const std::string& option);
/// A comma-separated list of thread counts (bench, scale), each as parse_threads().
std::vector<std::size_t> parse_thread_list(const std::string& text, const std::string& option);

/// Adds --pin (train, bench, scale: Note [Pinning] in topology.hpp).
void add_pin_option(cxxopts::Options& options);
/// With --pin: config.pin_cores = the cores in topology order (worker i on core i, wrapping),
/// unless the backend is tbb, which cannot pin: then a warning on stderr and no pinning.
/// Call after the backend is read. Commands without --pin get nothing.
void read_pin_option(const cxxopts::ParseResult& result, EngineConfig& config);

/// Adds the engine options (--threads, --backend, --parallelism, --deterministic,
/// --micro-batches, --gemm, ...) to `options`; train and bench add --plan (add_plan_option).
void add_engine_options(cxxopts::Options& options);
/// Reads them into `config`; --threads too unless the caller reads it as a list (bench). Returns
/// what --plan leaves to the caller (plan_option.hpp).
PlanRequest read_engine_options(const cxxopts::ParseResult& result, EngineConfig& config,
                                bool read_threads = true);

/// check_output_file (io.hpp) with the flag named: throws Error "--<option>: ..." unless `path`
/// can take the command's output and is none of `inputs`. Called before long work. "-" means
/// standard output: accepted where the option allows it (`stdout_ok`), else refused (a file
/// named "-" is ./-).
void check_output_path(const std::string& path, const std::string& option,
                       const std::vector<std::string>& inputs = {}, bool stdout_ok = false);

/// Throws Error "--<option>: ..." when two of `outputs` ({option, path}, in flag order) land in
/// the same file (same_output, io.hpp: also through ./x, a symbolic link or a hard link): the
/// later one would overwrite the earlier (--save X --log X loses the log). "-" is skipped.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

/// True for "-", the path that means standard output.
inline bool is_stdout_path(const std::string& path) {
  return path == "-";
}

/// Writes `bytes` to standard output for "-", else atomically to the file (write_file_atomically,
/// through symbolic links). Throws Error naming `option` when standard output fails.
void write_output(const std::string& path, std::string_view bytes, const std::string& option);

/// An append-only file of whole lines (train --log): a write that fails (a full disk, a file
/// size limit) cuts the file back to where the line began, so it never ends in a torn line.
class LineLog {
 public:
  LineLog() = default;
  LineLog(const LineLog&) = delete;
  LineLog& operator=(const LineLog&) = delete;
  ~LineLog();
  /// Opens `path` for writing, created if missing, emptied unless `append`. Throws Error
  /// naming the file and the reason.
  void open(const std::string& path, bool append);
  bool is_open() const { return fd_ >= 0; }
  /// Appends `line` and a newline, whole or not at all; throws Error naming the file and the
  /// reason ("No space left on device") when it cannot.
  void write_line(const std::string& line);

 private:
  int fd_ = -1;
  std::string path_;
};

/// Local time as ISO 8601 with offset, e.g. 2024-05-01T12:00:00+0000 (logs and result files).
std::string iso_timestamp();

/// Rejects positional arguments nobody asked for.
void reject_unmatched(const cxxopts::ParseResult& result);

}  // namespace dptrain::cli
