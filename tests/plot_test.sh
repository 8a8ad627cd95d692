#!/usr/bin/env bash
# `scripts/plot.py training` on the logs that used to draw badly: a constant learning rate (no
# right axis with one repeated tick), a step schedule (drawn as steps), an early-stopped run (the
# best epoch marked), a flat metric and a single epoch (no "empty range"), and --log-y. Each must
# exit 0, write its two PNGs and print nothing on stderr (gnuplot's warnings go there). What was
# chosen is read from the gnuplot script `--dry-run` prints. Bad input: exit 2 and one message.
# (tests/scale_test.sh draws `plot.py scaling` and `plot.py projection` from a real sweep.)
#
# usage: bash tests/plot_test.sh
# Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed"; exits 1 if any
# case failed. Skipped (ok # SKIP) without gnuplot.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
DPTRAIN=true  # the harness runs no dptrain here
harness_start plot-test 60

if ! command -v gnuplot >/dev/null; then
  echo "ok - plots # SKIP gnuplot not installed (apt-get install gnuplot-nox)"
  harness_finish
  exit
fi

# Logs in the `dptrain train --log` format.
"$PYTHON" - "$TMP" <<'EOF'
import json, math, sys
def write(name, lrs, schedule, val=True, acc=None):
    with open(f"{sys.argv[1]}/{name}.jsonl", "w") as f:
        for e, lr in enumerate(lrs, 1):
            tl = 0.3 + 0.5 * math.exp(-e / 3)
            o = {"epoch": e, "train_loss": tl, "train_metric": 1 - tl / 2 if acc is None else acc,
                 "metric": "acc", "lr": lr, "schedule": schedule, "threads": 1}
            if val:  # validation loss lowest at epoch 5, then rising (early stopping's case)
                vl = tl + 0.02 + (0.05 * (e - 5) ** 2 if e > 5 else 0)
                o.update(val_loss=vl, val_metric=1 - vl / 2)
            f.write(json.dumps(o) + "\n")
write("constant", [1e-3] * 8, "constant", val=False)
write("step", [1e-2] * 3 + [1e-3] * 3 + [1e-4] * 2, "step", val=False)
write("early", [1e-3] * 7, "constant")
write("flat", [1e-3] * 4, "constant", val=False, acc=1.0)
write("single", [1e-3], "constant", val=False, acc=1.0)
EOF

# plots NAME LOG [--log-y]: exit 0, both PNGs, empty stderr.
plots() {
  local name=$1 log=$2
  shift 2
  local prefix="$TMP/$log$*"
  if ! "$PYTHON" "$ROOT/scripts/plot.py" training "$@" "$TMP/$log.jsonl" "$prefix" >"$OUT" 2>"$ERR"; then
    not_ok "$name" "exit status $?"
  elif [[ -s $ERR ]]; then
    not_ok "$name" "stderr: $(head -n 3 "$ERR")"
  elif ! is_png "$prefix-loss.png" || ! is_png "$prefix-metric.png"; then
    not_ok "$name" "missing PNG"
  elif [[ $(cat "$OUT") != "$prefix-loss.png"$'\n'"$prefix-metric.png" ]]; then
    not_ok "$name" "printed $(head -c 200 "$OUT"), not the two PNGs"
  else
    ok "$name"
  fi
}
# trace LOG: the gnuplot script for LOG (--dry-run), to check what it chose to draw.
trace() {
  "$PYTHON" "$ROOT/scripts/plot.py" training --dry-run "$TMP/$1.jsonl" "$TMP/trace" >"$TMP/trace.gp"
  cat "$TMP/trace.gp"
}

plots "constant learning rate: PNGs, no warning" constant
if trace constant | grep -q "y2tics"; then
  not_ok "a constant learning rate gets no right axis" "y2tics set"
elif trace constant | grep -q "learning rate 0.001 (constant)"; then
  ok "a constant learning rate gets no right axis, it is named in the title"
else
  not_ok "a constant learning rate gets no right axis, it is named in the title" "no title"
fi
plots "step schedule: PNGs, no warning" step
if trace step | grep -q "axes x1y2 with fsteps"; then ok "a step schedule is drawn as steps"; else
  not_ok "a step schedule is drawn as steps" "no fsteps"; fi
if trace step | grep -q "set logscale y2"; then ok "a rate spanning decades gets a log axis"; else
  not_ok "a rate spanning decades gets a log axis" "linear"; fi
plots "early-stopped run: PNGs, no warning" early
if trace early | grep -q "best epoch 5 (val loss"; then ok "the best epoch (lowest validation loss) is marked"; else
  not_ok "the best epoch (lowest validation loss) is marked" "no marker for epoch 5"; fi
plots "a flat metric: no empty-range warning" flat
plots "a single epoch: no empty-range warning" single
plots "--log-y: PNGs, no warning" step --log-y
plots "--log-y with a flat metric" flat --log-y
"$PYTHON" "$ROOT/scripts/plot.py" training --log-y >"$OUT" 2>"$ERR"
if [[ $? -eq 2 ]] && grep -q "usage: plot.py training" "$ERR"; then
  ok "--log-y without a log is a usage error"
else
  not_ok "--log-y without a log is a usage error" "no exit 2 with usage"
fi
# bad_input NAME WANT ARGS...: plot.py ARGS exits 2, prints WANT on stderr and draws nothing.
bad_input() {
  local name=$1 want=$2
  shift 2
  rm -f "$TMP"/bad*.png
  "$PYTHON" "$ROOT/scripts/plot.py" "$@" >"$OUT" 2>"$ERR"
  local rc=$?
  if [[ $rc -ne 2 ]]; then not_ok "$name" "exit $rc"
  elif ! grep -qF -- "$want" "$ERR"; then not_ok "$name" "stderr lacks '$want'"
  elif compgen -G "$TMP/bad*.png" >/dev/null; then not_ok "$name" "a PNG was written"
  else ok "$name"; fi
}
bad_input "a missing log is named" "cannot read '$TMP/none.jsonl'" training "$TMP/none.jsonl" "$TMP/bad"
printf '{"epoch": 1, "train_loss": 0.5}\nnot json\n' >"$TMP/broken.jsonl"
bad_input "a broken line is named" "'$TMP/broken.jsonl' line 2 is not JSON" training "$TMP/broken.jsonl" "$TMP/bad"
echo '{"kind": "header"}' >"$TMP/empty.jsonl"
bad_input "a log without epochs" "has no epoch lines" training "$TMP/empty.jsonl" "$TMP/bad"
echo "a,b" >"$TMP/foreign.csv"
bad_input "a foreign CSV is not a scale sweep" "is not a \`dptrain scale\` CSV" scaling "$TMP/foreign.csv" "$TMP/bad"
echo '{"tool": "other"}' >"$TMP/foreign.json"
bad_input "a JSON without a projection" "is not a dptrain scale --project JSON" projection "$TMP/foreign.json" "$TMP/bad"
bad_input "an unknown subcommand is a usage error" "invalid choice" histogram "$TMP/constant.jsonl"

harness_finish
