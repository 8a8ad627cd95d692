#!/usr/bin/env bash
# End-to-end tests of NumPy archives (npz:<file.npz>[:<x>[,<y>]]) written by numpy: numpy.savez
# (stored members) and numpy.savez_compressed (deflated) train the same model as .npy files,
# named arrays, --labels npz:, --test-data, eval and predict; damaged archives are refused naming
# the archive and the member, exit 2.
#
# usage: bash tests/npz_cli_test.sh <path-to-dptrain-binary>
set -u
DPTRAIN=$(realpath "${1:?usage: npz_cli_test.sh <dptrain>}")
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_start npz-test 60
cd "$TMP" || exit 2

/usr/bin/python3 - <<'PY'
import io, struct, zipfile
import numpy as np
rng = np.random.default_rng(1)
y = (rng.random(600) < 0.4).astype(np.int64)
x = (rng.normal(size=(600, 4)) + 1.5 * y[:, None]).astype(np.float32)
np.save("x.npy", x)
np.save("y.npy", y)
np.savez("d.npz", x=x, y=y)
np.savez_compressed("dc.npz", X=x.astype(np.float64), Y=y)
np.savez("named.npz", feats=x, target=y, other=y)
np.savez("features.npz", x=x)
np.savez("ab.npz", ab=x, y=y)  # the float data 4-aligned in the file: read in place
b = bytearray(open("dc.npz", "rb").read())
cd = b.find(b"PK\x01\x02")
b[cd + 16] ^= 1  # the first member's CRC-32
open("crc.npz", "wb").write(b)
open("cut.npz", "wb").write(open("d.npz", "rb").read()[:-30])
with zipfile.ZipFile("bz.npz", "w", zipfile.ZIP_BZIP2) as z:
    z.writestr("x.npy", open("x.npy", "rb").read())
np.savez("obj.npz", x=np.array([1, "a"], dtype=object), y=y[:2])
PY

hash_of() { grep -o 'params_hash=[0-9a-f]*' "$OUT"; }
args=(--layers 4,8,2 --epochs 3)
run train --data npy:x.npy,y.npy --test-data npy:x.npy,y.npy "${args[@]}"
want=$(hash_of)
[[ -n $want ]] && ok "npy baseline trains" || not_ok "npy baseline trains" "no params_hash (exit $RC)"

same() {  # NAME ARGS...: trains the same model as the .npy files
  local name=$1
  shift
  run train "$@" "${args[@]}"
  if [[ $RC -ne 0 ]]; then not_ok "$name" "exit $RC"
  elif [[ $(hash_of) != "$want" ]]; then not_ok "$name" "$(hash_of), not $want"
  else ok "$name"; fi
}
same "npz: numpy.savez (stored) with default arrays x, y" --data npz:d.npz --test-data npz:d.npz
same "npz: numpy.savez_compressed (deflated) float64 X, Y" --data npz:dc.npz --test-data npz:d.npz
same "npz: named arrays" --data npz:named.npz:feats,target --test-data npz:d.npz
same "npz: --labels npz: names the labels' array" --data npz:named.npz:feats --labels npz:named.npz:other --test-data npz:d.npz
same "npz: --labels npz: defaults to y" --data npz:features.npz --labels npz:d.npz --test-data npy:x.npy,y.npy
same "npz: a 4-aligned stored member (read in place)" --data npz:ab.npz:ab,y --test-data npz:d.npz
expect "npz: an archive without y is features only" 2 "has no label column" train --data npz:features.npz --layers 4,8,2
run train --data npz:d.npz --test-data none "${args[@]}" --save m.dpt
expect "npz: eval" 0 "accuracy" eval --model m.dpt --data npz:dc.npz
expect "npz: predict reads the features of an archive that also holds y" 0 "" predict --model m.dpt --data npz:d.npz --out pred.csv
[[ $(wc -l <pred.csv) -ge 600 ]] && ok "npz: predict writes one row per sample" || not_ok "npz: predict writes one row per sample" "$(wc -l <pred.csv) lines"

refused() {  # NAME MESSAGE ARGS...: exit 2, MESSAGE on stderr, no training
  local name=$1 msg=$2
  shift 2
  run "$@"
  if [[ $RC -ne 2 ]]; then not_ok "$name" "expected exit 2, got $RC"
  elif ! grep -qF -- "$msg" "$ERR"; then not_ok "$name" "expected '$msg' on stderr"
  elif grep -q '^epoch' "$OUT"; then not_ok "$name" "training started"
  else ok "$name"; fi
}
refused "npz: a missing array is named with the arrays there" "'named.npz' has no array 'z' (its arrays: feats, target, other)" train --data npz:named.npz:z,target --layers 4,8,2
refused "npz: no x or X" "'named.npz' has neither an array 'x' nor 'X'" train --data npz:named.npz --layers 4,8,2
refused "npz: a CRC-32 mismatch names the member" "'crc.npz:X.npy' fails its CRC-32 check" train --data npz:crc.npz --layers 4,8,2
refused "npz: a truncated archive" "'cut.npz' is not a .npz file dptrain reads: it has no zip end-of-central-directory record" train --data npz:cut.npz --layers 4,8,2
refused "npz: bzip2 members are refused" "'bz.npz:x.npy' is compressed with zip method 12" train --data npz:bz.npz --layers 4,8,2
refused "npz: an object array is not unpickled" "'obj.npz:x.npy' is not a .npy file dptrain reads: its header has type '|O'" train --data npz:obj.npz --layers 4,8,2
refused "npz: a .npy file is not an archive" "'x.npy' is not a .npz file dptrain reads: it is a .npy file" train --data npz:x.npy --layers 4,8,2
refused "npz: a missing file" "cannot open 'none.npz'" train --data npz:none.npz --layers 4,8,2
harness_finish
