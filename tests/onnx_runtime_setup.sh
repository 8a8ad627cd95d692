#!/usr/bin/env bash
# Installs onnxruntime-node (ONNX Runtime for Node.js, from the npm registry) into DIR for
# tests/onnx_export_test.py --runtime onnxruntime, once:
#   tests/onnx_runtime_setup.sh DIR
# DIR/node_modules/onnxruntime-node: installed. DIR/unavailable: why it could not be (no node or
# npm, registry unreachable, install failed); the test then skips naming that reason. Either
# way later runs do nothing (remove DIR to try again), so npm runs only at the first setup:
# scripts/test.sh runs this before its traced test suite, as it installs Debian packages first.
set -u
dir=${1:?usage: onnx_runtime_setup.sh DIR}
mkdir -p "$dir" || exit 2
[ -f "$dir/node_modules/onnxruntime-node/package.json" ] && exit 0
[ -f "$dir/unavailable" ] && exit 0
unavailable() {
  echo "$1" >"$dir/unavailable"
  echo "onnxruntime-node not installed: $1" >&2
  exit 0
}
command -v node >/dev/null || unavailable "node not found (Debian's nodejs package)"
command -v npm >/dev/null || unavailable "npm not found (Debian's npm package)"
timeout 20 npm view --cache "$dir/npm-cache" onnxruntime-node version >/dev/null 2>&1 ||
  unavailable "the npm registry cannot be reached (npm view onnxruntime-node failed or timed out)"
# The package carries its CPU binary; its install script only fetches optional GPU providers
# from another host, so it is not run.
if ! timeout 600 npm install --no-audit --no-fund --ignore-scripts --cache "$dir/npm-cache" \
    --prefix "$dir" onnxruntime-node@1 >"$dir/npm.log" 2>&1; then
  unavailable "npm install onnxruntime-node@1 failed: $(tail -n 3 "$dir/npm.log" | tr '\n' ' ')"
fi
exit 0
