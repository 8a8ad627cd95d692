"""Bad input raises ValueError with a message that names the problem, never a crash."""

import numpy as np
import pytest

import dptrain
from dptrain import MLPClassifier, MLPRegressor


def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_features(bad):
    X, y = small()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MLPClassifier(max_iter=1).fit(X, y)


@pytest.mark.parametrize("label", [0, 1, "cat"])
def test_one_class(label):
    """As scikit-learn's MLPClassifier: one class trains, and predicts that class."""
    X, _ = small()
    y = np.full(len(X), label, dtype=object if isinstance(label, str) else int)
    clf = MLPClassifier(max_iter=1).fit(X, y)
    assert clf.predict(X).tolist() == y.tolist()
    np.testing.assert_array_equal(clf.predict_proba(X), np.ones((len(X), 1)))
    clf = MLPClassifier(max_iter=1).partial_fit(X, y, classes=[label])
    assert clf.predict(X[:3]).tolist() == [label] * 3


def test_wrong_shapes():
    X, y = small()
    with pytest.raises(ValueError):
        MLPClassifier(max_iter=1).fit(X[:, 0], y)  # 1-D X
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier(max_iter=1).fit(X, y[:-1])


def test_feature_count_at_predict():
    X, y = small()
    clf = MLPClassifier(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(X[:, :3])


def test_bad_parameters():
    X, y = small()
    for params in ({"solver": "newton"}, {"activation": "swish"}, {"hidden_layer_sizes": (0,)},
                   {"batch_size": 0}, {"dropout": 1.0}, {"learning_rate": "optimal"},
                   {"n_threads": 0}, {"precision": "fp8"}, {"power_t": -1.0}, {"init": "zeros"},
                   {"n_iter_no_change": 0}, {"max_fun": 0}):
        with pytest.raises(ValueError):
            MLPClassifier(max_iter=1, **params).fit(X, y)


def test_label_not_in_partial_fit_classes():
    X, y = small()
    clf = MLPClassifier().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 5)


def test_low_level_api_errors():
    trainer = dptrain.Trainer(dptrain.ModelSpec([4, 8, 2]), dptrain.TrainConfig())
    X, y = small()
    with pytest.raises(ValueError, match="features"):
        trainer.fit(np.zeros((10, 5), np.float32), np.zeros(10, int))
    with pytest.raises(ValueError, match="outside 0..1"):
        trainer.fit(X, y + 1)
    with pytest.raises(ValueError, match="2-D"):
        trainer.predict(np.zeros(4, np.float32))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        trainer.predict(bad)
    with pytest.raises(ValueError):
        dptrain.TrainConfig(optimizer="bfgs")
    with pytest.raises(TypeError):
        dptrain.TrainConfig(no_such_setting=1)
    with pytest.raises(ValueError):
        dptrain.TrainConfig(batch_size=0).validate()
    with pytest.raises(ValueError):
        dptrain.load("/nonexistent/model.dpt")


def test_regressor_target_columns():
    X, _ = small()
    reg = MLPRegressor(max_iter=1).fit(X, np.zeros((len(X), 2)))
    assert reg.predict(X).shape == (len(X), 2)
    with pytest.raises(ValueError):
        reg.set_params(warm_start=True).fit(X, np.zeros((len(X), 3)))
