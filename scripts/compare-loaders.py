#!/usr/bin/python3
"""Loading a numeric CSV: dptrain's reader against pandas.read_csv (C engine, float32) and
numpy.loadtxt on the same file, in interleaved rounds (one run of each per round), with medians
and spread. The file is written by numpy.savetxt: ROWS rows of FEATURES float features
(standard normal, '%.6g') and an integer label, with a header line; a gzip'ed copy too.

dptrain's load time is the "data loaded in" of its summary line (`train --epochs 1 --test-data
none` with a 8-unit hidden layer); its peak resident memory (VmHWM, polled) is
that of the whole run, set against the float32 feature matrix; the wall time of that run is its
time to the end of the first epoch. CPU seconds (user + system) are the whole dptrain run's
(start-up and the epoch included) and the Python process's during the call: on a machine shared
with other work, wall times include waiting for a core, CPU times do not.

    /usr/bin/python3 scripts/compare-loaders.py [--dptrain build/dptrain] [--rows 400000]
        [--features 50] [--rounds 5] [--threads 1,2] [--dir /tmp] [--skip-loadtxt]

Prints a Markdown table and the targets of issue 25 with a verdict for each.
"""

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd


def cpu_model():
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    m = re.search(r"^Model name:\s*(.+)$", out, re.M)
    return m.group(1).strip() if m else "unknown"


