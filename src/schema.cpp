#include "dptrain/schema.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "dptrain/error.hpp"
#include "dptrain/utf8.hpp"

namespace dptrain {

namespace {

/// The value of `s` when the whole string is a finite number.
bool parse_number(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno == 0 && std::isfinite(out);
}

}  // namespace

std::string DataSchema::class_name(std::size_t i) const {
  return i < class_names.size() ? class_names[i] : std::to_string(i);
}

void DataSchema::check(std::size_t inputs, std::size_t classes, const std::string& where) const {
  if (!feature_names.empty() && feature_names.size() != inputs)
    throw Error(where + " names " + std::to_string(feature_names.size()) +
                " features but the model has " + std::to_string(inputs) + " inputs");
  if (!class_names.empty() && class_names.size() != classes)
    throw Error(where + " names " + std::to_string(class_names.size()) +
                " classes but the model has " + std::to_string(classes));
  if (task == Task::regression && !class_names.empty())
    throw Error(where + " is a regression schema with class names");
  check_schema_text(*this, where);
  std::set<std::string> seen;
  for (const std::string& n : class_names)
    if (!seen.insert(n).second) throw Error(where + " names class '" + n + "' twice");
  seen.clear();
  for (const std::string& n : feature_names)
    if (!seen.insert(n).second) throw Error(where + " names feature '" + n + "' twice");
}

void check_schema_text(const DataSchema& schema, const std::string& where) {
  for (const std::string& n : schema.feature_names) require_utf8(n, where, "feature name");
  require_utf8(schema.label_column, where, "label column name");
  for (const std::string& n : schema.class_names) require_utf8(n, where, "class name");
}

namespace {

/// The length of the well-formed UTF-8 sequence at text[i], or 0 when none starts there.
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  // The lead byte gives the length and the range of the second byte (RFC 3629, table 3-7 of
  // the Unicode standard): no overlong forms, no surrogates, nothing above U+10FFFF.
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF)
    n = 2;
  else if (b == 0xE0)
    n = 3, lo = 0xA0;
  else if (b >= 0xE1 && b <= 0xEC)
    n = 3;
  else if (b == 0xED)
    n = 3, hi = 0x9F;
  else if (b >= 0xEE && b <= 0xEF)
    n = 3;
  else if (b == 0xF0)
    n = 4, lo = 0x90;
  else if (b >= 0xF1 && b <= 0xF3)
    n = 4;
  else if (b == 0xF4)
    n = 4, hi = 0x8F;
  else
    return 0;
  if (i + n > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

}  // namespace

std::size_t invalid_utf8_offset(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string escape_invalid_utf8(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n > 0) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", static_cast<unsigned char>(text[i++]));
    out += hex;
  }
  return out;
}

void require_utf8(std::string_view text, const std::string& where, const std::string& what) {
  const std::size_t bad = invalid_utf8_offset(text);
  if (bad == std::string_view::npos) return;
  char detail[64];
  std::snprintf(detail, sizeof detail, "byte 0x%02X at byte %zu",
                static_cast<unsigned char>(text[bad]), bad + 1);
  throw Error(where + ": " + what + " '" + escape_invalid_utf8(text) + "' is not valid UTF-8 (" +
              detail + "); save the data as UTF-8");
}

std::vector<std::string> sorted_class_values(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::vector<double> numbers(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!parse_number(values[i], numbers[i])) return values;  // text: byte order
  std::vector<std::size_t> order(values.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return numbers[a] < numbers[b]; });
  std::vector<std::string> sorted;
  sorted.reserve(values.size());
  for (std::size_t i : order) sorted.push_back(std::move(values[i]));
  return sorted;
}

bool are_class_indices(const std::vector<std::string>& sorted_values) {
  for (std::size_t i = 0; i < sorted_values.size(); ++i) {
    double v = 0;
    if (!parse_number(sorted_values[i], v) || v != static_cast<double>(i)) return false;
  }
  return true;
}

}  // namespace dptrain
