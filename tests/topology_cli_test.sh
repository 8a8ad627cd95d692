#!/usr/bin/env bash
# End-to-end tests of the machine topology on the command line: `--threads 0` (every physical
# core) for train, eval, bench and scale; `--pin` (workers bound to cores, Note [Pinning]); the
# topology in the run header and in the bench/scale JSON.
#
# usage: bash tests/topology_cli_test.sh <path-to-dptrain-binary>
# Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed"; exits 1 if any
# case failed. Tiny models and windows: this checks the plumbing, not the machine.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start topology-cli-test 60
TRAIN=(train --data blobs8 --layers 8,16,1 --epochs 1 --batch-size 64 --test-data none)
FAST=(--repeats 1 --seconds 0.02)

# The physical core count, as the run header states it ("machine: N cores, ...").
run "${TRAIN[@]}"
cores=$(sed -n 's/^machine: \([0-9][0-9]*\) cores\{0,1\}, .*/\1/p' "$OUT")
if [[ $RC -eq 0 && -n $cores ]] && grep -qE '^machine: .*PU.*L3 group.*NUMA node' "$OUT"; then
  ok "the train header states the topology ($cores cores)"
else
  not_ok "the train header states the topology" "exit $RC: $(grep -m 1 machine "$OUT")"
  cores=1
fi

run "${TRAIN[@]}" --threads 0
if [[ $RC -eq 0 ]] && grep -qE "^threads $cores \(" "$OUT"; then
  ok "train --threads 0 runs on every physical core ($cores)"
else
  not_ok "train --threads 0 runs on every physical core ($cores)" "exit $RC: $(grep -m 1 '^threads' "$OUT")"
fi

run "${TRAIN[@]}" --threads 0 --backend threads --pin --save "$TMP/m.dpt"
if [[ $RC -eq 0 ]] && grep -q "workers pinned to cores" "$OUT" && ! grep -q warning "$ERR"; then
  ok "train --pin binds the threads backend's workers"
else
  not_ok "train --pin binds the threads backend's workers" "exit $RC: $(head -n 2 "$ERR")"
fi

run "${TRAIN[@]}" --threads 2 --pin
if [[ $RC -eq 0 ]] && grep -q "warning: --pin is ignored by the tbb backend" "$ERR" &&
  ! grep -q "workers pinned" "$OUT"; then
  ok "train --pin on tbb warns once and does not pin"
else
  not_ok "train --pin on tbb warns once and does not pin" "exit $RC: $(head -n 2 "$ERR")"
fi

run eval --model "$TMP/m.dpt" --data blobs8 --threads 0
if [[ $RC -eq 0 ]]; then ok "eval --threads 0"; else not_ok "eval --threads 0" "exit $RC"; fi

run bench --models C --threads 0,1 --backend openmp --pin "${FAST[@]}" --json "$TMP/b.json"
if [[ $RC -eq 0 ]] && "$PYTHON" - "$TMP/b.json" "$cores" <<'EOF' >"$TMP/check" 2>&1; then
import json, sys
doc, cores = json.load(open(sys.argv[1])), int(sys.argv[2])
assert [r["threads"] for r in doc["results"]] == [cores, 1], doc["results"]
t = doc["topology"]
assert t["cores"] == cores and t["pus"] >= cores, t
assert t["l3_groups"] == len(t["l3_group_cores"]) >= 1, t
assert sorted(c for g in t["l3_group_cores"] for c in g["cores"]) == list(range(cores)), t
assert sorted(c for g in t["numa_node_cores"] for c in g["cores"]) == list(range(cores)), t
assert t["source"] and t["description"], t
assert doc["pinned"] is True
EOF
  ok "bench --threads 0,1 --pin: JSON holds the topology and the pinning"
else
  not_ok "bench --threads 0,1 --pin: JSON holds the topology and the pinning" "exit $RC: $(tail -n 2 "$TMP/check")"
fi

run scale --model C --threads 0 --parallelism data --backend threads --pin "${FAST[@]}" --out "$TMP/s.csv"
if [[ $RC -eq 0 ]] && "$PYTHON" - "$TMP/s.csv" "$cores" <<'EOF' >"$TMP/check" 2>&1; then
import csv, sys
rows, cores = list(csv.DictReader(open(sys.argv[1], newline=""))), int(sys.argv[2])
assert sorted({int(r["threads"]) for r in rows}) == sorted({1, cores}), rows
assert all(r["pinned"] == "1" and int(r["physical_cores"]) == cores for r in rows), rows
EOF
  ok "scale --threads 0 --pin sweeps 1 and every core, pinned"
else
  not_ok "scale --threads 0 --pin sweeps 1 and every core, pinned" "exit $RC: $(tail -n 2 "$TMP/check")"
fi

harness_finish