def write_data(path, rows, features, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    y = rng.integers(0, 2, rows)
    header = ",".join([f"f{i}" for i in range(features)] + ["label"])
    data = np.column_stack([x.astype(np.float64), y])
    np.savetxt(path, data, delimiter=",", header=header, comments="",
               fmt=["%.6g"] * features + ["%d"])
    with open(path, "rb") as src, gzip.open(path + ".gz", "wb", compresslevel=6) as dst:
        while chunk := src.read(1 << 24):
            dst.write(chunk)


def run_dptrain(binary, spec, threads):
    """(load seconds, wall seconds to the end of epoch 1, peak RSS bytes, CPU seconds of the
    whole run) of one run."""
    cmd = [binary, "train", "--data", spec, "--label", "label", "--hidden", "8",
           "--epochs", "1", "--test-data", "none", "--threads", str(threads), "--quiet"]
    start = time.perf_counter()
    p = TrackedPopen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = [0]
    watcher = threading.Thread(target=watch_hwm, args=(p.pid, peak))
    watcher.start()
    out, err = p.communicate()  # reaps the child: its CPU time comes from wait4
    wall = time.perf_counter() - start
    watcher.join()
    if p.returncode != 0:
        sys.exit(f"dptrain failed ({p.returncode}): {err.decode()[-500:]}")
    m = re.search(r"data loaded in ([0-9.]+)s", out.decode())
    if not m:
        sys.exit("no 'data loaded in' in dptrain's summary line:\n" + out.decode())
    return float(m.group(1)), wall, peak[0], p.rusage_cpu


def watch_hwm(pid, peak):
    """Polls VmHWM (peak resident memory) of `pid` every 2 ms until it exits. Not ru_maxrss:
    that counts the Python parent's pages the child had between fork and exec."""
    while True:
        try:
            with open(f"/proc/{pid}/comm") as f:
                started = f.read().strip() == "dptrain"  # exec'ed: no longer Python's copy
            with open(f"/proc/{pid}/status") as f:
                m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        except OSError:
            return
        if started and not m:
            return  # a zombie: exited
        if started:
            peak[0] = max(peak[0], int(m.group(1)) * 1024)
        time.sleep(0.002)


class TrackedPopen(subprocess.Popen):
    """Popen that keeps the child's CPU time from the wait4 that reaps it."""

    rusage_cpu = 0.0

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self.rusage_cpu = ru.ru_utime + ru.ru_stime
        return pid, sts



def timed(fn):
    """(wall seconds, CPU seconds of this process) of fn()."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dptrain", default="build/dptrain")
    ap.add_argument("--rows", type=int, default=400000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--skip-loadtxt", action="store_true", help="numpy.loadtxt is the slowest")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    path = os.path.join(a.dir, f"loaders-{a.rows}x{a.features}.csv")
    if not os.path.exists(path + ".gz"):
        write_data(path, a.rows, a.features)
    size = os.path.getsize(path)
    matrix = a.rows * a.features * 4

    contenders = {}
    for t in threads:
        contenders[f"dptrain csv, {t} thread{'s' if t > 1 else ''}"] = ("dp", f"csv:{path}", t)
    contenders[f"dptrain csv.gz, {threads[0]} thread"] = ("dp", f"csv:{path}.gz", threads[0])
    contenders["pandas.read_csv(dtype=float32, engine='c')"] = (
        "py", lambda: pd.read_csv(path, dtype=np.float32, engine="c"))
    if not a.skip_loadtxt:
        contenders["numpy.loadtxt(dtype=float32)"] = (
            "py", lambda: np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32))
    load_before = os.getloadavg()
    times = {k: [] for k in contenders}
    walls = {k: [] for k in contenders}
    rss = {k: [] for k in contenders}
    cpu = {k: [] for k in contenders}
    for _ in range(a.rounds):  # interleaved: one run of each per round
        for name, c in contenders.items():
            if c[0] == "dp":
                load, wall, peak, used = run_dptrain(a.dptrain, c[1], c[2])
                times[name].append(load)
                walls[name].append(wall)
                rss[name].append(peak)
                cpu[name].append(used)
            else:
                seconds, used = timed(c[1])
                times[name].append(seconds)
                cpu[name].append(used)

    print(f"CPU: {cpu_model()}; file: {a.rows} rows x {a.features} features + label, "
          f"{size / 1e6:.1f} MB of CSV ({os.path.getsize(path + '.gz') / 1e6:.1f} MB gzip'ed); "
          f"float32 matrix {matrix / 1e6:.1f} MB; {a.rounds} interleaved rounds; load average "
          f"(1, 5, 15 min) {'/'.join(f'{x:.2f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.2f}' for x in os.getloadavg())} after\n")
    print("| reader | load s (median, min-max) | MB/s of CSV text | CPU s (median) | "
          "to end of epoch 1 s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    med = {}
    for name in contenders:
        m, lo, hi = summary(times[name])
        med[name] = m
        wall = f"{statistics.median(walls[name]):.2f}" if walls[name] else "-"
        peak = f"{max(rss[name]) / 1e6:.0f}" if rss[name] else "-"
        used = statistics.median(cpu[name])
        print(f"| {name} | {m:.3f} ({lo:.3f}-{hi:.3f}) | {size / m / 1e6:.0f} | {used:.2f} | "
              f"{wall} | {peak} |")

    names = list(contenders)
    one, pandas_name = names[0], "pandas.read_csv(dtype=float32, engine='c')"
    gz = [n for n in names if "csv.gz" in n][0]
    checks = [("dptrain >= 250 MB/s at 1 thread", size / med[one] / 1e6 >= 250),
              ("dptrain >= 5x pandas at 1 thread", med[pandas_name] / med[one] >= 5),
              ("gzip'ed CSV >= 100 MB/s of text", size / med[gz] / 1e6 >= 100),
              ("peak RSS <= 1.3 x matrix + 64 MB",
               max(rss[one]) <= 1.3 * matrix + 64e6)]
    if len(threads) > 1:
        two = names[1]
        checks.insert(1, (f"{threads[1]} threads >= 1.7x 1 thread", med[one] / med[two] >= 1.7))
        print(f"\nspeed-up at {threads[1]} threads: {med[one] / med[two]:.2f}x")
    print(f"dptrain / pandas at 1 thread: {med[pandas_name] / med[one]:.1f}x")
    print(f"peak RSS at 1 thread: {max(rss[one]) / 1e6:.0f} MB = "
          f"{max(rss[one]) / matrix:.2f} x the matrix "
          f"(target {(1.3 * matrix + 64e6) / 1e6:.0f} MB)\n")
    for what, ok in checks:
        print(f"- {what}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
