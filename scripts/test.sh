#!/usr/bin/env bash
# README command 2: install what is missing, build, and run every test with ctest, natively and
# again as an AVX2-only CPU (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell); then the
# sanitizer builds: ASan+UBSan over the whole suite, ThreadSanitizer over the engine's parallel
# tests (clang + LLVM's libomp; see DESIGN notes in README "Thread safety"); then the libFuzzer
# targets of the input readers, DPTRAIN_FUZZ_SECONDS (default 20) each (scripts/fuzz.sh).
# The Release suite and the install and pip tests run under strace, and the package-closure
# check (scripts/check-packages.py) then fails naming any file used (by configure, the compilers,
# the programs, the tests) whose package a fresh Debian 12 would not get from scripts/setup.sh.
# Exits non-zero on any failure. DPTRAIN_SKIP_SANITIZERS=1 runs the Release suite (both runs, and the
# closure check) only.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dptrain_install_packages "${DPTRAIN_TEST_PACKAGES[@]}"
jobs="$(nproc)"
trace_dir="$DPTRAIN_ROOT/build/closure"
# Runs "$@" with every file it opens or executes logged to $trace_dir/$1.log (strace is cheap
# here: with --seccomp-bpf only those two system calls stop the traced processes).
traced() {
  local name="$1"
  shift
  mkdir -p "$trace_dir"
  strace -f -qq --seccomp-bpf -e trace=execve,openat -e status=successful \
    -o "$trace_dir/$name.log" "$@"
}
check_packages() {
  echo "== Package closure: every file used comes from a package scripts/setup.sh names" >&2
  local builds=() b
  for b in build build-asan build-tsan build-fuzz; do
    [ -d "$DPTRAIN_ROOT/$b" ] && builds+=(--build "$DPTRAIN_ROOT/$b")
  done
  /usr/bin/python3 "$DPTRAIN_ROOT/scripts/check-packages.py" "${builds[@]}" \
    $(for log in "$trace_dir"/*.log; do printf -- '--trace %s ' "$log"; done)
}

echo "== Size limits: files, functions, parallel/ includes (docs/ARCHITECTURE.md)" >&2
python3 "$DPTRAIN_ROOT/scripts/check-size.py"
python3 "$DPTRAIN_ROOT/scripts/check-docs.py"  # notes cited = defined once; cited paths exist

echo "== Release build and full test suite" >&2
dptrain_build "$DPTRAIN_ROOT/build" -DCMAKE_BUILD_TYPE=Release
rm -rf "$trace_dir"
# onnxruntime-node from the npm registry for the ONNX export test, installed (or found
# unavailable, which the test then names) before tracing, as the Debian packages are: npm's own
# files are an installer's, not something the suite uses.
bash "$DPTRAIN_ROOT/tests/onnx_runtime_setup.sh" "$DPTRAIN_ROOT/build/onnxruntime-node"
traced ctest ctest --test-dir "$DPTRAIN_ROOT/build" -j "$jobs" --output-on-failure

echo "== The Release suite again as an AVX2-only CPU runs it (docs/PORTABILITY.md, machine classes)" >&2
# The build is portable (x86-64-v3); capping oneDNN at AVX2 and OpenBLAS at its Haswell kernel
# makes this machine take the code paths an AVX2-only CPU (Zen 3, Haswell) takes: other kernels,
# other rounding, bf16 refused, the kernel choice made among other rates.
ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell \
  ctest --test-dir "$DPTRAIN_ROOT/build" -j "$jobs" --output-on-failure

if [ "${DPTRAIN_SKIP_SANITIZERS:-0}" = 1 ]; then
  check_packages
  exit 0
fi

echo "== Embedding: fresh dptrain build installed to a temporary prefix, examples/embed against it" >&2
traced install_test bash "$DPTRAIN_ROOT/tests/install_test.sh"

echo "== pip install --no-build-isolation . (offline, Debian packages), the package it installs" >&2
traced pip_install_test bash "$DPTRAIN_ROOT/tests/pip_install_test.sh"

echo "== ASan + UBSan build, full test suite" >&2
# Without MPI: OpenMPI's own allocations would read as leaks; the MPI code runs in the Release suite.
dptrain_build "$DPTRAIN_ROOT/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDPTRAIN_SANITIZE=address \
  -DDPTRAIN_WITH_MPI=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$DPTRAIN_ROOT/build-asan" -j "$jobs" --output-on-failure

echo "== ThreadSanitizer build (clang, libomp), parallel engine tests" >&2
dptrain_build "$DPTRAIN_ROOT/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDPTRAIN_SANITIZE=thread \
  -DCMAKE_CXX_COMPILER=clang++ -DDPTRAIN_GEMM=eigen -DDPTRAIN_WITH_MPI=OFF \
  -DDPTRAIN_ONEDNN=OFF
# Debian's libdnnl runs on libgomp, which must not meet clang's libomp in one process: the TSan
# build (Eigen kernel) is also the build without oneDNN, which must keep working.
# A build without MPI keeps working and carries no MPI dependency.
if ldd "$DPTRAIN_ROOT/build-tsan/dptrain" | grep -q libmpi; then
  echo "dptrain built with -DDPTRAIN_WITH_MPI=OFF still links libmpi" >&2
  exit 1
fi
# Debian's libtbb is not instrumented, so TSan reports false races inside TBB itself: the TSan job
# covers the engine's own synchronisation through the openmp (LLVM libomp) and threads backends,
# which share every line of engine code with the tbb backend.
TSAN_OPTIONS="halt_on_error=1:ignore_noninstrumented_modules=1" DPTRAIN_TEST_BACKENDS=openmp,threads \
  ctest --test-dir "$DPTRAIN_ROOT/build-tsan" -j "$jobs" --output-on-failure \
  -R '^(Backends/PoolTest|Pool\.|Barrier|SumInOrder|Partition|RowPartition|Reducer|Engine\.|Inference\.|Kernels/GemmTest\.Split|DataParallel|Backends/DeterministicTest|IntraOp|Groups\.)' \
  -E '/tbb'

echo "== libFuzzer targets (clang, ASan+UBSan): IDX, CSV and checkpoint readers" >&2
bash "$DPTRAIN_ROOT/scripts/fuzz.sh"

check_packages
