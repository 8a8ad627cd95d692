#!/usr/bin/env bash
# shellcheck disable=SC2154  # the plot variables come from the generated vars.sh
# Draws the results of `dptrain scale --out results.csv` as PNGs (gnuplot, pngcairo):
#   PREFIX-speedup.png     speedup vs threads (median, min-max bars) of both strategies, the
#                          ideal line, each strategy's Amdahl fit, noisy points ringed
#   PREFIX-efficiency.png  efficiency (speedup / threads) vs threads
#   PREFIX-split.png       time split of a step (fwd+bwd / reduce+update / wait) as stacked
#                          bars (share of the step) per strategy and thread count; each bar's
#                          tick label gives the step's wall time
#   PREFIX-throughput.png  samples/s vs threads (median, min-max bars)
#   PREFIX-strong-weak.png only with a second CSV from `dptrain scale --weak`: efficiency vs
#                          threads of both sweeps, strong (fixed batch: speedup / threads) solid
#                          and weak (batch x threads: samples/s at T / (T x at 1)) dashed
# PREFIX defaults to the first CSV's path without .csv. A dotted vertical line marks the core
# count: points right of it are oversubscribed. A weak-scaling CSV given alone is drawn like a
# strong one, with its speedup labelled as the throughput ratio and no Amdahl fit. --log-y draws
# speedup and throughput on logarithmic axes (for sweeps over many thread counts).
#
# usage: scripts/plot-scaling.sh [--log-y] results.csv [weak-results.csv] [PREFIX]
# Needs gnuplot (Debian gnuplot-nox) and python3 (standard library only).
set -euo pipefail

