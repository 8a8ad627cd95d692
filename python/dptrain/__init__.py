"""dptrain: data-parallel multi-core MLP training for Python.

* ``MLPClassifier``, ``MLPRegressor``: scikit-learn estimators (estimators.py).
* ``ModelSpec``, ``TrainConfig``, ``Trainer``: the C++ API underneath (_core.pyi documents it);
  ``Trainer.save`` / ``Trainer.load`` read and write the CLI's checkpoint files.

See docs/PYTHON.md.
"""

from ._core import Error, ModelSpec, TrainConfig, Trainer, __version__, gemm_kernel, params_hash
from .estimators import MLPClassifier, MLPRegressor

load = Trainer.load

__all__ = [
    "Error",
    "MLPClassifier",
    "MLPRegressor",
    "ModelSpec",
    "TrainConfig",
    "Trainer",
    "gemm_kernel",
    "load",
    "params_hash",
    "__version__",
]
