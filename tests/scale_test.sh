#!/usr/bin/env bash
# End-to-end tests of `dptrain scale` and the plot scripts: the sweep's CSV and JSON (columns,
# points, Amdahl fit and its labelled projection, atomic replacement, no temporary files left),
# option errors (exit 2, one message, nothing measured), and the PNGs of scripts/plot.py
# (`scaling` and `projection` on the sweep's CSV and JSON, `training` on a hand-made log).
#
# usage: bash tests/scale_test.sh <path-to-dptrain-binary>
# Prints "ok - name" / "not ok - name: ..." per case and "N passed, M failed"; exits 1 if any
# case failed. Windows are a few milliseconds: this checks the plumbing, not the machine.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start scale-test 120
# Tiny windows: the tests check files and messages, not throughput.
FAST=(--repeats 2 --seconds 0.02 --warmup 0.005)

# expect_error NAME SUBSTRING ARGS...: exit 2, one line on stderr starting
# "dptrain scale: error: " and containing SUBSTRING, nothing on stdout (rejected before the
# banner, so before anything is measured).
expect_error() {
  local name=$1 want=$2
  shift 2
  run scale "$@"
  local lines
  lines=$(wc -l <"$ERR")
  if [[ $RC -ne 2 ]]; then
    not_ok "$name" "expected exit 2, got $RC"
  elif ! grep -qF -- "$want" "$ERR"; then
    not_ok "$name" "expected stderr to contain '$want', got '$(head -n 1 "$ERR")'"
  elif [[ $(head -n 1 "$ERR") != "dptrain scale: error: "* ]]; then
    not_ok "$name" "expected 'dptrain scale: error: ...', got '$(head -n 1 "$ERR")'"
  elif [[ $lines -ne 1 ]]; then
    not_ok "$name" "expected one line on stderr, got $lines"
  elif [[ -s $OUT ]]; then
    not_ok "$name" "expected nothing on stdout, got '$(head -n 1 "$OUT")'"
  else
    ok "$name"
  fi
}

# ---- a sweep with files ------------------------------------------------------------------------
echo "stale content" >"$TMP/r.csv"
run scale --model C --threads 2,1 "${FAST[@]}" --out "$TMP/r.csv"
if [[ $RC -ne 0 ]]; then
  not_ok "scale C writes CSV + JSON" "exit $RC"
else
  ok "scale C writes CSV + JSON"
fi
if grep -q "PROJECTION" "$OUT" && grep -q "serial fraction f = " "$OUT"; then
  ok "table prints the Amdahl fit and a labelled projection"
else
  not_ok "table prints the Amdahl fit and a labelled projection" "$(tail -n 8 "$OUT")"
fi
if compgen -G "$TMP/*.tmp.*" >/dev/null; then
  not_ok "no temporary files left" "$(ls -a "$TMP")"
else
  ok "no temporary files left"
fi
if "$PYTHON" - "$TMP/r.csv" "$TMP/r.json" <<'EOF' >"$TMP/check" 2>&1; then
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
doc = json.load(open(sys.argv[2]))
need = ["threads", "samples_per_s", "speedup", "efficiency", "fwd_bwd_us", "reduce_update_us",
        "wait_us", "engine_bytes", "rss_bytes", "oversubscribed", "noisy", "spread", "cores",
        "cpu_model", "amdahl_serial_fraction", "parallelism"]
missing = [c for c in need if c not in rows[0]]
assert not missing, f"CSV lacks {missing}"
got = sorted((r["parallelism"], int(r["threads"])) for r in rows)
assert got == [("data", 1), ("data", 2), ("intra", 1), ("intra", 2)], got
for r in rows:
    assert float(r["samples_per_s"]) > 0, r
    assert r["noisy"] in ("0", "1") and r["oversubscribed"] in ("0", "1"), r
    if r["threads"] == "1":
        assert float(r["speedup"]) == 1.0, r
    assert int(r["engine_bytes"]) > 0, r
assert len(doc["points"]) == 4
assert doc["machine"]["cores"] >= 1 and doc["machine"]["cpu_model"]
for s in ("data", "intra"):
    fit = doc["amdahl"][s]
    proj = fit["projection"]
    assert "PROJECTION" in proj["label"] and "not measured" in proj["label"], proj
    if doc["machine"]["cores"] >= 2:
        assert 0.0 <= fit["serial_fraction"] <= 1.0, fit
        assert [p["cores"] for p in proj["points"]] == [16, 32, 64], proj
