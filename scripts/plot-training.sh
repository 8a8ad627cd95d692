#!/usr/bin/env bash
# shellcheck disable=SC2154  # the plot variables come from the generated vars.sh
# Draws the curves of a training log written by `dptrain train --log run.jsonl` (one JSON object
# per epoch: epoch, train_loss, train_metric, val_loss, val_metric, test_loss, test_metric, lr,
# schedule, threads, samples_per_s, seconds, timestamp) as PNGs (gnuplot, pngcairo):
#   PREFIX-loss.png    train / validation / test loss per epoch
#   PREFIX-metric.png  train / validation / test metric per epoch (accuracy, or MSE for
#                      regression), with the learning rate on the right axis when it changes
# With validation, the epoch of the lowest validation loss (the weights early stopping restores)
# is marked on both. A constant learning rate is named in the title rather than drawn on an axis
# of its own; a step schedule is drawn as steps (the rate logged for an epoch held over it).
# Series that are missing or null in every line are left out; lines without "epoch" (e.g. a
# header or summary object) are skipped. Axis ranges are computed here, so a constant series
# (a flat accuracy, one epoch) draws without gnuplot's "empty range" warnings.
# --log-y draws losses and metrics on a logarithmic axis. PREFIX defaults to the log's path
# without .jsonl.
#
# usage: scripts/plot-training.sh [--log-y] run.jsonl [PREFIX]
# Needs gnuplot (Debian gnuplot-nox) and python3 (standard library only). gnuplot rather than
# matplotlib: it is already a dependency (Debian's python3-matplotlib is not installed by
# scripts/setup.sh), and everything asked of these plots is a few lines of it.
set -euo pipefail

usage() { echo "usage: scripts/plot-training.sh [--log-y] run.jsonl [PREFIX]" >&2; exit 2; }
log_y=0
if [ "${1:-}" = --log-y ]; then log_y=1; shift; fi
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then usage; fi
log="$1"
[ -r "$log" ] || { echo "plot-training: cannot read '$log'" >&2; exit 2; }
prefix="${2:-${log%.jsonl}}"
command -v gnuplot >/dev/null || { echo "plot-training: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

tmp="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-plot.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# JSONL -> whitespace-separated columns (NaN for missing values) + shell variables: the series
# present, the axis ranges, the best epoch and how to draw the learning rate.
"$PY" - "$log" "$tmp/curves.dat" "$log_y" >"$tmp/vars.sh" <<'EOF'
import json, math, shlex, sys

path, out, log_y = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
cols = ["epoch", "train_loss", "val_loss", "test_loss", "train_metric", "val_metric",
        "test_metric", "lr"]
rows, present, metric_name, schedule = [], set(), None, None
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
        # "metric" names it in dptrain's logs ("acc" or "mse"); "metric_name" in older ones.
        for key in ("metric", "metric_name"):
            if not metric_name and isinstance(obj.get(key), str):
                metric_name = {"acc": "accuracy", "mse": "MSE"}.get(obj[key], obj[key])
        schedule = schedule or obj.get("schedule")
        row = []
        for c in cols:
            v = obj.get(c)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                row.append(float(v))
                present.add(c)
            else:
                row.append(math.nan)
        rows.append(row)
if not rows:
    sys.exit(f"plot-training: '{path}' has no epoch lines (objects with an \"epoch\" key)")
rows.sort(key=lambda r: r[0])
with open(out, "w") as f:
    f.write("# " + " ".join(cols) + "\n")
    for r in rows:
        f.write(" ".join("NaN" if math.isnan(v) else repr(v) for v in r) + "\n")

def values(names):
    idx = [cols.index(c) for c in names]
    return [r[i] for r in rows for i in idx if not math.isnan(r[i])]

def span(vs, log):
    """A '[lo:hi]' range for gnuplot that is never empty (a constant series gets a margin)."""
    if log:
        vs = [v for v in vs if v > 0]
    if not vs:
        return "[*:*]"
    lo, hi = min(vs), max(vs)
    if log:
        lo, hi = (lo / 1.5, hi * 1.5) if hi <= lo * 1.0001 else (lo / 1.1, hi * 1.1)
    else:
        pad = (hi - lo) * 0.05 if hi > lo else max(abs(lo) * 0.05, 1e-3)
        lo, hi = lo - pad, hi + pad
    return f"[{lo!r}:{hi!r}]"

def log_tics(vs):
    """'set ytics (...)' for a log axis: gnuplot labels only powers of 10, so a range within one
    decade would get no labels; 1-9 (or 1, 2, 5) times each power instead."""
    vs = [v for v in vs if v > 0]
    if not log_y or not vs:
        return ""
    lo, hi = min(vs) / 1.5, max(vs) * 1.5
    for mults in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1,)):
        tics = [m * 10.0 ** d for d in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                for m in mults if lo <= m * 10.0 ** d <= hi]
        if len(tics) <= 12:
            break
    return "set ytics (" + ", ".join(f"{t:.3g}" for t in tics) + ")" if tics else ""