log_y=0
if [ "${1:-}" = --log-y ]; then log_y=1; shift; fi
if [ $# -lt 1 ] || [ $# -gt 3 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: scripts/plot-scaling.sh [--log-y] results.csv [weak-results.csv] [PREFIX]" >&2
  exit 2
fi
csv="$1"
shift
weak=""
if [ $# -gt 0 ] && [[ $1 == *.csv ]]; then weak="$1"; shift; fi
[ $# -le 1 ] || { echo "plot-scaling: too many arguments (see --help)" >&2; exit 2; }
for f in "$csv" ${weak:+"$weak"}; do
  [ -r "$f" ] || { echo "plot-scaling: cannot read '$f'" >&2; exit 2; }
done
prefix="${1:-${csv%.csv}}"
command -v gnuplot >/dev/null || { echo "plot-scaling: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

tmp="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-plot.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# CSV -> whitespace-separated data files per strategy + shell variables (quoted CSV fields, e.g.
# the CPU model, are parsed properly here rather than by gnuplot).
"$PY" - "$csv" "$tmp" "$weak" >"$tmp/vars.sh" <<'EOF'
import csv, shlex, sys

path, out, weak_path = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path, newline="") as f:
    rows = list(csv.DictReader(f))
need = {"parallelism", "threads", "speedup", "speedup_min", "speedup_max", "efficiency",
        "fwd_bwd_us", "reduce_update_us", "wait_us", "noisy", "oversubscribed",
        "samples_per_s", "samples_per_s_min", "samples_per_s_max", "cores"}
if not rows or not need <= set(rows[0]):
    sys.exit(f"plot-scaling: '{path}' is not a `dptrain scale` CSV (missing columns "
             f"{sorted(need - set(rows[0] if rows else []))})")
def num(v, default="NaN"):
    return v if v not in ("", None) else default
strategies = []
for r in rows:
    s = r["parallelism"]
    if s not in strategies:
        strategies.append(s)
fits = {}
max_threads = 1
for s in strategies:
    mine = sorted((r for r in rows if r["parallelism"] == s), key=lambda r: int(r["threads"]))
    fits[s] = num(mine[0].get("amdahl_serial_fraction", ""), "")
    with open(f"{out}/{s}.dat", "w") as f:
        f.write("# threads speedup smin smax efficiency noisy oversubscribed sps spsmin spsmax\n")
        for r in mine:
            max_threads = max(max_threads, int(r["threads"]))
            f.write(" ".join([r["threads"], num(r["speedup"]), num(r["speedup_min"]),
                              num(r["speedup_max"]), num(r["efficiency"]), r["noisy"],
                              r["oversubscribed"], num(r["samples_per_s"]),
                              num(r["samples_per_s_min"]), num(r["samples_per_s_max"])]) + "\n")
    with open(f"{out}/{s}-split.dat", "w") as f:
        for r in mine:
            fwd, red, wait = (max(0.0, float(num(r[k], "0")))
                              for k in ("fwd_bwd_us", "reduce_update_us", "wait_us"))
            total = fwd + red + wait or 1.0
            step = f"{total / 1000:.3g} ms" if total >= 1000 else f"{total:.3g} µs"
            label = r["threads"] + ("*" if r["oversubscribed"] == "1" else "") + "\\n" + step
            f.write(f'"{label}" {100 * fwd / total:.6g} {100 * red / total:.6g} '
                    f'{100 * wait / total:.6g}\n')
first = rows[0]
first_cores = first["cores"] or "1"
title = (f"dptrain scale: model {first.get('model', '?')} ({first.get('layers', '?')}, "
         f"batch {first.get('batch', '?')}"
         f"{' x threads' if first.get('scaling') == 'weak' else ''}), {first.get('cpu_model', '?')}, "
         f"{first['cores']} cores")
# The weak sweep (--weak): efficiency per strategy, for the strong-vs-weak plot.
weak_strategies = []
if weak_path:
    with open(weak_path, newline="") as f:
        weak_rows = list(csv.DictReader(f))
    if not weak_rows or not need <= set(weak_rows[0]) or weak_rows[0].get("scaling") != "weak":
        sys.exit(f"plot-scaling: '{weak_path}' is not a `dptrain scale --weak` CSV")
    for s in dict.fromkeys(r["parallelism"] for r in weak_rows):
        weak_strategies.append(s)
        mine = sorted((r for r in weak_rows if r["parallelism"] == s), key=lambda r: int(r["threads"]))
        with open(f"{out}/{s}-weak.dat", "w") as f:
            for r in mine:
                max_threads = max(max_threads, int(r["threads"]))
                f.write(f"{r['threads']} {num(r['efficiency'])} {num(r['samples_per_s'])}\n")
print("weak_strategies=" + shlex.quote(" ".join(weak_strategies)))
print("scaling=" + shlex.quote(first.get("scaling", "strong") or "strong"))
print("strategies=" + shlex.quote(" ".join(strategies)))
print("cores=" + shlex.quote(first["cores"]))
print("max_threads=" + str(max_threads))
# Log axes get explicit ranges: never empty (one point, a flat curve) and never reaching 0.
# gnuplot labels only powers of 10 on a log axis, so a range within one decade gets explicit
# tics: 1-9 (or 1, 2, 5) times each power of 10.
import math
def log_axis(keys, extra=()):
    vs = [float(r[k]) for r in rows for k in keys if r.get(k) not in ("", None)]
    vs = [v for v in list(vs) + list(extra) if v > 0]
    if not vs:
        return "set yrange [*:*]"
    lo, hi = min(vs) / 1.5, max(vs) * 1.5
    for mults in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1,)):
        tics = [m * 10.0 ** d for d in range(math.floor(math.log10(lo)),
                                             math.ceil(math.log10(hi)) + 1)
                for m in mults if lo <= m * 10.0 ** d <= hi]
        if len(tics) <= 12:
            break
    out = f"set logscale y\nset yrange [{lo!r}:{hi!r}]"
    return out + ("\nset ytics (" + ", ".join(f"{t:.3g}" for t in tics) + ")" if tics else "")
print("speedup_log_axis=" + shlex.quote(
    log_axis(["speedup_min", "speedup_max"], (1, min(max_threads, int(first_cores))))))
print("sps_log_axis=" + shlex.quote(log_axis(["samples_per_s_min", "samples_per_s_max"])))
print("title=" + shlex.quote(title.replace('"', "'")))
for s in strategies:
    print(f"fit_{s}=" + shlex.quote(fits[s]))
EOF
# shellcheck disable=SC1091
source "$tmp/vars.sh"

colour() { case "$1" in data) echo '#1f77b4' ;; intra) echo '#d62728' ;; *) echo '#2ca02c' ;; esac; }
common="set terminal pngcairo size 1100,650 enhanced font 'DejaVu Sans,11' noenhanced
set title \"$title\"
set grid
set key outside right top box
set xlabel 'threads'
set logscale x 2
set xrange [0.8:$max_threads * 1.3]
set xtics 2
set arrow from $cores, graph 0 to $cores, graph 1 nohead dt 3 lw 2 lc rgb 'gray40'
set label 'cores' at $cores, graph 0.97 offset 0.5,0 tc rgb 'gray40'"

speedup_label='speedup over 1 thread (same strategy)'
if [ "$scaling" = weak ]; then
  speedup_label='weak scaling (batch x threads): samples/s over 1 thread'
