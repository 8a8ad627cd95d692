"""Plans from Python: the CLI's --plan text (auto included) and step-level checkpoints."""

import re

import pytest

import dptrain
from dptrain import MLPClassifier

_FIXED = re.compile(r"data|intra|\d+x\d+(/(owner|buffers))?|data/(owner|buffers)")


def test_plan_text_round_trips_and_drives_the_views():
    c = dptrain.TrainConfig(threads=8, plan="4x2/owner")
    assert c.plan == "4x2/owner"
    assert c.group_threads == 2 and c.parallelism == "data"
    c.plan = "intra"
    assert c.plan == "intra" and c.parallelism == "intra" and c.group_threads == 1
    with pytest.raises(ValueError, match="expected auto, data, intra or GxT"):
        c.plan = "2y2"
    with pytest.raises(ValueError, match="runs 8 threads, but threads is 6"):
        dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), dptrain.TrainConfig(threads=6, plan="4x2"))


def test_plan_auto_is_resolved_by_the_trainer(blobs):
    X, y = blobs
    config = dptrain.TrainConfig(threads=2, batch_size=64, epochs=1, plan="auto")
    assert config.plan == "auto"
    config.validate()
    trainer = dptrain.Trainer(dptrain.ModelSpec([8, 64, 3]), config)
    assert _FIXED.fullmatch(trainer.config.plan), trainer.config.plan
    trainer.fit(X, y)
    assert trainer.epochs_done == 1
    one = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), dptrain.TrainConfig(plan="auto"))
    assert one.config.plan == "data"  # one thread: nothing to choose


def test_estimator_plan_auto(blobs):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=40, n_threads=2, plan="auto",
                        n_iter_no_change=100, random_state=0)
    clf.fit(X, y)
    assert clf.get_params()["plan"] == "auto"
    assert _FIXED.fullmatch(clf._trainer.config.plan), clf._trainer.config.plan
    assert clf.score(X, y) > 0.9
    clf.partial_fit(X, y)  # warm: keeps the chosen plan


def test_checkpoint_every_steps_writes_a_resumable_checkpoint(blobs, tmp_path):
    X, y = blobs  # 300 rows: 19 steps of 16 per epoch
    path = tmp_path / "every.dpt"
    settings = dict(epochs=2, batch_size=16, seed=3, deterministic=True)
    straight = dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), dptrain.TrainConfig(**settings))
    straight.fit(X, y)
    every = dptrain.TrainConfig(**settings, checkpoint_every_steps=5, checkpoint_path=str(path))
    assert every.checkpoint_every_steps == 5 and every.checkpoint_path == str(path)
    dptrain.Trainer(dptrain.ModelSpec([8, 16, 3]), every).fit(X, y)
    resumed = dptrain.load(str(path))  # the last: step 35, epoch 2's 16th
    assert resumed.step_count == 35 and resumed.epochs_done == 1
    resumed.fit(X, y)
    assert resumed.params_hash() == straight.params_hash()
