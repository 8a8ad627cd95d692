#!/usr/bin/env bash
# dptrain next to PyTorch (Debian's python3-torch) on the reference models A, B, C, xor, square
# with the same hyper-parameters.
#
#   throughput  `dptrain bench` and scripts/bench_pytorch.py alternate in one invocation: ROUNDS
#               rounds, dptrain first in odd rounds and PyTorch first in even ones; each run
#               times REPEATS windows of SECONDS per point after a warm-up. PyTorch runs in
#               three configurations per round: its default (ATen N threads, OpenBLAS N), ATen 1
#               thread + OpenBLAS N (for N > 1), and the default with OMP_WAIT_POLICY=PASSIVE.
#               The table shows the median over rounds of each run's median samples/s, the best
#               PyTorch configuration (named: the one with the highest median), and dptrain /
#               best PyTorch as the median [min-max] over rounds of the per-round ratio against
#               that round's best configuration. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset
#               (a forced kernel is slower); the OpenBLAS kernel PyTorch ran is printed.
#   quality     dptrain trains each model for a fixed number of steps from fixed initial
#               parameters on learnable data (A, B: 8192 Fashion-MNIST rows; C: blobs8; xor;
#               square) in a fixed row order, and exports data + parameters + settings
#               (`dptrain bench --quality --export`); PyTorch replays the very same steps
#               (bench_pytorch.py --replay). Final loss and accuracy (MSE for square) of both.
#
# usage: scripts/compare-pytorch.sh [--models A,B,C,xor,square] [--threads 1,2] [--rounds 2]
#                                   [--repeats 3] [--seconds 0.5] [--out DIR]
# Installs python3-torch (and dptrain's build packages) when missing and builds dptrain if
# needed. --out keeps the raw JSON files and the table in DIR (default: a temporary folder).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

models=A,B,C,xor,square
threads=1,2
rounds=2
repeats=3
seconds=0.5
out=""
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare-pytorch: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "compare-pytorch: --rounds must be a positive whole number" >&2; exit 2 ;; esac

# Let OpenBLAS pick its kernel for this CPU (a workplace's forced kernel would handicap PyTorch).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
dptrain_install_packages "${DPTRAIN_OPTIONAL_PACKAGES[@]}"
dptrain_build "$DPTRAIN_ROOT/build" -DCMAKE_BUILD_TYPE=Release
DPTRAIN="$DPTRAIN_ROOT/build/dptrain"
PY=/usr/bin/python3  # Debian's torch lives in the system interpreter
BENCH_PY="$DPTRAIN_ROOT/scripts/bench_pytorch.py"

if [ -n "$out" ]; then
  mkdir -p "$out"
  dir="$(cd "$out" && pwd)"
else
  dir="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-compare.XXXXXX")"
  trap 'rm -rf "$dir"' EXIT
fi

run_dptrain() {  # round number
  local extra=()
  [ "$1" = 1 ] && extra=(--quality --export "$dir/replay")
  echo "== round $1: dptrain bench" >&2
  "$DPTRAIN" bench --models "$models" --threads "$threads" --repeats "$repeats" \
    --seconds "$seconds" --json "$dir/dptrain-$1.json" "${extra[@]}" >"$dir/dptrain-$1.txt"
}
# Thread counts above 1: where ATen 1 + OpenBLAS N differs from the default.
multi="$(tr ',' '\n' <<<"$threads" | awk '$1 > 1' | paste -sd, -)"
run_torch() {  # round number; three configurations (see above)
  local extra=()
  [ "$1" = 1 ] && extra=(--replay "$dir/replay")
  echo "== round $1: PyTorch (bench_pytorch.py): default, ATen 1 + OpenBLAS N, OMP passive" >&2
  "$PY" "$BENCH_PY" --models "$models" --threads "$threads" --repeats "$repeats" \
    --seconds "$seconds" --json "$dir/torch-$1.json" "${extra[@]}" >"$dir/torch-$1.txt" 2>&1
  if [ -n "$multi" ]; then
    "$PY" "$BENCH_PY" --models "$models" --threads "$multi" --aten-threads 1 --repeats "$repeats" \
      --seconds "$seconds" --json "$dir/torch-aten1-$1.json" >"$dir/torch-aten1-$1.txt" 2>&1
  fi
  OMP_WAIT_POLICY=PASSIVE "$PY" "$BENCH_PY" --models "$models" --threads "$threads" \
    --repeats "$repeats" --seconds "$seconds" --json "$dir/torch-passive-$1.json" \
    >"$dir/torch-passive-$1.txt" 2>&1
}
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
for ((r = 1; r <= rounds; r++)); do
  # Round 1 also runs the quality check: dptrain exports it before PyTorch replays it.
  if [ $((r % 2)) = 1 ]; then run_dptrain "$r"; run_torch "$r"; else run_torch "$r"; run_dptrain "$r"; fi
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"

"$PY" - "$dir" "$rounds" "$threads" "$load_before" "$load_after" <<'EOF' | tee "$dir/compare.txt"
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
EOF
if [ -n "$out" ]; then echo "raw results and the table: $dir" >&2; fi
