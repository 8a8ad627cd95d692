#!/usr/bin/env bash
# Regenerates the seed corpus in fuzz/corpus/<reader>/ (committed; run this after a format change).
# Input layouts: see fuzz/fuzz_input.hpp. Checkpoint seeds come from the CLI:
#   bash fuzz/make_corpus.sh [path/to/dptrain]   (default: build/dptrain)
# Seeds named valid-* must be accepted by the readers (tests/fuzz_regression_test.cpp checks).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="${1:-$root/build/dptrain}"
corpus="$root/fuzz/corpus"
rm -rf "$corpus"
mkdir -p "$corpus/idx" "$corpus/csv" "$corpus/checkpoint" "$corpus/npy" "$corpus/npz"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# IDX: [u16 LE length of the image file][image file][label file].
idx_seed() {  # name image-file label-file
  local n
  n=$(stat -c %s "$2")
  { printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))"; cat "$2" "$3"; } \
    >"$corpus/idx/$1"
}
# 3 images of 2x2 pixels, labels 0 1 9; and 2 images of 1x3, labels 0 200.
printf '\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x02\x00\x00\x00\x02' >"$tmp/i3"
printf '\x00\x80\xff\x10\x20\x30\x40\x50\xfe\x01\x02\x03' >>"$tmp/i3"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x00\x01\x09' >"$tmp/l3"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x03\x01\x02\x03\x04\x05\x06' >"$tmp/i2"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x00\xc8' >"$tmp/l2"
gzip -9n -c "$tmp/i3" >"$tmp/i3.gz"
gzip -9n -c "$tmp/l3" >"$tmp/l3.gz"
idx_seed valid-plain "$tmp/i3" "$tmp/l3"
idx_seed valid-gzip "$tmp/i3.gz" "$tmp/l3.gz"
idx_seed valid-gzip-images "$tmp/i3.gz" "$tmp/l3"
idx_seed valid-200-classes "$tmp/i2" "$tmp/l2"
idx_seed count-mismatch "$tmp/i3" "$tmp/l2"

# CSV: [flags][delimiter][text]; flags: bits 0-1 header, 2-4 label, 5 regression.
csv_seed() { printf "$2" >"$corpus/csv/$1"; }
csv_seed valid-header '\x00\x00a,b,label\n1,2,0\n3.5,-4,1\n0.5,+7e-1,2\n'
csv_seed valid-regression-semicolon '\x22\x01 1;2;0.5\r\n3;4;1e3\r\n'
csv_seed valid-label-name-tab '\x15\x02label\tx\n1\t0.25\n0\t-1\n'
csv_seed valid-quoted '\x00\x00"x","y"\n"1"," 2 "\n'
csv_seed valid-unlabelled-pipe '\x04\x03''1|2|3\n4|5|6\n'
csv_seed valid-label-first '\x0a\x00''0,1.5,2\n1,2.5,3\n'
csv_seed ragged '\x00\x00''1,2,3\n4,5\n'
csv_seed quote-never-closed '\x00\x00''a,b,y\n1,2,cat\n3,4,"cat\n5,6,dog\n'

# Checkpoints: written by the CLI from the xor data set (one epoch).
(cd "$tmp" &&
  "$cli" train --data xor --layers 2,3,1 --epochs 1 --optimizer sgd --test-data none \
    --save "$corpus/checkpoint/valid-sgd.dpt" >/dev/null &&
  "$cli" train --data xor --layers 2,3,2 --epochs 1 --loss ce --dropout 0.25 \
    --normalize standard --test-data none --save "$corpus/checkpoint/valid-adam-dropout.dpt" \
    >/dev/null)
# A checkpoint taken inside an epoch (as --save-every or a stop on a signal writes it): the
# first seed with its "epoch_progress" set (metadata edited, CRC-32 rewritten).
/usr/bin/python3 - "$corpus/checkpoint/valid-sgd.dpt" "$corpus/checkpoint/valid-mid-epoch.dpt" <<'PY'
import json, struct, sys, zlib
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[12:20])[0]
meta = json.loads(b[20:20 + n])
meta["epoch_progress"] = {"steps": 1, "samples": 3, "metric_values": 3, "loss_sum": 2.0625,
                          "metric_sum": 2.0}
meta["step"] = meta["step"] + 1
text = json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()
body = b[:12] + struct.pack("<Q", len(text)) + text + b[20 + n:-4]
open(sys.argv[2], "wb").write(body + struct.pack("<I", zlib.crc32(body)))
PY
# npy: [u16 LE length of the features file][features .npy][labels .npy or nothing], by numpy.
/usr/bin/python3 - "$corpus/npy" <<'PY'
import io, sys
import numpy as np
def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()
def seed(name, x, y=b""):
    open(sys.argv[1] + "/" + name, "wb").write(len(x).to_bytes(2, "little") + x + y)
seed("valid-f4-labels", npy(np.arange(6, dtype="<f4").reshape(3, 2)), npy(np.array([0, 2, 1])))
seed("valid-f8-fortran", npy(np.asfortranarray(np.arange(6.0).reshape(2, 3))),
     npy(np.array([2.0, -1.0])))
seed("valid-u1-unlabelled", npy(np.arange(4, dtype="u1")))
seed("valid-be-i2-bool", npy(np.arange(4, dtype=">i2").reshape(2, 2)), npy(np.array([True, False])))
seed("object-array", npy(np.array([1, "a"], dtype=object)))
PY
du -ab "$corpus" | sort -k2
/usr/bin/python3 - "$corpus/npz" <<'PY'
# npz: [flags][archive], by numpy (flags bit 0: read y/Y when present; bit 1: regression).
import io, sys, zipfile
import numpy as np
def npz(compressed=False, **arrays):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()
def seed(name, flags, archive):
    open(sys.argv[1] + "/" + name, "wb").write(bytes([flags]) + archive)
x = np.arange(6, dtype="<f4").reshape(3, 2)
seed("valid-stored-labels", 1, npz(x=x, y=np.array([0, 2, 1])))
seed("valid-deflated-targets", 3, npz(True, X=x.astype(np.float64), Y=np.array([1.5, 2.0, -1.0])))
seed("valid-features-only", 0, npz(x=np.array([1, 2, 3], dtype=np.uint8), y=np.array([0, 1, 0])))
seed("valid-regression", 3, npz(True, x=x, y=np.array([0.5, 1.5, 2.5], dtype=np.float32)))
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_BZIP2) as z:
    z.writestr("x.npy", b"\x93NUMPY")
seed("bzip2-member", 1, b.getvalue())
PY
