#!/usr/bin/python3
"""dptrain on two machine classes of this one machine, side by side, against PyTorch.

The classes: `native` (the CPU as it is) and `avx2` (ONEDNN_MAX_CPU_ISA=AVX2,
OPENBLAS_CORETYPE=Haswell, and for PyTorch ATEN_CPU_CAPABILITY=avx2 and DNNL_MAX_CPU_ISA=AVX2):
an AVX-512 machine then runs the kernels an AVX2-only CPU would. Per class, `dptrain tune` first
measures the `--gemm auto` choice into a private cache folder (Note [Kernel wisdom] in
include/dptrain/kernel_choice.hpp); then every round runs, per class and interleaved, `dptrain
bench` once per configuration (the default `auto`, the old default onednn + owner, and the sweep
onednn/openblas/eigen x owner/buffers) and scripts/bench_pytorch.py (ATen N threads and ATen 1 +
OpenBLAS N). The table: medians over rounds of samples/s; `best` is the fastest configuration
of the sweep (auto included) by median, `auto/best` and `auto/old` are medians of per-round
ratios, `torch` the best PyTorch configuration.

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
SWEEP = [(g, w) for g in ("onednn", "openblas", "eigen") for w in ("owner", "buffers")]


def run_json(cmd, env, path):
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with open(path) as f:
        return json.load(f)


def dptrain_point(args, env, tmp, gemm, grads):
    path = os.path.join(tmp, "bench.json")
    doc = run_json([args.dptrain, "bench", "--models", args.models, "--threads", args.threads,
                    "--repeats", "1", "--seconds", str(args.seconds), "--gemm", gemm,
                    "--weight-grads", grads, "--json", path], env, path)
    return {(r["model"], r["threads"]): r["samples_per_s"] for r in doc["results"]}


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
    configs = [("auto", "auto")] + SWEEP
    runs = {}  # (class, config) -> list per round of {(model, threads): samples/s}
    for rnd in range(args.rounds):
        for c in classes:
            for g, w in configs:
                runs.setdefault((c, g + "+" + w), []).append(dptrain_point(args, envs[c], tmp, g, w))
            if not args.no_torch:
                runs.setdefault((c, "torch"), []).append(torch_points(args, envs[c], tmp))
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    report(args, classes, configs, runs)


def report(args, classes, configs, runs):
    names = [g + "+" + w for g, w in configs]
    print("| class | model | threads | auto (default) | best of sweep | auto/best | "
          "old default onednn+owner | auto/old | PyTorch best | auto/PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in classes:
        for key in sorted(runs[(c, "auto+auto")][0]):
            med = {n: statistics.median(r[key] for r in runs[(c, n)]) for n in names}
            best = max(names, key=lambda n: med[n])
            ratio = lambda a, b: statistics.median(x[key] / y[key] for x, y in
                                                   zip(runs[(c, a)], runs[(c, b)]))
            torch = (statistics.median(r[key] for r in runs[(c, "torch")])
                     if (c, "torch") in runs else float("nan"))
            torch_ratio = ratio("auto+auto", "torch") if (c, "torch") in runs else float("nan")
            print(f"| {c} | {key[0]} | {key[1]} | {med['auto+auto']:,.0f} | {best} "
                  f"{med[best]:,.0f} | {ratio('auto+auto', best):.2f} | "
                  f"{med['onednn+owner']:,.0f} | {ratio('auto+auto', 'onednn+owner'):.2f} | "
                  f"{torch:,.0f} | {torch_ratio:.2f} |")


if __name__ == "__main__":
    main()
