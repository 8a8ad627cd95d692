#!/usr/bin/python3
"""Training from a memory-mapped .npy file larger than the memory the process may use, against
the same file in memory (Note [Windowed shuffle] in src/shuffle.cpp).

Writes X.npy (ROWS x 784 float32, about 1.5 GB by default) and y.npy (10 classes) under --dir,
then trains 784-128-10 for one epoch in interleaved rounds of:
  memory/full     the file in the page cache (read once before), --shuffle full: the baseline
  memory/window   the same with --shuffle window
  limited/window  in a cgroup v1 memory group limited to --limit-mb (default 512 MB), the file
                  dropped from the page cache first (posix_fadvise DONTNEED), --shuffle window
  limited/full    (with --with-full) the same with --shuffle full, stopped after --full-timeout s
and reports the epoch's samples/s (the epoch line of dptrain's output: steps only, not the
load), the ratio limited/window : memory/full (target >= 0.8), and for the limited runs the
group's peak memory (memory.max_usage_in_bytes, page cache included) and the times the limit
was hit (memory.failcnt). Needs root and a writable /sys/fs/cgroup/memory.

    /usr/bin/python3 scripts/measure-larger-than-memory.py [--dptrain build/dptrain]
        [--rows 480000] [--limit-mb 512] [--rounds 2] [--threads 2] [--batch-size 256]
        [--dir /tmp] [--with-full] [--full-timeout 120] [--keep]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np

CGROUP = "/sys/fs/cgroup/memory"


def cpu_model():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"^Model name:\s*(.+)$", out, re.M)
    return m.group(1).strip() if m else "unknown"


def write_data(directory, rows, seed=0):
    """X.npy and y.npy, written a chunk at a time (never the whole matrix in memory)."""
    x_path, y_path = os.path.join(directory, "ltm-X.npy"), os.path.join(directory, "ltm-y.npy")
    want = 128 + rows * 784 * 4
    if os.path.exists(x_path) and os.path.getsize(x_path) == want and os.path.exists(y_path):
        return x_path, y_path
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(784, 10)).astype(np.float32)
    x = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(rows, 784))
    y = np.empty(rows, dtype=np.int64)
    for start in range(0, rows, 20000):
        end = min(rows, start + 20000)
        chunk = rng.normal(size=(end - start, 784)).astype(np.float32)
        x[start:end] = chunk
        y[start:end] = np.argmax(chunk @ w, axis=1)
    x.flush()
    del x
    np.save(y_path, y)
    return x_path, y_path


def drop_cache(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def warm_cache(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def make_group(limit_bytes):
    group = os.path.join(CGROUP, "dptrain-ltm-%d" % os.getpid())
    os.mkdir(group)
    with open(os.path.join(group, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit_bytes))
    return group


def train(args, x_path, y_path, shuffle, group=None, timeout=None):
    cmd = [args.dptrain, "train", "--data", "npy:%s,%s" % (x_path, y_path), "--layers",
           "784,128,10", "--epochs", "1", "--test-data", "none", "--threads", str(args.threads),
           "--batch-size", str(args.batch_size), "--shuffle", shuffle]

    def enter_group():
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    started = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=enter_group if group else None)
    except subprocess.TimeoutExpired:
        return {"samples_s": None, "wall": time.monotonic() - started, "out": ""}
    wall = time.monotonic() - started
    if p.returncode != 0:
        sys.exit("dptrain failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    m = re.search(r"^epoch 1/1 .*samples/s (\d+)", p.stdout, re.M)
    if not m:
        sys.exit("no epoch line in dptrain's output:\n" + p.stdout)
    return {"samples_s": float(m.group(1)), "wall": wall, "out": p.stdout}


def limited(args, x_path, y_path, shuffle, timeout=None):
    drop_cache(x_path)
    group = make_group(args.limit_mb << 20)
    try:
        r = train(args, x_path, y_path, shuffle, group, timeout)
        with open(os.path.join(group, "memory.max_usage_in_bytes")) as f:
            r["peak_mb"] = int(f.read()) / 2**20
        with open(os.path.join(group, "memory.failcnt")) as f:
            r["failcnt"] = int(f.read())
    finally:
        for _ in range(50):  # the group empties when its last process is reaped
            try:
                os.rmdir(group)
                break
            except OSError:
                time.sleep(0.1)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dptrain", default="build/dptrain")
    ap.add_argument("--rows", type=int, default=480000)
    ap.add_argument("--limit-mb", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--with-full", action="store_true")
    ap.add_argument("--full-timeout", type=float, default=120)
    ap.add_argument("--keep", action="store_true", help="keep the data files")
    args = ap.parse_args()
    if not os.access(CGROUP, os.W_OK):
        sys.exit("measure-larger-than-memory: %s is not writable (needs root and cgroup v1)" % CGROUP)
    x_path, y_path = write_data(args.dir, args.rows)
    size_mb = os.path.getsize(x_path) / 2**20
    print("CPU: %s; load: %s" % (cpu_model(), os.getloadavg()))
    print("X.npy: %d x 784 float32, %.0f MB; cgroup limit %d MB (file / limit = %.1f)" %
          (args.rows, size_mb, args.limit_mb, size_mb / args.limit_mb))
    runs = {}
    for r in range(args.rounds):
        warm_cache(x_path)
        runs.setdefault("memory/full", []).append(train(args, x_path, y_path, "full"))
        runs.setdefault("memory/window", []).append(train(args, x_path, y_path, "window"))
        runs.setdefault("limited/window", []).append(limited(args, x_path, y_path, "window"))
        if args.with_full:
            runs.setdefault("limited/full", []).append(
                limited(args, x_path, y_path, "full", args.full_timeout))
        print("round %d: %s" % (r + 1, ", ".join(
            "%s %s" % (k, "%.0f samples/s" % v[-1]["samples_s"] if v[-1]["samples_s"] else
                       "no epoch in %.0f s" % v[-1]["wall"]) for k, v in runs.items())),
              flush=True)
    print("\n| run | samples/s (median) | runs | wall s | cgroup peak MB | limit hits |")
    print("| --- | --- | --- | --- | --- | --- |")
    med = {}
    for k, v in runs.items():
        done = [x["samples_s"] for x in v if x["samples_s"]]
        med[k] = statistics.median(done) if done else None
        print("| %s | %s | %s | %s | %s | %s |" % (
            k, "%.0f" % med[k] if med[k] else "no epoch in %.0f s" % args.full_timeout,
            " ".join("%.0f" % x for x in done), " ".join("%.1f" % x["wall"] for x in v),
            " ".join("%.0f" % x["peak_mb"] for x in v if "peak_mb" in x) or "-",
            " ".join(str(x["failcnt"]) for x in v if "failcnt" in x) or "-"))
    ratio = med["limited/window"] / med["memory/full"]
    print("\nlimited/window : memory/full = %.2f (target >= 0.80): %s" %
          (ratio, "met" if ratio >= 0.8 else "NOT met"))
    print("load after: %s" % (os.getloadavg(),))
    if not args.keep:
        os.remove(x_path)
        os.remove(y_path)


if __name__ == "__main__":
    main()
