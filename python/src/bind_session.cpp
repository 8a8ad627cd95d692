#include "bind_session.hpp"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <string>

#include "dptrain/checkpoint.hpp"
#include "dptrain/hash.hpp"
#include "dptrain/onnx_export.hpp"
#include "session.hpp"

namespace dptrain::python {

namespace py = pybind11;

namespace {

py::bytes to_bytes(const Session& s) {
  const std::string bytes = encode_checkpoint(s.checkpoint());
  return py::bytes(bytes);
}

std::unique_ptr<Session> from_bytes(const py::bytes& b, std::size_t threads) {
  const std::string_view bytes = b;  // no copy: a view of the bytes object
  return std::make_unique<Session>(decode_checkpoint(bytes, "checkpoint bytes"), threads);
}

std::string array_hash(const py::array& a) {
  const auto f = py::array_t<float, py::array::c_style>::ensure(a);
  if (!f) throw py::value_error("params_hash takes a float32 array");
  return hash_hex(hash_bytes(f.data(), static_cast<std::size_t>(f.size()) * sizeof(float)));
}

py::dict schema_dict(const Session& s) {
  py::dict d;
  d["task"] = task_name(s.schema().task);
  d["feature_names"] = s.schema().feature_names;
  d["label_column"] = s.schema().label_column;
  d["class_names"] = s.schema().class_names;
  return d;
}

void bind_state(py::class_<Session>& c) {
  c.def_property_readonly("spec", &Session::spec)
      .def_property_readonly("config", [](const Session& s) { return TrainConfig(s.config()); })
      .def("reconfigure", &Session::reconfigure, py::arg("config"))
      .def_property_readonly("epochs_done", &Session::epochs_done)
      .def_property_readonly("step_count", &Session::step_count)
      .def_property_readonly("classes", &Session::classes)
      .def_property_readonly("normalized", [](const Session& s) { return s.normalizer().active(); })
      .def("set_schema", &Session::set_schema, py::arg("feature_names"), py::arg("class_names"))
      .def_property_readonly("schema", &schema_dict)
      .def("params_hash", &Session::params_hash)
      .def("parameters", &Session::parameters)
      .def("layers", &Session::layers)
      .def("set_layers", &Session::set_layers, py::arg("layers"))
      .def(
          "save",
          [](const Session& s, const std::string& path) { save_checkpoint(path, s.checkpoint()); },
          py::arg("path"))
      .def(
          "to_onnx",
          [](const Session& s, const std::string& path) { export_onnx(s.checkpoint(), path); },
          py::arg("path"))
      .def("to_bytes", &to_bytes)
      .def_static("from_bytes", &from_bytes, py::arg("data"), py::arg("threads") = 1)
      .def_static(
          "load",
          [](const std::string& path, std::size_t threads) {
            return std::make_unique<Session>(load_checkpoint(path), threads);
          },
          py::arg("path"), py::arg("threads") = 1);
}

}  // namespace

void bind_session(py::module_& m) {
  py::class_<Session> c(m, "Trainer");
  c.def(py::init<const ModelSpec&, const TrainConfig&>(), py::arg("spec"), py::arg("config"))
      .def("fit", &Session::fit, py::arg("X"), py::arg("y"), py::arg("epochs") = 0,
           py::arg("on_epoch") = py::none(), py::arg("validation") = py::none(),
           py::arg("patience") = 0)
      .def("fit_sparse", &Session::fit_sparse, py::arg("data"), py::arg("indices"),
           py::arg("indptr"), py::arg("cols"), py::arg("y"), py::arg("epochs") = 0,
           py::arg("on_epoch") = py::none())
      .def("evaluate", &Session::evaluate, py::arg("X"), py::arg("y"))
      .def("loss_gradient", &Session::loss_gradient, py::arg("X"), py::arg("y"))
      .def("predict", &Session::predict, py::arg("X"));
  bind_state(c);
  m.def("onnx_export_available", &onnx_export_available,
        "whether this build can write ONNX (to_onnx); built without libonnx-dev it cannot");
  m.def("params_hash", &array_hash, py::arg("values"),
        "params_hash of a float32 array's bytes (16 hex digits, as the CLI prints)");
}

}  // namespace dptrain::python
