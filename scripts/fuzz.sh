#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/: IDX, CSV, .npy, .npz and checkpoint readers; clang, ASan+UBSan) in
# build-fuzz and runs each for DPTRAIN_FUZZ_SECONDS seconds (default 20), starting from a copy of
# the seed corpus fuzz/corpus/<reader>/ in a temporary folder plus the past crashes in
# tests/fuzz_regressions/<reader>/ (read-only), with fuzz/<reader>.dict where there is one. Exits non-zero on any crash,
# sanitizer report, leak, timeout or out-of-memory, and prints the path of the crashing input
# (kept under build-fuzz/crashes/). To turn one into a regression test, copy it to
# tests/fuzz_regressions/<reader>/ (the fuzz input layouts are described in fuzz/fuzz_input.hpp).
#   bash scripts/fuzz.sh [reader...]      readers: idx csv checkpoint npy npz (default: all five)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dptrain_install_packages clang
seconds="${DPTRAIN_FUZZ_SECONDS:-20}"
build="$DPTRAIN_ROOT/build-fuzz"
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(idx csv checkpoint npy npz)

echo "== libFuzzer build (clang, ASan+UBSan) in $build" >&2
generator=()
command -v ninja >/dev/null && [ ! -f "$build/CMakeCache.txt" ] && generator=(-G Ninja)
cmake -S "$DPTRAIN_ROOT" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DDPTRAIN_FUZZ=ON -DDPTRAIN_BUILD_TESTS=OFF -DDPTRAIN_WITH_MPI=OFF \
  -DDPTRAIN_ONEDNN=OFF \
  >/dev/null
cmake --build "$build" -j "$(nproc)" --target dptrain_fuzzers >&2

work="$(mktemp -d "${TMPDIR:-/tmp}/dptrain-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
crashes="$build/crashes"
mkdir -p "$crashes"
failed=0
for reader in "${readers[@]}"; do
  case "$reader" in
    idx) max_len=1024 ;;  # seeds are under 100 bytes; gzip makes up to ~1 MB of that
    csv) max_len=1024 ;;
    npy) max_len=1024 ;;
    npz) max_len=2048 ;;  # numpy's seed archives are 150-550 bytes
    checkpoint) max_len=4096 ;;  # the seed checkpoints are 0.9 and 1.5 KB
    *) echo "fuzz.sh: unknown reader '$reader' (idx, csv, checkpoint, npy or npz)" >&2; exit 2 ;;
  esac
  corpus="$work/corpus-$reader"
  cp -r "$DPTRAIN_ROOT/fuzz/corpus/$reader" "$corpus"
  echo "== fuzz_$reader: ${seconds} s, -max_len=$max_len" >&2
  dict=()
  [ -f "$DPTRAIN_ROOT/fuzz/$reader.dict" ] && dict=(-dict="$DPTRAIN_ROOT/fuzz/$reader.dict")
  rc=0
  # Leaks count as bugs (detect_leaks); -malloc_limit_mb catches absurd allocations from a few
  # bytes of input even where they would succeed.
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
    "$build/fuzz/fuzz_$reader" "$corpus" "$DPTRAIN_ROOT/tests/fuzz_regressions/$reader" \
    -max_len="$max_len" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$crashes/$reader-" "${dict[@]}" >"$work/$reader.log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
    "$work/$reader.log" >&2 || true
  if [ "$rc" -ne 0 ]; then
    failed=1
    tail -n 60 "$work/$reader.log" >&2
    cp "$work/$reader.log" "$crashes/$reader.log"
    echo "fuzz.sh: fuzz_$reader FAILED (exit $rc); log: $crashes/$reader.log" >&2
    sed -n 's/.*Test unit written to \(.*\)$/crashing input: \1/p' "$work/$reader.log" | sort -u >&2
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: reproduce with build-fuzz/fuzz/fuzz_<reader> <input>; then copy the input to" \
    "tests/fuzz_regressions/<reader>/" >&2
  exit 1
fi
echo "fuzz.sh: no crashes (${readers[*]}; ${seconds} s each)" >&2
