"""Bits: threads 1 vs N under deterministic, and the same params_hash as the CLI."""

import subprocess

import numpy as np
import pytest

import dptrain
from dptrain import MLPClassifier


def test_threads_1_and_2_equal_bits_under_deterministic(blobs):
    X, y = blobs
    fitted = [
        MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=5, batch_size=64, random_state=1,
                      deterministic=True, n_threads=t, n_iter_no_change=100).fit(X, y)
        for t in (1, 2)
    ]
    assert fitted[0].params_hash() == fitted[1].params_hash()
    np.testing.assert_array_equal(fitted[0].predict_proba(X), fitted[1].predict_proba(X))


def test_same_seed_same_bits_and_other_seed_other_bits(blobs):
    X, y = blobs
    def run(seed):
        return MLPClassifier(max_iter=3, random_state=seed).fit(X, y).params_hash()
    assert run(5) == run(5)
    assert run(5) != run(6)


def write_csv(path, X, y):
    with open(path, "w") as f:
        f.write(",".join([f"f{i}" for i in range(X.shape[1])] + ["label"]) + "\n")
        for row, label in zip(X, y):
            # repr of a float32 widened to double reads back as the same float32
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")


def cli_hash(cli, csv, *args):
    out = subprocess.run(
        [cli, "train", "--data", f"csv:{csv}", "--label", "label", "--test-data", "none",
         "--quiet", *args],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line.split("=", 1)[1] for line in out.splitlines() if line.startswith("params_hash=")][0]


def test_params_hash_matches_the_cli(cli, tmp_path, blobs):
    X, y = blobs
    csv = tmp_path / "blobs.csv"
    write_csv(csv, X, y)
    expected = cli_hash(cli, csv, "--layers", "8,16,3", "--batch-size", "32", "--epochs", "4",
                        "--seed", "7", "--threads", "2", "--deterministic")
    # The lower-level API with the CLI's settings ...
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]),
                              dptrain.TrainConfig(batch_size=32, epochs=4, seed=7, threads=2,
                                                  deterministic=True))
    trainer.fit(X, y)
    assert trainer.params_hash() == expected
    # ... and the estimator with the same ones (alpha 0: the CLI's default has no L2 term;
    # init "engine": the CLI's initialisation, not scikit-learn's).
    clf = MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, max_iter=4, random_state=7,
                        alpha=0.0, n_threads=1, deterministic=True, n_iter_no_change=100,
                        init="engine")
    assert clf.fit(X, y).params_hash() == expected


def test_group_plans_match_the_cli(cli, tmp_path, blobs):
    # TrainConfig.group_threads is the CLI's --plan GxT (here 1x2: one replica, products split
    # in two threads); wide enough layers that the products are split.
    X, y = blobs
    csv = tmp_path / "blobs.csv"
    write_csv(csv, X, y)
    expected = cli_hash(cli, csv, "--layers", "8,256,256,3", "--batch-size", "128", "--epochs",
                        "2", "--seed", "7", "--plan", "1x2")
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 256, 256, 3]),
                              dptrain.TrainConfig(batch_size=128, epochs=2, seed=7, threads=2,
                                                  group_threads=2))
    trainer.fit(X, y)
    assert trainer.params_hash() == expected
    with pytest.raises(ValueError, match="must divide"):
        dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]),
                        dptrain.TrainConfig(threads=3, group_threads=2))


def test_predictions_match_the_cli(cli, tmp_path, blobs):
    X, y = blobs
    csv = tmp_path / "blobs.csv"
    write_csv(csv, X, y)
    model = tmp_path / "m.dpt"
    cli_hash(cli, csv, "--layers", "8,16,3", "--epochs", "2", "--save", str(model))
    out = tmp_path / "p.csv"
    subprocess.run([cli, "predict", "--model", str(model), "--data", f"csv:{csv}", "--label",
                    "label", "--out", str(out)], check=True, capture_output=True)
    rows = [line.split(",") for line in out.read_text().splitlines()]
    if not rows[0][0].lstrip("-").isdigit():
        rows = rows[1:]  # a header line
    cli_proba = np.array([[float(v) for v in r[1:]] for r in rows])
    proba = dptrain.load(str(model)).predict(X)
    np.testing.assert_allclose(proba, cli_proba, rtol=1e-5, atol=1e-6)
