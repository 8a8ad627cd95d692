#!/usr/bin/python3
"""The table of scripts/compare-pytorch.sh: reads the JSON files its rounds wrote in DIR
(dptrain-R.json of `dptrain bench --json`, torch-R.json, torch-aten1-R.json and
torch-passive-R.json of scripts/bench_pytorch.py) and prints samples/s per model and thread
count (medians over rounds), the best PyTorch configuration, dptrain / best PyTorch per round
(median [min-max]), the quality check's losses, and the load average around the run.

  compare-pytorch-table.py DIR ROUNDS THREADS LOAD_BEFORE LOAD_AFTER
"""
import json, os, statistics, sys

d, rounds, threads = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3].split(",")]
CONFIGS = {"torch": "default", "torch-aten1": "ATen 1 + OpenBLAS N", "torch-passive": "OMP passive"}
dp = {}                                # (model, threads) -> {round: samples/s}
pt = {c: {} for c in CONFIGS}          # config -> (model, threads) -> {round: samples/s}
quality_dp, quality_pt = {}, {}
meta, kernel = None, None
for r in range(1, rounds + 1):
    doc = json.load(open(os.path.join(d, f"dptrain-{r}.json")))
    meta = meta or doc
    for x in doc["results"]:
        dp.setdefault((x["model"], x["threads"]), {})[r] = x["samples_per_s"]
    for q in doc.get("quality", []):
        quality_dp[q["model"]] = q
    for c in CONFIGS:
        path = os.path.join(d, f"{c}-{r}.json")
        if not os.path.exists(path):
            continue
        for x in json.load(open(path)):
            if x.get("kind", "throughput") == "throughput":
                pt[c].setdefault((x["model"], x["threads"]), {})[r] = x["samples_per_s"]
                kernel = kernel or (x.get("blas_info") or {}).get("corename")
            elif c == "torch":
                quality_pt[x["model"]] = x
models = []
for (m, _) in dp:
    if m not in models:
        models.append(m)


def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def best_config(key):
    """The PyTorch configuration with the highest median samples/s over rounds."""
    meds = {c: statistics.median(pt[c][key].values()) for c in CONFIGS if key in pt[c]}
    return max(meds, key=meds.get) if meds else None


def ratio_vs_best(key):
    """dptrain / the best configuration of the same round, one ratio per round."""
    out = []
    for r, a in dp.get(key, {}).items():
        vals = [pt[c][key][r] for c in CONFIGS if key in pt[c] and r in pt[c][key]]
        if vals:
            out.append(a / max(vals))
    return out


print(f"dptrain {meta['version']} vs PyTorch on {meta['cpu_model']} ({meta['cores']} cores); "
      f"medians over {rounds} interleaved round(s)")
if meta.get("topology"):
    print(f"machine: {meta['topology']['description']}")
print(f"dptrain's GEMM: {meta.get('gemm', 'unknown')}; PyTorch's OpenBLAS kernel: "
      f"{kernel or 'unknown'} (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset)")
head = (f"{'model':<7} {'thr':>3} | {'dptrain':>11} | {'default':>11} {'ATen1+BLAS':>11} "
        f"{'passive':>11} | {'best PyTorch':<20} | dptrain / best [min-max]")
print(head)
print("-" * len(head))
for m in models:
    for t in threads:
        key = (m, t)
        a = statistics.median(dp[key].values()) if key in dp else None
        cols = [statistics.median(pt[c][key].values()) if key in pt[c] else None for c in CONFIGS]
        ratios = ratio_vs_best(key)
        rtext = (f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]"
                 if ratios else "-")
        print(f"{m:<7} {t:>3} | {fmt(a):>11} | " + " ".join(f"{fmt(v):>11}" for v in cols) +
              f" | {CONFIGS.get(best_config(key), '-'):<20} | {rtext}")
print()
for m in models:
    q, p = quality_dp.get(m), quality_pt.get(m)
    if q is None or "skipped" in q:
        print(f"{m:<7} quality check skipped: {q.get('skipped', 'not run') if q else 'not run'}")
        continue
    pl = f"{p['loss']:.5f}" if p else "-"
    pm = f"{p['metric']:.4f}" if p else "-"
    print(f"{m:<7} after {q['steps']} steps: loss dptrain {q['loss']:.5f} / PyTorch {pl}; "
          f"{q['metric_name']} {q['metric']:.4f} / {pm}")
print("\nsamples/s: training steps on random data (loading excluded), median over rounds;")
print("dptrain / best: per round, dptrain against that round's best PyTorch configuration.")
print("loss/metric: after the fixed steps from the same initial parameters, data and row order,")
print("on the training rows (metric: accuracy, or MSE for square); 1 thread, PyTorch default.")
before, after = sys.argv[4] or "?", sys.argv[5] or "?"
print(f"load average (1, 5, 15 min): {before} before, {after} after")
try:
    if float(before.split()[0]) > 0.5:
        print("note: the machine was busy before the run (another process shared the cores): the "
              "thread figures, 2 threads above all, understate both frameworks")
except ValueError:
    pass
