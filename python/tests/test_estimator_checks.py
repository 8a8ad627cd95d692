"""scikit-learn's own conformance suite (check_estimator) on both estimators."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator

from dptrain import MLPClassifier, MLPRegressor

# Checks skipped, and why (also listed in docs/PYTHON.md).
SKIPPED = {}


@pytest.mark.parametrize("estimator", [MLPClassifier(), MLPRegressor()], ids=["classifier", "regressor"])
def test_check_estimator(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est, check in check_estimator(estimator, generate_only=True):
            name = getattr(check, "func", check).__name__
            if name in SKIPPED:
                continue
            check(est)
