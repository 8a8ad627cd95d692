"""The lower-level API: ModelSpec, TrainConfig, Trainer with a per-epoch callback."""

import ctypes
import os
import threading
import time

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


def _peak_rss_growth(action):
    """Bytes the resident set grew at most while action() ran, sampled from another thread
    (the engine releases the GIL while it trains). Memory the allocator kept from earlier frees
    is handed back first, or a copy could reuse it unseen."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    page = os.sysconf("SC_PAGE_SIZE")
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page
    before, peak, done = rss(), [0], threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.001)
    thread = threading.Thread(target=sample)
    thread.start()
    try:
        action()
    finally:
        done.set()
        thread.join()
    return peak[0] - before


def test_float32_c_contiguous_features_are_borrowed_not_copied():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(16384, 1024)).astype(np.float32)  # 64 MiB
    y = (X[:, 0] > 0).astype(np.int64)
    def fit(features):
        t = dptrain.Trainer(dptrain.ModelSpec([1024, 4, 2]),
                            dptrain.TrainConfig(epochs=10, batch_size=256))
        t.fit(features, y)
        return t.params_hash()
    hashes = []
    borrowed = _peak_rss_growth(lambda: hashes.append(fit(X)))
    X64 = X.astype(np.float64)
    copied = _peak_rss_growth(lambda: hashes.append(fit(X64)))
    assert hashes[0] == hashes[1]  # the same values either way
    assert copied - borrowed > X.nbytes * 0.9, "the measure must see a copy when there is one"
    assert borrowed < X.nbytes * 0.25, f"X was copied: peak grew by {borrowed / 2**20:.0f} MiB"
