#include "configs.hpp"

#include <pybind11/stl.h>

#include <cstddef>
#include <string>
#include <vector>

#include "dptrain/activation.hpp"
#include "dptrain/engine.hpp"
#include "dptrain/error.hpp"
#include "dptrain/model.hpp"
#include "dptrain/trainer.hpp"

namespace dptrain::python {

namespace py = pybind11;

namespace {

ModelSpec make_spec(const std::vector<std::size_t>& widths, const std::string& activation,
                    const std::string& output, double dropout, const std::string& init) {
  if (widths.size() < 2)
    throw Error("widths must list the input width and at least the output width");
  ModelSpec s =
      ModelSpec::mlp(widths, parse_activation(activation), parse_activation(output), dropout);
  s.init = kInitNames.parse(init);
  s.validate();
  return s;
}

void bind_model_spec(py::module_& m) {
  py::class_<ModelSpec>(m, "ModelSpec")
      .def(py::init(&make_spec), py::arg("widths"), py::arg("activation") = "relu",
           py::arg("output") = "softmax", py::arg("dropout") = 0.0, py::arg("init") = "auto")
      .def_property_readonly("inputs", [](const ModelSpec& s) { return s.inputs; })
      .def_property_readonly("outputs", &ModelSpec::outputs)
      .def_property_readonly("widths", &ModelSpec::widths)
      .def_property_readonly(
          "output_activation",
          [](const ModelSpec& s) { return activation_name(s.output_activation()); })
      .def_property_readonly("init", [](const ModelSpec& s) { return kInitNames.name(s.init); })
      .def("describe", &ModelSpec::describe)
      .def("__repr__", [](const ModelSpec& s) { return "ModelSpec(" + s.describe() + ")"; });
}

// An enumeration setting exposed as its name.
template <class Enum>
void name_property(py::class_<TrainConfig>& c, const char* name, Enum TrainConfig::*field,
                   Enum (*parse)(std::string_view), const char* (*to_name)(Enum)) {
  c.def_property(
      name, [field, to_name](const TrainConfig& t) { return std::string(to_name(t.*field)); },
      [field, parse](TrainConfig& t, const std::string& v) { t.*field = parse(v); });
}

template <class T>
void optimizer_field(py::class_<TrainConfig>& c, const char* name, T OptimizerConfig::*field) {
  c.def_property(
      name, [field](const TrainConfig& t) { return t.optimizer.*field; },
      [field](TrainConfig& t, T v) { t.optimizer.*field = v; });
}

TrainConfig config_from_kwargs(const py::kwargs& kwargs) {
  // Each keyword goes through the property of the same name, so spelling and types are
  // checked in one place; an unknown keyword is a TypeError as for a Python function.
  TrainConfig defaults;
  defaults.gemm = GemmBackend::automatic;  // Note [Kernel wisdom] (kernel_choice.hpp)
  py::object obj = py::cast(defaults);
  for (const auto& [key, value] : kwargs) {
    const std::string k = py::str(key);
    if (!py::hasattr(py::type::of(obj), k.c_str()))
      throw py::type_error("TrainConfig has no setting '" + k + "'");
    py::setattr(obj, key, value);
  }
  return obj.cast<TrainConfig>();
}

void bind_enum_settings(py::class_<TrainConfig>& c) {
  name_property<Loss>(c, "loss", &TrainConfig::loss, &parse_loss, &loss_name);
  name_property<parallel::Backend>(c, "backend", &TrainConfig::backend, &parse_backend,
                                   &backend_name);
  c.def_property(
      "plan", [](const TrainConfig& t) { return to_string(t.plan); },
      [](TrainConfig& t, const std::string& v) { t.plan = parse_plan(v); });
  c.def_property(
      "parallelism", [](const TrainConfig& t) { return parallelism_name(t.plan.parallelism); },
      [](TrainConfig& t, const std::string& v) { t.plan.parallelism = parse_parallelism(v); });
  name_property<GemmBackend>(c, "gemm", &TrainConfig::gemm, &parse_gemm_backend,
                             &gemm_backend_name);
  name_property<Precision>(c, "precision", &TrainConfig::precision, &parse_precision,
                           &precision_name);
  c.def_property(
      "optimizer",
      [](const TrainConfig& t) { return std::string(optimizer_name(t.optimizer.kind)); },
      [](TrainConfig& t, const std::string& v) { t.optimizer.kind = parse_optimizer(v); });
  c.def_property(
      "schedule", [](const TrainConfig& t) { return std::string(schedule_name(t.schedule.kind)); },
      [](TrainConfig& t, const std::string& v) { t.schedule.kind = parse_schedule(v); });
}

void bind_number_settings(py::class_<TrainConfig>& c) {
  c.def_readwrite("batch_size", &TrainConfig::batch_size)
      .def_readwrite("epochs", &TrainConfig::epochs)
      .def_readwrite("seed", &TrainConfig::seed)
      .def_readwrite("threads", &TrainConfig::threads)
      .def_readwrite("deterministic", &TrainConfig::deterministic)
      .def_readwrite("micro_batches", &TrainConfig::micro_batches)
      .def_readwrite("shuffle", &TrainConfig::shuffle)
      .def_readwrite("min_flops_per_worker", &TrainConfig::min_flops_per_worker);
  c.def_property(  // optimizer lbfgs's limits (lbfgs.hpp)
       "max_fun", [](const TrainConfig& t) { return t.lbfgs.max_fun; },
       [](TrainConfig& t, std::size_t v) { t.lbfgs.max_fun = v; })
      .def_property(
          "tol", [](const TrainConfig& t) { return t.lbfgs.tol; },
          [](TrainConfig& t, double v) { t.lbfgs.tol = v; });
  optimizer_field(c, "learning_rate", &OptimizerConfig::learning_rate);
  optimizer_field(c, "momentum", &OptimizerConfig::momentum);
  optimizer_field(c, "beta1", &OptimizerConfig::beta1);
  optimizer_field(c, "beta2", &OptimizerConfig::beta2);
  optimizer_field(c, "rho", &OptimizerConfig::rho);
  optimizer_field(c, "epsilon", &OptimizerConfig::epsilon);
  optimizer_field(c, "weight_decay", &OptimizerConfig::weight_decay);
  optimizer_field(c, "l1", &OptimizerConfig::l1);
  optimizer_field(c, "l2", &OptimizerConfig::l2);
  c.def_property(
      "group_threads", [](const TrainConfig& t) { return t.plan.group_threads; },
      [](TrainConfig& t, std::size_t v) {
        t.plan.group_threads = v;
        t.plan.groups = 0;  // G follows from threads
      });
  c.def_property(
      "checkpoint_every_steps", [](const TrainConfig& t) { return t.checkpoint_every.steps; },
      [](TrainConfig& t, std::size_t v) { t.checkpoint_every.steps = v; });
  c.def_property(
      "checkpoint_every_seconds", [](const TrainConfig& t) { return t.checkpoint_every.seconds; },
      [](TrainConfig& t, double v) { t.checkpoint_every.seconds = v; });
  c.def_property(
      "checkpoint_path", [](const TrainConfig& t) { return t.checkpoint_every.path; },
      [](TrainConfig& t, const std::string& v) { t.checkpoint_every.path = v; });
  c.def_property(
      "step_epochs", [](const TrainConfig& t) { return t.schedule.step_epochs; },
      [](TrainConfig& t, std::size_t v) { t.schedule.step_epochs = v; });
  c.def_property(
      "gamma", [](const TrainConfig& t) { return t.schedule.gamma; },
      [](TrainConfig& t, double v) { t.schedule.gamma = v; });
  c.def_property(
      "min_lr", [](const TrainConfig& t) { return t.schedule.min_lr; },
      [](TrainConfig& t, double v) { t.schedule.min_lr = v; });
}

}  // namespace

void bind_configs(py::module_& m) {
  bind_model_spec(m);
  py::class_<TrainConfig> c(m, "TrainConfig");
  c.def(py::init(&config_from_kwargs))
      .def("validate", &TrainConfig::validate)
      .def("copy", [](const TrainConfig& t) { return TrainConfig(t); });
  bind_enum_settings(c);
  bind_number_settings(c);
}

}  // namespace dptrain::python
