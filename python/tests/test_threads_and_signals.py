"""The GIL is released while the engine trains; Ctrl-C stops at a step boundary."""

import _thread
import threading
import time

import numpy as np
import pytest

from dptrain import MLPClassifier


def big_problem(rows=20000):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 64)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def test_another_python_thread_runs_during_fit():
    X, y = big_problem()
    counter = {"n": 0, "stop": False}

    def spin():
        while not counter["stop"]:
            counter["n"] += 1

    # A fit long enough to tell on this machine: more epochs until it takes 0.3 s or more.
    for max_iter in (3, 12, 48, 192):
        clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=max_iter, batch_size=64,
                            random_state=0, n_iter_no_change=1000)
        # How far the thread counts alone in the time a fit takes ...
        counter.update(n=0, stop=False)
        thread = threading.Thread(target=spin)
        start = time.perf_counter()
        thread.start()
        clf.fit(X, y)
        fit_seconds = time.perf_counter() - start
        counter["stop"] = True
        thread.join()
        during_fit = counter["n"]
        if fit_seconds >= 0.3:
            break
    assert fit_seconds > 0.2, "the fit is too short to tell"
    # ... the GIL held through fit would leave it at (almost) nothing: Python switches threads
    # only every 5 ms, and a thread that never gets the GIL counts nothing at all.
    counter.update(n=0, stop=False)
    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(fit_seconds)
    counter["stop"] = True
    thread.join()
    assert during_fit > 0.3 * counter["n"]


def test_keyboard_interrupt_stops_training_and_leaves_a_valid_model():
    X, y = big_problem()
    clf = MLPClassifier(hidden_layer_sizes=(256,), max_iter=1000, batch_size=32, random_state=0,
                        n_iter_no_change=1000)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    elapsed = time.perf_counter() - start
    timer.join()
    assert elapsed < 5.0, f"Ctrl-C took {elapsed:.1f} s to stop training"
    proba = clf.predict_proba(X[:100])  # the model of the last completed step
    assert np.all(np.isfinite(proba))
    assert clf.n_iter_ < 1000
    clf.partial_fit(X[:256], y[:256])  # and it can go on training
