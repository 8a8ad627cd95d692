"""scikit-learn's own MLP tests (sklearn/neural_network/tests/test_mlp.py of the installed
scikit-learn) run against dptrain's estimators: the file is read at test time, its two import
lines changed to take MLPClassifier and MLPRegressor from dptrain, and its tests collected here,
so a scikit-learn upgrade brings its new tests. Tests dptrain does not pass are skipped below,
each with its reason (listed in docs/PYTHON.md too)."""

import importlib.util
import re

import pytest

_SPEC = importlib.util.find_spec("sklearn.neural_network.tests.test_mlp")
_SOURCE = open(_SPEC.origin, encoding="utf-8").read()

_SWAPS = {
    "from sklearn.neural_network import MLPClassifier\n": "from dptrain import MLPClassifier\n",
    "from sklearn.neural_network import MLPRegressor\n": "from dptrain import MLPRegressor\n",
}
for _old, _new in _SWAPS.items():
    if _SOURCE.count(_old) != 1:  # the installed file changed its imports: say so, loudly
        raise RuntimeError(f"{_SPEC.origin}: expected the line {_old.strip()!r} once")
    _SOURCE = _SOURCE.replace(_old, _new)
assert not re.search(r"^from sklearn\.neural_network import", _SOURCE, re.M)

exec(compile(_SOURCE, _SPEC.origin, "exec"), globals())  # defines the test_* functions here

SKIPPED = {
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs(theta, X, Y, activations, "
    "deltas, coef_grads, intercept_grads) and compares it with finite differences to 7 "
    "decimals; dptrain's engine computes in float32",
    "test_nonfinite_params": "float64 values beyond float32's range are refused before training "
    "with a message saying so, not scikit-learn's 'Solver produced non-finite parameter weights'",
}
for _name, _reason in SKIPPED.items():
    if _name in globals():
        globals()[_name] = pytest.mark.skip(reason=_reason)(globals()[_name])
