#!/usr/bin/env bash
# End-to-end tests of what `dptrain` writes: output paths refused before any work (exit 2, no
# epoch line; also through an open file descriptor however spelt, over a write-protected file or
# one file for two outputs), `--out -` on standard output, writes through symbolic links (the
# target replaced, the link kept), modes kept on replace, the summary line (also under --quiet),
# the learning rate in epoch lines and logs, regression metrics in eval, and --normalize-target
# (metrics and predictions in the data's units).
#
# usage: bash tests/output_test.sh <path-to-dptrain-binary>
# Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed"; exits 1 if any
# case failed.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start output-test 120

# check NAME CONDITION...: ok when the command succeeds, else not_ok with stdout's head.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name" "exit $RC; stdout: $(head -c 300 "$OUT")"; fi
}

printf 'a,b,y\n1,2,0\n2,1,1\n3,3,0\n1,1,1\n0,2,0\n2,2,1\n' >"$TMP/in.csv"
TRAIN=(train --data "csv:$TMP/in.csv" --layers 2,4,2 --epochs 3 --seed 3)

# ---- output paths are checked before any work ---------------------------------------------------
run "${TRAIN[@]}" --save "$TMP/nodir/x.dpt"
check "--save nodir/x.dpt: exit 2 at once, no epoch trained" \
  test $RC -eq 2 -a ! -s "$OUT" -a ! -e "$TMP/nodir"
check "--save nodir/x.dpt: the message names the folder" \
  grep -q "dptrain train: error: --save: folder '$TMP/nodir' does not exist" "$ERR"
run "${TRAIN[@]}" --log "$TMP/nodir/run.jsonl"
check "--log nodir/run.jsonl: exit 2, nothing trained" test $RC -eq 2 -a ! -s "$OUT"
run "${TRAIN[@]}" --save -
check "--save - is refused (a checkpoint is no stream)" \
  grep -q -- "--save: '-' (standard output) is not supported here" "$ERR"
ln -s "$TMP/nodir/m.dpt" "$TMP/dangling.dpt"
run "${TRAIN[@]}" --save "$TMP/dangling.dpt"
check "a dangling link into a missing folder: exit 2 naming the link and its target" \
  grep -qF -- "--save: folder '$TMP/nodir' does not exist (for '$TMP/dangling.dpt' (a symbolic link to '$TMP/nodir/m.dpt'))" "$ERR"
run bench --models C --threads 1 --repeats 1 --json "$TMP/nodir/b.json"
check "bench --json nodir/b.json: exit 2 before measuring" test $RC -eq 2 -a ! -s "$OUT"
mkdir "$TMP/r.json"
run scale --model C --threads 1 --repeats 2 --seconds 0.01 --out "$TMP/r.csv"
check "scale --out r.csv refuses a folder where its r.json goes" \
  grep -q -- "--out: '$TMP/r.json' is a folder" "$ERR"

# ---- the summary line, learning rate in epoch lines ---------------------------------------------
run "${TRAIN[@]}" --save "$TMP/m.dpt" --quiet --test-data none
check "--quiet without a test set: the summary line and params_hash" \
  test $RC -eq 0 -a "$(grep -c . "$OUT")" -eq 2
check "the summary names the epochs, time and samples/s" \
  grep -qE '^summary: data loaded in [0-9.]+s; epochs 1-3 in [0-9.]+s \([0-9]+ samples/s\)$' "$OUT"
run train --data blobs8 --layers 8,6,2 --epochs 6 --val-split 0.2 --patience 2 --schedule step \
  --lr-step-epochs 2 --lr-gamma 0.5 --lr 0.01 --log "$TMP/run.jsonl"
check "with validation and a test set: best epoch, its metric and the test metric" \
  grep -qE '^summary: data loaded in [0-9.]+s; epochs 1-[0-9]+ in .*; best epoch [0-9]+ \(val_loss [0-9.]+, val_acc [0-9.]+.*\); test_loss [0-9.]+, test_acc [0-9.]+$' "$OUT"
check "a step schedule shows the learning rate in epoch lines" \
  grep -qE '^epoch 3/6 .* lr 0\.005 ' "$OUT"
