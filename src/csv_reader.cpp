// The CSV reader: input pulled a block at a time (plain or gzip'ed, Note [Bounded inflation]),
// whole rows parsed on the pool's workers by the fast path (Note [Fast CSV path]) and
// everything else by libcsv, the exact reader, whose messages name the file, line and column.
#include <csv.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "csv_chunk.hpp"
#include "dptrain/error.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/parallel/pool.hpp"
#include "dptrain/table.hpp"
#include "inflate.hpp"
#include "table_builder.hpp"

namespace dptrain {

using namespace table_detail;

namespace {

// ---- the exact reader (libcsv)
// --------------------------------------------------------------------

struct CsvState {
  CsvState(const std::string& source, const TableOptions& options)
      : builder(source, options), header_mode(options.header), source(source) {}
  TableBuilder builder;
  TableOptions::Header header_mode;
  std::string source;
  std::vector<std::string> fields;  // the row being parsed
  std::vector<double> values;
  std::size_t line = 0;  // physical line being fed to the parser (1-based); lines read so far
  std::size_t first_row_line = 0;
  bool have_columns = false, had_header = false;
  std::exception_ptr error{};   // libcsv callbacks are C: exceptions stop at the boundary
  std::size_t fields_seen = 0;  // fields libcsv has ended so far
  std::size_t quote_line = 0;   // where the quoted field being parsed opened (0: none)

  std::string cell(std::size_t c) const { return cell_at(line, c); }
  std::string cell_at(std::size_t at, std::size_t c) const {
    return source + ": line " + std::to_string(at) + ", column " + std::to_string(c + 1);
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

/// True when the physical line at `pos` starts with '#' (after blanks): a comment.
bool is_comment(std::string_view text, std::size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  return pos < text.size() && text[pos] == '#';
}

/// libcsv fed one physical line at a time, so that messages can name the line.
class ExactReader {
 public:
  ExactReader(const std::string& source, const TableOptions& options)
      : state_(source, options), skip_(options.skip_rows) {
    if (csv_init(&parser_, CSV_APPEND_NULL) != 0) throw std::bad_alloc();
    csv_set_delim(&parser_, static_cast<unsigned char>(options.delimiter));
  }
  ~ExactReader() { csv_free(&parser_); }
  ExactReader(const ExactReader&) = delete;
  ExactReader& operator=(const ExactReader&) = delete;

  CsvState& state() { return state_; }
  /// Between rows, past --skip-rows, the columns known: where the fast path may take over.
  bool clean() const { return parser_.pstate == 0 && state_.have_columns && state_.line >= skip_; }

  /// Feeds the lines of text[pos, cut) (cut: after a line end, or the end of the input). With
  /// `stop_clean`, returns at the first position where clean() holds that is in `stops` (any
  /// position when `stops` is empty); else at cut.
  std::size_t feed(std::string_view text, std::size_t pos, std::size_t cut,
                   std::span<const std::size_t> stops, bool stop_clean) {
    text = text.substr(0, cut);
    std::size_t next_stop = 0;
    while (pos < cut) {
      while (next_stop < stops.size() && stops[next_stop] < pos) ++next_stop;
      if (stop_clean && clean() &&
          (stops.empty() || (next_stop < stops.size() && stops[next_stop] == pos)))
        return pos;
      if (pos == 0 || text[pos - 1] == '\n') {  // a line's start (not after a lone CR)
        const std::size_t lf = text.find('\n', pos);
        refuse_nul(text.substr(pos, lf == text.npos ? lf : lf - pos));
      }
      const std::size_t end = line_end(text, pos);
      feed_line(text.substr(pos, end - pos));
      pos = end;
    }
    return pos;
  }

  /// Throws when the line (up to its LF) holds a NUL byte: binary data, not text. Checked
  /// where a line begins, before any of it is parsed, so that the first problem in the text is
  /// the one reported; the fast path leaves such lines to this reader.
  void refuse_nul(std::string_view line) const {
    if (line.find('\0') != line.npos)
      throw Error("'" + state_.source + "' is binary (a NUL byte on line " +
                  std::to_string(state_.line + 1) + "), not CSV text");
  }

  /// The end of the input: a quoted field still open is refused (Note [Unclosed quote]).
  Dataset finish() {
    if (in_quoted_field())
      throw Error(state_.source + ": line " + std::to_string(state_.quote_line) +
                  ": a quoted field opens here and its quote is never closed (it would run to the "
                  "end of the file, line " +
                  std::to_string(state_.line) + ")");
    csv_fini(&parser_, csv_field_cb, csv_row_cb, &state_);
    if (state_.error) std::rethrow_exception(state_.error);
    return state_.builder.finish(state_.had_header);
  }

 private:
  // Note [Unclosed quote]. a quoted field may span lines (RFC 4180), so a stray '"' makes every
  // later line part of one field, and libcsv's csv_fini ends that field at the end of the text
  // without complaint: `3,4,"cat` before two more rows would train as one row labelled
  // "cat\n5,6,dog...". The line where each quoted field opens is tracked (a field that ended
  // during the line means a new one opened on it), and a field still open at the end is refused.
  void feed_line(std::string_view line) {
    ++state_.line;
    if (state_.line <= skip_ || (parser_.pstate == 0 && is_comment(line, 0)))
      return;  // --skip-rows, or a '#' comment line outside any row (pstate 0: none begun)
    const bool was_quoted = in_quoted_field();
    const std::size_t fields_before = state_.fields_seen;
    if (csv_parse(&parser_, line.data(), line.size(), csv_field_cb, csv_row_cb, &state_) !=
        line.size())
      throw Error(state_.source + ": line " + std::to_string(state_.line) + ": " +
                  csv_strerror(csv_error(&parser_)));
    if (state_.error) std::rethrow_exception(state_.error);
    if (in_quoted_field() && (!was_quoted || state_.fields_seen != fields_before))
      state_.quote_line = state_.line;
  }
  /// True while libcsv is inside a quoted field: its state FIELD_BEGUN (2, private to libcsv.c)
  /// with the field quoted. At the end of the text this is a quote never closed, which csv_fini
  /// would silently end there (Note [Unclosed quote]).
  bool in_quoted_field() const {
    constexpr int kFieldBegun = 2;
    return parser_.pstate == kFieldBegun && parser_.quoted;
  }

  csv_parser parser_;
  CsvState state_;
  std::size_t skip_;
};

/// Throws when `bytes` (the start of the input) are not text: compressed by a tool other than
/// gzip, UTF-16. Named by their magic bytes, so the message says what the file is.
void require_text_start(std::string_view bytes, const std::string& source) {
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
}

}  // namespace

namespace {

using csv_detail::ChunkRows;

/// Note [Streaming CSV]. The input is taken a block at a time (block: a chunk of kCsvChunkBytes
/// per worker; TextBlocks in inflate.hpp): the rows up to the block's last line end are parsed,
/// and the unfinished line is kept for the next block to follow. Plain text is read in place (a
/// regular file memory-mapped, its pages dropped behind the reader), anything else into one
/// buffer. So the text is never held whole: memory is the float matrix, the buffer, and per worker
/// the rows of its chunk. Lines go to the exact reader until it stands at a row boundary with the
/// columns known (the header, or a quoted field running over several lines); from there the block
/// is cut at line ends into one chunk per worker, parsed in parallel by the fast path, and taken in
/// order: a refused line goes to the exact reader, which reads on until it stands between rows at
/// the start of a chunk, whose rows are then taken as parsed (Note [Fast CSV path]). A gzip'ed file
/// is inflated ahead while a block is parsed (Note [Inflation ahead] in inflate.hpp).
class CsvReader {
 public:
  CsvReader(detail::InputStream& in, const std::string& source, const TableOptions& options,
            std::size_t chunk_bytes, bool fast, const CsvProgress* progress = nullptr)
      : in_(in),
        blocks_(in),
        source_(source),
        exact_(source, options),
        options_(options),
        chunk_(std::max<std::size_t>(chunk_bytes, 4)),
        progress_(progress) {
    workers_ = options.pool != nullptr ? options.pool->size() : 1;
    fast_ = fast && csv_detail::fast_delimiter(options.delimiter);
    results_.resize(workers_);
    // Blanks, but not the delimiter: a line of tabs is a row of empty fields in a tab-separated
    // file, whatever the block it is read in.
    std::erase(blanks_, options.delimiter);
  }

