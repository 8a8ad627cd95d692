#!/usr/bin/python3
"""Trains fixed runs with two dptrain binaries and compares what must not change between them:
params_hash and the --log lines' losses and metrics (timings and timestamps are left out).

Usage: scripts/compare-params-hash.py OLD_DPTRAIN NEW_DPTRAIN
Exit status 0 when every run matches, 1 otherwise. A run both binaries refuse (e.g. bf16 on a
CPU without AVX512_BF16) matches when both give the same message. The bits are promised for one
machine, GEMM backend and ISA (Note [Reproducibility] in include/dptrain/engine.hpp), so run both
binaries here rather than comparing against recorded hashes.
"""
import json
import os
import subprocess
import sys
import tempfile

WORKLOADS = {
    "xor": ["--data", "xor", "--hidden", "8", "--epochs", "20", "--batch-size", "2"],
    "square": ["--data", "square", "--hidden", "16,16", "--epochs", "5"],
    "blobs8-dropout": ["--data", "blobs8", "--hidden", "32,32", "--dropout", "0.2", "--epochs", "5"],
    "fashion-adam": ["--data", "fashion-mnist", "--limit", "8000", "--test-limit", "1000",
                     "--epochs", "1", "--batch-size", "32", "--hidden", "128"],
    "fashion-nesterov-l2": ["--data", "fashion-mnist", "--limit", "6000", "--test-limit", "1000",
                            "--epochs", "1", "--batch-size", "64", "--hidden", "64,32",
                            "--optimizer", "nesterov", "--lr", "0.01", "--l2", "0.0001"],
}

MODES = {
    "openblas-t1": ["--gemm", "openblas", "--threads", "1"],
    "deterministic-t2": ["--deterministic", "--threads", "2"],
    "deterministic-t2-buffers": ["--deterministic", "--threads", "2", "--weight-grads", "buffers"],
    "onednn-t2": ["--gemm", "onednn", "--threads", "2"],
    "buffers-t2": ["--threads", "2", "--weight-grads", "buffers"],
    "owner-t2": ["--threads", "2", "--weight-grads", "owner"],
    "openblas-buffers-t2": ["--gemm", "openblas", "--threads", "2", "--weight-grads", "buffers"],
    "plan-1x2": ["--threads", "2", "--plan", "1x2"],
    "plan-1x2-deterministic": ["--threads", "2", "--plan", "1x2", "--deterministic"],
    "plan-intra": ["--threads", "2", "--plan", "intra"],
    "bf16-t2": ["--threads", "2", "--precision", "bf16"],
    "threads-backend-pin": ["--threads", "2", "--backend", "threads", "--pin"],
}

KEPT = ("epoch", "lr", "train_loss", "train_metric", "test_loss", "test_metric")


def run(binary, args):
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        p = subprocess.run([binary, "train", "--quiet", "--log", log, *args],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return ("refused", p.returncode, p.stderr.strip().splitlines()[-1:])
        hashes = [l for l in p.stdout.splitlines() if l.startswith("params_hash=")]
        with open(log) as f:
            epochs = [{k: json.loads(l).get(k) for k in KEPT} for l in f if l.strip()]
        return (hashes, epochs)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    old, new = sys.argv[1:]
    failed = 0
    for wname, wargs in WORKLOADS.items():
        for mname, margs in MODES.items():
            a, b = run(old, wargs + margs), run(new, wargs + margs)
            same = a == b
            failed += not same
            shown = a[0][0] if a[0] and a[0] != "refused" else a[0]
            print(f"{'same' if same else 'DIFFERENT':9} {wname:20} {mname:24} {shown}")
            if not same:
                print(f"  old: {a}\n  new: {b}")
    print(f"{failed} run(s) differ" if failed else "every run matches")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
