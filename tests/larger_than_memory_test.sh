#!/usr/bin/env bash
# Training from a memory-mapped .npy file larger than a cgroup v1 memory limit with --shuffle
# window (Note [Windowed shuffle] in src/shuffle.cpp): the run completes under the limit, the
# limit was really reached (the group's failcnt), and the model is bit for bit the one trained
# without a limit. Needs root and a writable /sys/fs/cgroup/memory; skipped (exit 77) otherwise.
# scripts/measure-larger-than-memory.py measures the speed.
#
# usage: bash tests/larger_than_memory_test.sh <path-to-dptrain-binary>
set -u
DPTRAIN=$(realpath "${1:?usage: larger_than_memory_test.sh <dptrain>}")
CGROUP=/sys/fs/cgroup/memory
if [[ ! -w $CGROUP || ! -e $CGROUP/memory.limit_in_bytes ]]; then
  echo "SKIP: $CGROUP is not a writable cgroup v1 memory controller (needs root)"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start larger-than-memory 300
cd "$TMP" || exit 2
GROUP=$CGROUP/dptrain-test-$$
trap '[[ $BASHPID == "$HARNESS_PID" ]] && { rmdir "$GROUP" 2>/dev/null; rm -rf "$TMP"; }' EXIT

# 400 MB of features (128000 x 784 float32), written a chunk at a time.
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
w = rng.normal(size=(784, 10)).astype(np.float32)
x = np.lib.format.open_memmap("x.npy", mode="w+", dtype=np.float32, shape=(128000, 784))
y = np.empty(128000, dtype=np.int64)
for s in range(0, 128000, 16000):
    c = rng.normal(size=(16000, 784)).astype(np.float32)
    x[s:s + 16000] = c
    y[s:s + 16000] = np.argmax(c @ w, axis=1)
x.flush()
np.save("y.npy", y)
PY
args=(train --data npy:x.npy,y.npy --layers 784,8,10 --epochs 1 --test-data none --threads 2
  --deterministic --shuffle window --batch-size 128)

run "${args[@]}"
want=$(grep -o 'params_hash=[0-9a-f]*' "$OUT")
[[ $RC -eq 0 && -n $want ]] && ok "window shuffle trains from the mapped file" || not_ok "window shuffle trains from the mapped file" "exit $RC"
grep -q "shuffle window: blocks of 1337 rows, 16 per window" "$OUT" && ok "the header names the shuffle" || not_ok "the header names the shuffle" "$(head -3 "$OUT")"

mkdir "$GROUP" && echo $((160 << 20)) >"$GROUP/memory.limit_in_bytes" || { not_ok "cgroup" "cannot create $GROUP"; harness_finish; exit; }
/usr/bin/python3 -c 'import os; fd = os.open("x.npy", os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)'
(echo $BASHPID >"$GROUP/cgroup.procs" && exec timeout 240 "$DPTRAIN" "${args[@]}") >"$OUT" 2>"$ERR"
RC=$?
got=$(grep -o 'params_hash=[0-9a-f]*' "$OUT")
hits=$(cat "$GROUP/memory.failcnt")
peak=$(($(cat "$GROUP/memory.max_usage_in_bytes") >> 20))
echo "# under a 160 MB limit: peak ${peak} MB (page cache included), limit reached $hits times"
[[ $RC -eq 0 ]] && ok "trains under a memory limit of 2/5 of the file" || not_ok "trains under a memory limit of 2/5 of the file" "exit $RC"
[[ $got == "$want" ]] && ok "the same bits as without the limit" || not_ok "the same bits as without the limit" "$got, not $want"
[[ $hits -gt 0 ]] && ok "the limit was reached (the file did not fit)" || not_ok "the limit was reached (the file did not fit)" "failcnt $hits"
harness_finish
