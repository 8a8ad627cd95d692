#pragma once
// Python bindings of the settings: ModelSpec (an MLP's layers) and TrainConfig (the engine's
// and the epoch loop's settings). Enumerations travel as the names the CLI uses ("adam",
// "relu", "ce", ...), parsed by the library's own parse_* functions.
#include <pybind11/pybind11.h>

namespace dptrain::python {

void bind_configs(pybind11::module_& m);

}  // namespace dptrain::python
