#pragma once
// Tabular data: CSV files (parsed by libcsv) and SQLite tables or queries. One row per sample;
// one column is the label (or regression target), the others are features.
//
// Specs (the CLI's --data / --test-data): csv:<path>, sqlite:<db-path> (with --table or --query).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dptrain/data.hpp"

namespace dptrain {

/// Parses CSV text. `source` names the data in messages. Lines end in LF, CRLF or a lone CR; a
/// UTF-8 byte-order mark is dropped; gzip-compressed text is inflated as it is parsed. Rows are
/// parsed on options.pool's workers when it is set, a chunk of text per worker (Note
/// [Streaming CSV] in src/csv_reader.cpp); the result is the same for any number. Throws
/// dptrain::Error naming the source, line and column: empty input, binary data (other
/// compression, UTF-16, NUL bytes), header only, ragged rows, text that is not a number,
/// NaN/Inf, empty fields, labels that are not class indices, an unknown label column or a label
/// name that several columns share.
Dataset parse_csv(std::string_view text, const std::string& source, const TableOptions& options);

/// Reads and parses a CSV file (see parse_csv) a block at a time: the text is never held whole,
/// and an input that does not end (a device, a FIFO) or inflates beyond this machine's memory
/// is refused when the rows read so far would not fit it (check_fits_memory). A missing or
/// unreadable file is an Error.
Dataset load_csv(const std::string& path, const TableOptions& options);

/// Told after each block load_csv parses: the rows and the bytes of text (inflated) so far.
using CsvProgress = std::function<void(std::size_t rows, std::size_t bytes)>;
/// load_csv, reporting its progress to `progress` (on the calling thread).
Dataset load_csv(const std::string& path, const TableOptions& options, const CsvProgress& progress);

/// Bytes of text each worker parses at a time.
inline constexpr std::size_t kCsvChunkBytes = std::size_t(1) << 21;

/// parse_csv with `chunk_bytes` per worker, and with `fast` false through the exact reader
/// (libcsv) alone, without the fast path (Note [Fast CSV path] in src/csv_chunk.cpp): the two
/// give the same data set or the same message for any text, which the tests and the CSV fuzzer
/// check with tiny chunks.
Dataset parse_csv_with(std::string_view text, const std::string& source,
                       const TableOptions& options, std::size_t chunk_bytes, bool fast);

/// Sets the labels (or, with options.classification false, the regression targets) of `data`,
/// which has none, from a separate file: one label per line, in row order. Surrounding blanks
/// and quotes are dropped; blank lines and lines starting with '#' are skipped; a line holding
/// the delimiter outside quotes (two columns) is refused. The first line is a header when
/// options.header is yes, or (detect) when the file has one line more than `data` has rows and
/// that line is not a number (Note [Labels header] in table.cpp). Class labels map as a label
/// column's do (Note [Schema], model_classes and model_schema included) and the schema gets the
/// header as its label column. Throws dptrain::Error naming the file and line: a count that
/// differs from data.rows, a bad label, a line with several fields.
void attach_labels(Dataset& data, std::string_view text, const std::string& source,
                   const TableOptions& options);

/// Runs options.query (exactly one read-only statement), or selects every column of
/// options.table, on the SQLite database at `path`, opened read-only: the file is never written
/// and no file is created beside it (a WAL-mode database with no -wal file is opened immutable).
/// Every value must be numeric (integers, reals, or text holding a number). Throws
/// dptrain::Error naming the file, row and column: missing file, a file that is not a database,
/// a failing query, a second statement, a query that would write, NULL, BLOB or non-numeric
/// values, an ambiguous label name.
Dataset load_sqlite(const std::string& path, const TableOptions& options);

}  // namespace dptrain
