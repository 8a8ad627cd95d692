#!/usr/bin/python3
"""scikit-learn's MLPClassifier and dptrain side by side: the same architecture, solver, batch
size, epochs and float32 input, at 1 and 2 threads (BLAS threads for scikit-learn, engine
workers for dptrain); wall time to fit and test accuracy. Also the Python binding's overhead:
dptrain.MLPClassifier / dptrain.Trainer against the CLI's training time on the same data.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=build/python \\
        /usr/bin/python3 scripts/compare-sklearn.py [--threads 1,2] [--repeats 1]

Unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as above so OpenBLAS picks its kernel for this CPU;
the BLAS that ran (threadpoolctl) is printed. Prints a Markdown table.

--part datasets: the estimators as a user copies scikit-learn's parameters (its defaults: adam,
100 hidden units, batch min(200, n), tol 1e-4 with 10 epochs' patience, max_iter 200; 30 epochs
at most on the two generated sets) on iris, wine, breast cancer, digits, diabetes,
make_classification(50000, 100) and make_regression(20000, 50), standardised float32 features
(and regression targets), 5 seeds,
interleaved as for lbfgs; mean fit time, mean test score (accuracy or R^2) and epochs, and the
ratio of scikit-learn's best thread setting to dptrain's.

--part lbfgs: solver='lbfgs' on digits and breast cancer (standardised, float32, 100 hidden
units, alpha 1e-4, max_iter 200), scikit-learn's lbfgs against dptrain's, 5 seeds, every
(seed, library, thread count) fit interleaved with the others; mean fit time, mean test
accuracy and iterations per setting, and the ratio of scikit-learn's best thread setting to
dptrain's (the first fit of each setting is a warm-up, untimed).
"""

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.preprocessing import StandardScaler
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


def python_fit_seconds(kind, threads):
    """One Trainer.fit of workload `kind` in a fresh Python process (this script with --child):
    (fit() wall time, the sum of that fit's epoch seconds as the engine measures them)."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", kind,
                          "--threads", str(threads)], check=True, capture_output=True, text=True)
    wall, engine = out.stdout.split()[-2:]
    return float(wall), float(engine)


def child(kind, threads):
    data, spec, config, _ = WORKLOADS[kind](threads)
    X, y = data()
    trainer = dptrain.Trainer(spec, config)
    # The full collection the imports above left pending (scikit-learn's modules) would
    # otherwise run during the first objects fit() makes and be charged to it (timeit also
    # keeps the collector out of its timings).
    gc.collect()
    start = time.perf_counter()
    result = trainer.fit(X, y)
    wall = time.perf_counter() - start
    print(wall, sum(e["seconds"] for e in result["epochs"]))


def interleaved(kind, threads, repeats):
    """Best of `repeats` rounds, each one CLI run then one Trainer.fit in a fresh Python process
    (alternating, so a busy machine slows both alike; fresh processes on both sides, as where a
    process's buffers land can change a small model's speed by 25% from one process to the
    next): (CLI training seconds, fit() wall time, the sum of that fit's epoch seconds). Wall
    minus engine is the binding's own cost (conversion of X and y, validation, callbacks)."""
    data, _, _, cli_args = WORKLOADS[kind](threads)
    with tempfile.TemporaryDirectory() as tmp:
        cli_args = [a.replace("{tmp}", tmp) for a in cli_args]
        if kind == "model-c":  # the CLI reads the same rows from a CSV file
            X, y = data()
            np.savetxt(os.path.join(tmp, "c.csv"), np.column_stack([X, y]), delimiter=",",
                       fmt="%.9g")
        cli, best = float("inf"), (float("inf"), 0.0)
        for _ in range(repeats):
            cli = min(cli, cli_train_seconds(cli_args))
            best = min(best, python_fit_seconds(kind, threads))
    return (cli, *best)


def overhead_row(name, t, cli, wall, engine):
    return (f"| {name} | {t} | {cli:.3f} s | {wall:.3f} s | {engine:.3f} s "
            f"| {100 * (wall / engine - 1):+.1f}% | {100 * (wall / cli - 1):+.1f}% |")


# A workload: (a function giving X and y, so only the process that trains loads them, the
# ModelSpec, the TrainConfig, the CLI's arguments for the same run).
def fashion_workload(threads, epochs=10):
    cli_args = ["--data", "fashion-mnist", "--layers", "784,128,10", "--batch-size", "128",
                "--epochs", str(epochs), "--threads", str(threads), "--test-data", "none"]
    config = dptrain.TrainConfig(batch_size=128, epochs=epochs, threads=threads)
    return lambda: fashion_mnist("train"), dptrain.ModelSpec([784, 128, 10]), config, cli_args


def model_c_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(768, 8)).astype(np.float32)
    return X, (X[:, :3].sum(axis=1) > 0).astype(np.int64)


def model_c_workload(threads, epochs=2000):
    cli_args = ["--data", "csv:{tmp}/c.csv", "--header", "no", "--layers", "8,10,8,1",
                "--epochs", str(epochs), "--threads", str(threads), "--test-data", "none"]
    spec = dptrain.ModelSpec([8, 10, 8, 1], output="sigmoid")
    config = dptrain.TrainConfig(loss="bce", epochs=epochs, threads=threads)
    return model_c_data, spec, config, cli_args


