"""Pickle round trips and checkpoint files shared with the CLI."""

import pickle
import subprocess

import numpy as np
import pytest

import dptrain
from dptrain import MLPClassifier, MLPRegressor


def test_pickle_round_trip_keeps_predictions(blobs):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, labels)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
    assert copy.params_hash() == clf.params_hash()
    assert list(copy.classes_) == ["ant", "bee", "cat"]
    assert copy.loss_curve_ == clf.loss_curve_


def test_pickled_model_keeps_training_like_the_original(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, warm_start=True,
                        n_iter_no_change=100).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    clf.fit(X, y)
    copy.fit(X, y)
    assert copy.params_hash() == clf.params_hash()


def test_regressor_pickle(blobs):
    X, _ = blobs
    y = X[:, :2].sum(axis=1)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(copy.predict(X), reg.predict(X))


def test_checkpoint_from_python_evaluates_in_the_cli(cli, tmp_path, blobs):
    from test_determinism import write_csv

    X, y = blobs
    csv = tmp_path / "d.csv"
    write_csv(csv, X, y)
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), dptrain.TrainConfig(epochs=3))
    trainer.fit(X, y)
    path = tmp_path / "py.dpt"
    trainer.save(str(path))
    out = subprocess.run([cli, "eval", "--model", str(path), "--data", f"csv:{csv}", "--label",
                          "label", "--format", "json"], check=True, capture_output=True, text=True)
    import json

    report = json.loads(out.stdout)
    ours = trainer.evaluate(X, y)
    assert abs(report["accuracy"] - ours["accuracy"]) < 1e-9


def test_load_resumes_with_the_same_bits(tmp_path, blobs):
    X, y = blobs
    spec = dptrain.ModelSpec([8, 16, 3])
    config = dptrain.TrainConfig(epochs=4, deterministic=True, batch_size=16)
    straight = dptrain.Trainer(spec, config)
    straight.fit(X, y)
    halves = dptrain.Trainer(spec, config)
    halves.fit(X, y, epochs=2)
    halves.save(str(tmp_path / "half.dpt"))
    resumed = dptrain.load(str(tmp_path / "half.dpt"), threads=2)
    assert resumed.epochs_done == 2
    resumed.fit(X, y)
    assert resumed.params_hash() == straight.params_hash()


def test_estimator_checkpoint_carries_class_names(tmp_path, blobs):
    X, y = blobs
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, labels)
    clf.save(tmp_path / "m.dpt")
    schema = dptrain.load(str(tmp_path / "m.dpt")).schema
    assert schema["task"] == "classification"
    assert schema["class_names"] == ["setosa", "versicolor", "virginica"]
    loaded = MLPClassifier.load(tmp_path / "m.dpt")
    assert list(loaded.classes_) == list(clf.classes_)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ValueError, match="classification model"):
        MLPRegressor.load(tmp_path / "m.dpt")


def test_numeric_labels_come_back_as_numbers(tmp_path, blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(X, y * 10 - 5)  # -5, 5, 15
    clf.save(tmp_path / "m.dpt")
    loaded = MLPClassifier.load(tmp_path / "m.dpt")
    assert loaded.classes_.tolist() == [-5, 5, 15]
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
