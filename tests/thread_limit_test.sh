#!/usr/bin/env bash
# A worker thread the system refuses is bad input, not a crash: under a process limit
# (ulimit -u) or an address-space limit (ulimit -v), `dptrain train --threads 4` prints one
# message naming the thread and the remedy and exits 2, on every backend -- never oneTBB's
# "terminate called" (exit 134) or libgomp's "Thread creation failed" (exit 1).
# Note [Starting threads] in parallel/src/pool.cpp.
#
# usage: bash tests/thread_limit_test.sh <path-to-dptrain-binary>
#
# RLIMIT_NPROC does not bind root: as root the process-limit runs switch to the unprivileged
# user 65534 with setpriv (util-linux), which drops root's capabilities. DPTRAIN_SANITIZED=1
# (sanitizer builds, whose shadow memory does not fit an address-space limit) skips that case,
# saying so.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
harness_binary "$@"
harness_start thread-limit 60
# OpenBLAS would start threads of its own when loaded, taking the limit's slots first.
export OPENBLAS_NUM_THREADS=1

# expect_refused NAME HINT LIMIT ARGS...: `dptrain train ARGS...` run under the shell limit
# LIMIT (e.g. "-u 2"), as $AS_USER when set, exits 2 with exactly one stderr line (warnings
# aside) "dptrain train: error: could not start worker thread K of 4 (...); ..." that contains
# HINT, and nothing that says it crashed.
expect_refused() {
  local name=$1 hint=$2 limit=$3
  shift 3
  # The limit is set after `timeout` has forked and before dptrain is exec'd, so nothing else
  # has to fork under it.
  timeout "$RUN_TIMEOUT" bash -c 'ulimit '"$limit"' && exec "$@"' limited \
    "${AS_USER[@]}" "$DPTRAIN" train "$@" >"$OUT" 2>"$ERR"
  RC=$?
  local errors first
  errors=$(grep -v '^dptrain: warning: ' "$ERR")
  first=$(head -n 1 <<<"$errors")
  if [[ $RC -ne 2 ]]; then
    not_ok "$name" "expected exit 2, got $RC"
  elif ! [[ $first =~ ^"dptrain train: error: could not start worker thread "[0-9]+" of 4 (" ]]; then
    not_ok "$name" "expected 'could not start worker thread K of 4 (', got '$first'"
  elif [[ $first != *"$hint"* ]]; then
    not_ok "$name" "expected the message to contain '$hint', got '$first'"
  elif [[ $(wc -l <<<"$errors") -ne 1 ]]; then
    not_ok "$name" "expected one line on stderr, got $(wc -l <<<"$errors")"
  else
    ok "$name"
  fi
}

TRAIN=(--data blobs8 --layers 8,64,64,1 --batch-size 256 --epochs 1 --quiet)

# ---- the process limit ----
AS_USER=()
nproc_reason=""
if [[ $(id -u) -eq 0 ]]; then
  if ! command -v setpriv >/dev/null; then
    nproc_reason="running as root and setpriv (util-linux) is missing"
  else
    AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    if ! "${AS_USER[@]}" "$DPTRAIN" --version >/dev/null 2>&1; then
      # The build tree may not be readable by user 65534 (a home folder of mode 0700): run a
      # copy from a folder it can read.
      chmod 755 "$TMP"
      cp "$DPTRAIN" "$TMP/dptrain" && DPTRAIN=$TMP/dptrain
      "${AS_USER[@]}" "$DPTRAIN" --version >/dev/null 2>&1 ||
        nproc_reason="user 65534 cannot run the binary (setpriv failed)"
    fi
  fi
fi
if [[ -n $nproc_reason ]]; then
  echo "ok - process limit # SKIP: $nproc_reason"
else
  # -u 2: the process itself and at most one more thread of its user (as root: of user 65534;
  # otherwise all of the user's processes count, so no thread at all may be left).
  for backend in tbb openmp threads; do
    expect_refused "process limit, backend $backend" "lower --threads, or raise the process limit (ulimit -u)" \
      "-u 2" "${TRAIN[@]}" --threads 4 --backend "$backend"
  done
fi

# ---- the address-space limit: no room for another thread's stack ----
# A thread's default stack is the stack limit (ulimit -s): with 4 GB stacks under an 8 GB
# address space the process runs, and its second or third thread finds no room. oneTBB gives
# its threads a small stack of its own, so it is not in this case (it runs).
AS_USER=()
if [[ ${DPTRAIN_SANITIZED:-0} == 1 ]]; then
  echo "ok - address-space limit # SKIP: a sanitizer build's shadow memory needs more address space"
elif ! (ulimit -s 4194304) 2>/dev/null; then
  echo "ok - address-space limit # SKIP: the hard stack limit is below 4 GB ($(ulimit -H -s) KB)"
else
  for backend in openmp threads; do
    expect_refused "address-space limit, backend $backend" "or the memory limit (ulimit -v)" \
      "-s 4194304 -v 8388608" "${TRAIN[@]}" --threads 4 --backend "$backend"
  done
fi

harness_finish
