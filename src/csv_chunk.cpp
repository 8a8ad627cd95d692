#include "csv_chunk.hpp"

#include <fast_float/fast_float.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace dptrain::csv_detail {

// Note [Fast CSV path]. Most CSV input is whole rows of plain numbers, and reading those needs
// none of libcsv's generality: the fast path finds each line's end with memchr, splits it at the
// delimiter and parses each field (short decimals by Clinger's fast path, their digits 8 at a
// time; the rest with fast_float, std::from_chars deciding where the two could differ: the same
// values and refusals as the exact reader's parse_number) into the float matrix. A row of
// plain numbers between the delimiters is read in one pass (plain_row); any other line is
// tried field by field (row), trimming blanks and reading quotes. It takes only lines it can read
// exactly as libcsv would: a fixed number of fields, each blank-trimmed and either unquoted (no
// quote, no lone CR) or quoted within the line ("" for a quote), '#' comment lines and blank lines.
// Anything else (a quoted field running over the line, a lone CR, a bad value, a ragged row) it
// refuses without judging, and the exact reader (libcsv, csv_reader.cpp) reads that line and says
// what is wrong in its own words, so every message stays the exact reader's. Since the fast path
// reads whole lines and never lets a quoted field cross a line, every line end it passes is a row
// boundary: a chunk is accepted only when every chunk before it was read to its end (or the exact
// reader reached its start at a row boundary), so a chunk that begins inside a quoted field is
// never taken as rows.

bool fast_delimiter(char d) {
  return d == ',' || d == ';' || d == '\t' || d == '|';
}

void FloatRun::reallocate(std::size_t need) {
  const std::size_t capacity = std::max({need, capacity_ * 2, std::size_t(1024)});
  std::unique_ptr<float[]> bigger(new float[capacity]);
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_ * sizeof(float));
  data_ = std::move(bigger);
  capacity_ = capacity;
}

void ChunkRows::clear() {
  x.clear();
  targets.clear();
  label_text.clear();
  label_end.clear();
  row_line.clear();
  rows = lines = stop = 0;
  refused = false;
}

namespace {

/// The first `c` in [p, e), or null.
const char* find(const char* p, const char* e, char c) {
  if (p >= e) return nullptr;
  return static_cast<const char*>(std::memchr(p, c, std::size_t(e - p)));
}

bool blank(char c, char delimiter) {
  return (c == ' ' || c == '\t') && c != delimiter;
}

/// A field's text without surrounding blanks (' ', '\t', '\r', as table_detail::trim).
std::string_view trimmed(const char* b, const char* e) {
  while (b < e && (*b == ' ' || *b == '\t' || *b == '\r')) ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) --e;
  return {b, std::size_t(e - b)};
}

/// The digits at p as a number appended to m (m * 10^count + digits; m wraps past 19 digits,
/// which the caller refuses by their count), 8 at a time where 8 bytes are left before e:
/// "SWAR" (SIMD within a register) as fast_float does, the bytes XOR '0' being 0-9 exactly
/// for digits. Returns the end of the digits; adds their count to `digits`.
[[gnu::always_inline]] inline const char* digit_run(const char* p, const char* e, std::uint64_t& m,
                                                    int& digits) {
  static constexpr std::uint64_t kTens[] = {1,      10,      100,      1000,     10000,
                                            100000, 1000000, 10000000, 100000000};
  while (e - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);  // the first character in the lowest byte (x86: little-endian)
    x ^= 0x3030303030303030u;
    // A byte >= 10 (or with its top bit set) is not a digit: the lowest such byte ends the run
    // (a carry from it only reaches the bytes after it).
    const std::uint64_t stops = ((x + 0x7676767676767676u) | x) & 0x8080808080808080u;
    const int n = std::countr_zero(stops) / 8;  // 8 when every byte is a digit (stops == 0)
    if (n == 0) return p;
    std::uint64_t v = x << (64 - 8 * n);  // the n digits in the top bytes, zeros before them
    v = v * 10 + (v >> 8);                // pairs, then fours, then the eight digits' value
    v = ((v & 0x000000FF000000FFu) * (100 + (1000000ull << 32)) +
         ((v >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32))) >>
        32;
    m = m * kTens[n] + (v & 0xFFFFFFFFu);
    digits += n;
    p += n;
    if (n < 8) return p;
  }
  for (; p < e && unsigned(*p - '0') < 10; ++p, ++digits) m = m * 10 + unsigned(*p - '0');
  return p;
}

