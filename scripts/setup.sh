#!/usr/bin/env bash
# Shared set-up for the README commands: installs the Debian packages dptrain needs (only the
# missing ones), then configures and builds a CMake build folder.
#   source scripts/setup.sh; dptrain_install_packages; dptrain_build <build-dir> [cmake args...]
set -euo pipefail

DPTRAIN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build tools and libraries (see README: what each dependency is for).
DPTRAIN_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev libtbb-dev libcxxopts-dev libgtest-dev zlib1g-dev libhwloc-dev
  libopenblas-pthread-dev libdnnl-dev ocl-icd-opencl-dev libomp-dev libclang-rt-14-dev
  libopenmpi-dev openmpi-bin
  nlohmann-json3-dev libsqlite3-dev libcsv-dev libfast-float-dev gnuplot-nox
  liblbfgs-dev # optimizer lbfgs: libLBFGS's direction and line search (src/lbfgs.cpp)
  libonnx-dev libprotobuf-dev # dptrain export: ONNX's own classes and checker (ONNXConfig.cmake)
  dataset-fashion-mnist
  python3 # the plot scripts and test scripts parse CSV/JSON with its standard library
  # the Python package (python/): pybind11 module, estimators, their pytest suite
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-sklearn python3-pytest
  python3-pip python3-setuptools python3-wheel # pip install --no-build-isolation . (setup.py)
)

# What scripts/test.sh needs beyond that: clang for the TSan and fuzz builds (its sanitizer
# runtimes are libclang-rt-14-dev above), strace for the package-closure check
# (scripts/check-packages.py), which fails if a file used comes from a package not named here;
# pandas for the DataFrame tests of the Python estimators (scikit-learn's own
# sklearn/neural_network/tests/test_mlp.py and check_estimator run them when it is installed);
# python3-onnx (its checker) and python3-opencv (its dnn module runs the exported models) for
# tests/onnx_export_test.py.
DPTRAIN_TEST_PACKAGES=(clang strace python3-pandas python3-onnx python3-opencv)
# Used when present, skipped otherwise: the PyTorch replay of tests/bench_json_test.sh
# (scripts/compare-pytorch.sh installs it); node and npm, which install onnxruntime-node from the
# npm registry for tests/onnx_export_test.py. The closure check counts them as allowed.
DPTRAIN_OPTIONAL_PACKAGES=(python3-torch nodejs)

dptrain_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

dptrain_install_packages() {
  local extra=("$@") missing=() p
  for p in "${DPTRAIN_PACKAGES[@]}" "${extra[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dptrain: installing ${missing[*]}" >&2
    dptrain_sudo apt-get update -qq
    dptrain_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >&2
  fi
}

dptrain_build() {
  local dir="$1"
  shift
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$DPTRAIN_ROOT" -B "$dir" "${generator[@]}" "$@" >&2
  else
    cmake -S "$DPTRAIN_ROOT" -B "$dir" "$@" >/dev/null
  fi
  cmake --build "$dir" -j "$(nproc)" >&2
}
