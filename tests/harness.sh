# The frame shared by the shell tests: the binary under test, a private temporary folder
# (removed on exit), pass/fail counters, `run` with a time limit, and the closing
# "N passed, M failed" line ctest reads.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
#   harness_binary "$@"   DPTRAIN: the test's one argument, an executable, as an absolute path
#                         (usage message and exit 2 otherwise)
#   harness_start NAME [RUN_TIMEOUT_S]
#   run ARGS...           runs "$DPTRAIN" ARGS..., stdout in $OUT, stderr in $ERR, status in $RC
#   expect NAME RC SUBSTRING ARGS...
#   ok NAME / not_ok NAME WHY
#   hash_of [FILE] / is_png FILE
#   harness_finish        prints the summary; its status is the script's result
#
# Sourcing it sets -u (not -e: the tests run commands that fail on purpose and check their
# status), ROOT (the repository) and PYTHON (Debian's /usr/bin/python3, which has numpy, when
# present). harness_start points DPTRAIN_FASHION_MNIST_DIR at a folder that does not exist, so no
# test reads the real data set by accident (and one that asks for it gets the loader's message).
# Tests that fail fast instead (install_test.sh, pip_install_test.sh) use harness_start for the
# folder and `fail`.

set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=python3

harness_binary() {
  local test_name
  test_name=$(basename "$0")
  if [[ $# -ne 1 ]]; then
    echo "usage: bash tests/$test_name <path-to-dptrain-binary>" >&2
    exit 2
  fi
  if [[ ! -f $1 || ! -x $1 ]]; then
    echo "${test_name%.sh}: '$1' is not an executable file" >&2
    exit 2
  fi
  DPTRAIN=$(realpath "$1")
}

harness_start() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/dptrain-$1.XXXXXX") || exit 2
  HARNESS_CLEANUP=("$TMP")
  # Only this shell removes it: a background job signalled in the moment between bash's fork
  # and its exec runs the EXIT trap in the forked child, which would take the folder from under
  # the rest of the test.
  HARNESS_PID=$BASHPID
  trap '[[ $BASHPID == "$HARNESS_PID" ]] && rm -rf "${HARNESS_CLEANUP[@]}"' EXIT
  RUN_TIMEOUT=${2:-60}
  OUT="$TMP/stdout"
  ERR="$TMP/stderr"
  RC=0
  PASSED=0
  FAILED=0
  export DPTRAIN_FASHION_MNIST_DIR="$TMP/no-fashion-mnist"
}

# harness_remove_on_exit PATH...: removed with the temporary folder.
harness_remove_on_exit() {
  HARNESS_CLEANUP+=("$@")
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

# fail WHY: for the fail-fast tests, one "not ok" line and exit 1.
fail() {
  echo "not ok - $(basename "$0" .sh): $*" >&2
  exit 1
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

# hash_of [FILE]: the params_hash=... line of FILE (default: the last run's stdout).
hash_of() {
  grep -o 'params_hash=[0-9a-f]*' "${1:-$OUT}"
}

# is_png FILE: FILE exists and starts with the PNG signature.
is_png() {
  [[ -s $1 ]] && head -c 8 "$1" | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a$'
}

harness_finish() {
  echo "$PASSED passed, $FAILED failed"
  [[ $FAILED -eq 0 ]]
}
