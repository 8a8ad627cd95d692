// dptrain._core: the pybind11 extension under the dptrain package (python/dptrain). The
// pure-Python layer (estimators.py) builds on it; docs/PYTHON.md and _core.pyi document it.
#include <pybind11/pybind11.h>

#include "bind_session.hpp"
#include "configs.hpp"
#include "dptrain/error.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/version.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "dptrain's C++ engine: ModelSpec, TrainConfig, Trainer (see docs/PYTHON.md)";
  // Bad input from the library is a ValueError, as NumPy and scikit-learn report it.
  py::register_exception<dptrain::Error>(m, "Error", PyExc_ValueError);
  dptrain::python::bind_configs(m);
  dptrain::python::bind_session(m);
  m.def(
      "gemm_kernel",
      [](const std::string& backend) {
        return dptrain::gemm_kernel_description(dptrain::parse_gemm_backend(backend));
      },
      py::arg("backend") = dptrain::gemm_backend_name(dptrain::default_gemm_backend()),
      "The GEMM kernel a backend runs on this machine (as the CLI's header shows it)");
  m.attr("__version__") = dptrain::version_string;
}
