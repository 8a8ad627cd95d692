"""Where the estimators must agree with scikit-learn's: initialisation, the loss curve's L2 term,
two classes on one logistic unit, warm start, dtypes, persistence of labels and settings."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from dptrain import MLPClassifier, MLPRegressor

warnings.simplefilter("ignore", ConvergenceWarning)


def _data(rows=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_same_initial_parameters_and_first_loss_as_scikit_learn(activation):
    # A rate so small that one full-batch epoch leaves the initial parameters: scikit-learn's
    # Glorot-uniform weights and biases from the same random_state, and the first epoch's loss
    # with its L2 term alpha / (2 n) |W|^2.
    X, y = _data()
    params = dict(hidden_layer_sizes=(8, 3), activation=activation, solver="sgd", momentum=0.0,
                  learning_rate_init=1e-12, max_iter=1, batch_size=len(X), alpha=0.5,
                  random_state=3)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkClassifier(**params).fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert ours.loss_curve_[0] == pytest.approx(theirs.loss_curve_[0], rel=1e-5)
    assert (ours.n_outputs_, ours.out_activation_) == (1, "logistic") == (
        theirs.n_outputs_, theirs.out_activation_)
    assert ours.t_ == theirs.t_ == len(X)


def test_engine_initialisation_stays_available():
    X, y = _data()
    a = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=3).fit(X, y)
    b = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=3, init="engine").fit(X, y)
    assert a.params_hash() != b.params_hash()


def test_warm_start_refit_on_other_classes_is_refused():
    X, y = _data()
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"warm_start can only be used where `y` has the same "
                       r"classes as in the previous call to fit. Previously got \[0 1\], `y` has \[0\]"):
        clf.fit(X, np.zeros_like(y))


def test_float64_beyond_float32_is_reported_as_such():
    X, y = _data()
    X[7, 2] = 1e300
    with pytest.raises(ValueError, match=r"too large for float32.*row 7, column 2"):
        MLPRegressor(max_iter=1).fit(X, X[:, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_in_the_input_dtype(dtype):
    X, y = _data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2).fit(X.astype(dtype), X[:, 0])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X.astype(dtype), y)
    assert reg.predict(X.astype(dtype)).dtype == dtype == clf.predict_proba(X.astype(dtype)).dtype
    assert {w.dtype for w in reg.coefs_ + reg.intercepts_ + clf.coefs_} == {np.dtype(dtype)}


def test_assigned_coefs_change_the_model():
    X, y = _data()
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, X[:, 0])
    reg.coefs_ = [np.zeros((5, 4)), np.ones((4, 1))]
    reg.intercepts_ = [np.ones(4), np.array([0.5])]
    np.testing.assert_allclose(reg.predict(X), 4.5)  # relu(0 + 1) * 1 summed + 0.5
    np.testing.assert_array_equal(reg.coefs_[1], np.ones((4, 1)))


def test_save_and_load_keep_labels_and_settings(tmp_path):
    X, y = _data()
    labels = np.where(y == 1, "01", "02")
    clf = MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", solver="sgd", alpha=0.01,
                        batch_size=16, max_iter=3, random_state=5).fit(X, labels)
    clf.save(tmp_path / "m.dpt")
    back = MLPClassifier.load(tmp_path / "m.dpt")
    assert back.classes_.tolist() == ["01", "02"]
    params = back.get_params()
    assert (params["hidden_layer_sizes"], params["activation"], params["solver"],
            params["batch_size"], params["random_state"]) == ((6,), "tanh", "sgd", 16, 5)
    assert params["alpha"] == pytest.approx(0.01) and params["momentum"] == 0.9
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    back.partial_fit(X, labels)
    assert back.t_ == len(X)


def test_loaded_model_warm_starts_with_early_stopping(tmp_path):
    X, y = _data(rows=80)
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, y).save(tmp_path / "m.dpt")
    back = MLPClassifier.load(tmp_path / "m.dpt")
    back.set_params(warm_start=True, early_stopping=True, max_iter=3).fit(X, y)
    assert len(back.validation_scores_) == 3 and back.best_loss_ is np.inf


def test_fit_ignores_assigned_coefs_partial_fit_starts_from_them():
    X, y = _data()
    fresh = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, X[:, 0])
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    reg.coefs_, reg.intercepts_ = [np.zeros((5, 4)), np.zeros((4, 1))], [np.zeros(4), np.zeros(1)]
    assert reg.fit(X, X[:, 0]).params_hash() == fresh.params_hash()
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e-9)
    reg.coefs_, reg.intercepts_ = [np.zeros((5, 4)), np.zeros((4, 1))], [np.zeros(4), np.ones(1)]
    np.testing.assert_allclose(reg.partial_fit(X, X[:, 0]).predict(X), 1.0, atol=1e-6)
