#pragma once
// Python bindings of Session (as dptrain.Trainer), checkpoints and the params hash.
#include <pybind11/pybind11.h>

namespace dptrain::python {

void bind_session(pybind11::module_& m);

}  // namespace dptrain::python
