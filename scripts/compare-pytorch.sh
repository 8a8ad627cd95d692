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
multi=""
IFS=, read -ra thread_list <<<"$threads"
for t in "${thread_list[@]}"; do
  if [ "$t" -gt 1 ] 2>/dev/null; then multi+="${multi:+,}$t"; fi
done
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

"$PY" "$DPTRAIN_ROOT/scripts/compare-pytorch-table.py" "$dir" "$rounds" "$threads" "$load_before" \
  "$load_after" | tee "$dir/compare.txt"
if [ -n "$out" ]; then echo "raw results and the table: $dir" >&2; fi
