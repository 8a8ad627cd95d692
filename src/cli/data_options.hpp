#pragma once
// The data options shared by train, eval and predict: one --data syntax for every loader.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cxxopts.hpp>

#include "dptrain/data.hpp"
#include "dptrain/shuffle.hpp"

namespace dptrain::cli {

/// Help text listing every data spec.
extern const char* const kDataSpecHelp;

/// --data (and, for train, --test-data), --label, --header, --delimiter, --skip-rows, --table,
/// --query, --limit (and --test-limit).
void add_data_options(cxxopts::Options& options, bool training);

/// The table options from the parsed flags; `classification` comes from the loss.
TableOptions read_table_options(const cxxopts::ParseResult& r, bool classification);

/// The files a data spec reads (csv:, sqlite:, idx: paths; none for built-in sets): outputs
/// must never overwrite them.
std::vector<std::string> data_spec_files(const std::string& spec);

/// The files of --data and (when given) --test-data.
std::vector<std::string> input_files(const cxxopts::ParseResult& r);

/// "dptrain <command>: note: <note>" on stderr, unless `note` is empty.
void print_note(const std::string& command, const std::string& note);

/// conform_to_schema (Note [Column matching]) with its note printed.
Dataset conform_data(Dataset d, const DataSchema& model, const std::string& command);

/// Loads --data (after --limit), validated. With `progress`, a csv: load that takes over half
/// a second shows its rows and MB/s on stderr when it is a terminal.
Dataset load_main_data(const cxxopts::ParseResult& r, std::uint64_t seed, const TableOptions& table,
                       bool progress = false);

/// train's --shuffle (full or window).
ShuffleMode read_shuffle_option(const cxxopts::ParseResult& r);

/// A note on stderr when training features memory-mapped from a file exceed half the memory
/// this process may use (physical, or its cgroup's limit) and `mode` is full: --shuffle window
/// reads such a file a window at a time.
void note_if_larger_than_memory(const Dataset& train, ShuffleMode mode);

}  // namespace dptrain::cli