p = doc["points"][0]
assert len(p["windows_samples_per_s"]) == 2
assert set(p["time_split_us_per_step"]) >= {"forward_backward", "reduce_update", "wait"}
assert p["memory_bytes"]["engine"] > 0 and p["memory_bytes"]["rss"] > 0
EOF
  ok "CSV and JSON hold every point, the fit and the labelled projection"
else
  not_ok "CSV and JSON hold every point, the fit and the labelled projection" "$(tail -n 3 "$TMP/check")"
fi

# Default thread list: 1, 2, 4, ... up to 2 x physical cores (both included).
# Physical cores (hwloc), as the CSV states them: the list does not count SMT siblings.
run scale --model xor --parallelism data "${FAST[@]}" --out "$TMP/default.csv"
cores=$("$PYTHON" -c "
import csv, sys
print(next(csv.DictReader(open(sys.argv[1], newline='')))['physical_cores'])" "$TMP/default.csv" \
  2>/dev/null || nproc)
expected=$("$PYTHON" -c "
c = $cores
t = {c, 2 * c}
n = 1
while n < 2 * c:
    t.add(n)
    n *= 2
print(' '.join(map(str, sorted(t))))")
got=$("$PYTHON" -c "
import csv, sys
print(' '.join(r['threads'] for r in csv.DictReader(open(sys.argv[1], newline=''))))" \
  "$TMP/default.csv" 2>/dev/null)
if [[ $RC -eq 0 && $got == "$expected" ]]; then
  ok "default --threads is $expected on $cores cores"
else
  not_ok "default --threads is $expected on $cores cores" "exit $RC, got '$got'"
fi
if "$PYTHON" - "$TMP/default.csv" <<'EOF' >"$TMP/check" 2>&1; then
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert rows
for r in rows:
    want = "1" if int(r["threads"]) > int(r["cores"]) else "0"
    assert r["oversubscribed"] == want, r
# 2 x physical cores is always in the list: oversubscribed unless the cores have SMT siblings
if int(rows[0]["physical_cores"]) == int(rows[0]["cores"]):
    assert any(r["oversubscribed"] == "1" for r in rows)
EOF
  ok "points with more threads than cores are flagged oversubscribed"
else
  not_ok "points with more threads than cores are flagged oversubscribed" "$(tail -n 2 "$TMP/check")"
fi

# Custom layers; no --out: table only, nothing written.
run scale --layers 6,12,3 --batch-size 16 --parallelism data --threads 2 "${FAST[@]}"
if [[ $RC -eq 0 ]] && grep -q "model custom: 6-12-3" "$OUT" && grep -qE '^data +1 ' "$OUT"; then
  ok "--layers sweeps a custom model (1 thread added as the baseline)"
else
  not_ok "--layers sweeps a custom model (1 thread added as the baseline)" "exit $RC: $(head -n 3 "$OUT")"
fi

# GxT curves (Note [Groups]): measured where T divides the threads, against data's 1-thread point,
# and predicted by the cost model with their group size.
run scale --layers 8,256,256,4 --batch-size 128 --parallelism data,Gx2 --threads 1,2,3,4 "${FAST[@]}" \
  --project 8 --out "$TMP/groups.csv"
if [[ $RC -eq 0 ]] && "$PYTHON" - "$TMP/groups.csv" "$TMP/groups.json" <<'EOF' >"$TMP/check" 2>&1; then
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
got = sorted((r["parallelism"], int(r["threads"])) for r in rows)
assert got == [("Gx2", 2), ("Gx2", 4), ("data", 1), ("data", 2), ("data", 3), ("data", 4)], got
doc = json.load(open(sys.argv[2]))
plans = sorted((m["plan"], m["cores"]) for m in doc["projection"]["predicted_vs_measured"])
assert ("1x2/owner", 2) in plans and ("2x2/owner", 4) in plans, plans
assert "4x2/owner" in doc["projection"]["points"][0]["step_us_by_plan"], doc["projection"]["points"]
layer = doc["projection"]["calibration"]["layers"][0]
assert 0 < layer["split_fraction"], layer
EOF
  ok "GxT curves: points where T divides the threads, predicted with their groups"
else
  not_ok "GxT curves: points where T divides the threads, predicted with their groups" "exit $RC: $(tail -n 3 "$TMP/check") $(tail -n 2 "$ERR")"
fi

# ---- option errors -----------------------------------------------------------------------------
expect_error "unknown model" "--model: unknown model 'Z'" --model Z
expect_error "empty thread count" "--threads: empty entry in '2,'" --threads 2,
expect_error "non-numeric threads" "--threads: 'two' is not a whole number" --threads two
expect_error "unknown strategy" "--parallelism: unknown strategy 'both'" --parallelism both
expect_error "GxT with T = 1" "unknown strategy 'Gx1'" --parallelism data,Gx1
expect_error "GxT alone" "GxT curves need data or intra in the list too" --parallelism Gx2
expect_error "GxT without a point" "--parallelism Gx3: no thread count in --threads is a multiple of 3" \
  --parallelism data,Gx3 --threads 1,2
expect_error "zero repeats" "--repeats must be at least 1" --repeats 0
expect_error "zero seconds" "--seconds must be positive" --seconds 0
expect_error "negative warm-up" "--warmup must not be negative" --warmup -1
expect_error "bad noise threshold" "--noise-threshold must be positive" --noise-threshold 0
expect_error "--model with --layers" "--model and --layers are exclusive" --model A --layers 4,2
expect_error "one-width layers" "--layers needs at least an input and an output width" --layers 5
expect_error "out not .csv" "must name a .csv file" --out "$TMP/results.txt"
expect_error "out folder missing" "folder '$TMP/missing' does not exist" --out "$TMP/missing/r.csv"
mkdir -p "$TMP/dir.csv"
expect_error "out is a folder" "'$TMP/dir.csv' is a folder" --out "$TMP/dir.csv"
expect_error "stray argument" "unexpected argument 'extra'" extra
expect_error "unknown backend" "unknown backend 'fast'" --backend fast

# ---- the cost model's projection (--project): plan and split per core count ---------------------
run scale --model C --threads 1,2 "${FAST[@]}" --project 16,32 --mem-bandwidth 50 --out "$TMP/proj.csv"
if [[ $RC -eq 0 ]] && grep -Eq "^PROJECTION 16 +(data/owner|data/buffers|intra|[0-9]+x[0-9]+/(owner|buffers)) " "$OUT" &&
  grep -Eq "^PROJECTION 32 " "$OUT" && ! grep -Eq "^PROJECTION (64|128) " "$OUT" &&
  grep -q "compute  exchange   update    sync" "$OUT" && grep -q "memory bandwidth 50 GB/s" "$OUT" &&
  grep -q "predicted (cost model) vs measured" "$OUT"; then
  ok "--project prints PROJECTION lines with a plan and a split, and predicted vs measured"
else
  not_ok "--project prints PROJECTION lines with a plan and a split, and predicted vs measured" \
    "exit $RC: $(grep -m 3 PROJECTION "$OUT")"
fi
if "$PYTHON" - "$TMP/proj.csv" "$TMP/proj.json" <<'EOF' >"$TMP/check" 2>&1; then
import csv, json, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
doc = json.load(open(sys.argv[2]))
for r in rows:
    assert float(r["predicted_us_per_step"]) > 0, r
proj = doc["projection"]
assert "PROJECTION" in proj["label"] and "not measured" in proj["label"], proj["label"]
assert proj["assumptions"]["mem_bandwidth_gbs_per_socket"] == 50
assert proj["assumptions"]["sync_latency_us"] is None  # extrapolated
assert [p["cores"] for p in proj["points"]] == [16, 32]
for p in proj["points"]:
    # the cheapest plan the model predicts, G x T groups included (which wins depends on the
    # calibration's timings: under a sanitizer 2x8/owner can)
    assert re.fullmatch(r"data/owner|data/buffers|intra|\d+x\d+/(owner|buffers)", p["plan"]), p
    assert p["plan"] in p["step_us_by_plan"], p
    parts = p["compute_us"] + p["exchange_us"] + p["update_us"] + p["sync_us"]
    assert abs(parts - p["step_us"]) <= 1e-6 * p["step_us"], p
    assert p["step_us"] == min(p["step_us_by_plan"].values()), p
assert sorted((c["plan"], c["cores"]) for c in proj["predicted_vs_measured"]) == \
    [("data/owner", 1), ("data/owner", 2), ("intra", 1), ("intra", 2)], proj["predicted_vs_measured"]
for c in proj["predicted_vs_measured"]:
    assert c["measured_us"] > 0 and abs(c["step_us"] / c["measured_us"] - 1 - c["error"]) < 1e-9, c
cal = proj["calibration"]
assert [(l["in"], l["out"]) for l in cal["layers"]] == [(8, 10), (10, 8), (8, 1)], cal
assert [r["rows"] for r in cal["layers"][0]["forward_gflops_by_rows"]] == [32, 16, 8, 4, 2, 1]
assert cal["copy_gbs_one_thread"] > 0 and cal["fork_join_us_by_workers"][0] >= 0
EOF
  ok "CSV and JSON carry the projection: calibration, assumptions, plans, predicted vs measured"
else
  not_ok "CSV and JSON carry the projection: calibration, assumptions, plans, predicted vs measured" \
    "$(tail -n 3 "$TMP/check")"
fi
expect_error "bad --project" "--project" --project 16,0
expect_error "bad --mem-bandwidth" "--mem-bandwidth must be a positive number" --mem-bandwidth 0
expect_error "bad --sync-latency-us" "--sync-latency-us must be a non-negative number" \
  --sync-latency-us -1

# ---- weak scaling (--weak): the batch grows with the threads -----------------------------------
run scale --model C --weak --threads 2 --parallelism data "${FAST[@]}" --out "$TMP/weak.csv"
if [[ $RC -eq 0 ]] && grep -q "WEAK scaling: batch = 32 x threads" "$OUT" && ! grep -q "Amdahl" "$OUT"; then
  ok "--weak says so in the table and fits no Amdahl curve"
else
  not_ok "--weak says so in the table and fits no Amdahl curve" "exit $RC: $(grep -i -m 2 'weak\|amdahl' "$OUT")"
fi
if "$PYTHON" - "$TMP/weak.csv" "$TMP/weak.json" <<'EOF' >"$TMP/check" 2>&1; then
import csv, json, sys
rows = {int(r["threads"]): r for r in csv.DictReader(open(sys.argv[1], newline=""))}
doc = json.load(open(sys.argv[2]))
assert sorted(rows) == [1, 2], sorted(rows)
for t, r in rows.items():
    assert r["scaling"] == "weak", r
    assert int(r["batch"]) == 32 * t, r            # batch x threads
    sps = float(r["samples_per_s"])
    assert sps > 0, r
    # us_per_step is the point's own batch over its throughput
    assert abs(float(r["us_per_step"]) - 1e6 * 32 * t / sps) <= 1e-3 * float(r["us_per_step"]), r
    assert r["amdahl_serial_fraction"] == "", r
assert float(rows[1]["efficiency"]) == 1.0
# efficiency = throughput_T / (T x throughput_1), per repeat, median: close to the medians' ratio
e2 = float(rows[2]["efficiency"])
assert 0 < e2 and abs(e2 - float(rows[2]["speedup"]) / 2) < 1e-4, rows[2]
assert doc["settings"]["scaling"] == "weak" and doc["amdahl"] is None
assert [p["batch"] for p in doc["points"]] == [32, 64]
topo = doc["machine"]["topology"]
assert topo["cores"] >= 1 and topo["pus"] >= topo["cores"] and topo["l3_groups"] >= 1, topo
EOF
  ok "--weak CSV/JSON: batch x threads, throughput, efficiency, scaling=weak, topology"
else
  not_ok "--weak CSV/JSON: batch x threads, throughput, efficiency, scaling=weak, topology" "$(tail -n 3 "$TMP/check")"
fi
expect_error "--weak batch past the limit" "batch size must be 1 to 16777216" \
  --layers 4,2 --batch-size 16777216 --weak --threads 2

# ---- plots ---------------------------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
  echo "ok - plots # SKIP gnuplot not installed (apt-get install gnuplot-nox)"
else
  if "$PYTHON" "$ROOT/scripts/plot.py" scaling "$TMP/r.csv" >"$OUT" 2>"$ERR"; then
    bad=""
    for f in speedup efficiency split throughput; do is_png "$TMP/r-$f.png" || bad+=" r-$f.png"; done
    if [[ -z $bad ]]; then ok "plot.py scaling draws 4 PNGs"; else not_ok "plot.py scaling draws 4 PNGs" "bad:$bad"; fi
  else
    not_ok "plot.py scaling draws 4 PNGs" "exit $?"
  fi
  if "$PYTHON" "$ROOT/scripts/plot.py" scaling --log-y "$TMP/r.csv" "$TMP/rlog" >"$OUT" 2>"$ERR" &&
    [[ ! -s $ERR ]] && is_png "$TMP/rlog-speedup.png" && is_png "$TMP/rlog-throughput.png"; then
    ok "plot.py scaling --log-y draws without warnings"
  else
    not_ok "plot.py scaling --log-y draws without warnings" "$(head -n 3 "$ERR")"
  fi
  if "$PYTHON" "$ROOT/scripts/plot.py" scaling "$TMP/r.csv" "$TMP/weak.csv" "$TMP/both" >"$OUT" 2>"$ERR" &&
    is_png "$TMP/both-strong-weak.png" && is_png "$TMP/both-speedup.png"; then
    ok "plot.py scaling draws strong and weak efficiency from two CSVs"
  else
    not_ok "plot.py scaling draws strong and weak efficiency from two CSVs" "$(tail -n 2 "$OUT")"
  fi
  if "$PYTHON" "$ROOT/scripts/plot.py" scaling "$TMP/r.csv" "$TMP/r.csv" "$TMP/x" >"$OUT" 2>"$ERR"; then
    not_ok "plot.py scaling refuses a strong CSV as the weak one" "exit 0"
  else
    ok "plot.py scaling refuses a strong CSV as the weak one"
  fi
  if "$PYTHON" "$ROOT/scripts/plot.py" projection "$TMP/proj.json" "$TMP/proj" >"$OUT" 2>"$ERR" &&
    [[ ! -s $ERR ]] && is_png "$TMP/proj-projection.png"; then
    ok "plot.py projection draws predicted and measured samples/s per plan"
  else
    not_ok "plot.py projection draws predicted and measured samples/s per plan" "$(head -n 3 "$ERR")"
  fi
  echo '{"tool": "other"}' >"$TMP/notscale.json"
  "$PYTHON" "$ROOT/scripts/plot.py" projection "$TMP/notscale.json" >"$OUT" 2>"$ERR" && rc=0 || rc=$?
  if [[ $rc -eq 0 ]]; then
    not_ok "plot.py projection rejects a JSON without a projection" "exit 0"
  elif ! grep -qF "is not a dptrain scale --project JSON" "$ERR"; then
    not_ok "plot.py projection rejects a JSON without a projection" "$(head -n 2 "$ERR")"
  else
    ok "plot.py projection rejects a JSON without a projection"
  fi
  echo "a,b" >"$TMP/notscale.csv"
  if "$PYTHON" "$ROOT/scripts/plot.py" scaling "$TMP/notscale.csv" >"$OUT" 2>"$ERR"; then
    not_ok "plot.py scaling rejects a foreign CSV" "exit 0"
  else
    ok "plot.py scaling rejects a foreign CSV"
  fi

  # A hand-made training log in the `dptrain train --log` format: a header object, epochs with
  # validation on every epoch and test on some, null where a value is absent.
  "$PYTHON" - "$TMP/run.jsonl" <<'EOF'
import json, math, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"kind": "header", "model": "784-128-10"}) + "\n")
    for e in range(1, 9):
        tl = 0.3 + 0.5 * math.exp(-e / 3)
        test = e % 4 == 0
        f.write(json.dumps({
            "epoch": e, "train_loss": tl, "train_metric": 1 - tl / 2,
            "val_loss": tl + 0.02, "val_metric": 1 - (tl + 0.02) / 2,
            "test_loss": tl + 0.03 if test else None,
            "test_metric": 1 - (tl + 0.03) / 2 if test else None,
            "lr": 1e-3 * 0.5 * (1 + math.cos(math.pi * e / 8)), "threads": 2,
            "samples_per_s": 190000.0, "seconds": 0.31,
            "timestamp": f"2024-05-01T12:00:{e:02d}+0000"}) + "\n")
EOF
  if "$PYTHON" "$ROOT/scripts/plot.py" training "$TMP/run.jsonl" >"$OUT" 2>"$ERR" &&
    is_png "$TMP/run-loss.png" && is_png "$TMP/run-metric.png"; then
    ok "plot.py training draws loss and metric PNGs from a training log"
  else
    not_ok "plot.py training draws loss and metric PNGs from a training log" "$(cat "$OUT")"
  fi
  printf '{"epoch": 1, "train_loss": 0.5}\nnot json\n' >"$TMP/bad.jsonl"
  if "$PYTHON" "$ROOT/scripts/plot.py" training "$TMP/bad.jsonl" >"$OUT" 2>"$ERR"; then
    not_ok "plot.py training rejects a broken line" "exit 0"
  elif grep -q "line 2 is not JSON" "$ERR"; then
    ok "plot.py training rejects a broken line"
  else
    not_ok "plot.py training rejects a broken line" "$(cat "$ERR")"
  fi
fi

harness_finish
