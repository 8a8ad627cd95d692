#!/usr/bin/env bash
# End-to-end tests of the dptrain command line: exit statuses, error messages, and the
# params_hash contract (same seed -> same hash, --deterministic -> same hash for any --threads).
#
# usage: bash tests/cli_test.sh <path-to-dptrain-binary>
#
# Each case checks the exit status and a stable phrase of stderr (grep -F); successful runs also
# check stdout. Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed" at the
# end; exits 1 if any case failed. Uses only synthetic sets and tiny IDX files made here.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start cli-test 30
# Never pick up the real Fashion-MNIST by accident: a case that forgets --data fails fast.


first_error_line() { grep -v '^dptrain: warning: ' "$ERR" | head -n 1; }

# expect_error NAME SUBSTRING ARGS...: `dptrain ARGS...` exits 2, prints exactly one message
# (warnings aside) that starts "dptrain <command>: error: " and contains SUBSTRING, and prints
# nothing on stdout (bad input is rejected before the banner), unless QUIET_STDOUT=0.
QUIET_STDOUT=1
expect_error() {
  local name=$1 want=$2
  shift 2
  run "$@"
  local cmd=$1
  local prefix="dptrain $cmd: error: "
  local lines
  lines=$(grep -vc '^dptrain: warning: ' "$ERR")
  if [[ $RC -ne 2 ]]; then
    not_ok "$name" "expected exit 2, got $RC"
  elif ! grep -qF -- "$want" "$ERR"; then
    not_ok "$name" "expected stderr to contain '$want', got '$(first_error_line)'"
  elif [[ $(first_error_line) != "$prefix"* ]]; then
    not_ok "$name" "expected stderr to start with '$prefix', got '$(first_error_line)'"
  elif [[ $lines -ne 1 ]]; then
    not_ok "$name" "expected one line on stderr, got $lines"
  elif [[ $QUIET_STDOUT -eq 1 && -s $OUT ]]; then
    not_ok "$name" "expected nothing on stdout (error before the banner), got '$(head -n 1 "$OUT")'"
  else
    ok "$name"
  fi
}

# expect_train_ok NAME ARGS...: `dptrain train ARGS...` exits 0, prints no error on stderr and a
# params_hash=<16 hex digits> line on stdout. Sets HASH to that line.
HASH=""
expect_train_ok() {
  local name=$1
  shift
  run train "$@"
  HASH=$(grep -E '^params_hash=[0-9a-f]{16}$' "$OUT" | tail -n 1)
  if [[ $RC -ne 0 ]]; then
    not_ok "$name" "expected exit 0, got $RC"
  elif grep -qF -- "error" "$ERR"; then
    not_ok "$name" "expected no 'error' on stderr, got '$(first_error_line)'"
  elif [[ -z $HASH ]]; then
    not_ok "$name" "expected stdout to contain params_hash=<16 hex digits>, got '$(tail -n 1 "$OUT")'"
  else
    ok "$name"
  fi
}

# expect_same NAME A B / expect_differ NAME A B: compare two params_hash lines.
expect_same() {
  if [[ -n $2 && $2 == "$3" ]]; then ok "$1"; else not_ok "$1" "expected equal hashes, got '$2' and '$3'"; fi
}
expect_differ() {
  if [[ -n $2 && -n $3 && $2 != "$3" ]]; then ok "$1"; else not_ok "$1" "expected different hashes, got '$2' and '$3'"; fi
}

# ---- tiny IDX files ------------------------------------------------------------------------------
# images: magic 0x00000803, count, rows, cols (big-endian u32), u8 pixels
# labels: magic 0x00000801, count, u8 labels
"$PYTHON" - "$TMP" <<'EOF' || { echo "cli_test: python3 could not write the IDX files" >&2; exit 2; }
import gzip, struct, sys
d = sys.argv[1]
def images(n, r=4, c=4, magic=0x803):
    px = bytes((i * 37 + 11) % 256 for i in range(n * r * c))
    return struct.pack(">IIII", magic, n, r, c) + px
def labels(n, magic=0x801):
    return struct.pack(">II", magic, n) + bytes(i % 10 for i in range(n))
def write(name, data):
    with open(f"{d}/{name}", "wb") as f:
        f.write(data)
