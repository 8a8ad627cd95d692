"""Shared helpers for the dptrain Python tests (run by ctest with PYTHONPATH=<build>/python)."""

import os
import shutil

import numpy as np
import pytest


def cli_path():
    """The dptrain CLI of the same build (ctest sets DPTRAIN_CLI), or None."""
    path = os.environ.get("DPTRAIN_CLI") or shutil.which("dptrain")
    return path if path and os.access(path, os.X_OK) else None


@pytest.fixture
def cli():
    path = cli_path()
    if path is None:
        pytest.skip("the dptrain CLI is not available (set DPTRAIN_CLI)")
    return path


@pytest.fixture
def blobs():
    """A small 3-class problem: 300 rows, 8 features, float32."""
    rng = np.random.default_rng(3)
    centers = rng.normal(scale=3.0, size=(3, 8))
    y = rng.integers(0, 3, size=300)
    X = (centers[y] + rng.normal(size=(300, 8))).astype(np.float32)
    return X, y
