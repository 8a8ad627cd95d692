#!/usr/bin/python3
"""The accuracy cost of --precision bf16, side by side with fp32 in one run: Fashion-MNIST
(784-128-10 and 784-256-128-10, Adam, batch 128) and the tabular sets (blobs8 classifier, linear
regression, square), each 8-256-256-1 or 1-256-256-1: every product under 0.1 MFLOP stays fp32
(Note [Precision]), so the tabular models are sized for bf16 to really run. Then the time to
0.88 test accuracy on Fashion-MNIST (784-256-128-10, Adam, batch 128, 2 threads): the training
seconds (per-epoch "seconds" of --log, evaluation excluded) summed up to the first epoch that
reaches it.

  scripts/bf16-accuracy.py [build/dptrain]
"""
import json
import os
import subprocess
import sys
import tempfile

RUNS = [
    ("fashion-mnist 784-128-10 10 ep",
     "--data fashion-mnist --layers 784,128,10 --epochs 10 --batch-size 128"),
    ("fashion-mnist 784-256-128-10 10 ep",
     "--data fashion-mnist --layers 784,256,128,10 --epochs 10 --batch-size 128"),
    ("blobs8 8-256-256-1 30 ep", "--data blobs8 --layers 8,256,256,1 --epochs 30 --batch-size 128"),
    ("linear 8-256-256-1 (mse) 30 ep",
     "--data linear --layers 8,256,256,1 --epochs 30 --batch-size 128 --loss mse"),
    ("square 1-256-256-1 (mse) 200 ep",
     "--data square --layers 1,256,256,1 --epochs 200 --batch-size 100 --loss mse --lr 0.003"),
]
PRECISIONS = ("fp32", "bf16")


def train(binary, precision, args):
    """Runs `dptrain train --quiet --threads 2 --precision P ARGS`; its stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    done = subprocess.run([binary, "train", "--quiet", "--threads", "2", "--precision", precision,
                           *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bf16-accuracy: dptrain train {' '.join(args)} failed "
                 f"(exit status {done.returncode}): {done.stderr.strip()}")
    return done.stdout + done.stderr


def time_to_accuracy(log_path, precision, target=0.88, epochs=15):
    total = 0.0
    with open(log_path) as f:
        for line in f:
            e = json.loads(line)
            total += e["seconds"]
            if e["test_metric"] >= target:
                return (f"time to {target} test accuracy ({precision}): {total:.2f} s training, "
                        f"epoch {e['epoch']}")
    return f"time to {target} test accuracy ({precision}): not reached in {epochs} epochs ({total:.2f} s)"


def main(argv):
    if len(argv) > 1 or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0] if argv else "build/dptrain"
    for label, args in RUNS:
        for p in PRECISIONS:
            out = train(binary, p, args.split())
            final = [line[len("final test "):] for line in out.splitlines()
                     if line.startswith("final test")]
            print(f"{label:<34} {p:<5} {final[0] if final else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dptrain-bf16.") as tmp:
        for p in PRECISIONS:
            log = os.path.join(tmp, f"{p}.jsonl")
            train(binary, p, ["--data", "fashion-mnist", "--layers", "784,256,128,10", "--epochs",
                              "15", "--batch-size", "128", "--log", log])
            print(time_to_accuracy(log, p), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
