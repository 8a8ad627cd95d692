#pragma once
// UTF-8 checks for the names that reach JSON.
//
// Note [UTF-8 names]. Feature, label and class names are the user's own text, and they end up
// in JSON: checkpoint metadata, eval --format json, the Python package's str. JSON text is
// UTF-8, so a name with another encoding's bytes (Latin-1 "caf\xE9") cannot be written, and
// guessing the encoding would change the names a model predicts. The readers refuse such a name
// where they read it, naming the file, line and column (table_builder.hpp: CSV and SQLite
// headers, text labels, a --labels file), before any training; the checkpoint writer refuses
// it too (check_schema_text) for names set through the API. Paths, which JSON holds only for
// the record (a checkpoint's "data", eval's "model" and "data"), are written with each byte
// that is not UTF-8 replaced by U+FFFD.
#include <cstddef>
#include <string>
#include <string_view>

#include "dptrain/schema.hpp"

namespace dptrain {

/// The offset of the first byte of `text` that does not belong to well-formed UTF-8 (RFC 3629:
/// no overlong forms, surrogates or code points above U+10FFFF; a sequence cut short counts at
/// its first byte), or std::string_view::npos when all of it does.
std::size_t invalid_utf8_offset(std::string_view text);

/// `text` for a message: each byte that is not part of well-formed UTF-8 written as \xNN, so
/// the result is valid UTF-8.
std::string escape_invalid_utf8(std::string_view text);

/// Throws dptrain::Error "<where>: <what> '<text, escaped>' is not valid UTF-8 (byte 0xNN at
/// byte k); save the data as UTF-8" unless `text` is valid UTF-8.
void require_utf8(std::string_view text, const std::string& where, const std::string& what);

/// Throws dptrain::Error naming `where` and the name when a name of `schema` (features, label
/// column, classes) is not valid UTF-8. DataSchema::check makes this check too.
void check_schema_text(const DataSchema& schema, const std::string& where);

}  // namespace dptrain
