#!/usr/bin/python3
"""Kernels side by side in one run, interleaved in rounds: dptrain (oneDNN fp32, oneDNN bf16,
OpenBLAS fp32) and PyTorch (Debian's python3-torch) in its default and its best 2-thread
configurations (ATen 1 thread + OpenBLAS 2; OMP_WAIT_POLICY=PASSIVE). Prints the median
samples/s of every configuration and the ratios per round (median and range).

  /usr/bin/python3 scripts/measure-kernels.py [build/dptrain] [rounds]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = ["onednn", "bf16", "openblas", "torch", "torch-aten1", "torch-passive"]
TORCH = ("torch", "torch-aten1", "torch-passive")


def run(cmd, extra_env=None):
    env = dict(os.environ, **(extra_env or {}))
    # The workplace's forced OpenBLAS kernel is slower: let OpenBLAS pick its own.
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        sys.exit(f"measure-kernels: {' '.join(cmd)} failed (exit status {done.returncode})")


def measure(binary, rounds, out):
    def bench(json_path, *extra):
        run([binary, "bench", "--models", "A,B,C", "--threads", "1,2", "--repeats", "3",
             "--seconds", "0.5", "--json", json_path, *extra])

    def torch(json_path, *extra, env=None):
        run(["/usr/bin/python3", os.path.join(HERE, "bench_pytorch.py"), "--models", "A,B,C",
             "--seconds", "1", "--repeats", "3", "--json", json_path, *extra], env)

    for r in range(1, rounds + 1):
        bench(f"{out}/onednn-{r}.json", "--gemm", "onednn")
        torch(f"{out}/torch-{r}.json", "--threads", "1,2")
        bench(f"{out}/bf16-{r}.json", "--gemm", "onednn", "--precision", "bf16")
        torch(f"{out}/torch-aten1-{r}.json", "--threads", "2", "--aten-threads", "1")
        bench(f"{out}/openblas-{r}.json", "--gemm", "openblas")
        torch(f"{out}/torch-passive-{r}.json", "--threads", "2", env={"OMP_WAIT_POLICY": "PASSIVE"})


def load(out, name, r):
    with open(f"{out}/{name}-{r}.json") as f:
        doc = json.load(f)
    rows = doc["results"] if isinstance(doc, dict) else doc
    return {(x["model"], x["threads"]): x for x in rows if x.get("kind", "throughput") == "throughput"}


def report(out, rounds):
    runs = {c: [load(out, c, r) for r in range(1, rounds + 1)] for c in CONFIGS}
    with open(f"{out}/onednn-1.json") as f:
        first = json.load(f)
    if "fp32_fma_peak_gflops" in first:
        print(f"peaks (round 1): fp32 FMA {first['fp32_fma_peak_gflops']:.1f}, "
              f"bf16 dot {first['bf16_dot_peak_gflops']:.1f} GFLOP/s")

    def sps(c, key, r):
        x = runs[c][r].get(key)
        return x["samples_per_s"] if x else None

    def best_torch(key, r):
        vals = [v for c in TORCH if (v := sps(c, key, r))]
        return max(vals) if vals else None

    for m in ("A", "B", "C"):
        for t in (1, 2):
            key = (m, t)
            line = f"{m} {t}T:"
            for c in CONFIGS:
                v = [x for x in (sps(c, key, r) for r in range(rounds)) if x]
                if v:
                    line += f"  {c} {statistics.median(v):,.0f}"
            print(line)
            for c in ("onednn", "bf16", "openblas"):
                ratios = [sps(c, key, r) / best_torch(key, r) for r in range(rounds)
                          if sps(c, key, r) and best_torch(key, r)]
                if ratios:
                    print(f"    {c}/best PyTorch: median {statistics.median(ratios):.2f}x "
                          f"[{min(ratios):.2f}-{max(ratios):.2f}]")
            fr = [x for x in (runs["onednn"][r][key].get("fp32_peak_fraction")
                              for r in range(rounds)) if x]
            if fr:
                print(f"    onednn fp32 % of FMA peak: median {100 * statistics.median(fr):.0f}%")
            b = [sps("bf16", key, r) / sps("onednn", key, r) for r in range(rounds)]
            print(f"    bf16/fp32: median {statistics.median(b):.2f}x [{min(b):.2f}-{max(b):.2f}]")


def main(argv):
    if len(argv) > 2 or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = argv[0] if argv else "build/dptrain"
    try:
        rounds = int(argv[1]) if len(argv) > 1 else 3
    except ValueError:
        rounds = 0
    if rounds < 1:
        sys.exit("measure-kernels: rounds must be a positive whole number")
    with tempfile.TemporaryDirectory(prefix="dptrain-kernels.") as out:
        measure(binary, rounds, out)
        report(out, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
