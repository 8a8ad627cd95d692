#!/usr/bin/env bash
# Kernels side by side in one session, interleaved in rounds: dptrain (oneDNN fp32, oneDNN bf16,
# OpenBLAS fp32) and PyTorch (Debian's python3-torch) in its default and its best 2-thread
# configurations (ATen 1 thread + OpenBLAS 2; OMP_WAIT_POLICY=PASSIVE). Prints the median
# samples/s of every configuration and the ratios per round (median and range).
#   scripts/measure-kernels.sh [build/dptrain] [rounds]
set -euo pipefail
bin="${1:-build/dptrain}"
rounds="${2:-3}"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE  # the workplace's forced kernel is slower
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
py=/usr/bin/python3
bench() { "$bin" bench --models "$1" --threads 1,2 --repeats 3 --seconds 0.5 --json "$2" "${@:3}" >/dev/null; }
torch() { "$py" "$(dirname "$0")/bench_pytorch.py" --models A,B,C --seconds 1 --repeats 3 --json "$@" >/dev/null 2>&1; }
for r in $(seq "$rounds"); do
  bench A,B,C "$out/onednn-$r.json" --gemm onednn
  torch "$out/torch-$r.json" --threads 1,2
  bench A,B,C "$out/bf16-$r.json" --gemm onednn --precision bf16
  torch "$out/torch-aten1-$r.json" --threads 2 --aten-threads 1
  bench A,B,C "$out/openblas-$r.json" --gemm openblas
  OMP_WAIT_POLICY=PASSIVE torch "$out/torch-passive-$r.json" --threads 2
done
"$py" - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(name, r):
    doc = json.load(open(f"{out}/{name}-{r}.json"))
    rows = doc["results"] if isinstance(doc, dict) else doc
    return {(x["model"], x["threads"]): x for x in rows if x.get("kind", "throughput") == "throughput"}
cfgs = ["onednn", "bf16", "openblas", "torch", "torch-aten1", "torch-passive"]
runs = {c: [load(c, r) for r in range(1, rounds + 1)] for c in cfgs}
if "fp32_fma_peak_gflops" in json.load(open(f"{out}/onednn-1.json")):
    d = json.load(open(f"{out}/onednn-1.json"))
    print(f"peaks (round 1): fp32 FMA {d['fp32_fma_peak_gflops']:.1f}, bf16 dot {d['bf16_dot_peak_gflops']:.1f} GFLOP/s")
def sps(c, key, r):
    x = runs[c][r].get(key)
    return x["samples_per_s"] if x else None
def best_torch(key, r):
    vals = [v for c in ("torch", "torch-aten1", "torch-passive") if (v := sps(c, key, r))]
    return max(vals) if vals else None
for m in ("A", "B", "C"):
    for t in (1, 2):
        key = (m, t)
        line = f"{m} {t}T:"
        for c in cfgs:
            v = [sps(c, key, r) for r in range(rounds)]
            v = [x for x in v if x]
            if v:
                line += f"  {c} {statistics.median(v):,.0f}"
        print(line)
        for c in ("onednn", "bf16", "openblas"):
            ratios = [sps(c, key, r) / best_torch(key, r) for r in range(rounds)
                      if sps(c, key, r) and best_torch(key, r)]
            if ratios:
                print(f"    {c}/best PyTorch: median {statistics.median(ratios):.2f}x "
                      f"[{min(ratios):.2f}-{max(ratios):.2f}]")
        fr = [runs["onednn"][r][key].get("fp32_peak_fraction") for r in range(rounds)]
        fr = [x for x in fr if x]
        if fr:
            print(f"    onednn fp32 % of FMA peak: median {100 * statistics.median(fr):.0f}%")
        b = [sps("bf16", key, r) / sps("onednn", key, r) for r in range(rounds)]
        print(f"    bf16/fp32: median {statistics.median(b):.2f}x [{min(b):.2f}-{max(b):.2f}]")
PY