WORKLOADS = {"fashion": fashion_workload, "model-c": model_c_workload}
TITLES = {"fashion": "Fashion-MNIST 784-128-10, 10 epochs",
          "model-c": "model C (768x8, 8-10-8-1), 2000 epochs"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--part", choices=["all", "compare", "overhead", "lbfgs", "datasets"],
                   default="all")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--child", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    args = p.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if args.child:
        return child(args.child, threads[0])
    warnings.simplefilter("ignore", ConvergenceWarning)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set; OpenBLAS may not run its best kernel")
    blas = [f"{i['internal_api']} {i.get('version')} ({i.get('architecture')} kernel)"
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"scikit-learn's BLAS: {', '.join(blas)}; dptrain's GEMM: {dptrain.gemm_kernel()}\n")

    if args.part == "lbfgs":
        return lbfgs_table(args, threads)
    if args.part == "datasets":
        return datasets_table(args, threads)
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
    for kind in ("fashion", "model-c"):
        for t in threads:
            rows.append(overhead_row(TITLES[kind], t, *interleaved(kind, t, repeats)))
    print("\n".join(rows))


def lbfgs_data(load):
    X, y = load(return_X_y=True)
    a, b, c, d = train_test_split(X, y, random_state=0, stratify=y)
    scaler = StandardScaler().fit(a)
    return (scaler.transform(a).astype(np.float32), c, scaler.transform(b).astype(np.float32), d)


def lbfgs_table(args, threads):
    rows = ["| data | library | threads | mean fit | mean test acc | mean iterations |",
            "|---|---|---|---|---|---|"]
    for name, load in (("digits", load_digits), ("breast cancer", load_breast_cancer)):
        X, y, X_test, y_test = lbfgs_data(load)

        def make(lib, t, seed):
            # The first (untimed) fit of a setting: dptrain measures its kernels for a new shape
            # (gemm auto, Note [Kernel wisdom]; cached on disk after), both libraries load code.
            common = dict(hidden_layer_sizes=(100,), solver="lbfgs", alpha=1e-4, max_iter=200,
                          random_state=seed)
            if lib == "scikit-learn":
                return SkMLP(**common)
            return dptrain.MLPClassifier(n_threads=t, **common)

        rows += ratio_rows(name, seeded_runs(make, X, y, X_test, y_test, threads, args.seeds))
    print("\n".join(rows))


def datasets():
    """(name, estimator kind, X, y, max_iter): the sets of --part datasets."""
    from sklearn.datasets import (load_diabetes, load_iris, load_wine, make_classification,
                                  make_regression)
    out = [(n, "classifier", *f(return_X_y=True), 200) for n, f in
           (("iris", load_iris), ("wine", load_wine), ("breast cancer", load_breast_cancer),
            ("digits", load_digits))]
    X, y = load_diabetes(return_X_y=True)  # targets standardised, as for the features
    out.append(("diabetes", "regressor", X, (y - y.mean()) / y.std(), 200))
    out.append(("make_classification(50000, 100)", "classifier",
                *make_classification(50000, 100, n_informative=20, random_state=0), 30))
    X, y = make_regression(20000, 50, n_informative=20, noise=5.0, random_state=0)
    out.append(("make_regression(20000, 50)", "regressor", X, (y - y.mean()) / y.std(), 30))
    return out


def seeded_runs(make, X, y, X_test, y_test, threads, seeds):
    """{(library, threads): [(seconds, score, iterations)]}, every (seed, threads, library) fit
    interleaved; the first fit of each setting (seed -1) is an untimed warm-up."""
    runs = {}
    for seed in [-1] + list(range(seeds)):
        for t in threads:
            for lib in ("scikit-learn", "dptrain"):
                model = make(lib, t, max(seed, 0))
                with threadpool_limits(limits=t):
                    start = time.perf_counter()
                    model.fit(X, y)
                    seconds = time.perf_counter() - start
                if seed >= 0:
                    runs.setdefault((lib, t), []).append(
                        (seconds, model.score(X_test, y_test), model.n_iter_))
    return runs


def ratio_rows(name, runs, unit_ms=True):
    rows, best = [], {}
    for (lib, t), r in sorted(runs.items()):
        mean = np.mean(r, axis=0)
        fit = f"{mean[0] * 1e3:.1f} ms" if unit_ms else f"{mean[0]:.3f} s"
        rows.append(f"| {name} | {lib} | {t} | {fit} | {mean[1]:.4f} | {mean[2]:.0f} |")
        if lib not in best or mean[0] < best[lib][0]:
            best[lib] = (mean[0], t)
    ratio = best["scikit-learn"][0] / best["dptrain"][0]
    rows.append(f"| {name} | **ratio** | sk {best['scikit-learn'][1]} / dp "
                f"{best['dptrain'][1]} | **{ratio:.2f}x** | | |")
    return rows


def datasets_table(args, threads):
    from sklearn.neural_network import MLPRegressor as SkReg  # noqa: PLC0415
    rows = ["| data | library | threads | mean fit | mean test score | mean epochs |",
            "|---|---|---|---|---|---|"]
    for name, kind, X, y, max_iter in datasets():
        strat = y if kind == "classifier" else None
        a, b, c, d = train_test_split(X, y, random_state=0, stratify=strat)
        scaler = StandardScaler().fit(a)
        a, b = scaler.transform(a).astype(np.float32), scaler.transform(b).astype(np.float32)

        def make(lib, t, seed, kind=kind, max_iter=max_iter):
            common = dict(max_iter=max_iter, random_state=seed)
            if lib == "scikit-learn":
                return (SkMLP if kind == "classifier" else SkReg)(**common)
            est = dptrain.MLPClassifier if kind == "classifier" else dptrain.MLPRegressor
            return est(n_threads=t, **common)

        rows += ratio_rows(name, seeded_runs(make, a, c, b, d, threads, args.seeds),
                           unit_ms=len(a) < 10000)
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
