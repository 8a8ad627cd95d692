// dptrain._core: the pybind11 extension under the dptrain package (python/dptrain). The
// pure-Python layer (estimators.py) builds on it; docs/PYTHON.md and _core.pyi document it.
#include <malloc.h>
#include <pybind11/pybind11.h>

#include <cstdlib>
#include <cstring>

#include "bind_session.hpp"
#include "configs.hpp"
#include "dptrain/error.hpp"
#include "dptrain/gemm.hpp"
#include "dptrain/version.hpp"

namespace py = pybind11;

namespace {

// The CLI's keep_large_blocks (src/cli/main.cpp): GEMM packing buffers and kernel scratch sit
// above glibc's mmap threshold, so with the default allocator every product maps, page-faults
// and unmaps its buffer. Measured in this module on Fashion-MNIST 784-128-10: predict on 60000
// rows 3.2 s -> 0.31 s, a training epoch's wall time 2.7 s -> 0.65 s (the CLI: 0.45-0.55 s).
// It is process-wide (NumPy's large arrays then come from the heap, and up to 512 MiB of freed
// memory is kept), so DPTRAIN_MALLOPT=0 leaves the allocator alone.
void keep_large_blocks() {
  const char* opt = std::getenv("DPTRAIN_MALLOPT");
  if (opt && std::strcmp(opt, "0") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  keep_large_blocks();
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
