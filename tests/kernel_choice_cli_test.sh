#!/usr/bin/env bash
# `--gemm auto` (Note [Kernel wisdom] in include/dptrain/kernel_choice.hpp) through the CLI: the
# first run measures and writes the wisdom file in $XDG_CACHE_HOME/dptrain, the next reads it
# (same kernels, same bits), a file of another machine key or a corrupt one is ignored with a
# warning and replaced, DPTRAIN_TUNING=builtin measures nothing and gives the bits of
# --gemm onednn, the choice is in the header, the --log lines and the checkpoint, and a resume
# reuses the checkpoint's choice. No timings are asserted.
#
# usage: bash tests/kernel_choice_cli_test.sh <path-to-dptrain-binary>
set -u
DPTRAIN=$(realpath "${1:?usage: kernel_choice_cli_test.sh <dptrain>}")
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start kernel-choice-cli 120
cd "$TMP" || exit 2
export XDG_CACHE_HOME="$TMP/cache" DPTRAIN_TUNING=cache
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3

hash_of() { grep -o 'params_hash=[0-9a-f]*' "$1"; }
wisdom() { ls "$XDG_CACHE_HOME"/dptrain/kernels-*.txt 2>/dev/null; }
# The checkpoint's metadata field $2 (empty when absent).
meta() {
  "$PYTHON" -c 'import json,struct,sys
b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[12:20])[0]
print(json.loads(b[20:20+n]).get(sys.argv[2], ""))' "$1" "$2"
}
TRAIN=(train --data blobs8 --layers 8,256,128,2 --batch-size 64 --epochs 2 --threads 2 --seed 5)

run "${TRAIN[@]}" --save first.ckpt --log first.log
cp "$OUT" first.out
if [[ $RC -eq 0 ]] && grep -q "GEMM auto (measured): NN+b 32x256x8" first.out && [[ -n $(wisdom) ]] &&
  [[ -n $(hash_of first.out) ]] &&
  grep -q '^shape ' "$(wisdom)"; then ok "first run measures, says so, writes the wisdom"
else not_ok "first run measures, says so, writes the wisdom" "rc $RC: $(grep GEMM first.out)"; fi

run "${TRAIN[@]}"
if [[ $RC -eq 0 ]] && grep -q 'GEMM auto (cache)' "$OUT" && [[ $(hash_of "$OUT") == $(hash_of first.out) ]]
then ok "second run reads the wisdom: same kernels, same bits"
else not_ok "second run reads the wisdom: same kernels, same bits" "$(grep GEMM "$OUT")"; fi

if grep -q '"gemm":"auto (measured): NN+b' first.log && grep -q '"weight_gradients":"\(owner\|buffers\)"' first.log
then ok "--log records the choice"
else not_ok "--log records the choice" "$(head -c 300 first.log)"; fi

kernels=$(meta first.ckpt kernels)
if [[ $kernels == owner\;* || $kernels == buffers\;* ]] && [[ $kernels == *'NN+b,32,256,8,'* ]]
then ok "the checkpoint records the choice"
else not_ok "the checkpoint records the choice" "kernels='$kernels'"; fi

# Resume from the epoch-1 state with another cache: the checkpoint's kernels are used, not
# measured again, and the bits match the uninterrupted run.
run "${TRAIN[@]}" --epochs 1 --save half.ckpt
XDG_CACHE_HOME="$TMP/other-cache" run train --data blobs8 --resume half.ckpt --epochs 2 --threads 2
if [[ $RC -eq 0 ]] && grep -q 'GEMM auto (checkpoint)' "$OUT" && [[ ! -e $TMP/other-cache ]] &&
  [[ $(hash_of "$OUT") == $(hash_of first.out) ]]
then ok "resume reuses the checkpoint's kernels: same bits, nothing measured"
else not_ok "resume reuses the checkpoint's kernels: same bits, nothing measured" "rc $RC: $(grep -e GEMM -e params_hash "$OUT")"; fi

file=$(wisdom)
sed -i 's/^key .*/key another machine/' "$file"
run "${TRAIN[@]}"
if [[ $RC -eq 0 ]] && grep -q "ignoring kernel wisdom '$file': it was measured on another machine" "$ERR" &&
  grep -q 'GEMM auto (measured)' "$OUT" && ! grep -q '^key another machine' "$file"
then ok "a file of another key is ignored with a warning and measured again"
else not_ok "a file of another key is ignored with a warning and measured again" "$(cat "$ERR")"; fi

head -n 3 "$file" >cut && cp cut "$file"
run "${TRAIN[@]}"
if [[ $RC -eq 0 ]] && grep -q "ignoring kernel wisdom '$file': it has no end line (truncated)" "$ERR" &&
  grep -q '^end ' "$file"
then ok "a truncated file is ignored with a warning and rewritten"
else not_ok "a truncated file is ignored with a warning and rewritten" "$(cat "$ERR")"; fi

printf 'not wisdom\n' >"$file"
run "${TRAIN[@]}"
if [[ $RC -eq 0 ]] && grep -q "ignoring kernel wisdom '$file': it is not a dptrain kernel wisdom file" "$ERR"
then ok "a foreign file is ignored with a warning"
else not_ok "a foreign file is ignored with a warning" "$(cat "$ERR")"; fi

DPTRAIN_TUNING=builtin XDG_CACHE_HOME="$TMP/builtin-cache" run "${TRAIN[@]}" --weight-grads owner
cp "$OUT" builtin.out
DPTRAIN_TUNING=builtin run "${TRAIN[@]}" --gemm onednn --weight-grads owner
if grep -q 'GEMM auto (builtin)' builtin.out && [[ ! -e $TMP/builtin-cache ]] &&
  [[ $(hash_of builtin.out) == $(hash_of "$OUT") ]]
then ok "DPTRAIN_TUNING=builtin: nothing measured or written, the bits of --gemm onednn"
else not_ok "DPTRAIN_TUNING=builtin: nothing measured or written, the bits of --gemm onednn" "$(grep -e GEMM -e params_hash builtin.out "$OUT")"; fi

DPTRAIN_TUNING=fresh XDG_CACHE_HOME="$TMP/fresh-cache" run "${TRAIN[@]}"
if [[ $RC -eq 0 ]] && grep -q 'GEMM auto (measured)' "$OUT" && [[ ! -e $TMP/fresh-cache ]]
then ok "DPTRAIN_TUNING=fresh measures without touching the cache"
else not_ok "DPTRAIN_TUNING=fresh measures without touching the cache" "$(grep GEMM "$OUT")"; fi

DPTRAIN_TUNING=sometimes expect "a bad DPTRAIN_TUNING names itself" 2 \
  "DPTRAIN_TUNING='sometimes' is not cache, fresh or builtin" "${TRAIN[@]}"

run tune --layers 8,256,128,2 --batch-size 64 --threads 1,2
if [[ $RC -eq 0 ]] && grep -q 'NN+b 64x256x8: onednn' "$OUT" && grep -q 'weight gradients: owner' "$OUT" &&
  grep -q "wisdom: $file" "$OUT"
then ok "dptrain tune prints every timing and refreshes the wisdom"
else not_ok "dptrain tune prints every timing and refreshes the wisdom" "rc $RC: $(head -n 5 "$OUT")"; fi

harness_finish
