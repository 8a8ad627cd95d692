#!/usr/bin/env bash
# The Python package's set-up command (README "Python"): installs the missing Debian packages,
# builds build/ (the CLI, the library and the pybind11 module for /usr/bin/python3), and
# installs them under PREFIX (default /usr/local; its lib/python3.X/dist-packages is on Debian's
# sys.path), so that `/usr/bin/python3 -c "from dptrain import MLPClassifier"` works from any
# folder. Idempotent. Without installing: PYTHONPATH=build/python.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dptrain_install_packages
dptrain_build "$DPTRAIN_ROOT/build" -DCMAKE_BUILD_TYPE=Release -DDPTRAIN_PYTHON=ON
prefix="${PREFIX:-/usr/local}"
dptrain_sudo cmake --install "$DPTRAIN_ROOT/build" --prefix "$prefix" >/dev/null
# Import it from elsewhere, as a user would (a prefix off sys.path goes on PYTHONPATH here only).
site="$(/usr/bin/python3 -c 'import sys; print("lib/python%d.%d/dist-packages" % sys.version_info[:2])')"
cd /
PYTHONPATH="$prefix/$site${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 -c \
  "import dptrain; print('dptrain', dptrain.__version__, 'for Python in', dptrain.__path__[0])"
