#!/usr/bin/env bash
# shellcheck disable=SC2154  # the plot variables come from the generated vars.sh
# Draws the curves of a training log written by `dptrain train --log run.jsonl` (one JSON object
# per epoch: epoch, train_loss, train_metric, val_loss, val_metric, test_loss, test_metric, lr,
# threads, samples_per_s, seconds, timestamp) as PNGs (gnuplot, pngcairo):
#   PREFIX-loss.png    train / validation / test loss per epoch
#   PREFIX-metric.png  train / validation / test metric per epoch (accuracy, or MSE for
#                      regression), with the learning rate on the right axis
# Series that are missing or null in every line are left out; lines without "epoch" (e.g. a
# header or summary object) are skipped. PREFIX defaults to the log's path without .jsonl.
#
# usage: scripts/plot-training.sh run.jsonl [PREFIX]
# Needs gnuplot (Debian gnuplot-nox) and python3 (standard library only).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: scripts/plot-training.sh run.jsonl [PREFIX]" >&2
  exit 2
fi
log="$1"
[ -r "$log" ] || { echo "plot-training: cannot read '$log'" >&2; exit 2; }
prefix="${2:-${log%.jsonl}}"
command -v gnuplot >/dev/null || { echo "plot-training: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

tmp="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-plot.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# JSONL -> whitespace-separated columns (NaN for missing values) + shell variables naming the
# series present.
"$PY" - "$log" "$tmp/curves.dat" >"$tmp/vars.sh" <<'EOF'
import json, math, shlex, sys

path, out = sys.argv[1], sys.argv[2]
cols = ["epoch", "train_loss", "val_loss", "test_loss", "train_metric", "val_metric",
        "test_metric", "lr"]
rows, present, metric_name = [], set(), None
with open(path) as f:
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            sys.exit(f"plot-training: '{path}' line {n} is not JSON: {e}")
        if not isinstance(obj, dict) or obj.get("epoch") is None:
            continue
        metric_name = metric_name or obj.get("metric_name")
        row = []
        for c in cols:
            v = obj.get(c)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                row.append(repr(float(v)))
                present.add(c)
            else:
                row.append("NaN")
        rows.append(row)
if not rows:
    sys.exit(f"plot-training: '{path}' has no epoch lines (objects with an \"epoch\" key)")
rows.sort(key=lambda r: float(r[0]))
with open(out, "w") as f:
    f.write("# " + " ".join(cols) + "\n")
    for r in rows:
        f.write(" ".join(r) + "\n")
for i, c in enumerate(cols):
    print(f"col_{c}={i + 1 if c in present else 0}")
print("epochs=" + str(len(rows)))
print("metric_label=" + shlex.quote(
    metric_name if isinstance(metric_name, str) else "metric (accuracy, or MSE for regression)"))
EOF
# shellcheck disable=SC1091
source "$tmp/vars.sh"

style() { case "$1" in train) echo "lc rgb '#1f77b4' pt 7" ;; val) echo "lc rgb '#ff7f0e' pt 5" ;; *) echo "lc rgb '#2ca02c' pt 9" ;; esac; }
series() {  # kind (loss|metric) -> plot clauses for the columns present
  local kind="$1" out="" set col
  for set in train val test; do
    col="col_${set}_$kind"
    if [ "${!col}" != 0 ]; then
      local name=$set
      [ $set = val ] && name=validation
      out+="${out:+, }'$tmp/curves.dat' using 1:${!col} with linespoints lw 2 ps 0.8 $(style $set) title '$name'"
    fi
  done
  echo "$out"
}
common="set terminal pngcairo size 1000,600 enhanced font 'DejaVu Sans,11' noenhanced
set title \"$(basename "$log"): $epochs epoch(s)\"
set grid
set key outside right top box
set xlabel 'epoch'
set datafile missing 'NaN'"
[ "$epochs" -le 20 ] && common+=$'\n'"set xtics 1"

loss_plots="$(series loss)"
if [ -n "$loss_plots" ]; then
  gnuplot <<EOF
$common
set output '$prefix-loss.png'
set ylabel 'loss'
plot $loss_plots
EOF
  echo "$prefix-loss.png"
else
  echo "plot-training: no loss values in '$log'; $prefix-loss.png not drawn" >&2
fi

metric_plots="$(series metric)"
if [ -n "$metric_plots" ]; then
  lr=""
  if [ "$col_lr" != 0 ]; then
    lr=", '$tmp/curves.dat' using 1:$col_lr axes x1y2 with lines dt 2 lw 1.5 lc rgb 'gray40' title 'learning rate (right axis)'"
  fi
  gnuplot <<EOF
$common
set output '$prefix-metric.png'
set ylabel '$metric_label'
$([ -n "$lr" ] && printf "set y2label 'learning rate'\nset y2tics\nset ytics nomirror\nset format y2 '%%.1e'")
plot $metric_plots$lr
EOF
  echo "$prefix-metric.png"
else
  echo "plot-training: no metric values in '$log'; $prefix-metric.png not drawn" >&2
fi
if [ -z "$loss_plots$metric_plots" ]; then exit 2; fi
