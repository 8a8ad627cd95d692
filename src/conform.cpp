// Matching data columns to a trained model's by name (Note [Column matching] in data.hpp).
#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dptrain/data.hpp"
#include "dptrain/error.hpp"

namespace dptrain {

namespace {

std::string name_list(const std::vector<std::string>& names) {
  std::string list;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i) list += (i ? ", " : "") + names[i];
  if (names.size() > 10) list += ", ... (" + std::to_string(names.size()) + " in all)";
  return list;
}

}  // namespace

Dataset conform_to_schema(Dataset data, const DataSchema& schema, std::string* note) {
  const std::vector<std::string>& want = schema.feature_names;
  const std::vector<std::string>& have = data.schema.feature_names;
  if (want.empty() || have.empty() || want == have) return data;
  const std::string where = "data '" + data.source + "'";
  std::unordered_map<std::string, std::size_t> column;
  for (std::size_t c = 0; c < have.size(); ++c)
    if (!column.emplace(have[c], c).second)
      throw Error(where + " has two columns named '" + have[c] + "'");
  const std::unordered_set<std::string> wanted(want.begin(), want.end());
  std::vector<std::string> missing, unexpected;
  for (const std::string& n : want)
    if (!column.count(n)) missing.push_back(n);
  for (const std::string& n : have)
    if (!wanted.count(n)) unexpected.push_back(n);
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = where + " does not have the feature columns the model was trained on:";
    if (!missing.empty()) msg += " missing " + name_list(missing);
    if (!unexpected.empty())
      msg += std::string(missing.empty() ? "" : ";") + " unexpected " + name_list(unexpected);
    throw Error(msg + " (the model's features: " + name_list(want) + ")");
  }
  const std::size_t f = want.size();
  std::vector<float> x(data.rows * f);
  const std::span<const float> values = data.feature_values();
  for (std::size_t j = 0; j < f; ++j) {
    const std::size_t from = column.at(want[j]);
    for (std::size_t r = 0; r < data.rows; ++r) x[r * f + j] = values[r * f + from];
  }
  data.x = std::move(x);
  data.borrowed_x = {};
  data.borrowed_owner.reset();
  data.schema.feature_names = want;
  if (note)
    *note = where + ": its " + std::to_string(f) +
            " feature columns are in another order than the model's; matched by name";
  return data;
}

}  // namespace dptrain