  Dataset read() {
    bool first = true, all_blank = true;
    for (;;) {
      const std::size_t carry = blocks_.kept(), want = std::max(chunk_ * workers_, carry);
      check_memory(carry + want);
      bool eof = false;
      std::string_view text = blocks_.next(want, eof);
      const std::size_t got = text.size() - carry;
      if (first && check_start(text, eof)) {  // a UTF-8 byte-order mark
        blocks_.consume(3);
        text.remove_prefix(3);
      }
      first = false;
      all_blank = all_blank && text.find_first_not_of(blanks_) == text.npos;
      std::size_t cut = text.size();
      if (!eof) {
        const std::size_t nl = text.rfind('\n');
        cut = nl == text.npos ? 0 : nl + 1;
      }
      if (cut > 0) parse(text, 0, cut);
      // The unfinished line is refused at once when binary: a NUL line never ends.
      if (std::max(cut, carry) < text.size()) exact_.refuse_nul(text.substr(std::max(cut, carry)));
      bytes_ += got;
      if (progress_ != nullptr && *progress_) (*progress_)(exact_.state().builder.rows(), bytes_);
      blocks_.consume(cut);
      if (eof) break;
    }
    if (all_blank) throw Error(source_ + ": is empty");
    return exact_.finish();
  }

 private:
  /// The first block: not another format. True when it starts with a byte-order mark.
  bool check_start(std::string_view text, bool eof) {
    require_text_start(text, source_);
    const bool bom = text.starts_with("\xEF\xBB\xBF");
    if (eof && text.find('\0') == text.npos &&
        text.find_first_not_of(blanks_, bom ? 3 : 0) == text.npos)
      throw Error(source_ + ": is empty");
    return bom;
  }

