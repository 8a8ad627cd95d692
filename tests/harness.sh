# The frame shared by the shell tests: a private temporary folder (removed on exit), pass/fail
# counters, `run` with a time limit, and the closing "N passed, M failed" line ctest reads.
#
#   DPTRAIN=...; source "$(dirname "$0")/harness.sh"; harness_start NAME [RUN_TIMEOUT_S]
#   run ARGS...        runs "$DPTRAIN" ARGS..., stdout in $OUT, stderr in $ERR, status in $RC
#   ok NAME / not_ok NAME WHY
#   harness_finish     prints the summary; its status is the script's result

harness_start() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/dptrain-$1.XXXXXX") || exit 2
  # Only this shell removes it: a background job signalled in the moment between bash's fork
  # and its exec runs the EXIT trap in the forked child, which would take the folder from under
  # the rest of the test.
  HARNESS_PID=$BASHPID
  trap '[[ $BASHPID == "$HARNESS_PID" ]] && rm -rf "$TMP"' EXIT
  RUN_TIMEOUT=${2:-60}
  OUT="$TMP/stdout"
  ERR="$TMP/stderr"
  RC=0
  PASSED=0
  FAILED=0
}

ok() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

not_ok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1: $2"
  if [[ -s $ERR ]]; then sed 's/^/#   stderr: /' "$ERR" | head -n 8; fi
}

run() {
  timeout "$RUN_TIMEOUT" "$DPTRAIN" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

# expect NAME RC SUBSTRING ARGS...: runs dptrain ARGS; ok when it exits RC and SUBSTRING appears
# in its stdout or stderr.
expect() {
  local name=$1 want_rc=$2 want=$3
  shift 3
  run "$@"
  if [[ $RC -ne $want_rc ]]; then not_ok "$name" "expected exit $want_rc, got $RC"
  elif ! cat "$OUT" "$ERR" | grep -qF -- "$want"; then not_ok "$name" "expected output to contain '$want'"
  else ok "$name"; fi
}

harness_finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}
