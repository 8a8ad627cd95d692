#pragma once
// NumPy arrays to and from dptrain::Dataset.
//
// Features: an aligned float32 C-contiguous array is borrowed, not copied (Dataset::borrowed_x,
// Note [Borrowed features]): the Dataset must not outlive the array, which holds for the
// Session's calls (the array is an argument, the Dataset a local). Any other layout or dtype is
// copied once into the Dataset: float32 and float64 element by element with the conversion
// folded into that copy; other dtypes converted to float32 by NumPy first. Labels and targets
// are always copied (one value per row). Called with the GIL held.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <string>
#include <vector>

#include "dptrain/data.hpp"

namespace dptrain::python {

namespace py = pybind11;

/// Fills rows, features and data.borrowed_x (borrowed) or data.x (copied) from a 2-D array. Throws
/// py::value_error naming `what` for another number of dimensions or a non-numeric dtype. Values
/// are checked later (Dataset::validate: NaN and infinities).
void fill_features(Dataset& data, const py::array& x, const std::string& what);

/// Fills data.labels (class indices) and data.classes from a 1-D integer array of data.rows
/// values. Throws py::value_error for another shape, a non-integer dtype or a value outside
/// [0, classes).
void fill_labels(Dataset& data, const py::array& y, std::size_t classes);

/// Fills data.targets and data.target_width from a 1-D (one target) or 2-D real array of
/// data.rows rows. Throws py::value_error for another shape.
void fill_targets(Dataset& data, const py::array& y);

/// A rows x cols float32 array that takes ownership of `values` (no copy).
py::array_t<float> to_numpy(std::vector<float>&& values, std::size_t rows, std::size_t cols);

}  // namespace dptrain::python
