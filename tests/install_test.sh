#!/usr/bin/env bash
# The embedding contract: install dptrain to a temporary prefix, build examples/embed against it
# as a separate CMake project (find_package(dptrain) + dptrain::dptrain), run it, and check that
#   - it exits 0 and prints "accuracy X" with X >= 0.9 (a real training run on its own data),
#   - the consumer's compile commands carry neither -march=native nor dptrain's source tree
#     (the installed package is self-contained and leaks no build flags).
#
# usage: bash tests/install_test.sh [--build-dir DIR]
#   --build-dir DIR  install from an already-built dptrain tree (fast; ctest uses this)
#   (none)           configure, build and install a fresh dptrain (tests off) in a temporary
#                    folder first: the from-scratch check scripts/test.sh runs
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
set -eo pipefail  # fail fast: every step must work (harness.sh set -u)
build_dir=""
if [ $# -gt 0 ]; then
  if [ "$1" = --build-dir ] && [ $# = 2 ]; then build_dir="$2"; else
    echo "usage: bash tests/install_test.sh [--build-dir DIR]" >&2
    exit 2
  fi
fi
harness_start install-test
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
jobs="$(nproc)"

if [ -z "$build_dir" ]; then
  echo "# configuring and building dptrain (Release, tests and Python module off) in $TMP/build" >&2
  cmake -S "$ROOT" -B "$TMP/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DDPTRAIN_BUILD_TESTS=OFF -DDPTRAIN_PYTHON=OFF >"$TMP/configure.log" 2>&1 || { cat "$TMP/configure.log" >&2; fail "configure"; }
  cmake --build "$TMP/build" -j "$jobs" >"$TMP/build.log" 2>&1 || { tail -n 40 "$TMP/build.log" >&2; fail "build"; }
  build_dir="$TMP/build"
fi
[ -f "$build_dir/CMakeCache.txt" ] || fail "'$build_dir' is not a CMake build folder"

prefix="$TMP/prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "cmake --install"; }
for f in include/dptrain/dptrain.hpp include/dptrain/trainer.hpp include/dptrain/version.hpp \
         include/dptrain/parallel/pool.hpp lib/libdptrain.a lib/libdptrain_parallel.a \
         lib/cmake/dptrain/dptrainConfig.cmake lib/cmake/dptrain/dptrainConfigVersion.cmake \
         lib/cmake/dptrain/dptrainTargets.cmake; do
  [ -e "$prefix/$f" ] || fail "the install lacks $f"
done
if grep -q -- "-march=native" "$prefix"/lib/cmake/dptrain/*.cmake; then
  fail "-march=native appears in the installed CMake package"
fi
echo "ok - install: headers, libraries and package config in the prefix"

# The example, as a stranger would build it: only the prefix, no source tree.
cmake -S "$ROOT/examples/embed" -B "$TMP/embed" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$TMP/embed-configure.log" 2>&1 \
  || { cat "$TMP/embed-configure.log" >&2; fail "configuring examples/embed (find_package(dptrain))"; }
cmake --build "$TMP/embed" -j "$jobs" >"$TMP/embed-build.log" 2>&1 \
  || { cat "$TMP/embed-build.log" >&2; fail "building examples/embed"; }
if grep -q -- "-march=native" "$TMP/embed/compile_commands.json"; then
  fail "-march=native leaked into the consumer's compile commands"
fi
if grep -q -- "-I$ROOT\|-isystem $ROOT" "$TMP/embed/compile_commands.json"; then
  fail "the consumer compiles against dptrain's source tree instead of the prefix"
fi
echo "ok - examples/embed configures and builds against the installed package"

rc=0
"$TMP/embed/embed" 2 >"$TMP/embed.out" 2>"$TMP/embed.err" || rc=$?
sed 's/^/#   /' "$TMP/embed.out"
[ "$rc" = 0 ] || { cat "$TMP/embed.err" >&2; fail "embed exited with status $rc"; }
accuracy="$(sed -n 's/^accuracy \([0-9.]*\)$/\1/p' "$TMP/embed.out")"
[ -n "$accuracy" ] || fail "embed printed no 'accuracy X' line"
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.9) }' || fail "accuracy $accuracy is below 0.9"
echo "ok - embed trains and reaches accuracy $accuracy (>= 0.9)"