check "--log lines carry the rate and the schedule" \
  "$PYTHON" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert r[0]["lr"] == 0.01 and r[2]["lr"] == 0.005 and r[0]["schedule"] == "step", r[:3]' "$TMP/run.jsonl"
run train --data blobs8 --layers 8,6,2 --epochs 2
check "a constant rate is not repeated in every epoch line" \
  eval '! grep -q " lr " "$OUT" && grep -q "^epoch 2/2" "$OUT"'

# ---- predict --out - and symbolic links ---------------------------------------------------------
run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out -
check "predict --out - writes the CSV on stdout" \
  test $RC -eq 0 -a "$(head -n 1 "$OUT")" = "class,p0,p1" -a "$(wc -l <"$OUT")" -eq 7
check "predict --out - leaves no file named '-'" test ! -e ./- -a ! -e "$TMP/-"
mkdir "$TMP/real"
echo "old" >"$TMP/real/pred.csv"
ln -s real/pred.csv "$TMP/link.csv"
run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/link.csv"
check "predict through a symbolic link writes its target" \
  test $RC -eq 0 -a "$(head -n 1 "$TMP/real/pred.csv")" = "class,p0,p1"
check "the link stays a link, no temporary file is left" \
  test -L "$TMP/link.csv" -a "$(ls "$TMP/real")" = "pred.csv"
echo "kept" >"$TMP/redirected.csv"
"$DPTRAIN" predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out /dev/stdout >>"$TMP/redirected.csv" 2>"$ERR"
RC=$?
check "--out /dev/stdout is refused with a hint, the redirected file kept" \
  eval 'test $RC -eq 2 && grep -q "open file descriptor.*use --out -" "$ERR" && test "$(cat "$TMP/redirected.csv")" = kept'
ln -s /dev/null "$TMP/null.csv"
run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/null.csv"
check "a link to a device is refused, the link kept" \
  test $RC -eq 2 -a -L "$TMP/null.csv" -a "$(grep -c "is a device" "$ERR")" -eq 1

# ---- outputs through an open file descriptor, however spelt (Note [Descriptor paths]) ---------
# Every spelling of fd 3, appended to keep.txt by the shell: refused before anything is written,
# keep.txt unchanged byte for byte (a rename over it, or --log's truncation, would lose it).
printf 'kept\nbytes\x00 \n' >"$TMP/keep.txt"
cp "$TMP/keep.txt" "$TMP/keep.orig"
ln -s /dev/fd/3 "$TMP/fd3.link"
# fd_run ARGS...: runs dptrain ARGS with descriptor 3 appending to keep.txt.
fd_run() {
  timeout "$RUN_TIMEOUT" "$DPTRAIN" "$@" >"$OUT" 2>"$ERR" 3>>"$TMP/keep.txt"
  RC=$?
}
# fd_refused OPTION SPELLED: exit 2, the message names the option and the path, nothing written.
fd_refused() {
  test $RC -eq 2 && grep -qF -- "--$1: '$2' leads to an open file descriptor" "$ERR" &&
    cmp -s "$TMP/keep.txt" "$TMP/keep.orig" && test ! -s "$OUT"
}
for fd3 in /dev/fd/3 //proc/self/fd/3 /./proc/self/fd/3 /proc/self/fd/3 "$TMP/fd3.link"; do
  fd_run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$fd3"
  check "predict --out $fd3 (3>>keep.txt) is refused, keep.txt kept" fd_refused out "$fd3"
  fd_run "${TRAIN[@]}" --save "$fd3"
  check "train --save $fd3 (3>>keep.txt) is refused, keep.txt kept" fd_refused save "$fd3"
  fd_run "${TRAIN[@]}" --log "$fd3"
  check "train --log $fd3 (3>>keep.txt) is refused, keep.txt kept" fd_refused log "$fd3"
  fd_run bench --models C --threads 1 --repeats 1 --seconds 0.01 --json "$fd3"
  check "bench --json $fd3 (3>>keep.txt) is refused, keep.txt kept" fd_refused json "$fd3"