for i, c in enumerate(cols):
    print(f"col_{c}={i + 1 if c in present else 0}")
print("loss_tics=" + shlex.quote(log_tics(values(["train_loss", "val_loss", "test_loss"]))))
print("metric_tics=" + shlex.quote(
    log_tics(values(["train_metric", "val_metric", "test_metric"]))))
epochs = [r[0] for r in rows]
print("epochs=" + str(len(rows)))
first, last = epochs[0], epochs[-1]
print("xrange=" + shlex.quote(f"[{first - 0.5!r}:{last + 0.5!r}]" if last == first
                              else f"[{first!r}:{last!r}]"))
print("loss_range=" + shlex.quote(span(values(["train_loss", "val_loss", "test_loss"]), log_y)))
print("metric_range=" + shlex.quote(
    span(values(["train_metric", "val_metric", "test_metric"]), log_y)))
# The best epoch: the lowest validation loss, the first of equals (early stopping's choice).
best = None
for r in rows:
    v = r[cols.index("val_loss")]
    if not math.isnan(v) and (best is None or v < best[1]):
        best = (r[0], v)
print("best_epoch=" + (f"{best[0]:g}" if best else "''"))
print("best_loss=" + (shlex.quote(f"{best[1]:.4g}") if best else "''"))
# Learning rate: constant -> named in the title; changing -> right axis, as steps for a step
# schedule, on a log axis when it spans a factor of 10 or more without reaching 0.
lrs = values(["lr"])
lr_mode, lr_text, lr_range, lr_log = "none", "", "[*:*]", 0
if lrs:
    if max(lrs) == min(lrs):
        lr_mode, lr_text = "constant", f"learning rate {lrs[0]:.4g} (constant)"
    else:
        lr_mode = "fsteps" if schedule == "step" else "lines"
        lr_log = 1 if min(lrs) > 0 and max(lrs) >= 10 * min(lrs) else 0
        lr_range = span(lrs, lr_log)
print("lr_mode=" + lr_mode)
print("lr_text=" + shlex.quote(lr_text))
print("lr_range=" + shlex.quote(lr_range))
print("lr_log=" + str(lr_log))
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
subtitle="$epochs epoch(s)"
[ -n "$lr_text" ] && subtitle+=", $lr_text"
common="set terminal pngcairo size 1000,600 enhanced font 'DejaVu Sans,11' noenhanced
set title \"$(basename "$log"): $subtitle\"
set grid
set key outside right top box
set xlabel 'epoch'
set xrange $xrange
set datafile missing 'NaN'"
[ "$epochs" -le 20 ] && common+=$'\n'"set xtics 1"
best=""  # a vertical line at the best epoch, named in the key (a label would cross the curves)
if [ -n "$best_epoch" ]; then
  common+=$'\n'"set arrow from $best_epoch, graph 0 to $best_epoch, graph 1 nohead dt 2 lw 1.5 lc rgb '#d62728'"
  best=", NaN with lines dt 2 lw 1.5 lc rgb '#d62728' title 'best epoch $best_epoch (val loss $best_loss)'"
fi
log_axis=""
[ "$log_y" = 1 ] && log_axis="set logscale y"

loss_plots="$(series loss)"
if [ -n "$loss_plots" ]; then
  gnuplot <<EOF
$common
$log_axis
set output '$prefix-loss.png'
set ylabel 'loss'
set yrange $loss_range
$loss_tics
plot $loss_plots$best
EOF
  echo "$prefix-loss.png"
else
  echo "plot-training: no loss values in '$log'; $prefix-loss.png not drawn" >&2
fi

metric_plots="$(series metric)"
if [ -n "$metric_plots" ]; then
  lr="" lr_axis=""
  if [ "$lr_mode" = lines ] || [ "$lr_mode" = fsteps ]; then
    lr=", '$tmp/curves.dat' using 1:$col_lr axes x1y2 with $lr_mode dt 2 lw 1.5 lc rgb 'gray40' title 'learning rate (right axis)'"
    lr_axis="set y2label 'learning rate'
set y2tics
set ytics nomirror
set y2range $lr_range
set format y2 '%.1e'"
    [ "$lr_log" = 1 ] && lr_axis+=$'\n'"set logscale y2"
  fi
  gnuplot <<EOF
$common
$log_axis
set output '$prefix-metric.png'
set ylabel '$metric_label'
set yrange $metric_range
$metric_tics
$lr_axis
plot $metric_plots$lr$best
EOF
  echo "$prefix-metric.png"
else
  echo "plot-training: no metric values in '$log'; $prefix-metric.png not drawn" >&2
fi
if [ -z "$loss_plots$metric_plots" ]; then exit 2; fi
