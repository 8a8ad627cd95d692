#include "dptrain/table.hpp"

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
  take_labels(data, builder.finish(header));
  data.schema.label_column = header ? lines[0].second : "";
  data.validate();
}

}  // namespace dptrain