/// Short decimals ("-0.912345", "12", "3.5e-4"): at most 18 digits and a power of ten within
/// 10^±22, whose value is the digits as an integer (exact below 2^53) times or divided by an
/// exact power of ten, one correctly rounded operation (Clinger's fast path): the double
/// std::from_chars gives. Returns the end, or null to leave the text to the general parser.
[[gnu::always_inline]] inline const char* parse_short(const char* p, const char* e, double& v) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const bool negative = p < e && *p == '-';  // half the values of centred data: no branches
  p += negative;
  std::uint64_t m = 0;
  int digits = 0, scale = 0;
  p = digit_run(p, e, m, digits);
  if (p < e && *p == '.') {
    const char* fraction = ++p;
    p = digit_run(p, e, m, digits);
    scale = -int(p - fraction);
  }
  if (digits == 0 || digits > 18) return nullptr;
  if (p < e && (*p == 'e' || *p == 'E')) {
    const char* q = p + 1;
    const bool down = q < e && *q == '-';
    if (q < e && (*q == '+' || *q == '-')) ++q;
    int x = 0;
    const char* first = q;
    for (; q < e && unsigned(*q - '0') < 10 && q - first < 4; ++q) x = x * 10 + (*q - '0');
    if (q == first || (q < e && unsigned(*q - '0') < 10)) return nullptr;
    scale += down ? -x : x;
    p = q;
  }
  if (m > (std::uint64_t(1) << 53) || scale < -22 || scale > 22) return nullptr;
  const double r = scale < 0 ? double(m) / kPow10[-scale] : double(m) * kPow10[scale];
  v = std::bit_cast<double>(std::bit_cast<std::uint64_t>(r) | std::uint64_t(negative) << 63);
  return p;
}

/// Parses a number at [p, e) as std::from_chars does (general format, correctly rounded to
/// double): short decimals directly, the rest with fast_float, and where fast_float could
/// differ (it reads an out-of-range 1e-400 as 0 without an error, std::from_chars refuses it)
/// std::from_chars decides. Returns the end of the number, or null.
[[gnu::noinline]] const char* parse_long(const char* p, const char* e, double& v) {
  const auto [end, ec] = fast_float::from_chars(p, e, v);
  if (ec != std::errc() || end == p) return nullptr;
  if (!(std::fabs(v) >= std::numeric_limits<double>::min()) || !std::isfinite(v)) {
    const auto [end2, ec2] = std::from_chars(p, e, v);  // zero, subnormal or infinite: rare
    return ec2 == std::errc() && end2 != p ? end2 : nullptr;
  }
  return end;
}

[[gnu::always_inline]] inline const char* parse_double(const char* p, const char* e, double& v) {
  if (const char* end = parse_short(p, e, v)) return end;
  return parse_long(p, e, v);
}

/// The value of a whole field as parse_number reads it (an optional '+', then from_chars), as a
/// float; false when it is not one finite number that fits a float.
bool number(std::string_view s, float& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  double v = 0;
  if (parse_double(s.data(), s.data() + s.size(), v) != s.data() + s.size() || !std::isfinite(v))
    return false;
  out = static_cast<float>(v);
  return std::isfinite(out);
}

class LineParser {
 public:
  LineParser(const RowLayout& l, ChunkRows& out)
      : l_(l), out_(out), features_(l.columns - (l.label < l.columns ? 1 : 0)) {}

  /// The common row, read in one pass: every field a short decimal (parse_short) right
  /// between the delimiters, the text label without quotes. False for anything else: the
  /// caller drops what it wrote and reads the line with row().
  bool plain_row(const char* p, const char* e) {
    float* x = out_.x.grow(features_);
    for (std::size_t c = 0; c < l_.columns; ++c) {
      const bool last = c + 1 == l_.columns;
      if (c == l_.label && l_.text_label) {
        const char* end = find(p, e, l_.delimiter);
        if ((end == nullptr) != last) return false;  // too few or too many fields
        if (last) end = e;
        for (const char* q = p; q < end; ++q)
          if (*q == '"' || *q == '\r' || *q == '\0') return false;
        const std::string_view text = trimmed(p, end);
        if (text.empty()) return false;
        out_.label_text.append(text);
        out_.label_end.push_back(std::uint32_t(out_.label_text.size()));
        p = end + 1;
        continue;
      }
      double v;
      const char* r = parse_short(p, e, v);  // finite, and within a float's range
      if (r == nullptr || (last ? r != e : r == e || *r != l_.delimiter)) return false;
      if (c == l_.label)
        out_.targets.push_back(static_cast<float>(v));
      else
        *x++ = static_cast<float>(v);
      p = r + 1;
    }
    return true;
  }

  /// Reads the line [b, e) (its line end excluded) as one row; false to refuse it.
  bool row(const char* b, const char* e) {
    const char* p = b;
    for (std::size_t c = 0; c < l_.columns; ++c) {
      while (p < e && blank(*p, l_.delimiter)) ++p;
      if (const char* next = plain_number(c, p, e)) {            // the common case, in one pass
        if ((next == e) != (c + 1 == l_.columns)) return false;  // too few or too many fields
        p = next + 1;
        continue;
      }
      const char* field_end;
      std::string_view text;
      quoted_.clear();
      if (p < e && *p == '"') {
        if (!quoted(p, e, field_end)) return false;
        text = trimmed(quoted_.data(), quoted_.data() + quoted_.size());
      } else {
        field_end = find(p, e, l_.delimiter);
        if (field_end == nullptr) field_end = e;
        text = trimmed(p, field_end);
        if (text.find('"') != std::string_view::npos) return false;
      }
      if (text.empty() || !cell(c, text)) return false;
      if (c + 1 < l_.columns) {
        if (field_end == e) return false;  // too few fields
        p = field_end + 1;
      } else if (field_end != e) {
        return false;  // too many fields
      }
    }
    return true;
  }

