#pragma once
// The data schema a model was trained on (Note [Schema]): what its input columns are called,
// which column held the label, what the classes are called and which task it learned. Loaders
// fill it into Dataset::schema; Trainer::checkpoint copies the training data's schema into the
// checkpoint; eval/predict (CLI) and the Python estimators use it to match input columns by
// name and to give predictions back as the labels the user wrote.
//
// Note [Schema]
// Class labels as users have them ("setosa", "3", "-1") map to class indices 0..C-1 in the
// order of sorted_class_values: numerically when every value is a number, else by their bytes —
// the order of scikit-learn's `classes_` (np.unique). A data set whose labels are already class
// indices 0..C-1 keeps them and has empty class_names (a checkpoint then says nothing beyond
// the class count). The CLI's csv:/sqlite: readers, the C++ API and the Python package all map
// labels through this one function, so a model trained in one of them predicts the same names
// in the others.
#include <cstddef>
#include <string>
#include <vector>

#include "dptrain/names.hpp"

namespace dptrain {

enum class Task { unknown, classification, regression };
/// Note [Name tables].
inline constexpr NameTable<Task, 3> kTaskNames{"task",
                                               {{{Task::classification, "classification"},
                                                 {Task::regression, "regression"},
                                                 {Task::unknown, "unknown"}}}};
static_assert(kTaskNames.complete_through(Task::regression));

inline const char* task_name(Task t) {
  return kTaskNames.name(t);
}
/// Throws dptrain::Error naming the value unless kTaskNames has it.
inline Task parse_task(std::string_view name) {
  return kTaskNames.parse(name);
}

struct DataSchema {
  Task task = Task::unknown;
  /// One name per input feature, in the model's input order; empty: unnamed (matched by count).
  std::vector<std::string> feature_names;
  /// The label column's name in the training data (or its 0-based index as text); empty: unknown.
  std::string label_column;
  /// Classification: class i as the user wrote it, in sorted_class_values order; empty: the
  /// labels were the class indices themselves.
  std::vector<std::string> class_names;

  bool empty() const {
    return task == Task::unknown && feature_names.empty() && label_column.empty() &&
           class_names.empty();
  }
  /// class_names[i], or i as text when there are no names.
  std::string class_name(std::size_t i) const;
  /// Throws dptrain::Error naming `where` when the schema contradicts a model with `inputs`
  /// features and `classes` classes (0: regression): wrong name counts, duplicate names.
  void check(std::size_t inputs, std::size_t classes, const std::string& where) const;
  bool operator==(const DataSchema&) const = default;
};

/// The distinct values of `values`, sorted as scikit-learn's np.unique sorts them: as numbers
/// when every value parses as a finite number (strtod, whole string), else by bytes.
std::vector<std::string> sorted_class_values(std::vector<std::string> values);

/// True when `values` (sorted_class_values output) are exactly "0", "1", ..., "C-1" as numbers,
/// i.e. the labels are class indices already and need no names.
bool are_class_indices(const std::vector<std::string>& sorted_values);

}  // namespace dptrain
