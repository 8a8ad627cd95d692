#!/usr/bin/env bash
# End-to-end tests of the machine-readable side of `dptrain bench`: --json (every point, written
# atomically), --quality (a fixed-step training check with a final loss and metric),
# --export DIR (data, initial parameters and settings for a replay), option errors, and — when
# Debian's python3-torch is installed — that scripts/bench_pytorch.py --replay reproduces
# dptrain's final losses from the exported files (same data, initial parameters, row order).
#
# usage: bash tests/bench_json_test.sh <path-to-dptrain-binary>
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start bench-test 120
FAST=(--repeats 2 --seconds 0.02)

run bench --models C,xor,square --threads 1,2 "${FAST[@]}" --quality-steps 300 \
  --export "$TMP/replay" --json "$TMP/bench.json"
if [[ $RC -eq 0 ]]; then ok "bench --json --quality-steps --export"; else not_ok "bench --json --quality-steps --export" "exit $RC"; fi
if grep -Eq "^single-core peaks: fp32 FMA [0-9.]+ GFLOP/s \((avx512f|avx2\+fma|none)\), bf16 dot ([0-9.]+ GFLOP/s|n/a)" "$OUT" &&
  grep -Eq "^C +2 .* ([0-9.]+%|n/a) " "$OUT"; then
  ok "bench prints the peaks and a %peak column"
else
  not_ok "bench prints the peaks and a %peak column" "$(grep -m 1 peaks "$OUT")"
fi
if "$PYTHON" - "$TMP/bench.json" "$TMP/replay/manifest.json" <<'EOF' >"$TMP/check" 2>&1; then
import json, math, os, sys
doc = json.load(open(sys.argv[1]))
assert doc["tool"] == "dptrain bench" and doc["cores"] >= 1, doc.keys()
got = sorted((r["model"], r["threads"]) for r in doc["results"])
assert got == [(m, t) for m in ("C", "square", "xor") for t in (1, 2)], got
for r in doc["results"]:
    assert r["samples_per_s"] > 0 and len(r["windows_samples_per_s"]) == 2, r
    assert r["oversubscribed"] == (r["threads"] > doc["cores"]), r
# The register-only peaks: positive exactly when the CPU has the instructions (every x86-64 CPU
# this runs on has AVX2+FMA or AVX-512), and the exact-FLOP rates as fractions of them.
flags = set()
for line in open("/proc/cpuinfo"):
    if line.startswith("flags"):
        flags = set(line.split(":", 1)[1].split())
        break
has_fp32 = "avx512f" in flags or {"avx2", "fma"} <= flags
assert (doc["fp32_fma_peak_gflops"] > 0) == has_fp32, (doc["fp32_fma_peak_gflops"], has_fp32)
assert (doc["bf16_dot_peak_gflops"] > 0) == ("avx512_bf16" in flags), doc["bf16_dot_peak_gflops"]
assert doc["fp32_fma_probe_isa"] in ("avx512f", "avx2+fma", "none"), doc["fp32_fma_probe_isa"]
# forward + weight gradient: 4 x in x out per layer; input gradient: 2 x in x out but layer 1
exact = {"C": 4 * (80 + 80 + 8) + 2 * (80 + 8), "xor": 4 * (6 + 3) + 2 * 3,
         "square": 4 * (10 + 10) + 2 * 10}
for r in doc["results"]:
    assert r["exact_flops_per_sample"] == exact[r["model"]], r
    assert math.isclose(r["exact_gflops"], r["exact_flops_per_sample"] * r["samples_per_s"] / 1e9,
                        rel_tol=1e-9), r
    if has_fp32:
        peak = min(r["threads"], doc["cores"]) * doc["fp32_fma_peak_gflops"]
        assert math.isclose(r["fp32_peak_gflops"], peak, rel_tol=1e-9), (r, peak)
        assert 0 < r["fp32_peak_fraction"] < 1.5, r
        assert math.isclose(r["fp32_peak_fraction"], r["exact_gflops"] / peak, rel_tol=1e-9), r
        assert r["fp32_peak_measured_gflops"] > 0, r
