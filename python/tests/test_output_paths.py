"""Where save() may write: never through an open file descriptor (/dev/fd/N, /proc/self/fd/N),
never over a file this process has open or a write-protected one; a replaced file keeps its mode.
The checks live in the library (write_file_atomically), so the CLI refuses the same paths."""

import os
import stat

import pytest

import dptrain
from dptrain import MLPClassifier


@pytest.fixture
def trainer(blobs):
    X, y = blobs
    t = dptrain.Trainer(dptrain.ModelSpec([8, 4, 3]), dptrain.TrainConfig(epochs=1))
    t.fit(X, y)
    return t


@pytest.fixture
def kept(tmp_path):
    """A file with bytes that must survive, open for appending on a descriptor of this process."""
    path = tmp_path / "keep.txt"
    path.write_bytes(b"kept\n\x00bytes")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    yield path, fd
    os.close(fd)


def test_save_to_standard_output_descriptor_is_refused(trainer):
    before = os.fstat(1)
    with pytest.raises(ValueError, match="open file descriptor"):
        trainer.save("/dev/fd/1")
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino, after.st_size) == (before.st_dev, before.st_ino,
                                                           before.st_size)


@pytest.mark.parametrize("spelling", ["/dev/fd/{}", "//proc/self/fd/{}", "/./proc/self/fd/{}",
                                      "/proc/self/fd/{}"])
def test_save_through_a_descriptor_keeps_its_file(trainer, kept, spelling):
    path, fd = kept
    with pytest.raises(ValueError, match="open file descriptor"):
        trainer.save(spelling.format(fd))
    assert path.read_bytes() == b"kept\n\x00bytes"


def test_estimator_save_through_a_descriptor_or_a_link_to_one_is_refused(blobs, kept, tmp_path):
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, y)
    path, fd = kept
    link = tmp_path / "fd.link"
    link.symlink_to(f"/dev/fd/{fd}")
    for target in (f"/dev/fd/{fd}", link):
        with pytest.raises(ValueError, match="open file descriptor"):
            clf.save(target)
    assert path.read_bytes() == b"kept\n\x00bytes"
    assert link.is_symlink()


def test_save_over_a_file_this_process_has_open_is_refused(trainer, kept):
    path, fd = kept
    with pytest.raises(ValueError, match=f"is open in this process \\(file descriptor {fd}"):
        trainer.save(str(path))
    assert path.read_bytes() == b"kept\n\x00bytes"


def test_save_keeps_the_mode_and_refuses_a_write_protected_file(trainer, tmp_path):
    private = tmp_path / "private.dpt"
    private.write_bytes(b"old")
    private.chmod(0o600)
    trainer.save(str(private))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes()[:3] != b"old"
    protected = tmp_path / "protected.dpt"
    protected.write_bytes(b"old")
    protected.chmod(0o444)
    with pytest.raises(ValueError, match=r"is write-protected \(mode 0444\)"):
        trainer.save(str(protected))
    assert protected.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.dpt", "protected.dpt"]
