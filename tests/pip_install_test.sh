#!/usr/bin/env bash
# `pip install --no-build-isolation .` offline with Debian's packages only (pyproject.toml,
# setup.py): pip builds the module through this repository's CMake into a temporary target
# folder, and that folder alone (no build tree on PYTHONPATH) must give a package that imports
# from there, trains MLPClassifier on scikit-learn's digits to >= 0.9 accuracy and carries its
# type stubs. A from-scratch build: scripts/test.sh runs it after the Release suite.
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
set -eo pipefail  # fail fast: every step must work (harness.sh set -u)
harness_start pip-test
harness_remove_on_exit "$ROOT/build-pip"

cd "$ROOT"
/usr/bin/python3 -m pip install --no-build-isolation --no-deps --no-index --target "$TMP/site" . \
  >"$TMP/pip.log" 2>&1 || { tail -n 40 "$TMP/pip.log" >&2; fail "pip install --no-build-isolation ."; }
for f in __init__.py estimators.py _core.pyi py.typed; do
  [ -f "$TMP/site/dptrain/$f" ] || fail "the installed package lacks $f"
done
ls "$TMP/site/dptrain"/_core*.so >/dev/null 2>&1 || fail "the installed package lacks the _core module"
echo "ok - pip install --no-build-isolation . builds the package offline"

cd "$TMP"
PYTHONPATH="$TMP/site" /usr/bin/python3 - "$TMP/site" >"$TMP/check.log" 2>&1 <<'PY' ||
import os, sys, warnings
import dptrain
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
assert os.path.dirname(dptrain.__file__) == os.path.join(sys.argv[1], "dptrain"), dptrain.__file__
X, y = load_digits(return_X_y=True)
warnings.simplefilter("ignore", ConvergenceWarning)
clf = dptrain.MLPClassifier(hidden_layer_sizes=(64,), max_iter=30, random_state=0).fit(X / 16, y)
score = clf.score(X / 16, y)
assert score >= 0.9, score
print(f"accuracy {score:.4f}")
PY
  { cat "$TMP/check.log" >&2; fail "the pip-installed package does not train"; }
echo "ok - the pip-installed package imports from its folder and trains ($(cat "$TMP/check.log"))"
