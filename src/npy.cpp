#include "dptrain/npy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>

#include "dptrain/error.hpp"
#include "dptrain/io.hpp"
#include "dptrain/limits.hpp"
#include "dptrain/utf8.hpp"
#include "mapped_file.hpp"
#include "table_builder.hpp"

namespace dptrain {

std::size_t NpyHeader::count() const {
  std::size_t n = 1;
  for (std::size_t d : shape) n *= d;
  return n;
}

std::string NpyHeader::describe() const {
  static constexpr const char* kKinds[] = {"float", "int", "uint", "bool"};
  const std::size_t k = kind == 'f' ? 0 : kind == 'i' ? 1 : kind == 'u' ? 2 : 3;
  std::string s = kKinds[k];
  if (kind != 'b') s += std::to_string(item_size * 8);
  s += " (";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

// Note [Npy header]. A .npy file is the magic "\x93NUMPY", a version (1.0: a 2-byte header
// length; 2.0 and 3.0: 4 bytes), and a Python dict literal padded with blanks and ended by a
// line feed: {'descr': '<f4', 'fortran_order': False, 'shape': (400000, 50), }. The header is
// read as exactly that grammar, never evaluated: the three keys once each, in any order; descr
// a plain numeric type (no structured, object or string arrays, whose bytes would be pickles or
// text); shape a tuple of at most 2 whole numbers whose product, times the item size, must be
// exactly the bytes after the header. Anything else is refused with what was found where.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  NpyHeader parse() {
    NpyHeader h;
    bool descr = false, order = false, shape = false;
    expect('{');
    while (peek() != '}') {
      const std::string key = string();
      expect(':');
      if (key == "descr" && !descr) {
        descr = true;
        type(string(), h);
      } else if (key == "fortran_order" && !order) {
        order = true;
        h.fortran_order = boolean();
      } else if (key == "shape" && !shape) {
        shape = true;
        h.shape = tuple();
      } else {
        fail("has an unexpected or repeated key '" + escape_invalid_utf8(key) + "'");
      }
      if (peek() != ',') break;
      ++pos_;
    }
    expect('}');
    skip();
    if (pos_ != s_.size()) fail("has text after the header dict");
    if (!descr || !order || !shape) fail("lacks one of the keys descr, fortran_order, shape");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("'" + name_ + "' is not a .npy file dptrain reads: its header " + what);
  }
  void skip() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n')) ++pos_;
  }
  char peek() {
    skip();
    if (pos_ >= s_.size()) fail("ends early");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c)
      fail("has '" + escape_invalid_utf8(s_.substr(pos_, 1)) + "' where '" + c + "' belongs");
    ++pos_;
  }
  std::string string() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("has a key or value that is not a quoted name");
    const std::size_t end = s_.find(q, pos_ + 1);
    if (end == s_.npos || end - pos_ > 64) fail("has an unterminated or overlong string");
    std::string v(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    peek();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}})
      if (s_.substr(pos_).starts_with(word)) {
        pos_ += std::strlen(word);
        return value;
      }
    fail("has a fortran_order that is neither True nor False");
  }
  std::vector<std::size_t> tuple() {
    expect('(');
    std::vector<std::size_t> dims;
    while (peek() != ')') {
      std::size_t v = 0, digits = 0;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9' && digits < 16)
        v = v * 10 + std::size_t(s_[pos_++] - '0'), ++digits;
      if (digits == 0 || (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'))
        fail("has a shape that is not a tuple of whole numbers below 10^16");
      dims.push_back(v);
      if (dims.size() > 2) fail("has a shape of more than 2 dimensions");
      if (peek() != ',') break;
      ++pos_;
    }
    expect(')');
    return dims;
  }
  void type(const std::string& d, NpyHeader& h) const {
    const bool ok = d.size() == 3 && d[0] != '\0' && std::strchr("<>|=", d[0]) != nullptr &&
                    d[1] != '\0' && std::strchr("fiub", d[1]) != nullptr && d[2] >= '1' &&
                    d[2] <= '8';
    const std::size_t size = ok ? std::size_t(d[2] - '0') : 0;
    const bool sized = !ok           ? false
                       : d[1] == 'f' ? size == 4 || size == 8
                       : d[1] == 'b' ? size == 1
                                     : size == 1 || size == 2 || size == 4 || size == 8;
    if (!ok || !sized)
      fail("has type '" + escape_invalid_utf8(d) +
           "'; dptrain reads float32, float64, (unsigned) integers and bool arrays");
    h.byte_order = d[0] == '=' ? '<' : d[0];  // native: little-endian on every target
    h.kind = d[1];
    h.item_size = size;
  }
  std::string_view s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

std::uint32_t le(const unsigned char* p, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

}  // namespace

NpyHeader parse_npy_header(std::string_view bytes, const std::string& name) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  if (!bytes.starts_with("\x93NUMPY"))
    throw Error("'" + name + "' is not a .npy file (no \\x93NUMPY magic at its start)");
  if (bytes.size() < 10 || b[6] < 1 || b[6] > 3 || b[7] != 0)
    throw Error("'" + name + "' has an unknown .npy version or is truncated in its preamble");
  const std::size_t width = b[6] == 1 ? 2 : 4, start = 6 + 2 + width;
  if (bytes.size() < start) throw Error("'" + name + "' is truncated in its .npy preamble");
  const std::size_t length = le(b + 8, width);
  if (length > (std::size_t(1) << 20) || bytes.size() - start < length)
    throw Error("'" + name + "' declares a .npy header of " + std::to_string(length) +
                " bytes, more than the file or 1 MiB holds");
  const std::string_view text = bytes.substr(start, length);
  if (text.empty() || text.back() != '\n')
    throw Error("'" + name +
                "' is not a .npy file dptrain reads: its header does not end in a "
                "line feed");
  NpyHeader h = HeaderParser(text.substr(0, text.size() - 1), name).parse();
  h.data_offset = start + length;
  std::size_t count = 1;
  for (std::size_t d : h.shape)
    if (d != 0 && count > (std::size_t(1) << 44) / d)
      throw Error("'" + name + "' declares an absurd shape: " + h.describe());
    else
      count *= d;
  const std::size_t need = count * h.item_size, have = bytes.size() - h.data_offset;
  if (have != need)
    throw Error("'" + name + "' " + (have < need ? "is truncated" : "has trailing bytes") +
                ": its " + h.describe() + " array needs " + std::to_string(need) +
                " bytes after the header, the file has " + std::to_string(have));
  return h;
}

namespace {

/// Value i of the array after the header, as a double.
double value_at(const NpyHeader& h, const unsigned char* data, std::size_t i) {
  // The item's bytes in little-endian order (every target is little-endian) in the low bytes.
  const std::size_t n = h.item_size;
  const unsigned char* item = data + i * n;
  std::uint64_t bits = 0;
  for (std::size_t k = 0; k < n; ++k)
    bits |= std::uint64_t(item[h.byte_order == '>' ? n - 1 - k : k]) << (8 * k);
  auto as = [&]<class T>(T) {
    T v;
    std::memcpy(&v, &bits, sizeof v);
    return double(v);
  };
  switch (h.kind) {
    case 'f':
      return h.item_size == 4 ? as(float()) : as(double());
    case 'b':
      return bits != 0;
    case 'u':
      return h.item_size == 1   ? as(std::uint8_t())
             : h.item_size == 2 ? as(std::uint16_t())
             : h.item_size == 4 ? as(std::uint32_t())
                                : as(std::uint64_t());
    default:
      return h.item_size == 1   ? as(std::int8_t())
             : h.item_size == 2 ? as(std::int16_t())
             : h.item_size == 4 ? as(std::int32_t())
                                : as(std::int64_t());
  }
}

/// Rows and columns of a feature array: 2-D, or 1-D as one feature.
std::pair<std::size_t, std::size_t> matrix_shape(const NpyHeader& h, const std::string& name) {
  if (h.shape.empty()) throw Error("'" + name + "' holds a scalar, not rows of features");
  const std::size_t rows = h.shape[0], cols = h.shape.size() == 2 ? h.shape[1] : 1;
  if (rows == 0 || cols == 0)
    throw Error("'" + name + "' holds an empty " + h.describe() + " array: no rows or no features");
  return {rows, cols};
}

/// True when the features can be read in place: float32, little-endian, row-major, aligned.
bool in_place(const NpyHeader& h, const unsigned char* data) {
  return h.kind == 'f' && h.item_size == 4 && h.byte_order != '>' &&
         (!h.fortran_order || h.shape.size() < 2 || h.shape[1] == 1) &&
         reinterpret_cast<std::uintptr_t>(data) % alignof(float) == 0;
}

/// The features as floats, converted (row-major, whatever the file's order).
void convert_features(const NpyHeader& h, const unsigned char* data, const std::string& name,
                      Dataset& d) {
  const auto [rows, cols] = matrix_shape(h, name);
  check_fits_memory(double(rows) * double(cols) * 4, "'" + name + "'", ErrorTopic::none);
  d.x.resize(rows * cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c)
      d.x[r * cols + c] = float(value_at(h, data, h.fortran_order ? c * rows + r : r * cols + c));
}

Dataset features_dataset(const NpyHeader& h, const std::string& name) {
  Dataset d;
  d.source = name;
  std::tie(d.rows, d.features) = matrix_shape(h, name);
  return d;
}

/// Labels or targets from a labels array, mapped as a label column is (Note [Schema]).
void set_labels(Dataset& d, std::string_view bytes, const std::string& name,
                const TableOptions& options) {
  const NpyHeader h = parse_npy_header(bytes, name);
  if (h.shape.empty() || (h.shape.size() == 2 && h.shape[1] != 1))
    throw Error("'" + name + "' holds " + h.describe() +
                "; labels are one per row: shape (rows,) or (rows, 1)");
  if (h.shape[0] != d.rows)
    throw Error("'" + name + "' holds " + std::to_string(h.shape[0]) + " labels for the " +
                std::to_string(d.rows) + " rows of '" + d.source + "'");
  TableOptions o = options;
  o.label = "1";
  o.model_inputs = 0;
  table_detail::TableBuilder builder(name, o);
  builder.set_columns(2, {});
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data()) + h.data_offset;
  std::vector<double> values(2, 0.0);
  for (std::size_t r = 0; r < d.rows; ++r) {
    values[1] = value_at(h, data, r);
    auto where = [&](std::size_t) { return "'" + name + "': row " + std::to_string(r + 1); };
    if (!std::isfinite(values[1]))
      throw Error(where(0) + ": the label is " + (std::isnan(values[1]) ? "NaN" : "infinite"));
    const std::string text = table_detail::canonical_number(values[1]);
    builder.add_row(values, text, where);
  }
  table_detail::take_labels(d, builder.finish(false));
}

}  // namespace

