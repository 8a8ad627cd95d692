#include "dptrain/schema.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "dptrain/error.hpp"

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

const char* task_name(Task t) {
  switch (t) {
    case Task::classification:
      return "classification";
    case Task::regression:
      return "regression";
    case Task::unknown:
      break;
  }
  return "unknown";
}

Task parse_task(const std::string& name) {
  if (name == "unknown") return Task::unknown;
  if (name == "classification") return Task::classification;
  if (name == "regression") return Task::regression;
  throw Error("unknown task '" + name + "' (expected classification, regression or unknown)");
}

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
  std::set<std::string> seen;
  for (const std::string& n : class_names)
    if (!seen.insert(n).second) throw Error(where + " names class '" + n + "' twice");
  seen.clear();
  for (const std::string& n : feature_names)
    if (!seen.insert(n).second) throw Error(where + " names feature '" + n + "' twice");
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
