// The SQLite reader (table.hpp): a table or one read-only query, opened without creating files.
#include "dptrain/table.hpp"

#include <sqlite3.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "table_builder.hpp"

namespace dptrain {

using namespace table_detail;

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

/// What follows the first statement of `sql` once whitespace, semicolons and comments are
/// skipped: empty when the text holds exactly one statement.
std::string_view second_statement(std::string_view tail) {
  for (;;) {
    const std::size_t start = tail.find_first_not_of(" \t\r\n\f\v;");
    if (start == std::string_view::npos) return {};
    tail.remove_prefix(start);
    std::size_t end = 0;
    if (tail.starts_with("--")) {
      end = tail.find('\n');
    } else if (tail.starts_with("/*")) {
      end = tail.find("*/", 2);
      if (end != std::string_view::npos) end += 1;
    } else {
      return tail;
    }
    if (end == std::string_view::npos) return {};  // a comment runs to the end
    tail.remove_prefix(end + 1);
  }
}

/// True for a WAL-mode database (file format bytes 18 and 19 are 2) with no -wal file beside
/// it: all its data is in the file, and it can be opened immutable.
bool wal_without_log(const std::string& path) {
  char header[20] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(header, sizeof header) || header[18] != 2 || header[19] != 2) return false;
  std::error_code ec;
  return !std::filesystem::exists(path + "-wal", ec) && !ec;
}

/// Opens `path` read-only, creating nothing: never a new database, and no -wal or -shm files
/// (a read-only connection to a WAL-mode database would otherwise leave both behind).
void open_read_only(const std::string& path, Db& db) {
  int rc = SQLITE_OK;
  if (wal_without_log(path)) {
    std::string uri = "file://";
    char hex[4];
    for (const char c : std::filesystem::absolute(path).string()) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= ' ' || u >= 0x7f || c == '%' || c == '?' || c == '#') {
        std::snprintf(hex, sizeof hex, "%%%02X", u);
        uri += hex;
      } else {
        uri += c;
      }
    }
    rc = sqlite3_open_v2((uri + "?immutable=1").c_str(), &db.db,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
  } else {
    rc = sqlite3_open_v2(path.c_str(), &db.db, SQLITE_OPEN_READONLY, nullptr);
  }
  if (rc != SQLITE_OK)
    throw Error("cannot open SQLite database '" + path +
                "': " + (db.db ? sqlite3_errmsg(db.db) : "out of memory"));
}

/// Refuses a query that is not a SELECT (WITH ... SELECT, VALUES): ATTACH, DETACH and most
/// PRAGMAs count as read-only for SQLite, yet they reach other files or change the connection
/// rather than read rows of this database.
void check_select(const std::string& path, const std::string& sql) {
  const std::string_view text = second_statement(sql);  // past leading blanks and comments
  std::string word;
  for (const char c : text.substr(
           0, text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")))
    word += char(std::toupper(static_cast<unsigned char>(c)));
  if (word != "SELECT" && word != "WITH" && word != "VALUES" && !word.empty())
    throw Error("SQLite database '" + path + "': the query is " +
                    (word == "ATTACH" || word == "DETACH" || word == "PRAGMA"
                         ? "a" + std::string(word == "ATTACH" ? "n " : " ") + word +
                               " statement, which changes the connection or reads other files"
                         : "a " + word + " statement") +
                    "; a query must be one SELECT statement (WITH ... SELECT or VALUES too) "
                    "reading rows of this database",
                ErrorTopic::table_source);
}

/// Prepares exactly one read-only statement: `sql` holding a second one, or one that would
/// write, is an Error (naming `what` the SQL is).
void prepare_one_select(const std::string& path, Db& db, const std::string& sql,
                        const std::string& what, Stmt& st) {
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db.db, sql.c_str(), -1, &st.stmt, &tail) != SQLITE_OK)
    throw Error("SQLite database '" + path + "': " + sqlite3_errmsg(db.db) + " (" + what + ")");
  if (const std::string_view rest = second_statement(tail ? tail : ""); !rest.empty())
    throw Error("SQLite database '" + path + "': the query holds more than one statement (" +
                quoted(rest) + " follows the first); give exactly one SELECT");
  if (!st.stmt) throw Error("SQLite database '" + path + "': the query is empty");
  if (!sqlite3_stmt_readonly(st.stmt))
    throw Error("SQLite database '" + path +
                "': the query would change the database; only read-only SELECT queries are "
                "allowed (" +
                what + ")");
}

/// The number in column `c` of the current row; `where` names the cell in messages.
template <class Where>
double cell_value(sqlite3_stmt* stmt, int c, Where&& where) {
  double value = 0;
  switch (sqlite3_column_type(stmt, c)) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
      value = sqlite3_column_double(stmt, c);
      break;
    case SQLITE_NULL:
      throw Error(where(std::size_t(c)) + ": NULL, not a number");
    case SQLITE_BLOB:
      throw Error(where(std::size_t(c)) + ": a BLOB (" +
                  std::to_string(sqlite3_column_bytes(stmt, c)) + " bytes), not a number");
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      const std::string_view s = text ? std::string_view(text) : std::string_view();
      if (!parse_number(s, value))
        throw Error(where(std::size_t(c)) + ": the text " + not_a_number(s));
    }
  }
  if (!std::isfinite(value)) throw Error(where(std::size_t(c)) + ": NaN or infinite value");
  return value;
}

/// The text of column `c` of the current row as a class label: numbers by value, text as it is.
template <class Where>
std::string label_text(sqlite3_stmt* stmt, int c, Where&& where) {
  switch (sqlite3_column_type(stmt, c)) {
    case SQLITE_INTEGER:
      return std::to_string(sqlite3_column_int64(stmt, c));
    case SQLITE_FLOAT:
      return canonical_number(sqlite3_column_double(stmt, c));
    case SQLITE_NULL:
      throw Error(where(std::size_t(c)) + ": NULL, not a label");
    case SQLITE_BLOB:
      throw Error(where(std::size_t(c)) + ": a BLOB, not a label");
    default: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
      return text ? std::string(text) : std::string();
    }
  }
}

}  // namespace

Dataset load_sqlite(const std::string& path, const TableOptions& options) {
  if (options.table.empty() == options.query.empty())
    throw Error("sqlite:" + path + ": give exactly one of a table or a query",
                ErrorTopic::table_source);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("SQLite database '" + path + "' is a folder, not a database file");
  Db db;
  open_read_only(path, db);
  const bool table = options.query.empty();
  const std::string sql =
      table ? "SELECT * FROM " + quote_identifier(options.table) : options.query;
  Stmt st;
  prepare_one_select(path, db, sql, table ? "table '" + options.table + "'" : "query: " + sql, st);
  if (!table) check_select(path, options.query);  // prepared, not run: ATTACH attached nothing
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
      return source + ": row " + std::to_string(row) + ", column " + std::to_string(c + 1) + " ('" +
             names[c] + "')";
    };
    std::string label;
    for (int c = 0; c < columns; ++c)
      if (std::size_t(c) == builder.label_column() && builder.text_label())
        label = label_text(st.stmt, c, where);
      else
        values[std::size_t(c)] = cell_value(st.stmt, c, where);
    builder.add_row(values, label, where);
  }
  return builder.finish(false);
}

}  // namespace dptrain
