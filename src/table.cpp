#include "dptrain/table.hpp"

#include <csv.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "table_builder.hpp"

namespace dptrain {

using namespace table_detail;

namespace {

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
  std::size_t fields_seen = 0;  // fields libcsv has ended so far
  std::size_t quote_line = 0;   // where the quoted field being parsed opened (0: none)

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
      builder.set_columns(fields.size(), names, [&](std::size_t c) { return cell(c); });
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
      if (c == builder.label_column() && builder.text_label()) continue;  // a class label: text
      if (!parse_number(fields[c], values[c]))
        throw Error(cell(c) + ": " + not_a_number(fields[c]));
      if (!std::isfinite(values[c]))
        throw Error(cell(c) + ": " + quoted(fields[c]) + " is " +
                    (std::isnan(values[c]) ? "NaN" : "infinite") + ", not a usable value");
    }
    // Both arms string_view: with "" the conditional would be a temporary std::string.
    const std::string_view label = builder.label_column() < fields.size()
                                       ? std::string_view(fields[builder.label_column()])
                                       : std::string_view();
    builder.add_row(values, label, [&](std::size_t c) { return cell(c); });
  }
};

extern "C" void csv_field_cb(void* field, std::size_t size, void* state) {
  auto* s = static_cast<CsvState*>(state);
  ++s->fields_seen;
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

namespace {

/// Throws when `bytes` are not text: compressed by a tool other than gzip, UTF-16, or binary
/// (a NUL byte). Named by their magic bytes, so the message says what the file is.
void require_text(std::string_view bytes, const std::string& source) {
  struct Magic {
    std::string_view bytes, what;
  };
  static constexpr Magic magics[] = {{"\xFD"
                                      "7zXZ",
                                      "xz-compressed"},
                                     {"\x28\xB5\x2F\xFD", "zstd-compressed"},
                                     {"PK\x03\x04", "a zip archive"},
                                     {"\xFF\xFE", "UTF-16 text (save it as UTF-8)"},
                                     {"\xFE\xFF", "UTF-16 text (save it as UTF-8)"}};
  for (const Magic& m : magics)
    if (bytes.starts_with(m.bytes))
      throw Error("'" + source + "' is " + std::string(m.what) + ", not CSV text");
  if (bytes.size() >= 10 && bytes.starts_with("BZh") && bytes.substr(4, 6) == "1AY&SY")
    throw Error("'" + source + "' is bzip2-compressed, not CSV text");
  if (const std::size_t nul = bytes.find('\0'); nul != std::string_view::npos) {
    const std::string_view before = bytes.substr(0, nul);
    const std::size_t line = 1 + std::size_t(std::count(before.begin(), before.end(), '\n'));
    throw Error("'" + source + "' is binary (a NUL byte on line " + std::to_string(line) +
                "), not CSV text");
  }
}

/// The end of the physical line starting at `pos`, past its terminator: LF, CRLF or a lone CR.
std::size_t line_end(std::string_view text, std::size_t pos) {
  const std::size_t eol = text.find_first_of("\r\n", pos);
  if (eol == std::string_view::npos) return text.size();
  return eol + (text[eol] == '\r' && eol + 1 < text.size() && text[eol + 1] == '\n' ? 2 : 1);
}

/// True while libcsv is inside a quoted field: its state FIELD_BEGUN (2, private to libcsv.c)
/// with the field quoted. At the end of the text this is a quote never closed, which csv_fini
/// would silently end there (Note [Unclosed quote]).
bool in_quoted_field(const csv_parser& parser) {
  constexpr int kFieldBegun = 2;
  return parser.pstate == kFieldBegun && parser.quoted;
}

/// True when the physical line at `pos` starts with '#' (after blanks): a comment.
bool is_comment(std::string_view text, std::size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  return pos < text.size() && text[pos] == '#';
}

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& source, const TableOptions& options) {
  std::string inflated;  // gzip-compressed CSV is read transparently
  if (text.starts_with("\x1f\x8b")) {
    const std::vector<unsigned char> bytes = gunzip_if_gzipped(text, source);
    inflated.assign(bytes.begin(), bytes.end());
    text = inflated;
  }
  require_text(text, source);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte-order mark
  if (trim(text).empty()) throw Error(source + ": is empty");
  CsvState state{
      TableBuilder(source, options), options.header, {}, {}, 0, 0, false, false, nullptr, source};
  csv_parser parser;
  if (csv_init(&parser, CSV_APPEND_NULL) != 0) throw std::bad_alloc();
  csv_set_delim(&parser, static_cast<unsigned char>(options.delimiter));
  // Feed one physical line at a time so messages can name the line.
  // Note [Unclosed quote]. a quoted field may span lines (RFC 4180), so a stray '"' makes every
  // later line part of one field, and libcsv's csv_fini ends that field at the end of the text
  // without complaint: `3,4,"cat` before two more rows would train as one row labelled
  // "cat\n5,6,dog...". The line where each quoted field opens is tracked (a field that ended
  // during the line means a new one opened on it), and a field still open at the end is refused.
  std::size_t pos = 0;
  while (pos < text.size() && !state.error) {
    const std::size_t end = line_end(text, pos);
    ++state.line;
    if (state.line <= options.skip_rows || (parser.pstate == 0 && is_comment(text, pos))) {
      pos = end;  // --skip-rows, or a '#' comment line outside any row (pstate 0: none begun)
      continue;
    }
    const bool was_quoted = in_quoted_field(parser);
    const std::size_t fields_before = state.fields_seen;
    if (csv_parse(&parser, text.data() + pos, end - pos, csv_field_cb, csv_row_cb, &state) !=
        end - pos) {
      const std::string msg = csv_strerror(csv_error(&parser));
      csv_free(&parser);
      throw Error(source + ": line " + std::to_string(state.line) + ": " + msg);
    }
    if (in_quoted_field(parser) && (!was_quoted || state.fields_seen != fields_before))
      state.quote_line = state.line;
    pos = end;
  }
  if (!state.error && in_quoted_field(parser)) {
    csv_free(&parser);
    throw Error(source + ": line " + std::to_string(state.quote_line) +
                ": a quoted field opens here and its quote is never closed (it would run to the "
                "end of the file, line " +
                std::to_string(state.line) + ")");
  }
  if (!state.error) csv_fini(&parser, csv_field_cb, csv_row_cb, &state);
  csv_free(&parser);
  if (state.error) std::rethrow_exception(state.error);
  return state.builder.finish(state.had_header);
}

Dataset load_csv(const std::string& path, const TableOptions& options) {
  return parse_csv(read_file(path), path, options);
}

void attach_labels(Dataset& data, std::string_view text, const std::string& source,
                   const TableOptions& options) {
  if (data.labelled()) throw Error("data '" + data.source + "' already has labels");
  std::vector<std::pair<std::size_t, std::string>> lines;  // (line number, label text)
  std::size_t number = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = line_end(text, pos);
    std::string_view line = trim(text.substr(pos, end - pos));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    pos = end, ++number;
    if (line.empty() || line.front() == '#') continue;
    if (line.size() >= 2 && line.front() == '"' && line.back() == '"')
      line = line.substr(1, line.size() - 2);
    else if (line.find(options.delimiter) != std::string_view::npos)
      throw Error(source + ": line " + std::to_string(number) + " has " +
                  std::to_string(1 + std::count(line.begin(), line.end(), options.delimiter)) +
                  " fields (" + quoted(line) +
                  "); a labels file holds one label per line (quote a label that contains the "
                  "delimiter)");
    lines.emplace_back(number, std::string(line));
  }
  // Note [Labels header]. the first line is a header only when --header yes says so, or (detect)
  // when the file has exactly one line more than the data have rows and that line is not a
  // number: a numeric first line is always a label, so an extra label line is an error rather
  // than a silently dropped first label.
  double number_value = 0;
  const bool numeric_first = !lines.empty() && parse_number(lines[0].second, number_value);
  const bool header = options.header == TableOptions::Header::yes ||
                      (options.header == TableOptions::Header::detect &&
                       lines.size() == data.rows + 1 && !numeric_first);
  if (lines.size() - (header && !lines.empty() ? 1 : 0) != data.rows)
    throw Error(source + ": has " + std::to_string(lines.size()) + " labels for the " +
                std::to_string(data.rows) + " rows of data '" + data.source + "'" +
                (numeric_first && lines.size() == data.rows + 1 &&
                         options.header == TableOptions::Header::detect
                     ? " (its first line, " + quoted(lines[0].second) +
                           ", is a number, so it is a label, not a header)"
                     : ""));
  DataSchema schema = data.schema;
  TableOptions o = options;  // the file's one column is the label
  o.label = "1";
  o.model_inputs = 0;
  TableBuilder builder(source, o);
  builder.set_columns(
      2, header ? std::vector<std::string>{"", lines[0].second} : std::vector<std::string>{},
      [&](std::size_t) { return source + ": line " + std::to_string(lines[0].first); });
  std::vector<double> values(2, 0.0);
  for (std::size_t i = header ? 1 : 0; i < lines.size(); ++i) {
    const auto& [line, label] = lines[i];
    auto where = [&, line = line](std::size_t) {
      return source + ": line " + std::to_string(line);
    };
    if (!options.classification && !parse_number(label, values[1]))
      throw Error(where(0) + ": " + not_a_number(label));
    builder.add_row(values, label, where);
  }
  Dataset labels = builder.finish(header);
  data.classes = labels.classes;
  data.labels = std::move(labels.labels);
  data.target_width = labels.target_width;
  data.targets = std::move(labels.targets);
  schema.task = labels.schema.task;
  schema.label_column = header ? lines[0].second : "";
  schema.class_names = labels.schema.class_names;
  data.schema = std::move(schema);
  data.validate();
}

}  // namespace dptrain