 private:
  /// A quoted field starting at p: its text (with "" read as ") into quoted_, then blanks and
  /// the delimiter or the line end at field_end. False for anything else.
  bool quoted(const char* p, const char* e, const char*& field_end) {
    ++p;
    for (;;) {
      const char* q = find(p, e, '"');
      if (q == nullptr) return false;  // runs over the line: for the exact reader
      quoted_.append(p, q);
      if (q + 1 < e && q[1] == '"') {
        quoted_ += '"';
        p = q + 2;
        continue;
      }
      p = q + 1;
      break;
    }
    while (p < e && blank(*p, l_.delimiter)) ++p;
    if (p < e && *p != l_.delimiter) return false;
    field_end = p;
    return true;
  }
  /// An unquoted number at p followed by blanks and the delimiter or the line end, stored as
  /// cell() would: returns where the field ends (the delimiter or e), or null to read the field
  /// the general way.
  const char* plain_number(std::size_t c, const char* p, const char* e) {
    if (c == l_.label && l_.text_label) return nullptr;
    const char* q = p < e && *p == '+' ? p + 1 : p;
    double v = 0;
    const char* r = parse_double(q, e, v);
    if (r == nullptr) return nullptr;
    while (r < e && (*r == ' ' || *r == '\t') && *r != l_.delimiter) ++r;
    if (r != e && *r != l_.delimiter) return nullptr;
    const float f = static_cast<float>(v);
    if (!std::isfinite(v) || !std::isfinite(f)) return nullptr;
    store(c, f);
    return r;
  }
  void store(std::size_t c, float v) {
    if (c == l_.label)
      out_.targets.push_back(v);
    else
      out_.x.push_back(v);
  }
  bool cell(std::size_t c, std::string_view text) {
    if (c == l_.label && l_.text_label) {
      out_.label_text.append(text);
      out_.label_end.push_back(std::uint32_t(out_.label_text.size()));
      return true;
    }
    float v = 0;
    if (!number(text, v)) return false;
    store(c, v);
    return true;
  }
  const RowLayout& l_;
  ChunkRows& out_;
  std::size_t features_;
  std::string quoted_;
};

/// True for a line the exact reader skips: blank (' ', '\t', '\r' only, the delimiter not
/// counting as blank: a line of one tab is two empty fields in a tab-separated file) or a '#'
/// comment.
bool skipped(const char* b, const char* e, char delimiter) {
  while (b < e && (*b == ' ' || *b == '\t' || *b == '\r') && *b != delimiter) ++b;
  return b == e || *b == '#';
}

}  // namespace

void parse_chunk(std::string_view text, const RowLayout& layout, ChunkRows& out) {
  out.clear();
  const std::size_t features = layout.columns - (layout.label < layout.columns ? 1 : 0);
  LineParser parser(layout, out);
  const auto drop_partial_row = [&] {  // the cells of a row not (yet) taken
    out.x.shrink(out.rows * features);
    out.targets.resize(layout.text_label || layout.label == layout.columns ? 0 : out.rows);
    out.label_end.resize(layout.text_label ? out.rows : 0);
    out.label_text.resize(out.label_end.empty() ? 0 : out.label_end.back());
  };
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  while (p < end) {
    const char* nl = find(p, end, '\n');
    const char* e = nl != nullptr ? nl : end;
    std::size_t length = std::size_t(e - p);
    if (length > 0 && p[length - 1] == '\r') --length;  // CRLF
    const char* content_end = p + length;
    // A lone CR ends a line for the exact reader, and a NUL byte is binary data that it
    // refuses: such lines are its to read. plain_row takes neither, so only the lines it does
    // not take are searched for them.
    const bool skip = skipped(p, e, layout.delimiter);
    const auto odd = [&] {
      return find(p, content_end, '\r') != nullptr || find(p, content_end, '\0') != nullptr;
    };
    bool refuse = skip && odd();
    if (!skip && !parser.plain_row(p, content_end)) {
      drop_partial_row();
      refuse = odd() || !parser.row(p, content_end);
    }
    if (refuse) {
      drop_partial_row();
      out.refused = true;
      break;
    }
    if (!skip) {
      if (layout.text_label) out.row_line.push_back(std::uint32_t(out.lines));
      ++out.rows;
    }
    ++out.lines;
    p = nl != nullptr ? nl + 1 : end;
  }
  out.stop = std::size_t(p - begin);
}

}  // namespace dptrain::csv_detail