q = {x["model"]: x for x in doc["quality"]}
assert set(q) == {"C", "xor", "square"}, q
for m, x in q.items():
    assert x["steps"] == 300 and math.isfinite(x["loss"]) and x["loss"] >= 0, x
assert q["C"]["metric_name"] == "acc" and q["square"]["metric_name"] == "mse", q
man = json.load(open(sys.argv[2]))
d = os.path.dirname(sys.argv[2])
assert [m["name"] for m in man["models"]] == ["C", "xor", "square"], man["models"]
for m in man["models"]:
    data = m["data"]
    assert os.path.getsize(os.path.join(d, data["x"])) == 4 * data["rows"] * data["features"]
    for layer in m["init"]:
        assert os.path.getsize(os.path.join(d, layer["weight"])) == 4 * layer["in"] * layer["out"]
        assert os.path.getsize(os.path.join(d, layer["bias"])) == 4 * layer["out"]
    assert m["dptrain"]["loss"] == q[m["name"]]["loss"], m["dptrain"]
EOF
  ok "JSON holds every point and the quality results; the export matches its manifest"
else
  not_ok "JSON holds every point and the quality results; the export matches its manifest" "$(tail -n 3 "$TMP/check")"
fi
if compgen -G "$TMP/*.tmp.*" >/dev/null || compgen -G "$TMP/replay/*.tmp.*" >/dev/null; then
  not_ok "no temporary files left" "$(ls -a "$TMP" "$TMP/replay")"
else
  ok "no temporary files left"
fi

# The quality check on an unavailable data set is reported as skipped, not as a failure.
run bench --models A --threads 1 --repeats 1 --seconds 0.01 --quality-steps 2 --json "$TMP/a.json"
if [[ $RC -eq 0 ]] && grep -q "^A .*skipped: " "$OUT"; then
  ok "quality check without Fashion-MNIST is reported as skipped"
else
  not_ok "quality check without Fashion-MNIST is reported as skipped" "exit $RC: $(tail -n 2 "$OUT")"
fi

# intra runs one worker: per-worker memory must not be read for worker 1 (was an internal error).
run bench --models C --threads 1,2 --parallelism intra "${FAST[@]}"
if [[ $RC -eq 0 ]]; then ok "bench --parallelism intra with 2 threads"; else not_ok "bench --parallelism intra with 2 threads" "exit $RC"; fi

# --plan GxT: groups at the thread counts T divides, the data plan at the 1-thread baseline; each
# point's plan in the JSON.
run bench --layers 8,256,256,4 --threads 1,2 --plan 1x2 "${FAST[@]}" --json "$TMP/plan.json"
if [[ $RC -eq 0 ]] && grep -q "plan groups of 2 threads" "$OUT" && "$PYTHON" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
plans = [(r["threads"], r["plan"]) for r in doc["results"]]
assert plans == [(1, "data"), (2, "1x2")], plans
' "$TMP/plan.json" 2>"$TMP/check"; then
  ok "bench --plan 1x2: data at 1 thread, 1x2 at 2, named in the JSON"
else
  not_ok "bench --plan 1x2: data at 1 thread, 1x2 at 2, named in the JSON" "exit $RC: $(tail -n 2 "$TMP/check")"
fi

# --sweep (Note [Sweep] in src/cli/bench_sweep.cpp): every kernel x weight gradients x plan of
# this build measured beside the default, best first, with default / best in the text and JSON.
run bench --models xor --threads 1,2 --repeats 1 --seconds 0.01 --sweep --json "$TMP/sweep.json"
if [[ $RC -eq 0 ]] && grep -Eq "^xor at 2 thread\(s\): the default (runs at|is off: it runs at) [0-9.]+x" "$OUT" &&
  "$PYTHON" - "$TMP/sweep.json" <<'EOF' 2>"$TMP/check"; then