  /// Parses the whole lines text[pos, cut).
  void parse(std::string_view text, std::size_t pos, std::size_t cut) {
    if (!fast_) {
      exact_.feed(text, pos, cut, {}, false);
      return;
    }
    pos = exact_.feed(text, pos, cut, {}, true);
    if (pos < cut) fast_rounds(text, pos, cut);
  }

  /// The fast path over text[pos, cut), which starts at a row boundary.
  void fast_rounds(std::string_view text, std::size_t pos, std::size_t cut) {
    const std::size_t n = std::min(workers_, std::max<std::size_t>(1, (cut - pos) / (chunk_ / 4)));
    std::vector<std::size_t> bounds{pos};
    for (std::size_t i = 1; i < n; ++i) {
      const std::size_t at = text.find('\n', pos + (cut - pos) * i / n);
      if (at != text.npos && at + 1 < cut && at + 1 > bounds.back()) bounds.push_back(at + 1);
    }
    bounds.push_back(cut);
    const std::size_t chunks = bounds.size() - 1;
    CsvState& s = exact_.state();
    const csv_detail::RowLayout layout{s.builder.columns(), s.builder.label_column(),
                                       s.builder.text_label(), options_.delimiter};
    auto task = [&](std::size_t i) {
      csv_detail::parse_chunk(text.substr(bounds[i], bounds[i + 1] - bounds[i]), layout,
                              results_[i]);
    };
    if (chunks == 1)
      task(0);
    else
      options_.pool->run(chunks, task);
    reserve_once();
    for (std::size_t i = 0; i < chunks;) {
      take(results_[i]);
      if (!results_[i].refused) {
        ++i;
        continue;
      }
      const std::size_t at = exact_.feed(text, bounds[i] + results_[i].stop, cut,
                                         std::span(bounds).subspan(i + 1), true);
      i = std::size_t(std::find(bounds.begin(), bounds.end(), at) - bounds.begin());
    }
  }

  /// Adds a chunk's rows to the data set.
  void take(const ChunkRows& r) {
    CsvState& s = exact_.state();
    const std::size_t base = s.line;
    s.builder.add_rows(
        r.rows, r.x, r.targets,
        [&](std::size_t row) {
          const std::size_t b = row == 0 ? 0 : r.label_end[row - 1];
          return std::string_view(r.label_text).substr(b, r.label_end[row] - b);
        },
        [&](std::size_t row, std::size_t c) { return s.cell_at(base + r.row_line[row] + 1, c); });
    s.line += r.lines;
  }

  /// For a file of known size (or a gzip'ed one whose trailer records it), room for the rows it
  /// will hold, estimated from the first chunk's bytes per row, and checked against memory
  /// before they are read.
  void reserve_once() {
    if (reserved_ || in_.size_hint() == 0 || results_[0].rows == 0) return;
    reserved_ = true;
    const double per_row = double(results_[0].stop) / double(results_[0].rows);
    const double rows = double(in_.size_hint()) / per_row * 1.05 + 64;
    const double features = double(results_[0].x.size()) / double(results_[0].rows);
    check_fits_memory(rows * (features * 4 + 8), "'" + source_ + "'", ErrorTopic::none);
    exact_.state().builder.reserve(std::size_t(rows));
  }

  /// The rows read so far and the buffer must fit this machine's memory (Note [Bounded
  /// inflation]): an endless or inflating input stops here, not in the kernel's OOM killer.
  void check_memory(std::size_t buffer) {
    const CsvState& s = exact_.state();
    const double bytes = double(s.builder.bytes()) + double(buffer) +
                         double(workers_) * double(chunk_) * 2 +
                         double(detail::kAheadPiece * detail::kAheadPieces);
    check_fits_memory(
        bytes, "'" + source_ + "' (" + std::to_string(s.builder.rows()) + " rows read so far)",
        ErrorTopic::none);
  }

  detail::InputStream& in_;
  detail::TextBlocks blocks_;  // in place when plain, else buffered (gzip inflated ahead)
  std::string source_;
  ExactReader exact_;
  TableOptions options_;
  std::size_t chunk_, workers_ = 1, bytes_ = 0;
  const CsvProgress* progress_;
  std::string blanks_ = " \t\r";  // an input of these alone is empty
  bool fast_ = true, reserved_ = false;
  std::vector<ChunkRows> results_;
};

}  // namespace

Dataset parse_csv(std::string_view text, const std::string& source, const TableOptions& options) {
  return parse_csv_with(text, source, options, kCsvChunkBytes, true);
}

Dataset parse_csv_with(std::string_view text, const std::string& source,
                       const TableOptions& options, std::size_t chunk_bytes, bool fast) {
  const auto in = detail::InputStream::memory(text, source);
  return CsvReader(*in, source, options, chunk_bytes, fast).read();
}

Dataset load_csv(const std::string& path, const TableOptions& options) {
  return load_csv(path, options, CsvProgress());
}

Dataset load_csv(const std::string& path, const TableOptions& options,
                 const CsvProgress& progress) {
  const auto in = detail::InputStream::file(path);
  return CsvReader(*in, path, options, kCsvChunkBytes, true, &progress).read();
}

}  // namespace dptrain
