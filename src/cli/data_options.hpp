#pragma once
// The data options shared by train, eval and predict: one --data syntax for every loader.
#include <cstdint>
#include <optional>
#include <string>

#include <cxxopts.hpp>

#include "dptrain/data.hpp"

namespace dptrain::cli {

/// Help text listing every data spec.
extern const char* const kDataSpecHelp;

/// --data (and, for train, --test-data), --label, --header, --delimiter, --table, --query,
/// --limit (and --test-limit).
void add_data_options(cxxopts::Options& options, bool training);

/// The table options from the parsed flags; `classification` comes from the loss.
TableOptions read_table_options(const cxxopts::ParseResult& r, bool classification);

/// Loads --data (after --limit), validated.
Dataset load_main_data(const cxxopts::ParseResult& r, std::uint64_t seed,
                       const TableOptions& table);

}  // namespace dptrain::cli