fi
# Speedup: ideal line, measured points with min-max bars, Amdahl fits, noisy points ringed.
plots="(x <= $cores ? x : $cores) with lines dt 2 lw 1.5 lc rgb 'gray50' title 'ideal: min(n, cores)'"
for s in $strategies; do
  c="$(colour "$s")"
  plots+=", '$tmp/$s.dat' using 1:2:3:4 with yerrorlines pt 7 ps 1.3 lw 2 lc rgb '$c' title '$s: median, min-max'"
  fit="fit_$s"
  if [ -n "${!fit}" ]; then
    plots+=", 1 / (${!fit} + (1 - ${!fit}) / x) with lines dt 4 lw 1.5 lc rgb '$c' title sprintf('$s: Amdahl fit, f = %.3f', ${!fit})"
  fi
done
t="title 'noisy: spread > threshold'"
for s in $strategies; do
  plots+=", '$tmp/$s.dat' using 1:(\$6 == 1 ? \$2 : NaN) with points pt 6 ps 3 lw 2 lc rgb 'orange' $t"
  t=notitle
done
gnuplot <<EOF
$common
set output '$prefix-speedup.png'
set ylabel '$speedup_label'
$(if [ $log_y = 1 ]; then printf "%b" "$speedup_log_axis"; else echo "set yrange [0:*]"; fi)
plot $plots
EOF

# Efficiency.
plots="(x <= $cores ? 1 : $cores / x) with lines dt 2 lc rgb 'gray50' title 'ideal: min(n, cores) / n'"
for s in $strategies; do
  plots+=", '$tmp/$s.dat' using 1:5 with linespoints pt 7 ps 1.3 lw 2 lc rgb '$(colour "$s")' title '$s'"
done
gnuplot <<EOF
$common
set output '$prefix-efficiency.png'
set ylabel 'efficiency = speedup / threads'
set yrange [0:1.2]
plot $plots
EOF

# Throughput.
plots=""
for s in $strategies; do
  plots+="${plots:+, }'$tmp/$s.dat' using 1:8:9:10 with yerrorlines pt 7 ps 1.3 lw 2 lc rgb '$(colour "$s")' title '$s: median, min-max'"
done
gnuplot <<EOF
$common
set output '$prefix-throughput.png'
set ylabel 'samples/s'
$(if [ $log_y = 1 ]; then printf "%b" "$sps_log_axis"; else echo "set yrange [0:*]"; fi)
set format y '%.0s%c'
plot $plots
EOF

# Time split: one group of stacked bars per strategy.
plots=""
first=1
for s in $strategies; do
  if [ $first = 1 ]; then t1="title 'forward+backward'"; t2="title 'reduce+update'"; t3="title 'wait (join, imbalance, fork)'"; else t1=notitle; t2=notitle; t3=notitle; fi
  plots+="${plots:+, }newhistogram '$s' lt 1, '$tmp/$s-split.dat' using 2:xtic(1) $t1 lc rgb '#4c72b0', '' using 3 $t2 lc rgb '#dd8452', '' using 4 $t3 lc rgb '#8c8c8c'"
  first=0
done
gnuplot <<EOF
set terminal pngcairo size 1200,650 enhanced font 'DejaVu Sans,11' noenhanced
set title "$title\ntime split of one training step; tick labels: threads (* = oversubscribed) and step time"
set output '$prefix-split.png'
set grid ytics
set key outside right top box
set bmargin 6
set style data histograms
set style histogram rowstacked title offset 0,-1.5
set style fill solid 0.85 border rgb 'black'
set boxwidth 0.7
set ylabel 'share of the step (%)'
set yrange [0:100]
plot $plots
EOF

# Strong vs weak: efficiency of both sweeps on the same axes.
if [ -n "$weak_strategies" ]; then
  plots="(x <= $cores ? 1 : $cores / x) with lines dt 2 lc rgb 'gray50' title 'ideal: min(n, cores) / n'"
  for s in $strategies; do
    plots+=", '$tmp/$s.dat' using 1:5 with linespoints pt 7 ps 1.3 lw 2 lc rgb '$(colour "$s")' title '$s: strong (fixed batch)'"
  done
  for s in $weak_strategies; do
    plots+=", '$tmp/$s-weak.dat' using 1:2 with linespoints dt 2 pt 5 ps 1.3 lw 2 lc rgb '$(colour "$s")' title '$s: weak (batch x threads)'"
  done
  gnuplot <<EOF
$common
set output '$prefix-strong-weak.png'
set ylabel 'efficiency: strong = speedup / T, weak = samples/s(T) / (T x samples/s(1))'
set yrange [0:1.2]
plot $plots
EOF
fi

for f in speedup efficiency split throughput; do echo "$prefix-$f.png"; done
if [ -n "$weak_strategies" ]; then echo "$prefix-strong-weak.png"; fi