img, lbl = images(20), labels(20)
write("img", img)
write("lbl", lbl)
write("lbl19", labels(19))                       # count mismatch with img
write("badmagic", images(20, magic=0x00000813))  # wrong type byte
write("lbl_as_img", lbl)                         # label file where images are expected
write("trunc_img", img[:-7])                     # payload cut short
write("trunc_hdr", img[:10])                     # header cut short
write("trailing_img", img + b"\0\0\0")           # extra bytes after the payload
write("zero_dim", struct.pack(">IIII", 0x803, 20, 0, 4))
write("tiny", b"\0\0")                            # shorter than a magic number
write("empty", b"")
# A larger pseudo-random image file so that its gzip stream has a real deflate body.
n, r, c = 64, 8, 8
x = 12345
px = bytearray()
for _ in range(n * r * c):
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    px.append(x >> 23)
big = struct.pack(">IIII", 0x803, n, r, c) + bytes(px)
write("big_img", big)
write("big_lbl", labels(n))
gz = gzip.compress(big, mtime=0)
write("big_img.gz", gz)
write("big_lbl.gz", gzip.compress(labels(n), mtime=0))
write("trunc.gz", gz[: len(gz) // 2])            # gzip stream cut in the middle
mid = len(gz) // 2
write("corrupt.gz", gz[:mid] + bytes(b ^ 0x5A for b in gz[mid:mid + 16]) + gz[mid + 16:])
write("crc.gz", gz[:-8] + bytes(b ^ 0xFF for b in gz[-8:-4]) + gz[-4:])  # bad CRC32 trailer
write("garbage.gz", b"\x1f\x8b\x08\x00" + bytes((i * 89 + 7) % 256 for i in range(300)))
EOF

IMG="$TMP/img"
LBL="$TMP/lbl"

# ---- 1. unknown option values ---------------------------------------------------------------------
expect_error "unknown --optimizer" "unknown optimizer 'foo'" train --data xor --layers 2,4,1 --optimizer foo
expect_error "unknown --activation" "unknown activation 'foo'" train --data xor --layers 2,4,1 --activation foo
expect_error "unknown --loss" "unknown loss 'foo'" train --data xor --layers 2,4,1 --loss foo
expect_error "unknown --backend" "unknown backend 'foo'" train --data xor --layers 2,4,1 --backend foo
expect_error "unknown --parallelism" "unknown parallelism 'foo'" train --data xor --layers 2,4,1 --parallelism foo
expect_error "unknown --schedule" "schedule 'foo'" train --data xor --layers 2,4,1 --schedule foo
expect_error "unknown --init" "unknown initialisation 'foo'" train --data xor --layers 2,4,1 --init foo
expect_error "unknown --data" "unknown data set 'foo'" train --data foo --layers 2,4,1
expect_error "malformed idx: spec" "must be idx:<images>,<labels>" train --data "idx:$IMG" --layers 16,10
expect_error "unknown option" "frobnicate" train --data xor --frobnicate 3
expect_error "unknown option says see --help" "see dptrain train --help" train --data xor --frobnicate 3
# bf16 where oneDNN cannot run it natively: a CPU without AVX512_BF16, reproduced here by capping
# oneDNN at AVX2 (what an AVX2-only CPU such as Zen 3 gives it).
ONEDNN_MAX_CPU_ISA=AVX2 expect_error "--precision bf16 on an AVX2-only oneDNN" "AVX512_BF16" \
  train --data xor --layers 2,4,1 --precision bf16

# ---- 2. bad numbers -------------------------------------------------------------------------------
expect_error "--batch-size 0" "--batch-size must be at least 1" train --data xor --layers 2,4,1 --batch-size 0
expect_error "--epochs 0" "--epochs must be at least 1" train --data xor --layers 2,4,1 --epochs 0
expect_error "--threads -1" "--threads: '-1' is not a whole number" train --data xor --layers 2,4,1 --threads=-1
expect_error "--batch-size abc" "--batch-size: 'abc' is not a whole number" train --data xor --layers 2,4,1 --batch-size abc
expect_error "--epochs -3" "--epochs: '-3' is not a whole number" train --data xor --layers 2,4,1 --epochs=-3
expect_error "--lr -1" "learning rate (--lr) must be in (0, 10000], got -1" train --data xor --layers 2,4,1 --lr -1
# Optimizer settings that cannot train are refused with their range (OptimizerConfig::validate),
# not run into infinite parameters or optimizer state that exit 0.
expect_error "--lr 1e30" "learning rate (--lr) must be in (0, 10000], got 1e+30" train --data xor --layers 2,4,1 --lr 1e30
expect_error "--l1 1e30 (adam)" "l1 penalty (--l1) must be in [0, 1000], got 1e+30" train --data xor --layers 2,4,1 --l1 1e30
expect_error "--l2 1e30 (adam)" "l2 penalty (--l2) must be in [0, 1000], got 1e+30" train --data xor --layers 2,4,1 --l2 1e30
expect_error "--l2 -1" "l2 penalty (--l2) must be in [0, 1000], got -1" train --data xor --layers 2,4,1 --l2=-1
expect_error "--momentum 1" "momentum (--momentum) must be in [0, 1), got 1" \
  train --data xor --layers 2,4,1 --optimizer momentum --momentum 1
expect_error "--weight-decay 1e30" "weight decay (--weight-decay) must be in [0, 1000], got 1e+30" \
  train --data xor --layers 2,4,1 --optimizer adamw --weight-decay 1e30
expect_error "--weight-decay x --lr >= 1" "weight decay (--weight-decay) times the learning rate (--lr) must be below 1" \
  train --data xor --layers 2,4,1 --optimizer sgd --lr 0.5 --weight-decay 2
# Within the ranges a run can still explode: one step (the batch holds every row) on features and
# targets near 1e8 moves the weight to about 1e20 while that step's loss is finite. The run stops
# at the epoch's end naming it, and writes no checkpoint of it (Note [Exploded parameters]).
printf 'x,y\n1e8,2e8\n2e8,1e8\n1.5e8,3e8\n' >"$TMP/huge.csv"
rm -f "$TMP/exploded.dpt"
QUIET_STDOUT=0  # the banner precedes training
expect_error "exploded parameters stop the run, no checkpoint" \
  "training diverged at epoch 1, step 1: parameter 0 is" \
  train --data "csv:$TMP/huge.csv" --loss mse --layers 1,1 --optimizer sgd --lr 1 --batch-size 8 \
  --epochs 3 --test-data none --save "$TMP/exploded.dpt"
QUIET_STDOUT=1
if [[ -e $TMP/exploded.dpt ]]; then not_ok "exploded parameters: no checkpoint written" "found one"
elif ! grep -qF "beyond the limit of 1e+15: exploded" "$ERR" || ! grep -qF "try a smaller --lr" "$ERR"; then
  not_ok "exploded parameters: message names the limit and --lr" "$(first_error_line)"
else ok "exploded parameters: no checkpoint written, message names the limit and --lr"; fi
expect_error "--lr nan" "--lr: 'nan' is not a number" train --data xor --layers 2,4,1 --lr nan
expect_error "--lr 0.1x" "--lr: '0.1x' is not a number" train --data xor --layers 2,4,1 --lr 0.1x
expect_error "--dropout 1" "--dropout must be in [0, 1)" train --data xor --layers 2,4,1 --dropout 1
expect_error "--layers 2,,1" "--layers: empty entry" train --data xor --layers 2,,1
expect_error "--layers 2,0,1" "--layers must be at least 1" train --data xor --layers 2,0,1
expect_error "--layers 2" "--layers needs at least an input and an output width" train --data xor --layers 2

# ---- outputs that are not ours: devices, FIFOs, links, folders and the inputs are refused up front -
printf 'a,b,y\n1,2,0\n2,1,1\n3,3,0\n1,1,1\n' >"$TMP/in.csv"
mkfifo "$TMP/fifo"
ln -s "$TMP/in.csv" "$TMP/link.csv"
expect_error "--save onto a device" "--save: '/dev/null' is a device" \
  train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --save /dev/null
expect_error "--save onto a FIFO" "is a FIFO" train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --save "$TMP/fifo"
expect_error "--log onto a FIFO" "--log: '$TMP/fifo' is a FIFO" \
  train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --log "$TMP/fifo"
expect_error "--save onto the training data" "is the input file '$TMP/in.csv'" \
  train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --save "$TMP/in.csv"
expect_error "--save in a missing folder fails before training" "folder '$TMP/nodir' does not exist" \
  train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --save "$TMP/nodir/m.dpt"
run train --data "csv:$TMP/in.csv" --layers 2,4,1 --epochs 1 --save "$TMP/m.dpt" --quiet
expect_error "predict --out onto its input" "--out: '$TMP/in.csv' is the input file" \
  predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/in.csv"
expect_error "predict --out onto the model" "is the input file '$TMP/m.dpt'" \
  predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/m.dpt"
expect_error "predict --out onto a symbolic link to its input" \
  "'$TMP/link.csv' (a symbolic link to '$TMP/in.csv') is the input file" \
  predict --model "$TMP/m.dpt" --data "csv:$TMP/in.csv" --out "$TMP/link.csv"
if [[ -p "$TMP/fifo" && -L "$TMP/link.csv" && $(head -c 5 "$TMP/in.csv") == "a,b,y" ]]; then
  ok "refused outputs left the FIFO, the link and the input as they were"
else
  not_ok "refused outputs left the FIFO, the link and the input as they were"
fi

# ---- absurd sizes: a clear message before anything is allocated, never a crash or a hang ----------
expect_error "batch size past 2^63" "batch size must be 1 to 16777216, got 9223372036854775808 (check --batch-size)" \
  train --data xor --layers 2,3,1 --batch-size 9223372036854775808
expect_error "layer width past the limit" "layer 1 width 99999999999 is above the limit" \
  train --data xor --layers 2,99999999999,1
expect_error "model larger than memory" "parameters needs about" \
  train --data xor --layers 2,1000000,1000000,1
expect_error "a billion micro-batches" "micro-batches must be 1 to 65536, got 1000000000 (check --micro-batches)" \
  train --data xor --layers 2,3,1 --deterministic --micro-batches 1000000000
expect_error "engine larger than memory" "more than this machine's" \
  train --data blobs8 --layers 8,3000,3000,1 --deterministic --micro-batches 60000 --batch-size 60000

# ---- 3. layers that do not fit the data -----------------------------------------------------------
expect_error "input width != features" "has 2 features but the model's input layer takes 3 (check --layers)" \
  train --data xor --layers 3,4,1
expect_error "output width != classes (ce)" "has 2 classes but the output layer has 3 units (check --layers)" \
  train --data blobs8 --layers 8,4,3 --loss ce
expect_error "output width != classes (default loss)" "has 2 classes but the output layer has 3 units" \
  train --data blobs8 --layers 8,4,3
expect_error "loss ce with one output unit" "loss ce needs at least 2 output units" \
  train --data blobs8 --layers 8,4,1 --loss ce
expect_error "loss bce with a softmax output" "loss bce needs a sigmoid output layer" \
  train --data blobs8 --layers 8,4,2 --loss bce --output softmax
# Softmax over one unit is 1 whatever its input: mse on it trained nothing and exited 0.
expect_error "loss mse with a softmax output of one unit" \
  "a softmax output layer over one unit always outputs 1, so loss mse cannot train it" \
  train --data square --layers 1,4,1 --loss mse --output softmax
expect_error "regression target width != outputs" "has 1 target columns but the output layer has 2 units" \
  train --data square --layers 1,4,2
# Without a test set only the training data is checked, and (today) only once training starts,
# after the banner; these two cases check the message only, the next two check the ordering.
QUIET_STDOUT=0
expect_error "idx input width != 4x4 pixels" "has 16 features but the model's input layer takes 784" \
  train --data "idx:$IMG,$LBL" --layers 784,8,10 --test-data none
expect_error "idx output width != 10 classes" "has 10 classes but the output layer has 4 units" \
  train --data "idx:$IMG,$LBL" --layers 16,8,4 --test-data none
QUIET_STDOUT=1
expect_error "training-data shape error before the banner (--test-data none)" \
  "data '$IMG' has 16 features but the model's input layer takes 784" \
  train --data "idx:$IMG,$LBL" --layers 784,8,10 --test-data none
expect_error "training-data shape error before the banner (test set fits)" \
  "data 'blobs8' has 8 features but the model's input layer takes 2" \
  train --data blobs8 --test-data xor --layers 2,4,1

# ---- 4. missing and unreadable files --------------------------------------------------------------
expect_error "missing images file" "cannot open '/nonexistent/a'" train --data idx:/nonexistent/a,/nonexistent/b --layers 16,10
expect_error "missing labels file" "cannot open '/nonexistent/b'" train --data "idx:$IMG,/nonexistent/b" --layers 16,10
expect_error "missing test file" "cannot open '/nonexistent/t'" \
  train --data "idx:$IMG,$LBL" --test-data idx:/nonexistent/t,/nonexistent/u --layers 16,10
expect_error "missing fashion-mnist names the package" "dataset-fashion-mnist" train --data fashion-mnist --layers 784,10
expect_error "wrong IDX magic" "'$TMP/badmagic' has IDX magic 0x00000813" train --data "idx:$TMP/badmagic,$LBL" --layers 16,10
expect_error "labels where images are expected" "has IDX magic 0x00000801, expected 0x00000803" \
  train --data "idx:$TMP/lbl_as_img,$LBL" --layers 16,10
expect_error "truncated IDX payload" "'$TMP/trunc_img' is truncated" train --data "idx:$TMP/trunc_img,$LBL" --layers 16,10
expect_error "truncated IDX header" "'$TMP/trunc_hdr' is truncated" train --data "idx:$TMP/trunc_hdr,$LBL" --layers 16,10
expect_error "trailing bytes after IDX payload" "'$TMP/trailing_img' has 3 bytes of trailing data" \
  train --data "idx:$TMP/trailing_img,$LBL" --layers 16,10
expect_error "zero IDX dimension" "'$TMP/zero_dim' has a zero dimension" train --data "idx:$TMP/zero_dim,$LBL" --layers 16,10
expect_error "file shorter than a magic" "'$TMP/tiny' is not an IDX file" train --data "idx:$TMP/tiny,$LBL" --layers 16,10
expect_error "empty file" "'$TMP/empty' is not an IDX file" train --data "idx:$TMP/empty,$LBL" --layers 16,10
expect_error "directory instead of file" "cannot read '$TMP'" train --data "idx:$TMP,$LBL" --layers 16,10
expect_error "truncated gzip" "cannot read '$TMP/trunc.gz': truncated gzip data" train --data "idx:$TMP/trunc.gz,$TMP/big_lbl" --layers 64,10
expect_error "corrupt gzip (bytes flipped mid-stream)" "cannot read '$TMP/corrupt.gz'" \
  train --data "idx:$TMP/corrupt.gz,$TMP/big_lbl" --layers 64,10
expect_error "corrupt gzip (bad CRC trailer)" "cannot read '$TMP/crc.gz'" train --data "idx:$TMP/crc.gz,$TMP/big_lbl" --layers 64,10
expect_error "gzip magic then garbage" "cannot read '$TMP/garbage.gz'" train --data "idx:$TMP/garbage.gz,$TMP/big_lbl" --layers 64,10
expect_error "image/label count mismatch" "holds 20 images but '$TMP/lbl19' holds 19 labels" \
  train --data "idx:$IMG,$TMP/lbl19" --layers 16,10
if [[ $(id -u) -ne 0 ]]; then
  cp "$IMG" "$TMP/noread" && chmod 000 "$TMP/noread"
  expect_error "unreadable file" "cannot open '$TMP/noread'" train --data "idx:$TMP/noread,$LBL" --layers 16,10
  chmod 600 "$TMP/noread"
fi

# ---- 5. a valid tiny IDX pair trains --------------------------------------------------------------
expect_train_ok "tiny IDX pair trains" --data "idx:$IMG,$LBL" --layers 16,8,10 --epochs 2 --test-data none
expect_train_ok "gzipped IDX pair trains" --data "idx:$TMP/big_img.gz,$TMP/big_lbl.gz" --layers 64,8,10 --epochs 2 \
  --test-data "idx:$TMP/big_img,$TMP/big_lbl"
GZ_HASH=$HASH
expect_train_ok "same pair uncompressed trains" --data "idx:$TMP/big_img,$TMP/big_lbl" --layers 64,8,10 --epochs 2 \
  --test-data "idx:$TMP/big_img,$TMP/big_lbl"
expect_same "gzip and plain give the same params_hash" "$GZ_HASH" "$HASH"

# ---- 6. seeds -------------------------------------------------------------------------------------
expect_train_ok "blobs8 seed 7 (1st run)" --data blobs8 --layers 8,10,8,1 --epochs 3 --seed 7
H1=$HASH
expect_train_ok "blobs8 seed 7 (2nd run)" --data blobs8 --layers 8,10,8,1 --epochs 3 --seed 7
H2=$HASH
expect_train_ok "blobs8 seed 8" --data blobs8 --layers 8,10,8,1 --epochs 3 --seed 8
H3=$HASH
expect_same "same seed -> same params_hash" "$H1" "$H2"
expect_differ "different seed -> different params_hash" "$H1" "$H3"

# ---- 7. threads and --deterministic ---------------------------------------------------------------
expect_train_ok "--threads 2 trains" --data blobs8 --layers 8,32,1 --batch-size 64 --epochs 2 --threads 2
expect_train_ok "--threads 3 --deterministic trains" --data blobs8 --layers 8,32,1 --batch-size 64 --epochs 2 \
  --threads 3 --deterministic
DET="--data blobs8 --layers 8,32,1 --batch-size 64 --epochs 2 --deterministic"
# shellcheck disable=SC2086
expect_train_ok "deterministic --threads 1" $DET --threads 1
D1=$HASH
# shellcheck disable=SC2086
expect_train_ok "deterministic --threads 3" $DET --threads 3
D3=$HASH
# shellcheck disable=SC2086
expect_train_ok "deterministic --threads 7" $DET --threads 7
D7=$HASH
expect_same "deterministic: threads 1 and 3 give the same params_hash" "$D1" "$D3"
expect_same "deterministic: threads 1 and 7 give the same params_hash" "$D1" "$D7"
for backend in tbb openmp threads; do
  # shellcheck disable=SC2086
  expect_train_ok "deterministic --threads 3 --backend $backend" $DET --threads 3 --backend $backend
  expect_same "deterministic: backend $backend matches threads 1" "$D1" "$HASH"
done

# ---- 7b. --plan (Note [Groups]) --------------------------------------------------------------------
expect_error "--plan GxT against --threads" "--plan 2x2 runs 4 threads, but --threads says 3" \
  train --data blobs8 --layers 8,32,1 --plan 2x2 --threads 3
expect_error "--plan malformed" "expected auto, data, intra or GxT" \
  train --data blobs8 --layers 8,32,1 --plan 2y2
expect_error "--plan 0x2" "got '0x2'" train --data blobs8 --layers 8,32,1 --plan 0x2
expect_error "--plan with --parallelism" "give one" \
  train --data blobs8 --layers 8,32,1 --plan data --parallelism intra
expect_error "--plan auto with --weight-grads" "--plan auto chooses the weight gradients too" \
  train --data blobs8 --layers 8,32,1 --plan auto --weight-grads buffers
expect_error "--plan against --threads 0" "--plan 7x11 runs 77 threads, but --threads says 0 (" \
  train --data blobs8 --layers 8,32,1 --plan 7x11 --threads 0
PLAN="--data blobs8 --layers 8,256,256,1 --batch-size 256 --epochs 2 --deterministic --micro-batches 4"
# shellcheck disable=SC2086
expect_train_ok "--plan 2x2 trains" $PLAN --plan 2x2
P22=$HASH
if grep -qF "plan 2x2" "$OUT"; then ok "--plan 2x2 in the header"; else not_ok "--plan 2x2 in the header" "$(grep threads "$OUT")"; fi
# shellcheck disable=SC2086
expect_train_ok "--plan 1x2 trains" $PLAN --plan 1x2
expect_same "deterministic: plans 2x2 and 1x2 (same T) give the same params_hash" "$P22" "$HASH"
expect_train_ok "--plan auto trains" --data blobs8 --layers 8,64,1 --batch-size 64 --epochs 1 --threads 2 --plan auto
if grep -qE "^plan auto: (data/owner|data/buffers|intra|[0-9]+x[0-9]+/(owner|buffers)) \(us per step, measured / predicted: data/owner [0-9]+ / [0-9]+" "$OUT"; then
  ok "--plan auto says what it chose and from what"
else
  not_ok "--plan auto says what it chose and from what" "$(grep -F 'plan auto' "$OUT")"
fi
expect_train_ok "--plan auto --deterministic keeps data" --data blobs8 --layers 8,64,1 --epochs 1 --threads 2 \
  --plan auto --deterministic
if grep -qF "plan auto: data (--deterministic" "$OUT"; then ok "--plan auto --deterministic says why"; else not_ok "--plan auto --deterministic says why" "$(head -n 1 "$OUT")"; fi

# ---- lbfgs: full-batch iterations as epochs, its limits and refusals -------------------------------
expect_train_ok "lbfgs trains" --data blobs8 --hidden 16 --optimizer lbfgs --epochs 4 --batch-size 256 \
  --threads 2 --save "$TMP/lbfgs.dpt"
if [[ $(grep -cE '^epoch [1-4]/4  loss [0-9.]+  acc [0-9.]+ .* evals [0-9]+ ' "$OUT") -eq 4 ]] &&
  grep -qF "lbfgs: reached the iteration limit (max_iter 4)" "$OUT"; then
  ok "lbfgs prints one line per iteration with its evaluations, and why it stopped"
else
  not_ok "lbfgs prints one line per iteration with its evaluations, and why it stopped" "$(head -n 8 "$OUT")"
fi
expect_train_ok "lbfgs resumes from its checkpoint" --data blobs8 --resume "$TMP/lbfgs.dpt" --epochs 6 \
  --threads 2
if grep -qE '^epoch 5/6 ' "$OUT" && ! grep -qE '^epoch [1-4]/' "$OUT"; then
  ok "a resumed lbfgs run continues the iterations"
else
  not_ok "a resumed lbfgs run continues the iterations" "$(head -n 4 "$OUT")"
fi
expect_train_ok "lbfgs stops at --max-fun" --data blobs8 --hidden 16 --optimizer lbfgs --epochs 100 --max-fun 5
if grep -qF "lbfgs: reached the evaluation limit (max_fun 5" "$OUT"; then ok "--max-fun says so"; else not_ok "--max-fun says so" "$(tail -n 4 "$OUT")"; fi
expect_error "--max-fun with a stochastic optimizer" "--max-fun and --tol apply to --optimizer lbfgs, not adam" \
  train --data blobs8 --hidden 16 --max-fun 10
expect_error "lbfgs with --l1" "l1 (--l1) and weight decay (--weight-decay) have no smooth objective" \
  train --data blobs8 --hidden 16 --optimizer lbfgs --l1 0.01
expect_error "lbfgs with --save-every" "no step-level checkpoints (--save-every)" \
  train --data blobs8 --hidden 16 --optimizer lbfgs --save "$TMP/l.dpt" --save-every 3
expect_error "lbfgs with dropout" "needs a model without dropout" \
  train --data blobs8 --hidden 16 --optimizer lbfgs --dropout 0.2
expect_error "--max-fun 0" "max-fun" train --data blobs8 --hidden 16 --optimizer lbfgs --max-fun 0

# ---- 8. command line shape ------------------------------------------------------------------------
expect_error "unexpected positional argument" "unexpected argument 'extra'" train extra
run frobnicate
if [[ $RC -eq 2 ]] && grep -qF "unknown command 'frobnicate'" "$ERR"; then
  ok "unknown command"
else
  not_ok "unknown command" "expected exit 2 and \"unknown command 'frobnicate'\", got $RC '$(head -n 1 "$ERR")'"
fi
run
if [[ $RC -eq 2 ]] && grep -qF "usage: dptrain" "$ERR"; then
  ok "no command"
else
  not_ok "no command" "expected exit 2 and usage on stderr, got $RC"
fi
run --version
if [[ $RC -eq 0 ]] && grep -qE '^dptrain [0-9]' "$OUT" && [[ ! -s $ERR ]]; then
  ok "--version"
else
  not_ok "--version" "expected exit 0 and 'dptrain <version>' on stdout, got $RC '$(head -n 1 "$OUT")'"
fi
run --help
if [[ $RC -eq 0 ]] && grep -qF "usage: dptrain" "$OUT"; then
  ok "--help"
else
  not_ok "--help" "expected exit 0 and usage on stdout, got $RC"
fi
run train --help
if [[ $RC -eq 0 ]] && grep -qF -- "--batch-size" "$OUT" && grep -qF -- "--deterministic" "$OUT" && [[ ! -s $ERR ]]; then
  ok "train --help"
else
  not_ok "train --help" "expected exit 0 and the option list on stdout, got $RC"
fi

# 9. NaN in data: no CLI path yet (IDX pixels are u8); add with the CSV loader.

harness_finish
