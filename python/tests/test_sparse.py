"""Sparse X (Note [Sparse rows] in sparse.hpp): gathered per minibatch, never dense whole, and
the same bits as training on the dense equivalent."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from dptrain import MLPClassifier, MLPRegressor


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_sparse_trains_to_the_bits_of_dense(solver):
    X, y = _digits()
    X[X < 0.3] = 0.0
    params = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, solver=solver,
                  batch_size=64, n_threads=2)
    dense = MLPClassifier(**params).fit(X, y)
    for fmt in ("csr", "csc"):
        sparse = MLPClassifier(**params).fit(sp.csr_matrix(X).asformat(fmt), y)
        for a, b in zip(dense.coefs_ + dense.intercepts_, sparse.coefs_ + sparse.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert dense.loss_curve_ == sparse.loss_curve_
        np.testing.assert_array_equal(dense.predict_proba(X),
                                      sparse.predict_proba(sp.csr_matrix(X)))


def test_sparse_with_early_stopping_lbfgs_and_regression():
    X, y = _digits()
    Xs = sp.csr_matrix(X)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=50, early_stopping=True,
                        random_state=1).fit(Xs, y)
    assert clf.best_validation_score_ > 0.85
    assert clf.score(Xs, y) > 0.85
    lb = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=100,
                       random_state=0).fit(Xs, y)
    assert lb.score(Xs, y) > 0.9
    params = dict(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    reg = MLPRegressor(**params).fit(Xs, y / 9.0)
    np.testing.assert_array_equal(reg.predict(Xs), MLPRegressor(**params).fit(X, y / 9.0).predict(X))


def test_one_hot_pipeline():
    rng = np.random.default_rng(0)
    cats = rng.integers(0, 20, size=(2000, 3))
    y = (cats[:, 0] % 2) ^ (cats[:, 1] > 9)
    pipe = make_pipeline(OneHotEncoder(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=60,
                                                        random_state=0))
    pipe.fit(cats, y)
    assert pipe.score(cats, y) > 0.95


def test_wide_sparse_matrix_is_never_dense_whole():
    # 20,000 x 100,000 float32 would be 8 GB dense; trained, the process stays far below it.
    code = textwrap.dedent("""
        import resource
        import numpy as np
        import scipy.sparse as sp
        from dptrain import MLPClassifier
        rng = np.random.default_rng(0)
        rows, cols, per_row = 20000, 100000, 10  # built directly: sp.random allocates rows x cols
        indptr = np.arange(0, rows * per_row + 1, per_row)
        X = sp.csr_matrix((rng.random(rows * per_row, dtype=np.float32),
                           rng.integers(0, cols, size=rows * per_row), indptr), shape=(rows, cols))
        y = rng.integers(0, 2, size=rows)
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, batch_size=200).fit(X, y)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """)
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                         text=True, check=True)
    peak_mb = int(out.stdout.strip().splitlines()[-1])
    assert peak_mb < 1500, f"peak resident {peak_mb} MB"
