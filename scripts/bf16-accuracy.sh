#!/usr/bin/env bash
# The accuracy cost of --precision bf16, side by side with fp32 in one run: Fashion-MNIST
# (784-128-10 and 784-256-128-10, Adam, batch 128) and the tabular sets of the source articles
# (blobs8 8-10-8-1 classifier, linear regression 8-64-1, square 1-64-64-1). Each product under
# 0.1 MFLOP stays fp32 (Note [Precision]): the tabular models are sized so that bf16 really runs.
#   scripts/bf16-accuracy.sh [build/dptrain]
set -euo pipefail
bin="${1:-build/dptrain}"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
run() {  # label, then train arguments
  local label="$1"; shift
  for p in fp32 bf16; do
    local out
    out="$("$bin" train --quiet --threads 2 --precision "$p" "$@" 2>&1)"
    printf '%-34s %-5s %s\n' "$label" "$p" "$(echo "$out" | grep -E '^final test' | sed 's/final test //')"
  done
}
run "fashion-mnist 784-128-10 10 ep" --data fashion-mnist --layers 784,128,10 --epochs 10 --batch-size 128
run "fashion-mnist 784-256-128-10 10 ep" --data fashion-mnist --layers 784,256,128,10 --epochs 10 --batch-size 128
run "blobs8 8-256-256-1 30 ep" --data blobs8 --layers 8,256,256,1 --epochs 30 --batch-size 128
run "linear 8-256-256-1 (mse) 30 ep" --data linear --layers 8,256,256,1 --epochs 30 --batch-size 128 --loss mse
run "square 1-256-256-1 (mse) 200 ep" --data square --layers 1,256,256,1 --epochs 200 --batch-size 100 --loss mse --lr 0.003

# Time to 0.88 test accuracy, 784-256-128-10, Adam, batch 128, 2 threads: the training seconds
# (per-epoch "seconds" of --log, evaluation excluded) summed up to the first epoch that reaches it.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for p in fp32 bf16; do
  "$bin" train --quiet --threads 2 --precision "$p" --data fashion-mnist --layers 784,256,128,10 \
    --epochs 15 --batch-size 128 --log "$tmp/$p.jsonl" >/dev/null
  python3 - "$tmp/$p.jsonl" "$p" <<'PY'
import json, sys
total = 0.0
for line in open(sys.argv[1]):
    e = json.loads(line)
    total += e["seconds"]
    if e["test_metric"] >= 0.88:
        print(f"time to 0.88 test accuracy ({sys.argv[2]}): {total:.2f} s training, epoch {e['epoch']}")
        break
else:
    print(f"time to 0.88 test accuracy ({sys.argv[2]}): not reached in 15 epochs ({total:.2f} s)")
PY
done
