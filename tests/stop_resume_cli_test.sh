#!/usr/bin/env bash
# dptrain train's step-level checkpoints and signal handling: --save-every / --save-every-seconds
# (flags checked, mid-epoch checkpoints that resume to the uninterrupted params_hash), SIGTERM and
# SIGINT (a clean stop at a step boundary, a checkpoint, the printed resume command, exit 143 /
# 130), a second signal (aborts at once, the last checkpoint stays whole, the next save removes
# the temporary file), a mid-epoch checkpoint refused on other rows (Note [Data fingerprint]) and
# a stop while the data never finish loading (a FIFO without a writer).
#
# usage: bash tests/stop_resume_cli_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start stop-resume-cli 60
cd "$TMP" || exit 2

# The epoch lines without their timing (samples/s, time), to compare runs.
epoch_figures() { grep '^epoch' "$1" | sed 's/  samples\/s.*//'; }
# Steps done inside the unfinished epoch, from a checkpoint's metadata (0 at an epoch boundary).
progress_steps() {
  "$PYTHON" -c 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[12:20])[0]
print(json.loads(b[20:20+n])["epoch_progress"]["steps"])' "$1"
}
# wait_for FILE PATTERN: up to 20 s for PATTERN to appear in FILE. A background run's output files
# are removed before it starts: its shell opens (truncates) them only after the fork, so an
# earlier run's '^threads' could otherwise send the signal to the forked shell before it execs
# dptrain, where bash still runs this script's EXIT trap (rm -rf "$TMP").
wait_for() {
  for _ in $(seq 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# A data set with long epochs: 4000 rows at batch 4 are 1000 steps.
"$PYTHON" -c 'import random
r = random.Random(1)
print(",".join("f%d" % i for i in range(8)) + ",label")
for _ in range(4000):
    x = [r.gauss(0, 1) for _ in range(8)]
    print(",".join("%.4f" % v for v in x) + ",%d" % (sum(x[:3]) > 0))' >d.csv
RUN=(train --data csv:d.csv --layers 8,256,256,2 --batch-size 4 --epochs 6 --deterministic --test-data none)

# ---- flags ----
run "${RUN[@]}" --save-every 5
[[ $RC -eq 2 ]] && grep -q -- "--save-every needs --save PATH" "$ERR" && ok "--save-every without --save: exit 2" || not_ok "--save-every without --save" "rc=$RC"
run "${RUN[@]}" --save m.dpt --save-every 0
[[ $RC -eq 2 ]] && grep -q -- "--save-every must be at least 1" "$ERR" && ok "--save-every 0: exit 2" || not_ok "--save-every 0" "rc=$RC"
run "${RUN[@]}" --save m.dpt --save-every-seconds 0
[[ $RC -eq 2 ]] && grep -q -- "--save-every-seconds must be above 0" "$ERR" && ok "--save-every-seconds 0: exit 2" || not_ok "--save-every-seconds 0" "rc=$RC"
run "${RUN[@]}" --save m.dpt --save-every-seconds soon
[[ $RC -eq 2 ]] && grep -q -- "--save-every-seconds: 'soon' is not a number" "$ERR" && ok "--save-every-seconds soon: exit 2" || not_ok "--save-every-seconds soon" "rc=$RC"
[[ ! -e m.dpt ]] && ok "refused flags write nothing" || not_ok "refused flags write nothing" "m.dpt exists"

# ---- the uninterrupted run ----
run "${RUN[@]}"
want=$(hash_of "$OUT")
epoch_figures "$OUT" >straight.txt
[[ $RC -eq 0 && -n $want ]] && ok "uninterrupted run ($want)" || not_ok "uninterrupted run" "rc=$RC"

# ---- SIGKILL after step-level saves: the checkpoint is mid-epoch and resumes exactly ----
for how in "--save-every 25" "--save-every-seconds 0.05"; do
  rm -f k.dpt
  # shellcheck disable=SC2086
  rm -f out1 err1
  "$DPTRAIN" "${RUN[@]}" --save k.dpt $how >out1 2>err1 &
  pid=$!
  for _ in $(seq 400); do [[ -s k.dpt ]] && break; sleep 0.01; done
  kill -KILL $pid 2>/dev/null
  wait $pid
  steps=$(progress_steps k.dpt 2>/dev/null)
  # shellcheck disable=SC2086
  run "${RUN[@]}" --save k.dpt $how --resume k.dpt
  if [[ $RC -eq 0 && $(hash_of "$OUT") == "$want" && ${steps:-0} -gt 0 ]] && grep -q "^resumed from 'k.dpt' in epoch" "$OUT"; then
    ok "$how: killed (SIGKILL) after step $steps of an epoch, resumed: same params_hash"
  else
    not_ok "$how: killed and resumed" "rc=$RC steps=$steps hash $(hash_of "$OUT") vs $want"
  fi
done

# ---- SIGTERM: clean stop, checkpoint, resume command, exit 143 ----
rm -f m.dpt
rm -f out1 err1
"$DPTRAIN" "${RUN[@]}" --save m.dpt --threads 2 >out1 2>err1 &
pid=$!
wait_for out1 '^threads' || true  # the header: data loaded, the handlers in place
kill -TERM $pid
wait $pid
rc=$?
resume=$(sed -n 's/^resume with: //p' err1)
if [[ $rc -eq 143 ]] && grep -Eq "stopped by SIGTERM (in epoch [1-6] after step [0-9]+ of 1000|after epoch [1-5]) " err1 && [[ -n $resume && -s m.dpt ]]; then
  ok "SIGTERM: stopped at a step boundary, checkpoint written, exit 143"
else
  not_ok "SIGTERM: clean stop" "rc=$rc: $(cat err1)"
fi
[[ $resume == "$DPTRAIN ${RUN[*]} --save m.dpt --threads 2 --resume m.dpt" ]] && ok "the resume command repeats the run's arguments with --resume" || not_ok "resume command" "$resume"
eval "$resume" >out2 2>err2
rc=$?
cat out1 out2 | epoch_figures /dev/stdin >resumed.txt
if [[ $rc -eq 0 && $(hash_of out2) == "$want" ]] && diff -q straight.txt resumed.txt >/dev/null; then
  ok "the printed resume command ends with the uninterrupted params_hash and the same epoch lines"
else
  not_ok "resume after SIGTERM" "rc=$rc, $(hash_of out2) vs $want; $(diff straight.txt resumed.txt | head -4)"
fi

# ---- the resume command quotes what the shell would split: a checkpoint path with a space and a
# quote, resumed (from the first run's checkpoint) by evaluating the printed line ----
rm -f out1 err1
"$DPTRAIN" "${RUN[@]}" --save "my run's.dpt" >out1 2>err1 &
pid=$!
wait_for out1 '^threads' || true
kill -TERM $pid
wait $pid
resume=$(sed -n 's/^resume with: //p' err1)
eval "$resume" >out2 2>err2
rc=$?
[[ $rc -eq 0 && $(hash_of out2) == "$want" && -s "my run's.dpt" ]] && ok "resume command with a quoted path: $resume" || not_ok "quoted resume command" "rc=$rc: $resume"

# ---- the printed resume command works verbatim (bash -c) for runs that use --hidden, the
# --opt=value form, and the model, loss, normalisation and determinism flags that a resumed run
# checks against its checkpoint ----
# stop_and_resume NAME ARGS...: `dptrain ARGS --save s.dpt`, SIGTERM once it trains, then the
# printed command; ok when the stop exits 143 and the command exits 0 after resuming s.dpt.
stop_and_resume() {
  local name=$1
  shift
  rm -f s.dpt
  rm -f out1 err1
  "$DPTRAIN" "$@" >out1 2>err1 &
  local pid=$!
  wait_for out1 '^threads' || true
  kill -TERM $pid
  wait $pid
  local stopped=$?
  local resume
  resume=$(sed -n 's/^resume with: //p' err1)
  bash -c "$resume" >out2 2>err2
  local rc=$?
  if [[ $stopped -eq 143 && $rc -eq 0 && -n $resume ]] && grep -q "^resumed from 's.dpt'" out2; then
    ok "printed resume command runs verbatim: $name"
  else
    not_ok "printed resume command: $name" "stop rc=$stopped, resume rc=$rc: $resume: $(head -c 300 err2)"
  fi
}
HID=(train --data csv:d.csv --batch-size 4 --epochs 3 --test-data none)
stop_and_resume "--hidden" "${HID[@]}" --hidden 256,256 --save s.dpt
stop_and_resume "--opt=value forms" "${HID[@]}" --hidden=256,256 --activation=tanh --dropout=0.1 \
  --lr=0.01 --seed=7 --save=s.dpt
stop_and_resume "model, loss and normalisation flags" "${HID[@]}" --hidden 256,256 --activation \
  leaky_relu --dropout 0.2 --loss bce --output sigmoid --init glorot --normalize standard \
  --optimizer adamw --weight-decay 0.001 --schedule cosine --min-lr 0.0001 --save s.dpt
stop_and_resume "--deterministic --micro-batches" "${HID[@]}" --layers 8,256,256,2 --deterministic \
  --micro-batches 4 --normalize minmax --loss ce --output softmax --init he --save s.dpt

# ---- SIGINT (job control on, so the background job does not ignore it): exit 130 ----
set -m
rm -f out1 err1
"$DPTRAIN" "${RUN[@]}" >out1 2>err1 &
pid=$!
set +m
wait_for out1 '^threads' || true
kill -INT $pid
wait $pid
rc=$?
if [[ $rc -eq 130 ]] && grep -q "stopped by SIGINT" err1 && grep -q "nothing saved (no --save)" err1; then
  ok "SIGINT without --save: clean stop, says nothing was saved, exit 130"
else
  not_ok "SIGINT" "rc=$rc: $(cat err1)"
fi

# ---- a second signal aborts at once; the last checkpoint stays whole ----
# The process is suspended (SIGSTOP) wherever it is, two different signals are queued (the same
# signal twice would merge into one pending signal), and it resumes: the first handler asks for
# a stop, the second aborts before any step boundary is reached.
BIG=(train --data blobs8 --layers 8,512,512,2 --batch-size 768 --epochs 1000 --test-data none --save b.dpt)
set -m
rm -f out1 err1
"$DPTRAIN" "${BIG[@]}" >out1 2>err1 &
pid=$!
set +m
wait_for out1 '^epoch 2/' || true
kill -STOP $pid
kill -TERM $pid
kill -INT $pid
kill -CONT $pid
wait $pid
rc=$?
# Two threads may take the two signals at once (the one running a oneDNN product holds them,
# Note [Signals during oneDNN kernels]): the abort can then overtake the first handler's
# "stopping at the next step boundary" line, so only the outcome is asserted: no clean stop.
if [[ $rc -eq 130 || $rc -eq 143 ]] && ! grep -q "stopped by" err1; then
  ok "a second signal aborts at once (exit $rc, no clean stop)"
else
  not_ok "second signal" "rc=$rc: $(cat err1)"
fi
run eval --model b.dpt --data blobs8
[[ $RC -eq 0 ]] && ok "the last checkpoint is whole after the abort" || not_ok "checkpoint after abort" "rc=$RC"
touch b.dpt.tmp.999999999  # as an aborted write of a dead process leaves it
run "${BIG[@]}" --resume b.dpt --epochs "$(($(grep -c '^epoch' out1) + 1))"
if [[ $RC -eq 0 && -s b.dpt ]] && ! ls b.dpt.tmp.* >/dev/null 2>&1; then
  ok "the next save removes stale temporary files"
else
  not_ok "stale temporary files" "rc=$RC; $(ls)"
fi

# ---- Note [Data fingerprint]: a mid-epoch checkpoint resumes only on the rows it counted ----
rm -f f.dpt
rm -f out1 err1
"$DPTRAIN" "${RUN[@]}" --save f.dpt --save-every 25 >out1 2>err1 &
pid=$!
for _ in $(seq 400); do [[ -s f.dpt ]] && break; sleep 0.01; done
kill -KILL $pid 2>/dev/null
wait $pid
steps=$(progress_steps f.dpt 2>/dev/null)
cp f.dpt f-kept.dpt
# The same number of rows with other values: d.csv with its first data row changed.
sed '2s/^[-0-9.]*,/9.5,/' d.csv >other.csv
for case in "--limit 3000|data 'd.csv' has 3000 training rows where the checkpoint's position was counted on 4000" \
            "--val-split 0.25|data 'd.csv' has 3000 training rows where the checkpoint's position was counted on 4000" \
            "--data csv:other.csv|data 'other.csv' has other values, labels or row order in its 4000 training rows"; do
  flags=${case%%|*}
  want_text=${case#*|}
  cp f-kept.dpt f.dpt
  # shellcheck disable=SC2086
  run "${RUN[@]}" --save f.dpt --resume f.dpt $flags
  if [[ $RC -eq 2 && ${steps:-0} -gt 0 ]] && grep -qF -- "was counted on other data: $want_text" "$ERR" && cmp -s f.dpt f-kept.dpt; then
    ok "mid-epoch checkpoint (step $steps) resumed with $flags: refused, saying what differs"
  else
    not_ok "mid-epoch checkpoint resumed with $flags" "rc=$RC steps=$steps"
  fi
done
# A checkpoint from before fingerprints (the field removed, its CRC-32 recomputed) still resumes.
"$PYTHON" -c 'import json,struct,sys,zlib
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[12:20])[0]
m=json.loads(b[20:20+n]); del m["data_fingerprint"]; t=json.dumps(m,separators=(",",":")).encode()
body=b[:12]+struct.pack("<Q",len(t))+t+b[20+n:-4]
open(sys.argv[2],"wb").write(body+struct.pack("<I",zlib.crc32(body)))' f-kept.dpt old.dpt
run "${RUN[@]}" --epochs 1 --resume old.dpt
if [[ $RC -eq 0 ]] && grep -qF "checkpoint 'old.dpt' predates data fingerprints: resuming inside its epoch cannot check that the data are the rows it was trained on" "$ERR"; then
  ok "a checkpoint without a data fingerprint resumes, with a note"
else
  not_ok "a checkpoint without a data fingerprint" "rc=$RC"
fi

# ---- Note [Stops while loading]: a stop signal while the data never finish loading ----
mkfifo nowriter.csv
for sig in TERM INT; do
  rm -f never.dpt
  # No writer ever opens the FIFO: the load waits for ever. -k: a backstop if the stop waited too.
  timeout -k 10 --preserve-status -s $sig 1 "$DPTRAIN" train --data csv:nowriter.csv --layers 8,4,2 --test-data none --save never.dpt >out1 2>err1
  rc=$?
  want_rc=$([[ $sig == TERM ]] && echo 143 || echo 130)
  if [[ $rc -eq $want_rc && ! -e never.dpt ]] && grep -qx "dptrain train: stopped by SIG$sig while loading the data; nothing was trained or written" err1; then
    ok "SIG$sig while loading a FIFO without a writer: stopped at once, exit $want_rc"
  else
    not_ok "SIG$sig while loading a FIFO without a writer" "rc=$rc: $(cat err1)"
  fi
done

harness_finish
