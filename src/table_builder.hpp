#pragma once
// Internal to the table readers (table.cpp: CSV, sqlite.cpp: SQLite): number parsing and the
// builder that turns rows into a Dataset, resolving the label column and mapping class labels
// to class indices (Note [Schema] in schema.hpp).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"
#include "dptrain/schema.hpp"
#include "dptrain/utf8.hpp"

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

/// The end of the physical line starting at `pos`, past its terminator: LF, CRLF or a lone CR.
inline std::size_t line_end(std::string_view text, std::size_t pos) {
  const std::size_t eol = text.find_first_of("\r\n", pos);
  if (eol == std::string_view::npos) return text.size();
  return eol + (text[eol] == '\r' && eol + 1 < text.size() && text[eol + 1] == '\n' ? 2 : 1);
}

inline std::string quoted(std::string_view text) {
  std::string s(text.substr(0, 40));
  if (text.size() > 40) s += "... (" + std::to_string(text.size()) + " characters)";
  return "'" + s + "'";
}

inline constexpr const char* kBeyondFloat =
    "is beyond the range of a float (magnitudes up to about 3.4e38)";

/// Why parse_number refused `text`, beginning with it quoted: a number beyond the range of a
/// double (1e400, 400 digits), one that underflows it (1e-400), or not a number at all.
inline std::string not_a_number(std::string_view text) {
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc::result_out_of_range || ptr != s.data() + s.size())
    return quoted(text) + " is not a number";
  const std::string copy(s);  // from_chars leaves v alone out of range: strtod tells which end
  if (std::isinf(std::strtod(copy.c_str(), nullptr))) return quoted(text) + " " + kBeyondFloat;
  return quoted(text) +
         " underflows: it is closer to 0 than the smallest float (about 1.4e-45); write 0 if "
         "that is what it means";
}

/// The text of a numeric label as a class key: whole numbers without a fraction ("1.0" -> "1"),
/// others in the shortest form that reads back the same. So "1" and "1.0" are one class.
inline std::string canonical_number(double v) {
  if (v == 0) v = 0;  // "-0" is "0"
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string();
}

inline bool is_whole(double v) {
  return v == std::floor(v) && std::abs(v) < 1e15;
}

/// Class labels as users write them -> class indices (Note [Schema]). Without a model the
/// classes are found from the labels (sorted_class_values); with a model's classes every label
/// must be one of them.
class LabelMapper {
 public:
  LabelMapper() = default;
  LabelMapper(std::size_t model_classes, const std::vector<std::string>& model_names)
      : model_classes_(model_classes), names_(model_names) {
    for (std::size_t i = 0; i < model_names.size(); ++i)
      ids_.emplace(key(model_names[i]), std::int32_t(i));
  }

  /// The label of the next row; `where()` names its cell in messages.
  template <class Where>
  void add(std::string_view text, Where&& where) {
    if (invalid_utf8_offset(text) != std::string_view::npos)
      require_utf8(trim(text), where(), "label");  // Note [UTF-8 names]
    const std::string k = key(trim(text));
    if (k.empty()) throw Error(where() + ": empty label");
    double v = 0;
    if (parse_number(k, v) && !is_whole(v))
      throw Error(where() + ": label " + k +
                      " is not a class (class labels are whole numbers or text; real values are "
                      "regression targets)",
                  ErrorTopic::label_kind);
    if (model_classes_ > 0) return rows_.push_back(model_class(k, v, where));
    const auto [it, fresh] = ids_.emplace(k, std::int32_t(keys_.size()));
    if (fresh) keys_.push_back(k);
    rows_.push_back(it->second);
  }

  /// add() for many rows that repeat a few labels: the same text (not trimmed) maps as it did
  /// before without being read again.
  template <class Where>
  void add_repeated(std::string_view text, Where&& where) {
    if (!seen_.empty() && text == last_) return rows_.push_back(last_id_);
    last_.assign(text);
    if (const auto it = seen_.find(last_); it != seen_.end()) {
      last_id_ = it->second;
      return rows_.push_back(last_id_);
    }
    add(text, where);
    last_id_ = rows_.back();
    seen_.emplace(last_, last_id_);
  }
  void reserve(std::size_t rows) { rows_.reserve(rows); }

