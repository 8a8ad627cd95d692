"""Estimator behaviour beyond check_estimator: verbose, warm_start, partial_fit, early stopping,
tol-based stopping, parameter mapping."""

import numpy as np

from dptrain import MLPClassifier, MLPRegressor


def test_verbose_prints_one_line_per_epoch(blobs, capsys):
    X, y = blobs
    MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=True, n_iter_no_change=100).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Iteration")]
    assert [l.split(",")[0] for l in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    assert "loss = " in lines[0] and "samples/s" in lines[0]


def test_warm_start_continues_and_cold_start_restarts(blobs):
    X, y = blobs
    params = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, n_iter_no_change=100)
    four = MLPClassifier(**{**params, "max_iter": 4}).fit(X, y)
    warm = MLPClassifier(warm_start=True, **params).fit(X, y).fit(X, y)
    assert warm.n_iter_ == 4 and warm.params_hash() == four.params_hash()
    cold = MLPClassifier(**params).fit(X, y)
    assert cold.fit(X, y).params_hash() == MLPClassifier(**params).fit(X, y).params_hash()


def test_partial_fit_trains_one_epoch_per_call(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    for _ in range(10):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert clf.score(X, y) > 0.9


def test_tol_stops_training_early(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=500, tol=10.0, n_iter_no_change=2).fit(X, y)
    # scikit-learn's rule: the first epoch sets the best loss, then stop once more than
    # n_iter_no_change epochs in a row did not improve it by tol.
    assert clf.n_iter_ == 4


def test_early_stopping_restores_and_records_validation():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 10))
    y = rng.integers(0, 2, size=400)  # noise: the validation loss soon rises
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, early_stopping=True,
                        learning_rate_init=0.01, n_iter_no_change=3, random_state=0).fit(X, y)
    assert len(clf.validation_loss_curve_) == clf.n_iter_ < 300


def test_sgd_with_momentum_and_regressor_multi_output():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    Y = np.column_stack([X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]])
    reg = MLPRegressor(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.01,
                       max_iter=200, random_state=0, batch_size=16).fit(X, Y)
    assert reg._trainer.config.optimizer == "nesterov"
    assert reg.predict(X).shape == (300, 2) and reg.score(X, Y) > 0.9


def test_coefs_and_intercepts_reproduce_predict_proba(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(16, 12), max_iter=5, random_state=0).fit(X, y)
    assert [w.shape for w in clf.coefs_] == [(8, 16), (16, 12), (12, 3)]
    assert [b.shape for b in clf.intercepts_] == [(16,), (12,), (3,)]
    h = X.astype(np.float64)
    for w, b in zip(clf.coefs_[:-1], clf.intercepts_[:-1]):
        h = np.maximum(h @ w + b, 0.0)
    logits = h @ clf.coefs_[-1] + clf.intercepts_[-1]
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-4, atol=1e-5)
    clf.coefs_[0][:] = 0.0  # copies: the model is unchanged
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-4, atol=1e-5)
