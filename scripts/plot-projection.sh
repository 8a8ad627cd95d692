#!/usr/bin/env bash
# Draws the cost model's projection of `dptrain scale --project ... --out results.csv` (read from
# the results.json written beside the CSV) as PREFIX-projection.png: samples/s against cores on a
# log2 axis, one line per plan (data/owner, data/buffers, intra, and the best G x T replica-group
# plan at each core count) through the model's prediction at every measured and projected count, and the measured medians as points, so predicted
# and measured can be compared where both exist. Oversubscribed measurements (more threads than
# cores) are left out. The title states the projection's assumptions.
#
# usage: scripts/plot-projection.sh results.json [PREFIX]
# PREFIX defaults to the JSON's path without .json. Needs gnuplot (Debian gnuplot-nox) and
# python3 (standard library only).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: scripts/plot-projection.sh results.json [PREFIX]" >&2
  exit 2
fi
json="$1"
[ -r "$json" ] || { echo "plot-projection: cannot read '$json'" >&2; exit 2; }
prefix="${2:-${json%.json}}"
command -v gnuplot >/dev/null || { echo "plot-projection: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 2; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

tmp="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-plot.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

"$PY" - "$json" "$tmp" >"$tmp/title.txt" <<'EOF'
import json, re, sys, textwrap
path, out = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        run = json.load(f)
    projection = run["projection"]
    batch = run["model"]["batch"]
except (OSError, ValueError, KeyError) as e:
    sys.exit(f"plot-projection: '{path}' is not a dptrain scale --project JSON ({e})")
plans = ("data/owner", "data/buffers", "intra", "GxT")
groups = re.compile(r"^\d+x\d+/(owner|buffers)$")  # G x T labels, e.g. 4x2/owner
predicted = {p: {} for p in plans}  # cores -> samples/s
measured = {p: {} for p in plans}
def keep_best(table, plan, cores, rate):
    plan = "GxT" if groups.match(plan) else plan
    table[plan][cores] = max(rate, table[plan].get(cores, 0))
for m in projection["predicted_vs_measured"]:
    if m.get("oversubscribed"):
        continue
    keep_best(predicted, m["plan"], m["cores"], batch * 1e6 / m["step_us"])
    keep_best(measured, m["plan"], m["cores"], batch * 1e6 / m["measured_us"])
for point in projection["points"]:
    for plan, step in point["step_us_by_plan"].items():
        keep_best(predicted, plan, point["cores"], batch * 1e6 / step)
for i, plan in enumerate(plans):
    with open(f"{out}/predicted{i}.dat", "w") as f:
        for cores in sorted(predicted[plan]):
            f.write(f"{cores} {predicted[plan][cores]}\n")
        if not predicted[plan]:
            f.write("NaN NaN\n")
    with open(f"{out}/measured{i}.dat", "w") as f:
        for cores in sorted(measured[plan]):
            f.write(f"{cores} {measured[plan][cores]}\n")
        if not measured[plan]:
            f.write("NaN NaN\n")
model = run["model"].get("what", run["model"].get("name", "?"))
lines = textwrap.wrap(projection["assumptions"]["text"], 120)
print("\\n".join([f"PROJECTION of model {model}"] + lines))
EOF

gnuplot <<EOF
set terminal pngcairo size 1000,650 font "sans,10"
set output "${prefix}-projection.png"
set title "$(sed 's/"/\\"/g' "$tmp/title.txt")" noenhanced
set logscale x 2
set logscale y 10
set xlabel "cores"
set ylabel "samples/s"
set key top left
set grid
plot "$tmp/predicted0.dat" with linespoints lw 2 pt 7 ps 0.6 lc rgb "#1f77b4" title "data/owner, predicted", \
     "$tmp/predicted1.dat" with linespoints lw 2 pt 7 ps 0.6 lc rgb "#ff7f0e" title "data/buffers, predicted", \
     "$tmp/predicted2.dat" with linespoints lw 2 pt 7 ps 0.6 lc rgb "#2ca02c" title "intra, predicted", \
     "$tmp/predicted3.dat" with linespoints lw 2 pt 7 ps 0.6 lc rgb "#9467bd" title "best GxT, predicted", \
     "$tmp/measured0.dat" with points pt 5 ps 1.6 lc rgb "#1f77b4" title "data/owner, measured", \
     "$tmp/measured1.dat" with points pt 5 ps 1.6 lc rgb "#ff7f0e" title "data/buffers, measured", \
     "$tmp/measured2.dat" with points pt 5 ps 1.6 lc rgb "#2ca02c" title "intra, measured", \
     "$tmp/measured3.dat" with points pt 5 ps 1.6 lc rgb "#9467bd" title "GxT, measured"
EOF
echo "wrote ${prefix}-projection.png"
