"""solver='lbfgs' and optimizer 'lbfgs': the library's L-BFGS over the engine's full-batch loss
and gradient (Trainer.loss_gradient), its limits and what the estimators report."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import dptrain
from dptrain import MLPClassifier, MLPRegressor


def test_loss_gradient_is_the_gradient_an_sgd_step_applies(blobs):
    X, y = blobs
    spec = dptrain.ModelSpec([8, 16, 3])
    config = dptrain.TrainConfig(optimizer="sgd", learning_rate=0.5, batch_size=len(X),
                                 shuffle=False, epochs=1, l2=0.01, seed=4)
    trainer = dptrain.Trainer(spec, config)
    before = trainer.parameters()
    loss, data_loss, gradient = trainer.loss_gradient(X, y)
    assert gradient.dtype == np.float32 and gradient.shape == before.shape
    np.testing.assert_array_equal(trainer.parameters(), before)  # nothing moved
    weights = sum(w.size for w, _ in trainer.layers())
    l2_term = 0.5 * 0.01 * float(np.dot(before[:weights], before[:weights]))
    assert loss == pytest.approx(data_loss + l2_term, rel=1e-6)
    report = trainer.fit(X, y)["epochs"][0]
    assert report["loss"] == pytest.approx(data_loss, rel=1e-6)
    np.testing.assert_allclose(before - trainer.parameters(), 0.5 * gradient, atol=1e-6)


def test_trainer_fit_lbfgs_reports_iterations_and_why_it_ended(blobs):
    X, y = blobs
    config = dptrain.TrainConfig(optimizer="lbfgs", batch_size=len(X), epochs=5, threads=2)
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), config)
    start = trainer.loss_gradient(X, y)[0]
    result = trainer.fit(X, y)
    lbfgs = result["lbfgs"]
    assert lbfgs["iterations"] == len(result["epochs"]) == trainer.epochs_done
    assert lbfgs["evaluations"] >= sum(e["evaluations"] for e in result["epochs"]) >= 5
    assert lbfgs["reason"].startswith("reached the iteration limit") and not lbfgs["converged"]
    assert lbfgs["loss"] == pytest.approx(trainer.loss_gradient(X, y)[0], rel=1e-6)
    assert lbfgs["loss"] < start


def test_estimator_lbfgs_attributes_and_convergence_warning(blobs):
    X, y = blobs
    with pytest.warns(ConvergenceWarning, match="max_iter 3"):
        clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=3,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1], rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=500,
                            random_state=0).fit(X, y)
    assert clf.n_iter_ < 500 and clf.score(X, y) > 0.95
    with pytest.warns(ConvergenceWarning, match="max_fun 4"):
        reg = MLPRegressor(solver="lbfgs", max_fun=4, random_state=0).fit(X, X[:, 0])
    assert reg.n_iter_ <= 4
    assert not hasattr(clf, "partial_fit")
