#!/usr/bin/env bash
# README command 1: install what is missing, build Release, and train 784-128-10 on
# Fashion-MNIST (Adam, lr 1e-3, batch 128, 10 epochs). Extra arguments go to `dptrain train`
# and override these defaults, e.g. scripts/run.sh --threads 2 --epochs 3
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
dptrain_install_packages
dptrain_build "$DPTRAIN_ROOT/build" -DCMAKE_BUILD_TYPE=Release
exec "$DPTRAIN_ROOT/build/dptrain" train --data fashion-mnist --layers 784,128,10 \
  --activation relu --output softmax --loss ce --optimizer adam --lr 0.001 --batch-size 128 \
  --epochs 10 "$@"
