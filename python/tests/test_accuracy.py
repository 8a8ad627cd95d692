"""Accuracy on real data: scikit-learn's digits and breast cancer, Fashion-MNIST (Debian)."""

import os
import struct
import gzip

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from dptrain import MLPClassifier, MLPRegressor


def test_digits_accuracy():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0, n_threads=2)
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95
    assert clf.n_iter_ == len(clf.loss_curve_) <= 60
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_breast_cancer_accuracy_with_string_labels():
    data = load_breast_cancer()
    X = StandardScaler().fit_transform(data.data)
    y = data.target_names[data.target]  # 'benign' / 'malignant'
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(X_train, y_train)
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.score(X_test, y_test) > 0.94  # scikit-learn's MLPClassifier: 0.965
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_regressor_fits_a_smooth_function():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(600, 2)).astype(np.float32)
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    reg = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=200, random_state=0, batch_size=32)
    reg.fit(X[:500], y[:500])
    assert reg.score(X[500:], y[500:]) > 0.9
    assert reg.predict(X[:3]).shape == (3,)


def _read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dims = raw[3]
    shape = struct.unpack(">" + "I" * dims, raw[4 : 4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(split):
    folder = os.environ.get("DPTRAIN_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    prefix = "train" if split == "train" else "t10k"
    for ext in ("", ".gz"):
        images = os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}")
        labels = os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}")
        if os.path.exists(images) and os.path.exists(labels):
            X = _read_idx(images).reshape(-1, 784).astype(np.float32) / np.float32(255)
            return X, _read_idx(labels).astype(np.int64)
    pytest.skip(f"Fashion-MNIST is not in {folder} (Debian package dataset-fashion-mnist)")


def test_fashion_mnist_two_epochs():
    X, y = fashion_mnist("train")
    X_test, y_test = fashion_mnist("test")
    clf = MLPClassifier(hidden_layer_sizes=(128,), batch_size=128, max_iter=2, n_threads=2,
                        random_state=42, alpha=0.0)
    clf.fit(X, y)
    assert clf.score(X_test, y_test) > 0.83