done
check "the link to /dev/fd/3 stays a link" test -L "$TMP/fd3.link"
fd_run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/keep.txt"
check "--out keep.txt while 3>>keep.txt holds it open: exit 2, keep.txt kept" \
  eval 'test $RC -eq 2 && grep -qF -- "--out: '"'$TMP/keep.txt'"' is open in this process (file descriptor 3" "$ERR" && cmp -s "$TMP/keep.txt" "$TMP/keep.orig"'
"$DPTRAIN" predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out /dev/fd/3 3>&1 2>"$ERR" |
  cat >"$OUT"
RC=${PIPESTATUS[0]}
check "--out /dev/fd/3 on a pipe is refused, nothing sent down it" \
  eval 'test $RC -eq 2 -a ! -s "$OUT" && grep -qF -- "--out: '"'/dev/fd/3'"' leads to an open file descriptor" "$ERR"'

# ---- a replaced file keeps its mode; write-protected files and one file for two outputs -------
echo old >"$TMP/private.csv"
chmod 0600 "$TMP/private.csv"
run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/private.csv"
check "predict --out over a 0600 file keeps 0600" \
  test $RC -eq 0 -a "$(stat -c %a "$TMP/private.csv")" = 600 -a "$(head -n 1 "$TMP/private.csv")" = "class,p0,p1"
cp "$TMP/m.dpt" "$TMP/private.dpt"
chmod 0640 "$TMP/private.dpt"
run "${TRAIN[@]}" --save "$TMP/private.dpt" --quiet
check "train --save over a 0640 checkpoint keeps 0640" \
  test $RC -eq 0 -a "$(stat -c %a "$TMP/private.dpt")" = 640 -a "$(ls "$TMP" | grep -c '\.tmp\.')" -eq 0
echo old >"$TMP/readonly.csv"
chmod 0444 "$TMP/readonly.csv"
run predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/readonly.csv"
check "predict --out over a 0444 file: exit 2, write-protected, the file kept" \
  eval 'test $RC -eq 2 && grep -qF -- "--out: '"'$TMP/readonly.csv'"' is write-protected (mode 0444)" "$ERR" && test "$(cat "$TMP/readonly.csv")" = old'
cp "$TMP/readonly.csv" "$TMP/readonly.dpt"
run "${TRAIN[@]}" --save "$TMP/readonly.dpt"
check "train --save over a 0444 file: exit 2 before training" \
  eval 'test $RC -eq 2 -a ! -s "$OUT" && grep -qF -- "--save: '"'$TMP/readonly.dpt'"' is write-protected" "$ERR"'
run "${TRAIN[@]}" --log "$TMP/readonly.csv"
check "train --log over a 0444 file: exit 2, the file kept" \
  eval 'test $RC -eq 2 -a "$(cat "$TMP/readonly.csv")" = old'
ln -s same3.dpt "$TMP/same3.link"
for pair in "$TMP/same1.dpt $TMP/same1.dpt" "$TMP/same2.dpt $TMP/./same2.dpt" \
  "$TMP/same3.dpt $TMP/same3.link" "$TMP/m.dpt $TMP/real/../m.dpt"; do
  read -r save log <<<"$pair"
  run "${TRAIN[@]}" --save "$save" --log "$log"
  check "--save $save --log $log (one file): exit 2 before training" \
    eval 'test $RC -eq 2 -a ! -s "$OUT" && grep -qF -- "--log: '"'$log'"' is the same file as --save '"'$save'"'" "$ERR"'
done
check "no checkpoint or log was written for them" \
  test ! -e "$TMP/same1.dpt" -a ! -e "$TMP/same2.dpt" -a ! -e "$TMP/same3.dpt"

# ---- regression metrics and --normalize-target --------------------------------------------------
"$PYTHON" - "$TMP/reg.csv" <<'EOF'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("x1,x2,price\n")
    for _ in range(200):
        a, b = random.uniform(-1, 1), random.uniform(-1, 1)
        f.write(f"{a:.4f},{b:.4f},{250000 + 40000 * a - 25000 * b + random.gauss(0, 2000):.1f}\n")