import json, sys
doc = json.load(open(sys.argv[1]))
sweeps = {s["threads"]: s for s in doc["sweep"]}
assert sorted(sweeps) == [1, 2] and all(s["model"] == "xor" for s in sweeps.values()), sweeps.keys()
kernels = {c["config"].split()[0] for c in sweeps[1]["configurations"]}
assert kernels and kernels <= {"onednn", "openblas", "eigen"}, kernels
# per kernel: data/owner and data/buffers at 1 thread; also 1x2 of each and intra at 2
assert len(sweeps[1]["configurations"]) == 2 * len(kernels), sweeps[1]["configurations"]
assert len(sweeps[2]["configurations"]) == 5 * len(kernels), sweeps[2]["configurations"]
assert {c["config"] for c in sweeps[2]["configurations"]} >= {k + " intra" for k in kernels}
for s in sweeps.values():
    ratios = [c["default_over_this"] for c in s["configurations"]]
    assert ratios == sorted(ratios) and s["default_over_best"] == ratios[0], s
    assert s["best"] == s["configurations"][0]["config"], s
    assert s["best_flags"].startswith("--gemm " + s["best"].split()[0] + " --plan "), s
    assert s["default_is_off"] == (s["default_over_best"] < 0.95), s
    assert s["default"].startswith("default: "), s
EOF
  ok "bench --sweep: every configuration beside the default, best first, in the text and JSON"
else
  not_ok "bench --sweep: every configuration beside the default, best first, in the text and JSON" "exit $RC: $(tail -n 2 "$TMP/check")"
fi

expect_error() {
  local name=$1 want=$2
  shift 2
  run bench "$@"
  if [[ $RC -ne 2 ]]; then
    not_ok "$name" "expected exit 2, got $RC"
  elif [[ $(head -n 1 "$ERR") != "dptrain bench: error: "*"$want"* ]]; then
    not_ok "$name" "expected 'dptrain bench: error: ...$want...', got '$(head -n 1 "$ERR")'"
  elif [[ -s $OUT ]]; then
    not_ok "$name" "expected nothing on stdout, got '$(head -n 1 "$OUT")'"
  else
    ok "$name"
  fi
}
expect_error "--json into a missing folder" "folder '$TMP/none' does not exist" --models C --json "$TMP/none/b.json"
expect_error "--quality-steps 0" "--quality-steps must be at least 1" --models C --quality-steps 0
expect_error "unknown model" "--models: unknown model 'D'" --models C,D
expect_error "--sweep with bf16" "--sweep compares fp32 configurations" --models C --sweep --precision bf16
echo x >"$TMP/file"
expect_error "--export onto a file" "--export: cannot create folder '$TMP/file'" --models C --export "$TMP/file"

# PyTorch replays the exported steps and lands on the same losses (float rounding apart).
if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  echo "ok - PyTorch replay # SKIP python3-torch not installed"
elif "$PYTHON" "$ROOT/scripts/bench_pytorch.py" --models '' --replay "$TMP/replay" \
  --json "$TMP/torch.json" >"$OUT" 2>"$ERR"; then
  if "$PYTHON" - "$TMP/torch.json" <<'EOF' >"$TMP/check" 2>&1; then
import json, sys
for r in json.load(open(sys.argv[1])):
    a, b = r["loss"], r["dptrain"]["loss"]
    assert abs(a - b) <= 1e-3 * max(abs(a), abs(b)) + 1e-5, (r["model"], a, b)
EOF
    ok "PyTorch replay reproduces dptrain's final losses"
  else
    not_ok "PyTorch replay reproduces dptrain's final losses" "$(tail -n 1 "$TMP/check")"
  fi
else
  not_ok "PyTorch replay runs" "$(tail -n 3 "$ERR")"
fi

harness_finish
