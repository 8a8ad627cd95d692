#!/usr/bin/env bash
# End-to-end tests of data in and models out: CSV and SQLite training, checkpoints that survive
# kill -9 and full disks, resume, eval and predict, logs, early stopping, divergence.
#
# usage: bash tests/data_cli_test.sh <path-to-dptrain-binary>
# Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed"; exits 1 on failure.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start data-test 60
cd "$TMP" || exit 2
OUT="$TMP/out" ERR="$TMP/err"  # the cases below name them out and err


# ---- data files ----
/usr/bin/python3 - <<'PY'
import random, sqlite3
random.seed(1)
rows = []
for i in range(600):
    y = 1 if random.random() < 0.4 else 0
    xs = [random.gauss(1.5 * y, 1.0) for _ in range(4)]
    rows.append(xs + [y])
with open("train.csv", "w") as f:
    f.write("f1,f2,f3,f4,outcome\n")
    for r in rows: f.write(",".join(f"{v:.5f}" for v in r[:4]) + f",{r[4]}\n")
with open("features.csv", "w") as f:
    for r in rows[:10]: f.write(",".join(f"{v:.5f}" for v in r[:4]) + "\n")
db = sqlite3.connect("train.db")
db.execute("CREATE TABLE samples (f1 REAL, f2 REAL, f3 REAL, f4 REAL, outcome INTEGER)")
db.executemany("INSERT INTO samples VALUES (?,?,?,?,?)", rows)
db.commit()
with open("reg.tsv", "w") as f:
    for i in range(200):
        x = random.uniform(-1, 1); f.write(f"{x:.5f}\t{3*x+1:.5f}\n")
PY

# ---- loaders ----
expect "csv trains by label name" 0 "final test accuracy" train --data csv:train.csv --test-data csv:train.csv --label outcome --layers 4,8,2 --epochs 5 --normalize standard
expect "csv header forced off is a clear error" 2 "line 1, column 1: 'f1' is not a number" train --data csv:train.csv --header no --layers 4,8,2
expect "sqlite table trains" 0 "params_hash=" train --data sqlite:train.db --table samples --label outcome --layers 4,8,2 --epochs 2
expect "sqlite query trains" 0 "400 rows" train --data sqlite:train.db --query "SELECT f1, f2, outcome FROM samples LIMIT 400" --layers 2,8,2 --epochs 1
expect "sqlite needs table or query" 2 "needs --table" train --data sqlite:train.db --layers 4,8,2
expect "sqlite file that is not a database" 2 "not a database" train --data sqlite:train.csv --table samples --layers 4,8,2
expect "tsv regression with --loss mse" 0 "final test mse" train --data csv:reg.tsv --delimiter tab --loss mse --layers 1,8,1 --epochs 20 --lr 0.01 --test-data csv:reg.tsv
expect "val split shows validation metrics" 0 "val_acc" train --data csv:train.csv --layers 4,8,2 --epochs 2 --val-split 0.2

