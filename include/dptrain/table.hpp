#pragma once
// Tabular data: CSV files (parsed by libcsv) and SQLite tables or queries. One row per sample;
// one column is the label (or regression target), the others are features.
//
// Specs (the CLI's --data / --test-data): csv:<path>, sqlite:<db-path> (with --table or --query).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dptrain/data.hpp"

namespace dptrain {

/// Parses CSV text. `source` names the data in messages. Throws dptrain::Error naming the source,
/// line and column: empty input, header only, ragged rows, text that is not a number, NaN/Inf,
/// empty fields, labels that are not class indices, unknown label column.
Dataset parse_csv(std::string_view text, const std::string& source, const TableOptions& options);

/// Reads and parses a CSV file (see parse_csv); a missing or unreadable file is an Error.
Dataset load_csv(const std::string& path, const TableOptions& options);

/// Runs options.query, or selects every column of options.table, on the SQLite database at
/// `path`, opened read-only (the file is never written). Every value must be numeric (integers,
/// reals, or text holding a number). Throws dptrain::Error naming the file, row and column:
/// missing file, a file that is not a database, a failing query, NULL or non-numeric values.
Dataset load_sqlite(const std::string& path, const TableOptions& options);

}  // namespace dptrain
