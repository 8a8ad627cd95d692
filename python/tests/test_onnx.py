"""to_onnx(): the estimators' models as ONNX files, run by OpenCV's dnn module (python3-opencv)
and checked by python3-onnx, answer as the estimators do (docs/PYTHON.md, "ONNX export")."""

import json

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from dptrain import MLPClassifier, MLPRegressor, _core

if not _core.onnx_export_available():
    pytest.skip("this dptrain was built without libonnx-dev", allow_module_level=True)
onnx = pytest.importorskip("onnx")
cv2 = pytest.importorskip("cv2")


def run_opencv(path, output, X, tmp_path):
    """The float part of the graph up to `output` (OpenCV cannot hold string tensors)."""
    import onnx.utils

    part = str(tmp_path / "part.onnx")
    onnx.utils.extract_model(str(path), part, ["input"], [output])
    net = cv2.dnn.readNetFromONNX(part)
    net.setInput(np.ascontiguousarray(X, dtype=np.float32))
    return net.forward(output)


def metadata(path):
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_classifier_with_named_classes(blobs, tmp_path):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=5,
                        random_state=0).fit(X, labels)
    path = tmp_path / "clf.onnx"
    clf.to_onnx(path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    outputs = {o.name: o.type.tensor_type.elem_type for o in model.graph.output}
    assert outputs == {"label": onnx.TensorProto.STRING, "probabilities": onnx.TensorProto.FLOAT}
    assert json.loads(metadata(path)["class_names"]) == ["ant", "bee", "cat"]
    got = run_opencv(path, "probabilities", X, tmp_path)
    np.testing.assert_allclose(got, clf.predict_proba(X), rtol=1e-5, atol=1e-7)
    assert list(clf.classes_[got.argmax(axis=1)]) == list(clf.predict(X))


def test_regressor_in_the_data_units(blobs, tmp_path):
    X, _ = blobs
    y = 100 + 30 * X[:, :2].sum(axis=1)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    path = tmp_path / "reg.onnx"
    reg.to_onnx(path)
    onnx.checker.check_model(onnx.load(str(path)))
    assert metadata(path)["task"] == "regression"
    got = run_opencv(path, "variable", X, tmp_path).reshape(-1)
    np.testing.assert_allclose(got, reg.predict(X), rtol=1e-5, atol=1e-6 * np.abs(y).max())


def test_to_onnx_refusals(blobs, tmp_path):
    X, y = blobs
    with pytest.raises(NotFittedError):
        MLPClassifier().to_onnx(tmp_path / "m.onnx")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="open file descriptor"):
        clf.to_onnx("/dev/fd/1")
    with pytest.raises(ValueError, match="nodir"):
        clf.to_onnx(tmp_path / "nodir" / "m.onnx")
    assert not (tmp_path / "nodir").exists()
