#!/usr/bin/env bash
# Signal storm: short `--save-every 1` runs get SIGTERM or SIGINT at a random moment (during a
# step, during a step-level checkpoint, during start-up, epoch ends), with 1 or 2 threads, sent
# one of three ways: by timeout(1) (which signals the child and then its process group, so the
# child gets the signal twice), by one kill, or by two kills back to back (a process and its
# group). Every run must end one of two ways:
#   - it finished: exit 0 and a params_hash line;
#   - it stopped: exit 128 + the signal, "stopped by" on stderr, and a checkpoint that
#     `dptrain eval` loads;
# or, for a signal that came before the handlers were installed or while the data were loading,
# exit 128 + the signal with no checkpoint (and no "stopping" line, or the "while loading" one).
# Never 134 (abort: glibc's heap checks), 139 (SIGSEGV), an abort by a repeated copy of the one
# signal (Note [Repeated signals] in stop_signals.cpp), another status, or a sanitizer report.
#
#   DPTRAIN_STORM_RUNS=N   runs (default 50, under a minute in Release; 1000 for a soak by hand)
#   DPTRAIN_STORM_SEED=N   repeats a sequence of moments, signals and ways
#
# usage: bash tests/signal_storm_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start signal-storm 60
cd "$TMP" || exit 2
runs=${DPTRAIN_STORM_RUNS:-50}
seed=${DPTRAIN_STORM_SEED:-$$}
RANDOM=$seed
echo "# $runs runs, drawn with DPTRAIN_STORM_SEED=$seed"
# Sanitizer builds: a report goes to a file of its own (checked after every run) and fails the
# run with a status no stop uses.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:log_path=$TMP/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=86:log_path=$TMP/sanitizer"

# 400 rows of 32 features at batch 8: 50 steps per epoch, each followed by a checkpoint of a
# 32-128-128-4 model (Adam's state included), so signals land in steps and in saves alike.
"$PYTHON" -c 'import random
r = random.Random(3)
print(",".join("f%d" % i for i in range(32)) + ",label")
for _ in range(400):
    x = [r.gauss(0, 1) for _ in range(32)]
    print(",".join("%.3f" % v for v in x) + ",%d" % ((x[0] > 0) + 2 * (x[1] > 0)))' >d.csv
RUN=(train --data csv:d.csv --layers 32,128,128,4 --batch-size 8 --epochs 2 --test-data none
  --save m.dpt --save-every 1 --quiet)

# How long a run takes here, uninterrupted: the moments spread over it (most runs are stopped).
start=$(date +%s%N)
run "${RUN[@]}" --threads 1
took_ms=$((($(date +%s%N) - start) / 1000000))
[[ $RC -eq 0 ]] && grep -q params_hash= "$OUT" && ok "uninterrupted run (${took_ms} ms)" ||
  not_ok "uninterrupted run" "rc=$RC"
span_ms=$((took_ms + 20))
seconds() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
loads() { timeout 60 "$DPTRAIN" eval --model m.dpt --data csv:d.csv --label label >eval.out 2>&1; }

finished=0 stopped=0 early=0 bad=0
for i in $(seq "$runs"); do
  rm -f m.dpt m.dpt.tmp.* sanitizer.*
  threads=$((RANDOM % 2 + 1))
  signal=$((RANDOM % 2 ? 15 : 2))  # SIGTERM or SIGINT
  delay_ms=$((RANDOM % span_ms))
  way=$((RANDOM % 3))
  # A non-interactive shell starts background jobs with SIGINT ignored, which dptrain (like any
  # POSIX program) then keeps ignoring: env gives it back its default action.
  case $way in
    0)
      how="timeout"
      env --default-signal=INT timeout --preserve-status -s "$signal" "$(seconds "$delay_ms")" \
        "$DPTRAIN" "${RUN[@]}" --threads "$threads" >out 2>err
      rc=$?
      ;;
    *)
      how=$( ((way == 1)) && echo "kill" || echo "kill twice")
      env --default-signal=INT "$DPTRAIN" "${RUN[@]}" --threads "$threads" >out 2>err &
      pid=$!
      sleep "$(seconds "$delay_ms")"
      kill -s "$signal" "$pid" 2>/dev/null
      ((way == 2)) && kill -s "$signal" "$pid" 2>/dev/null
      wait "$pid"
      rc=$?
      ;;
  esac
  what="run $i (threads $threads, signal $signal by $how at ${delay_ms} ms)"
  verdict=""
  if [[ $rc -eq 0 ]]; then
    grep -q params_hash= out && finished=$((finished + 1)) || verdict="exit 0 without params_hash"
  elif [[ $rc -eq $((128 + signal)) ]]; then
    if grep -q "while loading the data; nothing was trained or written" err; then
      # Note [Stops while loading]: ended at once, before any step or checkpoint.
      if [[ -e m.dpt ]]; then verdict="stopped while loading, yet a checkpoint was written"; else
        early=$((early + 1))
      fi
    elif grep -q "stopped by" err; then
      if [[ -e m.dpt ]] && loads; then
        stopped=$((stopped + 1))
      else
        verdict="stopped, but its checkpoint does not load: $(head -c 300 eval.out 2>/dev/null)"
      fi
    elif grep -q "stopping at the next step boundary" err; then
      verdict="a repeat of the one signal aborted the run: no stop checkpoint"
    else
      early=$((early + 1))  # before the handlers: the default action, nothing to save yet
    fi
  else
    verdict="exit $rc: $(tail -c 400 err)"
  fi
  if compgen -G "sanitizer.*" >/dev/null; then
    verdict="sanitizer report: $(head -c 600 sanitizer.*)"
  fi
  if [[ -n $verdict ]]; then
    not_ok "$what" "$verdict"
    bad=$((bad + 1))
  fi
done
echo "# finished $finished, stopped with a checkpoint $stopped, signalled before the handlers or while loading $early, bad $bad"
[[ $bad -eq 0 ]] && ok "$runs signalled runs: no crash, every stop checkpointed and loadable" ||
  not_ok "$runs signalled runs" "$bad bad (DPTRAIN_STORM_SEED=$seed)"

harness_finish
