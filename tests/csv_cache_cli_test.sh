#!/usr/bin/env bash
# --cache PATH (Note [CSV cache] in src/csv_cache.cpp): a CSV parsed once into a binary cache that
# later runs map; the same model either way; a changed CSV or other options write it again; a
# damaged cache is rewritten; a file that is not a cache is never overwritten.
#
# usage: bash tests/csv_cache_cli_test.sh <path-to-dptrain-binary>
set -u
DPTRAIN=$(realpath "${1:?usage: csv_cache_cli_test.sh <dptrain>}")
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start csv-cache-test 60
cd "$TMP" || exit 2

/usr/bin/python3 - <<'PY'
import random
random.seed(2)
with open("train.csv", "w") as f:
    f.write("a,b,c,d,kind\n")
    for i in range(500):
        y = random.choice(["cat", "dog"])
        f.write(",".join("%.4f" % random.gauss(1.0 if y == "dog" else 0.0, 1) for _ in range(4)) + ",%s\n" % y)
PY
hash_of() { grep -o 'params_hash=[0-9a-f]*' "$OUT"; }
args=(--layers 4,8,2 --epochs 2 --test-data none)
run train --data csv:train.csv "${args[@]}"
want=$(hash_of)

cached() {  # NAME NOTE ARGS...: trains the CSV's model, saying NOTE about the cache
  local name=$1 note=$2
  shift 2
  run train --data csv:train.csv --cache c.bin "${args[@]}" "$@"
  if [[ $RC -ne 0 ]]; then not_ok "$name" "exit $RC"
  elif ! grep -qF -- "$note" "$ERR"; then not_ok "$name" "no note '$note'"
  elif [[ $(hash_of) != "$want" ]]; then not_ok "$name" "$(hash_of), not $want"
  else ok "$name"; fi
}
cached "the first run writes the cache" "note: wrote the cache 'c.bin' of 'train.csv'"
[[ $(head -c 8 c.bin) == DPTCACHE ]] && ok "the cache starts with its magic" || not_ok "the cache starts with its magic" "$(head -c 8 c.bin | od -c | head -1)"
cached "the next run maps it: the same model" "note: read 'train.csv' from its cache 'c.bin'"
run train --data csv:train.csv "${args[@]}" --shuffle window
window=$(hash_of)
run train --data csv:train.csv --cache c.bin "${args[@]}" --shuffle window
[[ $(hash_of) == "$window" ]] && ok "the window shuffle from the cache trains the model from memory" || not_ok "the window shuffle from the cache trains the model from memory" "$(hash_of), not $window"
touch -d '2001-01-01' train.csv
cached "a changed CSV writes it again" "note: wrote the cache"
cached "and is then read" "note: read 'train.csv'"
cached "other options (--label kind) write it again" "note: wrote the cache" --label kind
truncate -s -100 c.bin
cached "a damaged cache is written again" "note: wrote the cache"
ls c.bin.tmp.* >/dev/null 2>&1 && not_ok "no temporary file is left" "$(ls c.bin.tmp.*)" || ok "no temporary file is left"

cp train.csv keep.csv
expect "a file that is not a cache is not overwritten" 2 "'keep.csv' exists and is not a dptrain cache: it is not overwritten" train --data csv:train.csv --cache keep.csv "${args[@]}"
cmp -s train.csv keep.csv && ok "and is unchanged" || not_ok "and is unchanged" "keep.csv changed"
expect "the CSV itself is refused" 2 "--cache 'train.csv' is the CSV file itself" train --data csv:train.csv --cache train.csv "${args[@]}"
expect "a cache of other data is refused" 2 "--cache caches a CSV file" train --data xor --cache x.bin --layers 2,4,2
harness_finish
