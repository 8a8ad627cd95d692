#!/usr/bin/env bash
# dptrain next to PyTorch (Debian's python3-torch) on the reference models A, B, C, xor, square
# with the same hyper-parameters.
#
#   throughput  `dptrain bench` and scripts/bench_pytorch.py alternate in one invocation: ROUNDS
#               rounds, dptrain first in odd rounds and PyTorch first in even ones; each run
#               times REPEATS windows of SECONDS per point after a warm-up. The table shows the
#               median over rounds of each run's median samples/s, and dptrain / PyTorch.
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

dptrain_install_packages python3-torch
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
run_torch() {
  local extra=()
  [ "$1" = 1 ] && extra=(--replay "$dir/replay")
  echo "== round $1: PyTorch (bench_pytorch.py)" >&2
  "$PY" "$BENCH_PY" --models "$models" --threads "$threads" --repeats "$repeats" \
    --seconds "$seconds" --json "$dir/torch-$1.json" "${extra[@]}" >"$dir/torch-$1.txt" 2>&1
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
dp, pt = {}, {}
quality_dp, quality_pt = {}, {}
meta = None
for r in range(1, rounds + 1):
    doc = json.load(open(os.path.join(d, f"dptrain-{r}.json")))
    meta = meta or doc
    for x in doc["results"]:
        dp.setdefault((x["model"], x["threads"]), []).append(x["samples_per_s"])
    for q in doc.get("quality", []):
        quality_dp[q["model"]] = q
    for x in json.load(open(os.path.join(d, f"torch-{r}.json"))):
        if x.get("kind", "throughput") == "throughput":
            pt.setdefault((x["model"], x["threads"]), []).append(x["samples_per_s"])
        else:
            quality_pt[x["model"]] = x
models = []
for (m, _) in dp:
    if m not in models:
        models.append(m)

def fmt(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"

print(f"dptrain {meta['version']} vs PyTorch on {meta['cpu_model']} ({meta['cores']} cores); "
      f"medians over {rounds} alternating round(s)")
head = f"{'model':<7}"
for t in threads:
    head += f" | {'dptrain ' + str(t) + 'T':>12} {'torch ' + str(t) + 'T':>12} {'ratio':>6}"
head += f" | {'steps':>5} {'dptrain loss':>12} {'torch loss':>10} {'metric':>6} {'dptrain':>8} {'torch':>8}"
print(head)
print("-" * len(head))
for m in models:
    line = f"{m:<7}"
    for t in threads:
        a = statistics.median(dp[(m, t)]) if (m, t) in dp else None
        b = statistics.median(pt[(m, t)]) if (m, t) in pt else None
        ratio = f"{a / b:.2f}x" if a and b else "-"
        line += f" | {fmt(a):>12} {fmt(b):>12} {ratio:>6}"
    q, p = quality_dp.get(m), quality_pt.get(m)
    if q is None or "skipped" in q:
        why = q.get("skipped", "not run") if q else "not run"
        line += f" | quality check skipped: {why}"
    else:
        pl = f"{p['loss']:.5f}" if p else "-"
        pm = f"{p['metric']:.4f}" if p else "-"
        line += (f" | {q['steps']:>5} {q['loss']:>12.5f} {pl:>10} {q['metric_name']:>6} "
                 f"{q['metric']:>8.4f} {pm:>8}")
    print(line)
print("\nsamples/s: training steps on random data (loading excluded); ratio = dptrain / PyTorch.")
print("loss/metric: after the fixed steps from the same initial parameters, data and row order,")
print("on the training rows (metric: accuracy, or MSE for square); 1 thread.")
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