  /// Fills d.labels, d.classes and d.schema.class_names.
  void finish(Dataset& d) {
    if (model_classes_ > 0) {
      d.classes = model_classes_;
      d.schema.class_names = names_;
      d.labels = std::move(rows_);
      return;
    }
    const std::vector<std::string> sorted = sorted_class_values(keys_);
    // Labels 0..C-1, and binary 0/1 labels with one value absent, are class indices already.
    const bool binary = keys_.size() <= 2 && std::all_of(keys_.begin(), keys_.end(), [](auto& k) {
                          return k == "0" || k == "1";
                        });
    std::vector<std::int32_t> cls(keys_.size());
    std::unordered_map<std::string, std::int32_t> rank;
    for (std::size_t i = 0; i < sorted.size(); ++i) rank.emplace(sorted[i], std::int32_t(i));
    for (std::size_t i = 0; i < keys_.size(); ++i)
      cls[i] = binary ? std::int32_t(keys_[i] == "1") : rank.at(keys_[i]);
    if (binary || are_class_indices(sorted)) {
      d.classes = binary ? 2 : sorted.size();
    } else {
      d.classes = sorted.size();
      d.schema.class_names = sorted;
    }
    d.labels.resize(rows_.size());
    for (std::size_t r = 0; r < rows_.size(); ++r) d.labels[r] = cls[std::size_t(rows_[r])];
  }

 private:
  static std::string key(std::string_view text) {
    double v = 0;
    return parse_number(text, v) && std::isfinite(v) ? canonical_number(v) : std::string(text);
  }
  template <class Where>
  std::int32_t model_class(const std::string& k, double v, Where&& where) const {
    if (names_.empty()) {  // the model's classes are the indices 0..C-1
      if (parse_number(k, v) && v >= 0 && v < double(model_classes_)) return std::int32_t(v);
      throw Error(where() + ": label " + table_detail::quoted(k) +
                  " is not one of the model's classes (0 to " + std::to_string(model_classes_ - 1) +
                  ")");
    }
    if (const auto it = ids_.find(k); it != ids_.end()) return it->second;
    std::string list;
    for (std::size_t i = 0; i < names_.size() && i < 12; ++i) list += (i ? ", " : "") + names_[i];
    if (names_.size() > 12) list += ", ...";
    throw Error(where() + ": label " + table_detail::quoted(k) + " is not one of the model's " +
                std::to_string(names_.size()) + " classes (" + list + ")");
  }
  std::size_t model_classes_ = 0;
  std::vector<std::string> names_;                      // the model's class names
  std::unordered_map<std::string, std::int32_t> ids_;   // key -> first-seen id or model class
  std::vector<std::string> keys_;                       // first-seen id -> key
  std::vector<std::int32_t> rows_;                      // per row: id (or model class)
  std::string last_;                                    // add_repeated's cache: the last text,
  std::int32_t last_id_ = 0;                            // its id
  std::unordered_map<std::string, std::int32_t> seen_;  // and every text it mapped
};

/// Collects rows into a Dataset: the label column becomes labels or targets, the header names
/// the schema's features (Note [Schema]).
class TableBuilder {
 public:
  TableBuilder(std::string source, const TableOptions& options) : options_(options) {
    data_.source = std::move(source);
    if (options.classification && options.model_schema && options.model_classes > 0)
      labels_ = LabelMapper(options.model_classes, options.model_schema->class_names);
  }

  /// Fixes the column count and resolves the label column; `names` may be empty (no header).
  /// `where(c)` names column c's header cell in messages (default: "<source>: column c+1").
  /// Refuses a name that is not UTF-8 (Note [UTF-8 names]) and a feature name that two columns
  /// share: a model matches its inputs by name, and a checkpoint cannot hold such a schema.
  void set_columns(std::size_t count, const std::vector<std::string>& names,
                   const std::function<std::string(std::size_t)>& where = {}) {
    columns_ = count;
    for (std::size_t c = 0; c < names.size(); ++c)
      require_utf8(names[c], where ? where(c) : data_.source + ": column " + std::to_string(c + 1),
                   "column name");
    const std::string label = label_option(count, names);
    if (label == "none") {  // features only
      if (count < 1) throw Error(data_.source + ": has no columns");
      label_ = count;  // past the end: no cell is the label
      data_.features = count;
      data_.schema.feature_names = names;
      refuse_shared_names(names);
      return;
    }
    if (count < 2)
      throw Error(data_.source + ": needs at least 2 columns (features and a label), found " +
                  std::to_string(count) + delimiter_hint(names));
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
    fill_schema(names);
    refuse_shared_names(names);
  }
  std::size_t columns() const { return columns_; }
  std::size_t label_column() const { return label_; }
  /// True when the label cell is read as text (a class label), not as a number.
  bool text_label() const { return options_.classification && label_ < columns_; }

  /// Adds one row of `columns()` values (the label cell's value unused when text_label());
  /// `label` is the label cell's text; `where(col)` describes a cell for messages.
  template <class Where>
  void add_row(const std::vector<double>& values, std::string_view label, Where&& where) {
    for (std::size_t c = 0; c < values.size(); ++c) {
      const double v = values[c];
      if (c != label_ || !options_.classification)
        if (!std::isfinite(static_cast<float>(v)))
          throw Error(where(c) + ": " + format(v) + " " + kBeyondFloat);
      if (c != label_)
        data_.x.push_back(static_cast<float>(v));
      else if (options_.classification)
        labels_.add(label, [&] { return where(c); });
      else
        data_.targets.push_back(static_cast<float>(v));
    }
    ++data_.rows;
  }

