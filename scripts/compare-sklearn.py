#!/usr/bin/python3
"""scikit-learn's MLPClassifier and dptrain side by side: the same architecture, solver, batch
size, epochs and float32 input, at 1 and 2 threads (BLAS threads for scikit-learn, engine
workers for dptrain); wall time to fit and test accuracy. Also the Python binding's overhead:
dptrain.MLPClassifier / dptrain.Trainer against the CLI's training time on the same data.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=build/python \\
        /usr/bin/python3 scripts/compare-sklearn.py [--threads 1,2] [--repeats 1]

Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as above so OpenBLAS picks its kernel for this CPU;
the BLAS that ran (threadpoolctl) is printed. Prints a Markdown table.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))
sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
import dptrain  # noqa: E402
from test_accuracy import fashion_mnist  # noqa: E402  (reads the Debian package's IDX files)

CLI = os.path.join(ROOT, "build", "dptrain")


def settings(epochs, batch):
    # tol 0 and n_iter_no_change > epochs: both train exactly `epochs` epochs.
    return dict(hidden_layer_sizes=(128,), solver="adam", batch_size=batch, max_iter=epochs,
                learning_rate_init=1e-3, alpha=1e-4, tol=0.0, n_iter_no_change=epochs + 1,
                random_state=0)


def timed_fit(make, X, y, X_test, y_test, repeats):
    best, acc = float("inf"), 0.0
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        model.fit(X, y)
        best = min(best, time.perf_counter() - start)
        acc = model.score(X_test, y_test)
    return best, acc


def cli_train_seconds(args):
    """The CLI's training time: the sum of its epochs' seconds in --log (data loading and
    start-up excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        subprocess.run([CLI, "train", "--quiet", "--log", log, *args], check=True,
                       capture_output=True)
        with open(log) as f:
            return sum(json.loads(line)["seconds"] for line in f if line.strip())


def compare(name, data, epochs, batch, threads, repeats, rows):
    X, y, X_test, y_test = data
    for t in threads:
        with threadpool_limits(limits=t):
            sk = timed_fit(lambda: SkMLP(**settings(epochs, batch)), X, y, X_test, y_test, repeats)
        dp = timed_fit(lambda: dptrain.MLPClassifier(n_threads=t, **settings(epochs, batch)),
                       X, y, X_test, y_test, repeats)
        rows.append(f"| {name} | {t} | {sk[0]:.2f} s | {sk[1]:.4f} | {dp[0]:.2f} s | {dp[1]:.4f} "
                    f"| {sk[0] / dp[0]:.2f}x |")


def interleaved(cli_args, spec, config, X, y, repeats):
    """Best of `repeats` rounds, each one CLI run then one fit of a fresh dptrain.Trainer in
    this process (alternating, so a busy machine slows both alike): (CLI training seconds,
    fit() wall time, the sum of that fit's epoch seconds as the engine measures them). Wall
    minus engine is the binding's own cost (conversion and copy of X and y, validation,
    callbacks), free of the machine's noise."""
    cli, best = float("inf"), (float("inf"), 0.0)
    for _ in range(repeats):
        cli = min(cli, cli_train_seconds(cli_args))
        trainer = dptrain.Trainer(spec, config)
        start = time.perf_counter()
        result = trainer.fit(X, y)
        wall = time.perf_counter() - start
        best = min(best, (wall, sum(e["seconds"] for e in result["epochs"])))
    return (cli, *best)


def overhead_row(name, t, cli, wall, engine):
    return (f"| {name} | {t} | {cli:.3f} s | {wall:.3f} s | {engine:.3f} s "
            f"| {100 * (wall / engine - 1):+.1f}% | {100 * (wall / cli - 1):+.1f}% |")


def fashion_overhead(threads, epochs, repeats, rows):
    X, y = fashion_mnist("train")
    for t in threads:
        cli_args = ["--data", "fashion-mnist", "--layers", "784,128,10", "--batch-size", "128",
                    "--epochs", str(epochs), "--threads", str(t), "--test-data", "none"]
        config = dptrain.TrainConfig(batch_size=128, epochs=epochs, threads=t)
        times = interleaved(cli_args, dptrain.ModelSpec([784, 128, 10]), config, X, y, repeats)
        rows.append(overhead_row(f"Fashion-MNIST 784-128-10, {epochs} epochs", t, *times))


def model_c_overhead(threads, repeats, rows):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(768, 8)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "c.csv")
        np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.9g")
        for t in threads:
            cli_args = ["--data", f"csv:{csv}", "--header", "no", "--layers", "8,10,8,1",
                        "--epochs", "200", "--threads", str(t), "--test-data", "none"]
            spec = dptrain.ModelSpec([8, 10, 8, 1], output="sigmoid")
            config = dptrain.TrainConfig(loss="bce", epochs=200, threads=t)
            times = interleaved(cli_args, spec, config, X, y, repeats)
            rows.append(overhead_row("model C (768x8, 8-10-8-1), 200 epochs", t, *times))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--part", choices=["all", "compare", "overhead"], default="all")
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    warnings.simplefilter("ignore", ConvergenceWarning)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set; OpenBLAS may not run its best kernel")
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')} kernel)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"scikit-learn's BLAS: {', '.join(blas)}; dptrain's GEMM: {dptrain.gemm_kernel()}\n")

    if args.part != "overhead":
        compare_table(args, threads)
    if args.part != "compare":
        overhead_table(args, threads)


def compare_table(args, threads):
    rows = ["| data | threads | scikit-learn fit | sk test acc | dptrain fit | dptrain test acc | speed-up |",
            "|---|---|---|---|---|---|---|"]
    Xf, yf = fashion_mnist("train")
    Xt, yt = fashion_mnist("test")
    compare("Fashion-MNIST 784-128-10, adam, batch 128, %d epochs" % args.epochs,
            (Xf, yf, Xt, yt), args.epochs, 128, threads, args.repeats, rows)
    Xd, yd = load_digits(return_X_y=True)
    Xd = (Xd / 16.0).astype(np.float32)
    a, b, c, d = train_test_split(Xd, yd, random_state=0, stratify=yd)
    compare("digits 64-128-10, adam, batch 128, 50 epochs", (a, c, b, d), 50, 128, threads,
            args.repeats, rows)
    print("\n".join(rows))


def overhead_table(args, threads):
    rows = ["\n| binding overhead | threads | CLI training time | Trainer.fit wall | of which engine "
            "epochs | wall / engine | wall / CLI |", "|---|---|---|---|---|---|---|"]
    repeats = max(3, args.repeats)
    fashion_overhead(threads, args.epochs, repeats, rows)
    model_c_overhead(threads, repeats, rows)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
