"""The lower-level API: ModelSpec, TrainConfig, Trainer with a per-epoch callback."""

import numpy as np

import dptrain


def test_fit_with_a_callback_per_epoch_and_stop(blobs):
    X, y = blobs
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 32, 3], dropout=0.1),
                              dptrain.TrainConfig(epochs=10, batch_size=16, optimizer="sgd",
                                                  learning_rate=0.05))
    seen = []

    def on_epoch(report):
        seen.append(report["epoch"])
        return report["epoch"] < 3  # stop after the third

    result = trainer.fit(X, y, on_epoch=on_epoch)
    assert seen == [1, 2, 3]
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    assert trainer.epochs_done == 3
    assert trainer.step_count == 3 * 19
    report = trainer.evaluate(X, y)
    assert report["rows"] == 300 and report["accuracy"] > 0.8
    assert report["confusion"].shape == (3, 3) and report["confusion"].sum() == 300
    proba = trainer.predict(X)
    assert proba.shape == (300, 3) and proba.dtype == np.float32


def test_early_stopping_with_validation(blobs):
    X, y = blobs
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), dptrain.TrainConfig(epochs=500))
    # Validation labels the model can only get more wrong: its loss rises from the start.
    wrong = (y[200:] + 1) % 3
    result = trainer.fit(X[:200], y[:200], validation=(X[200:], wrong), patience=3)
    assert result["stopped_early"] and result["restored_best"]
    assert "validation_loss" in result["epochs"][0]
    assert len(result["epochs"]) < 50


def test_regression_and_settings():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))  # float64, converted once
    y = X @ np.array([1.0, -2.0, 0.5])
    spec = dptrain.ModelSpec([3, 16, 1], activation="tanh", output="identity")
    config = dptrain.TrainConfig(loss="mse", epochs=50, learning_rate=0.01, batch_size=20)
    assert (config.loss, config.optimizer, config.threads) == ("mse", "adam", 1)
    trainer = dptrain.Trainer(spec, config)
    trainer.fit(X, y)
    assert trainer.evaluate(X, y)["mse"] < 0.05
    assert spec.widths == [3, 16, 1] and spec.describe().startswith("3-16(tanh)")
    assert len(trainer.parameters()) >= 3 * 16 + 16 + 16 + 1
    assert dptrain.params_hash(trainer.parameters()) == trainer.params_hash()


def test_non_contiguous_and_integer_inputs_give_the_same_model(blobs):
    X, y = blobs
    def train(features):
        t = dptrain.Trainer(dptrain.ModelSpec([8, 8, 3]), dptrain.TrainConfig(epochs=2))
        t.fit(features, y)
        return t.params_hash()
    wide = np.zeros((300, 16), np.float32)
    wide[:, ::2] = X
    assert train(X) == train(wide[:, ::2]) == train(X.astype(np.float64)) == train(np.asfortranarray(X))
    Xi = np.rint(X).astype(np.int32)
    assert train(Xi) == train(Xi.astype(np.float32))