  /// Adds `rows` rows already split by the fast CSV path (csv_chunk.hpp): `x` holds their
  /// features (features() per row), `targets` their numeric labels, `labels(r)` row r's text
  /// label (when text_label()); `where(r, col)` describes row r's cell for messages.
  template <class Labels, class Where>
  void add_rows(std::size_t rows, std::span<const float> x, std::span<const float> targets,
                Labels&& labels, Where&& where) {
    data_.x.insert(data_.x.end(), x.begin(), x.end());
    if (options_.classification && label_ < columns_)
      for (std::size_t r = 0; r < rows; ++r)
        labels_.add_repeated(labels(r), [&] { return where(r, label_); });
    else
      data_.targets.insert(data_.targets.end(), targets.begin(), targets.end());
    data_.rows += rows;
  }
  /// Room for `rows` rows in all (an estimate: more may come).
  void reserve(std::size_t rows) {
    data_.x.reserve(rows * data_.features);
    if (text_label()) labels_.reserve(rows);
    if (data_.target_width > 0) data_.targets.reserve(rows);
  }
  std::size_t rows() const { return data_.rows; }
  /// Bytes the rows read so far hold (features, labels, targets).
  std::size_t bytes() const { return data_.x.capacity() * 4 + data_.rows * 8; }

  Dataset finish(bool had_header) {
    if (data_.rows == 0)
      throw Error(data_.source +
                  (had_header ? ": has a header but no data rows" : ": no data rows"));
    if (text_label()) labels_.finish(data_);
    data_.validate();
    return std::move(data_);
  }

 private:
  /// --label, or with none given the label column a trained model knows by name (TableOptions).
  std::string label_option(std::size_t count, const std::vector<std::string>& names) const {
    if (!options_.label.empty()) return options_.label;
    const bool named_model = options_.model_schema && !options_.model_schema->feature_names.empty();
    if ((names.empty() || !named_model) && options_.model_inputs > 0 &&
        count == options_.model_inputs)
      return "none";  // just the model's features: no room for a label
    if (!options_.model_schema || names.empty()) return options_.label;
    const DataSchema& m = *options_.model_schema;
    if (!m.label_column.empty() && std::count(names.begin(), names.end(), m.label_column) == 1)
      return m.label_column;
    std::vector<std::string> have = names, want = m.feature_names;
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    return !want.empty() && have == want ? "none" : "";
  }
  void fill_schema(const std::vector<std::string>& names) {
    DataSchema& s = data_.schema;
    s.task = options_.classification ? Task::classification : Task::regression;
    s.label_column = names.empty() ? std::to_string(label_) : names[label_];
    for (std::size_t c = 0; c < names.size(); ++c)
      if (c != label_) s.feature_names.push_back(names[c]);
  }
  /// An Error naming the first feature name that several feature columns share, and where.
  void refuse_shared_names(const std::vector<std::string>& names) const {
    std::unordered_map<std::string_view, std::vector<std::size_t>> columns;
    for (std::size_t c = 0; c < names.size(); ++c)
      if (c != label_) columns[names[c]].push_back(c);
    for (std::size_t c = 0; c < names.size(); ++c) {
      if (c == label_) continue;
      const std::vector<std::size_t>& hits = columns.at(names[c]);
      if (hits.size() < 2) continue;
      std::string list;
      for (std::size_t i = 0; i < hits.size(); ++i)
        list += (i == 0 ? "" : i + 1 == hits.size() ? " and " : ", ") + std::to_string(hits[i]);
      throw Error(data_.source + ": column name '" + names[c] + "' is used by columns " + list +
                  " (0-based); feature names must be unique, since a trained model matches "
                  "its columns by name: rename all but one");
    }
  }
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
  /// For a table read as one column: which other delimiter its header holds, e.g. "; its
  /// header 'a;b;y' holds ';': was the file written with another delimiter? (--delimiter ';')".
  std::string delimiter_hint(const std::vector<std::string>& names) const {
    if (names.size() != 1) return {};
    for (const char d : {',', ';', '\t', '|'}) {
      if (d == options_.delimiter || names[0].find(d) == std::string::npos) continue;
      const std::string shown = d == '\t' ? "a tab" : "'" + std::string(1, d) + "'";
      return "; its header " + table_detail::quoted(names[0]) + " holds " + shown +
             ": was the file written with another delimiter? (--delimiter " +
             (d == '\t' ? std::string("tab") : "'" + std::string(1, d) + "'") + ")";
    }
    return {};
  }
  static std::string format(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }
  TableOptions options_;
  Dataset data_;
  std::size_t columns_ = 0, label_ = 0;
  LabelMapper labels_;
};

}  // namespace dptrain::table_detail
