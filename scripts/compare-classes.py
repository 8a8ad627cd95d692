#!/usr/bin/python3
"""dptrain on two machine classes of this one machine, side by side, against PyTorch.

The classes: `native` (the CPU as it is) and `avx2` (ONEDNN_MAX_CPU_ISA=AVX2,
OPENBLAS_CORETYPE=Haswell, and for PyTorch ATEN_CPU_CAPABILITY=avx2 and DNNL_MAX_CPU_ISA=AVX2):
an AVX-512 machine then runs the kernels an AVX2-only CPU would. Per class, `dptrain tune` first
measures the `--gemm auto` choice into a private cache folder (Note [Kernel wisdom] in
include/dptrain/kernel_choice.hpp); then every round runs, per class, `dptrain bench --sweep`
(the default beside every kernel x weight gradients x plan, interleaved in one run: Note [Sweep]
in src/cli/bench_sweep.cpp) and scripts/bench_pytorch.py (ATen N threads and ATen 1 + OpenBLAS
N). The table: medians over rounds of samples/s; `best` is the configuration the default is
furthest behind (or ahead of) in most rounds, `auto/best` the median over rounds of the sweep's
default / best, `auto/old` the same against the old default (onednn, data/owner), and `torch`
the best PyTorch configuration with `auto/PyTorch` the median of per-round ratios.

usage: /usr/bin/python3 scripts/compare-classes.py [--models A,B,C] [--threads 1,2]
           [--rounds 3] [--seconds 0.5] [--dptrain build/dptrain] [--classes native,avx2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CLASSES = {
    "native": {},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
             "DNNL_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
}


def run_json(cmd, env, path):
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(path) as f:
        return json.load(f)


def dptrain_sweep(args, env, tmp):
    """One `bench --sweep` run: {(model, threads): sweep entry of the JSON}."""
    path = os.path.join(tmp, "bench.json")
    doc = run_json([args.dptrain, "bench", "--models", args.models, "--threads", args.threads,
                    "--repeats", "1", "--seconds", str(args.seconds), "--sweep", "--json", path],
                   env, path)
    return {(s["model"], s["threads"]): s for s in doc["sweep"]}


def torch_points(args, env, tmp):
    out = {}
    for aten in ("0", "1"):
        path = os.path.join(tmp, "torch.json")
        doc = run_json([sys.executable, os.path.join(HERE, "bench_pytorch.py"), "--models",
                        args.models, "--threads", args.threads, "--repeats", "1", "--seconds",
                        str(args.seconds), "--aten-threads", aten, "--json", path], env, path)
        for r in doc:
            key = (r["model"], r["threads"])
            out[key] = max(out.get(key, 0), r["samples_per_s"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="A,B,C")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--classes", default="native,avx2")
    ap.add_argument("--dptrain", default=os.path.join(HERE, "..", "build", "dptrain"))
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    classes = args.classes.split(",")
    tmp = tempfile.mkdtemp(prefix="dptrain-classes.")
    base = dict(os.environ, XDG_CACHE_HOME=os.path.join(tmp, "cache"), DPTRAIN_TUNING="cache")
    for v in ("ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):
        base.pop(v, None)
    envs = {c: dict(base, **CLASSES[c]) for c in classes}
    for c in classes:  # the auto choice, measured once per class
        subprocess.run([args.dptrain, "tune", "--models", args.models, "--threads", args.threads],
                       env=envs[c], check=True, stdout=subprocess.DEVNULL)
    runs = {}  # (class, "dptrain" | "torch") -> list per round
    for rnd in range(args.rounds):
        for c in classes:
            runs.setdefault((c, "dptrain"), []).append(dptrain_sweep(args, envs[c], tmp))
            if not args.no_torch:
                runs.setdefault((c, "torch"), []).append(torch_points(args, envs[c], tmp))
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    report(classes, runs)


def report(classes, runs):
    print("| class | model | threads | auto (default) | best of sweep | auto/best | "
          "old default onednn data/owner | auto/old | PyTorch best | auto/PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    nan = float("nan")
    for c in classes:
        sweeps = runs[(c, "dptrain")]
        for key in sorted(sweeps[0]):
            rounds = [r[key] for r in sweeps]
            auto = statistics.median(r["default_samples_per_s"] for r in rounds)
            bests = [r["best"] for r in rounds]
            best = max(set(bests), key=bests.count)
            configs = lambda r: {x["config"]: x for x in r["configurations"]}
            best_rate = statistics.median(configs(r)[best]["samples_per_s"] for r in rounds)
            old = "onednn data/owner"
            old_rate = statistics.median(configs(r)[old]["samples_per_s"] for r in rounds)
            auto_old = statistics.median(configs(r)[old]["default_over_this"] for r in rounds)
            auto_best = statistics.median(r["default_over_best"] for r in rounds)
            torch, torch_ratio = nan, nan
            if (c, "torch") in runs:
                t = [r[key] for r in runs[(c, "torch")]]
                torch = statistics.median(t)
                torch_ratio = statistics.median(
                    r["default_samples_per_s"] / x for r, x in zip(rounds, t))
            print(f"| {c} | {key[0]} | {key[1]} | {auto:,.0f} | {best} {best_rate:,.0f} | "
                  f"{auto_best:.2f} | {old_rate:,.0f} | {auto_old:.2f} | {torch:,.0f} | "
                  f"{torch_ratio:.2f} |")


if __name__ == "__main__":
    main()
