#include "dptrain/table.hpp"

#include <csv.h>
#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"

namespace dptrain {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// Parses a whole field as a double; false if it is not exactly one number.
bool parse_number(std::string_view text, double& value) {
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::string quoted(std::string_view text) {
  std::string s(text.substr(0, 40));
  if (text.size() > 40) s += "...";
  return "'" + s + "'";
}

/// Collects rows of numbers into a Dataset: the label column becomes labels or targets.
class TableBuilder {
 public:
  TableBuilder(std::string source, const TableOptions& options) : options_(options) {
    data_.source = std::move(source);
  }

  /// Fixes the column count and resolves the label column; `names` may be empty (no header).
  void set_columns(std::size_t count, const std::vector<std::string>& names) {
    columns_ = count;
    const std::string& label = options_.label;
    if (label == "none") {  // features only
      if (count < 1) throw Error(data_.source + ": has no columns");
      label_ = count;  // past the end: no cell is the label
      data_.features = count;
      return;
    }
    if (count < 2)
      throw Error(data_.source + ": needs at least 2 columns (features and a label), found " +
                  std::to_string(count));
    long long index = -1;
    if (label.empty()) {
      index = static_cast<long long>(count) - 1;
    } else if (const auto [p, ec] =
                   std::from_chars(label.data(), label.data() + label.size(), index);
               ec == std::errc() && p == label.data() + label.size()) {
      if (index < 0) index += static_cast<long long>(count);
      if (index < 0 || index >= static_cast<long long>(count))
        throw Error(data_.source + ": label column index " + label + " is outside the " +
                    std::to_string(count) + " columns");
    } else {
      index = -1;
      for (std::size_t c = 0; c < names.size(); ++c)
        if (names[c] == label) index = static_cast<long long>(c);
      if (index < 0) {
        if (names.empty())
          throw Error(data_.source + ": label column '" + label +
                          "' is a name, but the data has no header row (use a column index)",
                      ErrorTopic::label_column);
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        throw Error(data_.source + ": no column named '" + label + "' (columns: " + list + ")");
      }
    }
    label_ = static_cast<std::size_t>(index);
    data_.features = count - 1;
    if (!options_.classification) data_.target_width = 1;
  }
  std::size_t columns() const { return columns_; }
  std::size_t label_column() const { return label_; }

  /// Adds one row of `columns()` finite values; `where(col)` describes a cell for messages.
  template <class Where>
  void add_row(const std::vector<double>& values, Where&& where) {
    for (std::size_t c = 0; c < values.size(); ++c) {
      const double v = values[c];
      if (c == label_) {
        if (options_.classification) {
          if (!(v >= 0 && v < 1e6 && v == std::floor(v)))
            throw Error(
                where(c) + ": label " + format(v) +
                    " is not a class index (a whole number >= 0; regression reads real targets)",
                ErrorTopic::label_kind);
          const auto cls = static_cast<std::int32_t>(v);
          data_.labels.push_back(cls);
          max_label_ = std::max(max_label_, cls);
        } else {
          data_.targets.push_back(static_cast<float>(v));
        }
      } else {
        const float f = static_cast<float>(v);
        if (!std::isfinite(f)) throw Error(where(c) + ": " + format(v) + " does not fit a float");
        data_.x.push_back(f);
      }
    }
    ++data_.rows;
  }

  Dataset finish(bool had_header) {
    if (data_.rows == 0)
      throw Error(data_.source +
                  (had_header ? ": has a header but no data rows" : ": no data rows"));
    if (options_.classification && label_ < columns_)
      data_.classes = std::max<std::size_t>(2, std::size_t(max_label_) + 1);
    data_.validate();
    return std::move(data_);
  }

 private:
  static std::string format(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }
  TableOptions options_;
  Dataset data_;
  std::size_t columns_ = 0, label_ = 0;
  std::int32_t max_label_ = 0;
};

// ---- CSV (libcsv) -------------------------------------------------------------------------------

struct CsvState {
  TableBuilder builder;
  TableOptions::Header header_mode;
  std::vector<std::string> fields;  // the row being parsed
  std::vector<double> values;
  std::size_t line = 0;  // physical line being fed to the parser (1-based)
  std::size_t first_row_line = 0;
  bool have_columns = false, had_header = false;
  std::exception_ptr error;  // libcsv callbacks are C: exceptions stop at the boundary

  std::string source;

  std::string cell(std::size_t c) const {
    return source + ": line " + std::to_string(line) + ", column " + std::to_string(c + 1);
  }

  void row_end() {
    if (!have_columns) {
      // A header has a field that is text (not a number, not empty).
      bool numeric = true;
      double dummy = 0;
      for (const auto& f : fields) numeric = numeric && (trim(f).empty() || parse_number(f, dummy));
      const bool is_header = header_mode == TableOptions::Header::yes ||
                             (header_mode == TableOptions::Header::detect && !numeric);
      std::vector<std::string> names;
      if (is_header)
        for (const auto& f : fields) names.emplace_back(trim(f));
      builder.set_columns(fields.size(), names);
      have_columns = true;
      first_row_line = line;
      if (is_header) {
        had_header = true;
        return;
      }
    }
    if (fields.size() != builder.columns())
      throw Error(source + ": line " + std::to_string(line) + " has " +
                  std::to_string(fields.size()) + " fields, expected " +
                  std::to_string(builder.columns()) + " (as on line " +
                  std::to_string(first_row_line) + ")");
    values.resize(fields.size());
    for (std::size_t c = 0; c < fields.size(); ++c) {
      if (trim(fields[c]).empty()) throw Error(cell(c) + ": empty value");
      if (!parse_number(fields[c], values[c]))
        throw Error(cell(c) + ": " + quoted(fields[c]) + " is not a number");
      if (!std::isfinite(values[c]))
        throw Error(cell(c) + ": " + quoted(fields[c]) + " is " +
                    (std::isnan(values[c]) ? "NaN" : "infinite") + ", not a usable value");
    }
    builder.add_row(values, [&](std::size_t c) { return cell(c); });
  }
};

extern "C" void csv_field_cb(void* field, std::size_t size, void* state) {
  auto* s = static_cast<CsvState*>(state);
  if (s->error) return;
  s->fields.emplace_back(static_cast<const char*>(field), size);
}

extern "C" void csv_row_cb(int, void* state) {
  auto* s = static_cast<CsvState*>(state);
  if (s->error) return;
  try {
    s->row_end();
  } catch (...) {
    s->error = std::current_exception();
  }
  s->fields.clear();
}

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& source, const TableOptions& options) {
  if (trim(text).empty()) throw Error(source + ": is empty");
  CsvState state{
      TableBuilder(source, options), options.header, {}, {}, 0, 0, false, false, nullptr, source};
  csv_parser parser;
  if (csv_init(&parser, CSV_APPEND_NULL) != 0) throw std::bad_alloc();
  csv_set_delim(&parser, static_cast<unsigned char>(options.delimiter));
  // Feed one physical line at a time so messages can name the line.
  std::size_t pos = 0;
  while (pos < text.size() && !state.error) {
    const std::size_t nl = text.find('\n', pos);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    ++state.line;
    if (csv_parse(&parser, text.data() + pos, end - pos, csv_field_cb, csv_row_cb, &state) !=
        end - pos) {
      const std::string msg = csv_strerror(csv_error(&parser));
      csv_free(&parser);
      throw Error(source + ": line " + std::to_string(state.line) + ": " + msg);
    }
    pos = end;
  }
  if (!state.error) csv_fini(&parser, csv_field_cb, csv_row_cb, &state);
  csv_free(&parser);
  if (state.error) std::rethrow_exception(state.error);
  return state.builder.finish(state.had_header);
}

Dataset load_csv(const std::string& path, const TableOptions& options) {
  return parse_csv(read_file(path), path, options);
}

// ---- SQLite -------------------------------------------------------------------------------------

namespace {

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};
struct Stmt {
  sqlite3_stmt* stmt = nullptr;
  ~Stmt() { sqlite3_finalize(stmt); }
};

std::string quote_identifier(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

Dataset load_sqlite(const std::string& path, const TableOptions& options) {
  if (options.table.empty() == options.query.empty())
    throw Error("sqlite:" + path + ": give exactly one of a table or a query",
                ErrorTopic::table_source);
  Db db;
  // Read-only, and never create: a missing file is an error, not a new empty database.
  if (sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    throw Error("cannot open SQLite database '" + path +
                "': " + (db.db ? sqlite3_errmsg(db.db) : "out of memory"));
  const std::string sql =
      options.query.empty() ? "SELECT * FROM " + quote_identifier(options.table) : options.query;
  Stmt st;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &st.stmt, nullptr) != SQLITE_OK)
    throw Error(
        "SQLite database '" + path + "': " + sqlite3_errmsg(db.db) +
        (options.query.empty() ? " (table '" + options.table + "')" : " (query: " + sql + ")"));
  if (!st.stmt) throw Error("SQLite database '" + path + "': the query is empty");
  if (!sqlite3_stmt_readonly(st.stmt))
    throw Error("SQLite database '" + path +
                "': the query would change the database; only "
                "read-only SELECT queries are allowed (query: " +
                sql + ")");
  const int columns = sqlite3_column_count(st.stmt);
  std::vector<std::string> names;
  for (int c = 0; c < columns; ++c) {
    const char* n = sqlite3_column_name(st.stmt, c);
    names.emplace_back(n ? n : "");
  }
  const std::string source = "sqlite:" + path;
  TableBuilder builder(source, options);
  builder.set_columns(std::size_t(columns), names);
  std::vector<double> values(static_cast<std::size_t>(columns), 0.0);
  std::size_t row = 0;
  for (;;) {
    const int rc = sqlite3_step(st.stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW)
      throw Error("SQLite database '" + path + "': " + sqlite3_errmsg(db.db) + " (at row " +
                  std::to_string(row + 1) + ")");
    ++row;
    auto where = [&](std::size_t c) {
      return source + ": row " + std::to_string(row) + ", column '" + names[c] + "'";
    };
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(st.stmt, c)) {
        case SQLITE_INTEGER:
        case SQLITE_FLOAT:
          values[std::size_t(c)] = sqlite3_column_double(st.stmt, c);
          break;
        case SQLITE_NULL:
          throw Error(where(std::size_t(c)) + ": NULL value");
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.stmt, c));
          const std::string_view s = text ? std::string_view(text) : std::string_view();
          if (!parse_number(s, values[std::size_t(c)]))
            throw Error(where(std::size_t(c)) + ": " + quoted(s) + " is not a number");
        }
      }
      if (!std::isfinite(values[std::size_t(c)]))
        throw Error(where(std::size_t(c)) + ": NaN or infinite value");
    }
    builder.add_row(values, where);
  }
  return builder.finish(false);
}

}  // namespace dptrain