Dataset parse_npy(std::string_view feature_bytes, std::string_view label_bytes,
                  const std::string& features_path, const std::string& labels_path,
                  const TableOptions& options) {
  const NpyHeader h = parse_npy_header(feature_bytes, features_path);
  Dataset d = features_dataset(h, features_path);
  convert_features(h, reinterpret_cast<const unsigned char*>(feature_bytes.data()) + h.data_offset,
                   features_path, d);
  if (!label_bytes.empty()) set_labels(d, label_bytes, labels_path, options);
  d.validate();
  return d;
}

Dataset npy_features(std::string_view bytes, const std::string& name,
                     std::shared_ptr<const void> owner) {
  const NpyHeader h = parse_npy_header(bytes, name);
  Dataset d = features_dataset(h, name);
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data()) + h.data_offset;
  if (owner && in_place(h, data)) {  // read where it lies: nothing copied (Note [Borrowed
    d.borrowed_x = std::span(reinterpret_cast<const float*>(data), d.rows * d.features);
    d.borrowed_owner = std::move(owner);  // features])
  } else {
    convert_features(h, data, name, d);
  }
  return d;
}

void set_npy_labels(Dataset& data, std::string_view bytes, const std::string& name,
                    const TableOptions& options) {
  if (data.labelled()) throw Error("data '" + data.source + "' already has labels");
  set_labels(data, bytes, name, options);
  data.validate();
}

Dataset load_npy(const std::string& features_path, const std::string& labels_path,
                 const TableOptions& options) {
  const auto m = detail::MappedFile::open(features_path, "a .npy file");
  Dataset d = npy_features(m->bytes(), features_path, m);
  d.borrowed_from_file = !d.borrowed_x.empty();
  if (!labels_path.empty()) attach_npy_labels(d, labels_path, options);
  d.validate();
  return d;
}

void attach_npy_labels(Dataset& data, const std::string& labels_path, const TableOptions& options) {
  const auto m = detail::MappedFile::open(labels_path, "a .npy file");
  set_npy_labels(data, m->bytes(), labels_path, options);
}

}  // namespace dptrain
