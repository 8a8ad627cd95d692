#pragma once
// A binary cache of a CSV file's parsed data (the CLI's --cache PATH): the CSV is parsed once,
// its float32 features, labels or targets and schema written to PATH, and every later run maps
// PATH instead of parsing (Note [CSV cache] in src/csv_cache.cpp).
#include <string>

#include "dptrain/data.hpp"
#include "dptrain/table.hpp"

namespace dptrain {

/// What load_csv_cached did with the cache.
enum class CacheUse { read, written };

/// The data of CSV file `csv_path` (read as load_csv reads it with `options`) from the cache at
/// `cache_path`: mapped when it was written from this file (its path, size, modification time,
/// inode) with the same options, the features borrowed in place (Dataset::borrowed_from_file);
/// else the CSV is parsed (`progress` as for load_csv), the cache written atomically (a
/// temporary file renamed over it) and then mapped. Throws dptrain::Error: every load_csv
/// error, a cache path that is the CSV itself or an existing file that is not a dptrain cache
/// (it is never overwritten), a cache that cannot be written.
Dataset load_csv_cached(const std::string& csv_path, const std::string& cache_path,
                        const TableOptions& options, const CsvProgress& progress = {},
                        CacheUse* use = nullptr);

}  // namespace dptrain
