#pragma once
// Internal to the table readers (table.cpp: CSV, sqlite.cpp: SQLite): number parsing and the
// builder that turns rows of numbers into a Dataset, resolving the label column.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"

namespace dptrain::table_detail {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// Parses a whole field as a double; false if it is not exactly one number.
inline bool parse_number(std::string_view text, double& value) {
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

inline std::string quoted(std::string_view text) {
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
                        std::to_string(count) + " columns",
                    ErrorTopic::label_column);
    } else {
      index = static_cast<long long>(column_named(label, names));
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
  /// The index of the one column called `label`; an Error if none or several are.
  std::size_t column_named(const std::string& label, const std::vector<std::string>& names) const {
    std::vector<std::size_t> hits;
    for (std::size_t c = 0; c < names.size(); ++c)
      if (names[c] == label) hits.push_back(c);
    if (hits.size() == 1) return hits[0];
    if (hits.size() > 1) {
      std::string list;
      for (std::size_t i = 0; i < hits.size(); ++i)
        list += (i == 0 ? "" : i + 1 == hits.size() ? " and " : ", ") + std::to_string(hits[i]);
      throw Error(data_.source + ": label column name '" + label + "' is ambiguous: columns " +
                      list + " (0-based) have that name; choose one by its index",
                  ErrorTopic::label_column);
    }
    if (names.empty())
      throw Error(data_.source + ": label column '" + label +
                      "' is a name, but the data has no header row (use a column index)",
                  ErrorTopic::label_column);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(data_.source + ": no column named '" + label + "' (columns: " + list + ")",
                ErrorTopic::label_column);
  }
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

}  // namespace dptrain::table_detail