# ---- hostile files: encodings, line endings, compression, SQL, duplicate names ----
/usr/bin/python3 - <<'PY'
import gzip, sqlite3
rows = open("train.csv").read().splitlines()
open("bom.csv", "w", encoding="utf-8-sig").write("\n".join(rows) + "\n")
bad = rows[:3] + ["1.0,oops,1.0,1.0,1"] + rows[3:10]
open("cr.csv", "w", newline="").write("\r".join(bad) + "\r")  # error on line 4
open("train.csv.gz", "wb").write(gzip.compress(open("train.csv", "rb").read()))
open("binary.csv", "wb").write(b"f1,f2\n1,2\n\x00\x01\x02\n")
open("dup.csv", "w").write("outcome,f1,outcome\n0,1.5,1\n1,2.5,0\n")
db = sqlite3.connect("odd.db")
db.execute("CREATE TABLE t (f1 REAL, y INTEGER)")
db.executemany("INSERT INTO t VALUES (?,?)", [(1.0, 0), (b"\x01\x02", 1)])
db.commit()
db = sqlite3.connect("wal.db")
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE t (f1 REAL, y INTEGER)")
db.executemany("INSERT INTO t VALUES (?,?)", [(i / 10, i % 2) for i in range(40)])
db.commit()
db.close()
def idx(dims, data, kind):
    h = bytes([0, 0, 8, kind]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return h + bytes(data)
img = idx([6, 2, 2], [(i * 37) % 256 for i in range(24)], 3)
lbl = idx([6], [i % 2 for i in range(6)], 1)
open("img2.gz", "wb").write(gzip.compress(img[:10]) + gzip.compress(img[10:]))
open("lbl.gz", "wb").write(gzip.compress(lbl))
open("imgjunk.gz", "wb").write(gzip.compress(img) + b"junk")
PY
expect "csv with a UTF-8 byte-order mark keeps its first header" 0 "params_hash=" train --data csv:bom.csv --label f1 --loss mse --layers 4,8,1 --epochs 1
expect "csv with CR line endings names the right line" 2 "line 4, column 2: 'oops' is not a number" train --data csv:cr.csv --layers 4,8,2
expect "gzip-compressed csv is read" 0 "600 rows" train --data csv:train.csv.gz --layers 4,8,2 --epochs 1
expect "binary file given as csv" 2 "'binary.csv' is binary (a NUL byte on line 3), not CSV text" train --data csv:binary.csv --layers 1,8,2
# A quote never closed would make every later line one field (the rows after it lost).
printf 'a,b,y\n1,2,cat\n3,4,"cat\n5,6,dog\n7,8,dog\n' >quote-last.csv
printf 'a,b,y\n1,2,cat\n3,"4,cat\n5,6,dog\n' >quote-middle.csv
printf 'a,"b,y\n1,2,cat\n3,4,dog\n' >quote-header.csv
expect "csv: a quote never closed (last field) is refused at its line" 2 "quote-last.csv: line 3: a quoted field opens here and its quote is never closed" train --data csv:quote-last.csv --layers 2,4,2 --epochs 1
expect "csv: a quote never closed (middle field) is refused at its line" 2 "quote-middle.csv: line 3: a quoted field opens here and its quote is never closed" train --data csv:quote-middle.csv --layers 2,4,2 --epochs 1
expect "csv: a quote never closed in the header is refused at line 1" 2 "quote-header.csv: line 1: a quoted field opens here and its quote is never closed" train --data csv:quote-header.csv --layers 2,4,2 --epochs 1
expect "duplicated label name is refused" 2 "'outcome' is ambiguous: columns 0 and 2 (0-based)" train --data csv:dup.csv --label outcome --layers 2,8,2
grep -qF -- "check --label" err && ok "duplicated label name: hint names --label" || not_ok "duplicated label name: hint names --label" "$(cat err)"
expect "sqlite query with two statements" 2 "more than one statement ('DELETE FROM samples'" train --data sqlite:train.db --query "SELECT f1, outcome FROM samples; DELETE FROM samples" --layers 1,8,2
expect "sqlite BLOB cell names its type" 2 "row 2, column 1 ('f1'): a BLOB (2 bytes), not a number" train --data sqlite:odd.db --table t --layers 1,8,2
expect "sqlite WAL database trains" 0 "params_hash=" train --data sqlite:wal.db --table t --layers 1,8,2 --epochs 1
[[ ! -e wal.db-wal && ! -e wal.db-shm ]] && ok "reading a WAL database leaves no -wal/-shm files" || not_ok "reading a WAL database leaves no -wal/-shm files" "$(ls wal.db*)"
expect "idx: every gzip member is read" 0 "params_hash=" train --data idx:img2.gz,lbl.gz --layers 4,8,10 --epochs 1
expect "idx: trailing bytes after gzip are refused" 2 "cannot read 'imgjunk.gz': 4 bytes of trailing data after gzip member 1" train --data idx:imgjunk.gz,lbl.gz --layers 4,8,10

# ---- load progress on a terminal (script(1) gives dptrain one), silent under --quiet
mkfifo slow.csv
progress_run() {  # a load that takes over half a second: a FIFO whose writer pauses
  ( head -300 train.csv; sleep 1; tail -n +301 train.csv ) >slow.csv &
  timeout "$RUN_TIMEOUT" script -qec "'$DPTRAIN' train --data csv:slow.csv --layers 4,8,2 --epochs 1 --test-data none $*" progress.txt >/dev/null 2>&1
  wait
}
progress_run
grep -qF "loading 'slow.csv': 600 rows" progress.txt && ok "a long csv load shows its rows and MB/s on a terminal" || not_ok "load progress on a terminal" "$(tail -c 300 progress.txt)"
progress_run --quiet
! grep -qF "loading" progress.txt && grep -q "params_hash=" progress.txt && ok "--quiet: no load progress" || not_ok "--quiet: no load progress" "$(tail -c 300 progress.txt)"

# ---- gzip bombs and endless inputs: refused early, never inflated whole (Note [Bounded inflation])
/usr/bin/python3 - <<'PY'
import gzip
nul = gzip.compress(b"\0" * (64 << 20), 9)  # 64 MiB of NUL bytes in about 64 KiB
open("bomb.csv.gz", "wb").write(nul * 64)   # 4 GiB once inflated, about 4 MiB here
zeros = gzip.compress(b"0" * (64 << 20), 9)
head = bytes([0, 0, 8, 3]) + (4).to_bytes(4, "big") + (2).to_bytes(4, "big") * 2
open("bomb-img.gz", "wb").write(gzip.compress(head + bytes(16)) + zeros * 16)  # 1 GiB trailing
open("bomb-lbl", "wb").write(bytes([0, 0, 8, 1]) + (4).to_bytes(4, "big") + bytes([0, 1, 0, 1]))
PY
# A sanitizer's runtime reserves terabytes of address space up front and cannot start under
# ulimit -v (DPTRAIN_SANITIZED=1): there the bombs are refused without the limit.
limited() {
  local limit='ulimit -v 2000000 && '
  [[ ${DPTRAIN_SANITIZED:-0} == 1 ]] && limit=''
  timeout "$RUN_TIMEOUT" bash -c "${limit}"'exec "$@"' limited "$DPTRAIN" "$@" >out 2>err
  RC=$?
}
limited train --data csv:bomb.csv.gz --layers 4,8,2 --epochs 1 --threads 1
[[ $RC -eq 2 ]] && grep -qF "'bomb.csv.gz' is binary (a NUL byte on line 1), not CSV text" err && ok "csv: a 4 GiB gzip bomb is refused in its first block under a 2 GB address-space limit" || not_ok "csv: gzip bomb refused early" "rc=$RC $(head -c 300 err)"
limited train --data idx:bomb-img.gz,bomb-lbl --layers 4,8,10 --epochs 1 --threads 1
[[ $RC -eq 2 ]] && grep -qF "'bomb-img.gz' has 1073741824 bytes of trailing data after the IDX payload" err && ok "idx: a gzip bomb after the payload is counted, not kept, under a 2 GB address-space limit" || not_ok "idx: gzip bomb counted, not kept" "rc=$RC $(head -c 300 err)"
expect "csv: /dev/urandom is refused at once, not read forever" 2 "/dev/urandom" train --data csv:/dev/urandom --layers 4,8,2 --epochs 1

# ---- names that are not UTF-8, shared names, one class, --labels files: refused at load time,
# before any training (nothing on stdout, no checkpoint) ----
# expect_refused NAME SUBSTRING ARGS...: exit 2 naming SUBSTRING, no epoch ran, no r.dpt written.
expect_refused() {
  local name=$1 want=$2
  shift 2
  rm -f r.dpt
  run "$@" --save r.dpt
  if [[ $RC -ne 2 ]]; then not_ok "$name" "expected exit 2, got $RC"
  elif ! grep -qF -- "$want" err; then not_ok "$name" "expected stderr to contain '$want'"
  elif grep -q '^epoch' out || [[ -e r.dpt ]]; then not_ok "$name" "training started"
  else ok "$name"; fi
}
# ---- NumPy input: npy:<x.npy>[,<y.npy>], --labels npy:<y.npy>
/usr/bin/python3 - <<'PY'
import numpy as np
rows = [l.split(",") for l in open("train.csv").read().splitlines()[1:]]
x = np.array([[float(v) for v in r[:4]] for r in rows], dtype=np.float32)
y = np.array([int(r[4]) for r in rows])
np.save("x.npy", x)
np.save("y.npy", y)
np.save("x64f.npy", np.asfortranarray(x.astype(np.float64)))
np.save("yf.npy", y.astype(np.float64))
np.save("obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
np.save("y-short.npy", y[:-1])
PY
expect "npy: float32 features and int labels train" 0 "final test accuracy" train --data npy:x.npy,y.npy --test-data npy:x.npy,y.npy --layers 4,8,2 --epochs 3 --save npy.dpt
hash_npy=$(grep -o 'params_hash=[0-9a-f]*' out)
expect "npy: the same data as csv, the same model" 0 "$hash_npy" train --data csv:train.csv --test-data csv:train.csv --layers 4,8,2 --epochs 3
expect "npy: float64 Fortran-order features and --labels npy: train the same model" 0 "$hash_npy" train --data npy:x64f.npy --labels npy:yf.npy --test-data npy:x.npy,y.npy --layers 4,8,2 --epochs 3
expect "npy: eval reads npy data" 0 "accuracy" eval --model npy.dpt --data npy:x.npy,y.npy
expect "npy: predict reads npy features" 0 "" predict --model npy.dpt --data npy:x.npy --out npy-pred.csv
[[ $(wc -l <npy-pred.csv) -ge 600 ]] && ok "npy: predict writes one row per sample" || not_ok "npy: predict writes one row per sample" "$(wc -l <npy-pred.csv) lines"
expect_refused "npy: an object array is refused, not unpickled" "'obj.npy' is not a .npy file dptrain reads: its header has type '|O'" train --data npy:obj.npy,y.npy --layers 4,8,2
expect_refused "npy: labels for other rows" "'y-short.npy' holds 599 labels for the 600 rows of 'x.npy'" train --data npy:x.npy,y-short.npy --layers 4,8,2

printf 'caf\xe9,b,y\n1,2,0\n3,4,1\n' >latin1-header.csv
printf 'a,b,y\n1,2,caf\xe9\n3,4,dog\n' >latin1-label.csv
printf 'a,a,b,y\n1,2,3,0\n4,5,6,1\n' >dup-features.csv
printf 'a,b,y\n1,2,0\n3,4,0\n5,6,0\n' >all0.csv
printf 'a,b,y\n1,2,1\n3,4,1\n5,6,1\n' >all1.csv
printf 'a,b,y\n1,2,cat\n3,4,cat\n5,6,cat\n' >allcat.csv
/usr/bin/python3 - <<'PY'
import sqlite3
db = sqlite3.connect("latin1.db")
db.execute("CREATE TABLE t (f1 REAL, y TEXT)")
db.execute("INSERT INTO t VALUES (1.0, CAST(X'636166E9' AS TEXT)), (2.0, 'dog')")
db.commit()
PY
expect_refused "latin-1 byte in a csv header: file, line and column" "latin1-header.csv: line 1, column 1: column name 'caf\xE9' is not valid UTF-8 (byte 0xE9 at byte 4)" train --data csv:latin1-header.csv --layers 2,4,2 --epochs 1
expect_refused "latin-1 byte in a text label: file, line and column" "latin1-label.csv: line 2, column 3: label 'caf\xE9' is not valid UTF-8" train --data csv:latin1-label.csv --layers 2,4,2 --epochs 1
expect_refused "latin-1 byte in a sqlite text label" "sqlite:latin1.db: row 1, column 2 ('y'): label 'caf\xE9' is not valid UTF-8" train --data sqlite:latin1.db --table t --layers 1,4,2 --epochs 1
expect_refused "latin-1 byte in a sqlite column name" "sqlite:train.db: column 1: column name 'caf\xE9' is not valid UTF-8" train --data sqlite:train.db --query $'SELECT f1 AS "caf\xe9", outcome FROM samples' --layers 1,4,2 --epochs 1
# A data path that is not UTF-8 is only recorded (U+FFFD for the byte): the run, its log, its
# checkpoint and eval --format json all work.
cp train.csv $'tr\xe9in.csv'
run train --data $'csv:tr\xe9in.csv' --layers 4,8,2 --epochs 1 --save p.dpt --log p.jsonl --test-data none
[[ $RC -eq 0 && -s p.dpt && -s p.jsonl ]] && ok "a data path that is not UTF-8: trains, saves and logs" || not_ok "a data path that is not UTF-8" "rc=$RC $(head -c 300 err)"
run eval --model p.dpt --data $'csv:tr\xe9in.csv' --format json
[[ $RC -eq 0 ]] && /usr/bin/python3 -c 'import json; d=json.load(open("out")); assert d["data"] == "tr\ufffdin.csv", d["data"]' && ok "eval --format json with a path that is not UTF-8" || not_ok "eval --format json with a path that is not UTF-8" "rc=$RC $(head -c 300 err)"
expect_refused "duplicated feature names are refused when training" "dup-features.csv: column name 'a' is used by columns 0 and 1 (0-based)" train --data csv:dup-features.csv --hidden 4 --epochs 1
expect_refused "one class (all 0) is refused" "has only one class, '0', in its 3 training rows" train --data csv:all0.csv --hidden 4 --epochs 1
expect_refused "one class (all 1) is refused" "has only one class, '1', in its 3 training rows" train --data csv:all1.csv --layers 2,4,2 --epochs 1
expect_refused "one text class is refused" "has only one class, 'cat', in its 3 training rows" train --data csv:allcat.csv --hidden 4 --epochs 1
{ head -1 train.csv; grep ',0$' train.csv | head -5; } >test0.csv
expect "one class in a test set is fine" 0 "final test accuracy" train --data csv:train.csv --layers 4,8,2 --epochs 1 --test-data csv:test0.csv
# --labels: a numeric first line is a label, never a header; two columns are refused.
/usr/bin/python3 - <<'PY'
rows = open("train.csv").read().splitlines()[1:11]
labels = [r.split(",")[-1] for r in rows]
open("ten.csv", "w").write("\n".join(",".join(r.split(",")[:4]) for r in rows) + "\n")
open("labels-extra.csv", "w").write("\n".join(["1"] + labels) + "\n")
open("labels-header.csv", "w").write("\n".join(["outcome"] + labels) + "\n")
open("labels-two.csv", "w").write("\n".join(l + "," + l for l in labels) + "\n")
open("labels-quoted.csv", "w").write("\n".join('"a,%s"' % l for l in labels) + "\n")
PY
expect_refused "--labels: an extra numeric first line is not a header" "labels-extra.csv: has 11 labels for the 10 rows of data 'ten.csv' (its first line, '1', is a number, so it is a label, not a header)" train --data csv:ten.csv --labels csv:labels-extra.csv --hidden 4 --epochs 1 --test-data none
expect "--labels: a text first line on an extra line is the header" 0 "params_hash=" train --data csv:ten.csv --labels csv:labels-header.csv --hidden 4 --epochs 1 --test-data none
expect_refused "--labels: two columns are refused" "labels-two.csv: line 1 has 2 fields ('" train --data csv:ten.csv --labels csv:labels-two.csv --hidden 4 --epochs 1 --test-data none
expect "--labels: a quoted label may hold the delimiter" 0 "params_hash=" train --data csv:ten.csv --labels csv:labels-quoted.csv --hidden 4 --epochs 1 --test-data none

# ---- checkpoints, resume, eval, predict ----
run train --data csv:train.csv --layers 4,16,2 --epochs 2 --save m.dpt --normalize standard --deterministic --threads 2 --log run.jsonl
[[ $RC -eq 0 && -s m.dpt ]] && ok "save writes a checkpoint" || not_ok "save writes a checkpoint" "rc=$RC"
[[ $(wc -l <run.jsonl) -eq 2 ]] && grep -q '"val_loss"\|"train_loss"' run.jsonl && ok "log has one JSON line per epoch" || not_ok "log has one JSON line per epoch" "$(cat run.jsonl)"
/usr/bin/python3 -c 'import json, sys; ls = [json.loads(l) for l in open("run.jsonl")]; sys.exit(not all(0 <= l["load_seconds"] < 60 for l in ls))' && grep -qE '^summary: data loaded in [0-9.]+s; epochs 1-2 ' out && ok "the load time is in the summary line and every --log line" || not_ok "load time in the summary and --log" "$(tail -2 out)"
run train --data csv:train.csv --epochs 4 --resume m.dpt --threads 3 --save m2.dpt
resumed=$(hash_of)
grep -q "resumed from 'm.dpt' after epoch 2" out && ok "resume continues after epoch 2" || not_ok "resume continues after epoch 2" "$(head -5 out)"
run train --data csv:train.csv --layers 4,16,2 --epochs 4 --normalize standard --deterministic --threads 1
[[ -n $resumed && $(hash_of) == "$resumed" ]] && ok "deterministic resume with other threads = uninterrupted run" || not_ok "deterministic resume with other threads = uninterrupted run" "$resumed vs $(hash_of)"
expect "resume with another architecture" 2 "does not match --layers" train --data csv:train.csv --resume m.dpt --layers 4,8,2
expect "resume refuses a changed setting" 2 "--lr 0.5 differs from checkpoint 'm.dpt', trained with 0.001" train --data csv:train.csv --resume m.dpt --epochs 4 --lr 0.5
expect "resume refuses an invalid value it would ignore" 2 "--lr: 'abc'" train --data csv:train.csv --resume m.dpt --epochs 4 --lr abc
expect "resume with the same value is fine" 0 "resumed from 'm.dpt'" train --data csv:train.csv --resume m.dpt --epochs 3 --seed 42
# Model, loss, normalisation and determinism flags: checked as in a fresh run, refused when they
# differ from the checkpoint's (m.dpt: 4,16,2 relu/softmax, ce, standard, deterministic, 16).
for case in "--dropout 7|--dropout must be in [0, 1)" \
  "--dropout 0.5|--dropout 0.5 differs from checkpoint 'm.dpt', trained with 0; a resumed run keeps its settings" \
  "--activation softmax|softmax is only for the output layer" \
  "--activation tanh|--activation tanh differs from checkpoint 'm.dpt', trained with relu" \
  "--output sigmoid|--output sigmoid differs from checkpoint 'm.dpt', trained with softmax" \
  "--output swish|unknown activation" \
  "--loss mse|--loss mse differs from checkpoint 'm.dpt', trained with ce" \
  "--init glorot|--init glorot differs from checkpoint 'm.dpt', trained with auto" \
  "--init lecun|--init: unknown initialisation 'lecun'" \
  "--normalize minmax|--normalize minmax differs from checkpoint 'm.dpt', trained with standard" \
  "--micro-batches 4|--micro-batches 4 differs from checkpoint 'm.dpt', trained with 16" \
  "--micro-batches 0|--micro-batches must be at least 1" \
  "--hidden 8|--hidden 8 differs from checkpoint 'm.dpt', trained with 16"; do
  # shellcheck disable=SC2086
  expect "resume: ${case%%|*} is refused" 2 "${case#*|}" train --data csv:train.csv --resume m.dpt --epochs 3 ${case%%|*}
done
expect "resume: every flag as the checkpoint has it is fine" 0 "resumed from 'm.dpt'" train --data csv:train.csv --resume m.dpt --epochs 3 --hidden 16 --activation relu --dropout 0 --output softmax --loss ce --init auto --normalize standard --deterministic --micro-batches 16
run train --data csv:train.csv --layers 4,16,2 --epochs 1 --save nd.dpt --test-data none
expect "resume: --deterministic on a checkpoint trained without it is refused" 2 "--deterministic differs from checkpoint 'nd.dpt', trained without --deterministic" train --data csv:train.csv --resume nd.dpt --epochs 2 --deterministic
expect "resume with nothing to train says so" 2 "has already trained 2 of 2 epochs: nothing to train" train --data csv:train.csv --resume m.dpt --epochs 2
expect "cosine final rate above the rate" 2 "final learning rate 0.500000 is above the learning rate 0.010000" train --data csv:train.csv --layers 4,16,2 --schedule cosine --lr 0.01 --min-lr 0.5
expect "eval prints confusion matrix" 0 "confusion matrix" eval --model m2.dpt --data csv:train.csv
run eval --model m2.dpt --data csv:train.csv --format json
/usr/bin/python3 -c 'import json,sys; d=json.load(open("out")); assert 0.5 < d["accuracy"] <= 1 and len(d["confusion_matrix"]) == 2' && ok "eval --format json parses" || not_ok "eval --format json parses" "$(head -c 200 out)"
expect "predict unlabelled rows" 0 "wrote 10 rows" predict --model m2.dpt --data csv:features.csv --label none --out pred.csv
[[ $(wc -l <pred.csv) -eq 11 && $(head -1 pred.csv) == "class,p0,p1" ]] && ok "predictions: header and one row per input" || not_ok "predictions: header and one row per input" "$(head -2 pred.csv)"

# ---- damaged checkpoints ----
head -c 100 m.dpt >trunc.dpt
expect "truncated checkpoint" 2 "is truncated" eval --model trunc.dpt --data csv:train.csv
/usr/bin/python3 -c 'b=bytearray(open("m.dpt","rb").read()); b[len(b)//2]^=1; open("flip.dpt","wb").write(b)'
expect "corrupted checkpoint" 2 "CRC-32 mismatch" train --data csv:train.csv --resume flip.dpt
/usr/bin/python3 -c 'b=bytearray(open("m.dpt","rb").read()); b[8]=7; open("ver.dpt","wb").write(b)'
expect "wrong-version checkpoint" 2 "format version 7" eval --model ver.dpt --data csv:train.csv
expect "not a checkpoint" 2 "not a dptrain checkpoint" eval --model train.csv --data csv:train.csv
expect "missing checkpoint" 2 "cannot open checkpoint" eval --model nope.dpt --data csv:train.csv

# ---- faults: kill -9 at random moments, full disk, unwritable folder ----
# kill_at_random ARGS...: starts `dptrain ARGS...`, kills it with SIGKILL 0.1-0.9 s later.
kill_at_random() {
  "$DPTRAIN" "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
good=0
for i in 1 2 3 4 5; do
  rm -f k.dpt
  kill_at_random train --data csv:train.csv --layers 4,256,256,2 --epochs 400 --save k.dpt --quiet
  if [[ ! -e k.dpt ]]; then
    good=$((good + 1))  # killed before the first epoch ended: nothing written, nothing torn
    continue
  fi
  # The checkpoint verifies (CRC) and training resumes from it; kill the resume too.
  "$DPTRAIN" eval --model k.dpt --data csv:train.csv >/dev/null 2>err || continue
  kill_at_random train --data csv:train.csv --resume k.dpt --epochs 800 --save k.dpt --quiet
  "$DPTRAIN" train --data csv:train.csv --resume k.dpt --epochs 801 --quiet >/dev/null 2>err &&
    good=$((good + 1))
done
[[ $good -eq 5 ]] && ok "checkpoint verifies and resumes after 5 random kill -9 (of training and of resuming)" || not_ok "checkpoint verifies after random kill -9" "$good of 5"
cp m.dpt before.dpt
( ulimit -f 4; "$DPTRAIN" train --data csv:train.csv --layers 4,256,2 --epochs 1 --save m.dpt >out 2>err ); RC=$?
if [[ $RC -eq 2 ]] && grep -q "cannot write 'm.dpt'" err && cmp -s m.dpt before.dpt && ! ls m.dpt.tmp.* >/dev/null 2>&1; then
  ok "full disk (file-size limit): clear error, previous checkpoint intact, no temp file"
else
  not_ok "full disk (file-size limit): clear error, previous checkpoint intact" "rc=$RC $(cat err)"
fi
expect "unwritable output folder" 2 "cannot write '/proc/m.dpt'" train --data csv:train.csv --layers 4,8,2 --epochs 1 --save /proc/m.dpt

# ---- training controls ----
expect "early stopping restores the best weights" 0 "early stopping after epoch" train --data csv:train.csv --layers 4,64,2 --epochs 300 --val-split 0.3 --patience 2 --lr 0.05
expect "patience needs a validation set" 2 "--patience needs a validation set" train --data csv:train.csv --layers 4,8,2 --patience 2
cp m.dpt before.dpt
run train --data csv:reg.tsv --delimiter tab --loss mse --layers 1,32,32,1 --optimizer sgd --lr 1e4 --epochs 50 --save div.dpt
if [[ $RC -eq 2 ]] && grep -q "training diverged: the loss is .* at epoch [0-9]*, step [0-9]*" err; then ok "divergence: clear message and exit 2"; else not_ok "divergence: clear message and exit 2" "rc=$RC"; fi

# ---- messages for numbers, tables and queries that cannot be read as meant ----
printf 'a,b,y\n1,2,0\n1e-400,3,1\n' >under.csv
expect "a number that underflows the float range says so" 2 "under.csv: line 3, column 1: '1e-400' underflows: it is closer to 0 than the smallest float" train --data csv:under.csv --layers 2,4,2
{ printf 'a,b,y\n1,2,0\n'; printf '9%.0s' $(seq 400); printf ',3,1\n'; } >digits.csv
expect "a 400-digit number is beyond the float range" 2 "line 3, column 1: '9999999999999999999999999999999999999999... (400 characters)' is beyond the range of a float" train --data csv:digits.csv --layers 2,4,2
{ printf 'a,b,y\n1,2,0\n'; printf '9%.0s' $(seq 300); printf ',3,1\n'; } >digits300.csv
expect "a 300-digit number is beyond the float range" 2 "line 3, column 1: 1e+300 is beyond the range of a float" train --data csv:digits300.csv --layers 2,4,2
printf 'x,y\n1,2\n2,1e39\n' >bigtarget.csv
expect "a regression target beyond the float range names its cell" 2 "bigtarget.csv: line 3, column 2: 1e+39 is beyond the range of a float" train --data csv:bigtarget.csv --loss mse --layers 1,4,1
printf 'a;b;y\n1;2;0\n3;4;1\n' >semi.csv
expect "one column whose header holds ';': the --delimiter hint" 2 "found 1; its header 'a;b;y' holds ';': was the file written with another delimiter? (--delimiter ';')" train --data csv:semi.csv --layers 2,4,2
printf 'a\tb\ty\n1\t2\t0\n3\t4\t1\n' >tabs.csv
expect "one column whose header holds tabs: the --delimiter hint" 2 "holds a tab: was the file written with another delimiter? (--delimiter tab)" train --data csv:tabs.csv --layers 2,4,2
mkdir folder.db
expect "a SQLite path that is a folder says so" 2 "SQLite database 'folder.db' is a folder, not a database file" train --data sqlite:folder.db --table samples --layers 4,8,2
expect "an ATTACH query is refused" 2 "the query is an ATTACH statement, which changes the connection or reads other files; a query must be one SELECT statement" train --data sqlite:train.db --query "ATTACH 'other.db' AS o" --layers 4,8,2
expect "a PRAGMA query is refused" 2 "the query is a PRAGMA statement" train --data sqlite:train.db --query "/* info */ pragma table_info(samples)" --layers 4,8,2
[[ ! -e other.db ]] && ok "the refused ATTACH created nothing" || not_ok "the refused ATTACH created nothing" "other.db exists"

harness_finish