EOF
REG=(train --data "csv:$TMP/reg.csv" --loss mse --layers 2,16,1 --normalize standard --lr 0.01
  --epochs 60 --batch-size 16 --test-data "csv:$TMP/reg.csv")
run "${REG[@]}" --normalize-target --save "$TMP/reg.dpt" --quiet
check "--normalize-target trains to data-unit metrics (r2 > 0.9)" \
  grep -qE '^final test mse [0-9.e+]+  rmse [0-9.e+]+  mae [0-9.e+]+  r2 0\.9[0-9]*$' "$OUT"
run eval --model "$TMP/reg.dpt" --data "csv:$TMP/reg.csv" --format json
check "eval --format json: mse, rmse, mae, r2 in the data's units" \
  "$PYTHON" -c 'import json,sys,math; d=json.load(open(sys.argv[1])); assert d["loss_definition"] == "0.5*mse" and abs(d["rmse"] - math.sqrt(d["mse"])) < 1e-6 * d["rmse"] and d["r2"] > 0.9 and 500 < d["rmse"] < 15000 and abs(d["loss"] - d["mse"] / 2) < 1e-6 * d["mse"], d' "$OUT"
run eval --model "$TMP/reg.dpt" --data "csv:$TMP/reg.csv"
check "eval text names the loss as half the MSE" grep -q '^loss (½·MSE) ' "$OUT"
check "eval text prints rmse and r2" eval 'grep -q "^rmse " "$OUT" && grep -q "^r2 " "$OUT"'
run predict --model "$TMP/reg.dpt" --data "csv:$TMP/reg.csv" --out -
check "predict answers in the data's units" \
  "$PYTHON" -c 'import sys; v=[float(l) for l in open(sys.argv[1]).read().split()[1:]]; assert len(v) == 200 and 150000 < sum(v) / len(v) < 350000, v[:3]' "$OUT"
run "${REG[@]}" --normalize-target --epochs 8 --deterministic --quiet
WHOLE=$(grep '^params_hash=' "$OUT")
run "${REG[@]}" --normalize-target --epochs 4 --deterministic --quiet --save "$TMP/half.dpt"
run train --data "csv:$TMP/reg.csv" --test-data "csv:$TMP/reg.csv" --resume "$TMP/half.dpt" --epochs 8 --quiet
check "a resumed --normalize-target run ends with the uninterrupted run's params_hash" \
  test -n "$WHOLE" -a "$(grep '^params_hash=' "$OUT")" = "$WHOLE"
run train --data "csv:$TMP/reg.csv" --resume "$TMP/m.dpt" --epochs 5 --normalize-target
check "--normalize-target cannot be added on resume" \
  grep -q "was trained without it, and target scaling cannot change on resume" "$ERR"
run train --data "csv:$TMP/in.csv" --loss ce --layers 2,4,2 --epochs 1 --normalize-target
check "--normalize-target with a classifier is refused" \
  grep -q -- "--normalize-target standardises regression targets: it needs --loss mse" "$ERR"

# ---- --log on a full disk: the reason, and whole lines only -------------------------------------
run "${TRAIN[@]}" --log /dev/full
check "--log /dev/full is refused before training (a device)" \
  grep -qF -- "--log: '/dev/full' is a device" "$ERR"
# A file size limit (ulimit -f, SIGXFSZ ignored) fails writes as a full disk does, mid-line too.
(trap '' XFSZ; ulimit -f 2; exec "$DPTRAIN" "${TRAIN[@]}" --epochs 40 --log "$TMP/full.jsonl") \
  >/dev/null 2>"$ERR"
RC=$?
check "--log past a file size limit: exit 2 with the reason" \
  grep -qxF "dptrain train: error: cannot write log file '$TMP/full.jsonl': File too large (it keeps the lines written before)" "$ERR"
check "--log past a file size limit: whole lines only, each one JSON" \
  "$PYTHON" -c 'import json,sys
t=open(sys.argv[1]).read(); assert t.endswith("\n") and len(t) > 0
[json.loads(l) for l in t.splitlines()]' "$TMP/full.jsonl"

harness_finish
