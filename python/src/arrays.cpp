#include "arrays.hpp"

#include <cstdint>
#include <cstring>
#include <memory>

namespace dptrain::python {

namespace {

// Copies a 2-D array of T (any strides) into out, row-major, converting to float.
template <class T>
void copy_2d(const py::array& a, float* out) {
  const auto v = a.unchecked<T, 2>();
  const py::ssize_t rows = v.shape(0), cols = v.shape(1);
  for (py::ssize_t r = 0; r < rows; ++r)
    for (py::ssize_t c = 0; c < cols; ++c) *out++ = static_cast<float>(v(r, c));
}

void copy_floats(const py::array& a, float* out) {
  const bool c_float32 = py::isinstance<py::array_t<float, py::array::c_style>>(a);
  if (c_float32) {
    // Checked by the caller to be 2-D with size() values.
    std::memcpy(out, a.data(), static_cast<std::size_t>(a.size()) * sizeof(float));
  } else if (py::isinstance<py::array_t<float>>(a)) {
    copy_2d<float>(a, out);
  } else if (py::isinstance<py::array_t<double>>(a)) {
    copy_2d<double>(a, out);
  } else {
    // Integers, booleans, float16: one conversion by NumPy (forcecast), then the copy.
    const auto converted = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
    if (!converted) throw py::error_already_set();
    std::memcpy(out, converted.data(), static_cast<std::size_t>(converted.size()) * sizeof(float));
  }
}

bool numeric(const py::array& a) {
  const char kind = a.dtype().kind();
  return kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b';
}

}  // namespace

void fill_features(Dataset& data, const py::array& x, const std::string& what) {
  if (x.ndim() != 2)
    throw py::value_error(what + " must be a 2-D array (rows x features), got " +
                          std::to_string(x.ndim()) + " dimension(s)");
  if (!numeric(x))
    throw py::value_error(what + " must hold numbers, got dtype " +
                          py::str(x.dtype()).cast<std::string>());
  data.rows = static_cast<std::size_t>(x.shape(0));
  data.features = static_cast<std::size_t>(x.shape(1));
  const std::size_t size = data.rows * data.features;
  const bool aligned = reinterpret_cast<std::uintptr_t>(x.data()) % alignof(float) == 0;
  if (size > 0 && aligned && py::isinstance<py::array_t<float, py::array::c_style>>(x)) {
    // Note [Borrowed features]: the caller's array outlives the Dataset (a call's argument).
    data.borrowed_x = std::span<const float>(static_cast<const float*>(x.data()), size);
    return;
  }
  data.x.resize(size);
  if (size > 0) copy_floats(x, data.x.data());
}

void fill_labels(Dataset& data, const py::array& y, std::size_t classes) {
  if (y.ndim() != 1 || static_cast<std::size_t>(y.shape(0)) != data.rows)
    throw py::value_error("y must be a 1-D array of " + std::to_string(data.rows) +
                          " class indices (one per row of X)");
  const char kind = y.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b')
    throw py::value_error("class labels must be integers 0.." + std::to_string(classes - 1) +
                          ", got dtype " + py::str(y.dtype()).cast<std::string>());
  const auto ints = py::array_t<std::int64_t, py::array::forcecast>::ensure(y);
  const auto v = ints.unchecked<1>();
  data.classes = classes;
  data.labels.resize(data.rows);
  for (std::size_t i = 0; i < data.rows; ++i) {
    const std::int64_t label = v(static_cast<py::ssize_t>(i));
    if (label < 0 || static_cast<std::uint64_t>(label) >= classes)
      throw py::value_error("class label " + std::to_string(label) + " at row " +
                            std::to_string(i) + " is outside 0.." + std::to_string(classes - 1));
    data.labels[i] = static_cast<std::int32_t>(label);
  }
}

void fill_targets(Dataset& data, const py::array& y) {
  if ((y.ndim() != 1 && y.ndim() != 2) || static_cast<std::size_t>(y.shape(0)) != data.rows)
    throw py::value_error("y must be a 1-D or 2-D array of targets with " +
                          std::to_string(data.rows) + " rows (one per row of X)");
  if (!numeric(y))
    throw py::value_error("targets must be numbers, got dtype " +
                          py::str(y.dtype()).cast<std::string>());
  const auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(y);
  data.target_width = y.ndim() == 1 ? 1 : static_cast<std::size_t>(y.shape(1));
  data.targets.assign(f.data(), f.data() + f.size());
}

py::array_t<float> to_numpy(std::vector<float>&& values, std::size_t rows, std::size_t cols) {
  auto owner = std::make_unique<std::vector<float>>(std::move(values));
  float* data = owner->data();
  py::capsule free_when_done(owner.get(),
                             [](void* p) { delete static_cast<std::vector<float>*>(p); });
  owner.release();
  return py::array_t<float>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)}, data,
                            free_when_done);
}

}  // namespace dptrain::python
