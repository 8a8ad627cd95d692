#!/usr/bin/env bash
# Fault test: a --deterministic --save-every run is killed with SIGKILL at 10 random moments
# (during steps, during checkpoint writes, during start-up) and resumed each time, with 1, 2 or
# 3 threads in turn; the last resume runs to the end and must print the params_hash of the
# uninterrupted run. Every checkpoint left behind must load (never torn), and the temporary files
# of killed writes must be gone after the last save. KILL_SEED=N repeats a sequence of moments.
#
# usage: bash tests/kill_resume_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start kill-resume 60
cd "$TMP" || exit 2
seed=${KILL_SEED:-$$}
RANDOM=$seed
echo "# kill moments drawn with KILL_SEED=$seed"

now() { date +%s.%N; }

# 2000 rows at batch 4: 500 steps per epoch; a checkpoint every 3 steps keeps the disk busy, so
# many kills land inside a write.
"$PYTHON" -c 'import random
r = random.Random(2)
print(",".join("f%d" % i for i in range(8)) + ",label")
for _ in range(2000):
    x = [r.gauss(0, 1) for _ in range(8)]
    print(",".join("%.4f" % v for v in x) + ",%d" % (x[0] * x[1] > 0))' >d.csv
RUN=(train --data csv:d.csv --layers 8,128,128,2 --batch-size 4 --epochs 8 --dropout 0.1
  --deterministic --test-data none --save m.dpt --save-every 3)

start=$(now)
run "${RUN[@]}"
want=$(hash_of "$OUT")
took=$("$PYTHON" -c "print($(now) - $start)")
[[ $RC -eq 0 && -n $want ]] && ok "uninterrupted run: $want in ${took%.*} s" || not_ok "uninterrupted run" "rc=$RC"
rm -f m.dpt

# Moments: 50 ms to 50 ms + 1/25 of the uninterrupted run after each start, so that ten kills
# rarely finish the run however fast this machine's disk is (the disk's speed varies with load).
span_ms=$("$PYTHON" -c "print(max(50, int($took * 1000 / 25)))")
kills=0 mid_epoch=0 finished=0
for i in $(seq 10); do
  threads=$((i % 3 + 1))
  resume=()
  [[ -e m.dpt ]] && resume=(--resume m.dpt)
  "$DPTRAIN" "${RUN[@]}" --threads "$threads" "${resume[@]}" >out 2>err &
  pid=$!
  sleep "$("$PYTHON" -c "print(0.05 + ($RANDOM % $span_ms) / 1000)")"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  grep -q "^resumed from 'm.dpt' in epoch" out && mid_epoch=$((mid_epoch + 1))
  if [[ $rc -eq 0 ]]; then
    finished=1
    break
  fi
  if [[ $rc -ne 137 ]]; then
    not_ok "attempt $i (threads $threads, ${resume[*]:-fresh}) failed before the kill" "rc=$rc: $(head -c 300 err)"
    break
  fi
  kills=$((kills + 1))
done
[[ $kills -eq 10 ]] && ok "killed 10 times (SIGKILL), $mid_epoch resumes from inside an epoch" || not_ok "10 kills" "only $kills (finished early: $finished)"

if [[ $finished -eq 0 ]]; then
  resume=()
  [[ -e m.dpt ]] && resume=(--resume m.dpt)
  run "${RUN[@]}" --threads 2 "${resume[@]}"
else
  cp out "$OUT"
  RC=0
fi
[[ $RC -eq 0 && $(hash_of "$OUT") == "$want" ]] && ok "resumed to the end: the uninterrupted params_hash" || not_ok "final resume" "rc=$RC, $(hash_of "$OUT") vs $want"
ls m.dpt.tmp.* >/dev/null 2>&1 && not_ok "no temporary files left" "$(ls)" || ok "no temporary files left"

harness_finish
