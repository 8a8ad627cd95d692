#!/usr/bin/env python3
"""ONNX models of `dptrain export`, run by independent runtimes, answer as `dptrain predict`.

For every hidden activation x task (softmax classifier with class names, sigmoid binary
classifier with integer labels, identity regression, regression with --normalize-target,
sigmoid-output regression) x input normalisation (none, standard, minmax), plus Fashion-MNIST,
a dropout model and a bf16-trained model: train with the CLI, `dptrain predict` to a CSV, `dptrain
export` to ONNX, check the file with python3-onnx's checker, then run it in the runtime named by
--runtime and compare:
  opencv       OpenCV's dnn module (python3-opencv). It cannot hold string tensors, so it runs
               the float sub-graph up to 'probabilities'/'variable' (onnx.utils.extract_model:
               the same nodes and weights); the labels are checked as the top-1 of those.
  onnxruntime  ONNX Runtime through onnxruntime-node, the whole graph, labels included, by
               tests/onnx_runtime.js; tests/onnx_runtime_setup.sh installs it from the npm
               registry into --ort-dir (ctest runs it first, as a fixture). Exit 77 (skipped)
               naming the reason when it could not: no node or npm, registry unreachable.
Values must agree within 1e-5 relative (|a - b| <= 1e-5 |b| + 1e-6 max(1, max |b|): an absolute
floor at the output's scale for values near zero, where relative error means nothing); labels
exactly. Also the refusals of `dptrain export` (exit 2, nothing written).

  onnx_export_test.py --dptrain build/dptrain --runtime opencv
  onnx_export_test.py ... --only fashion --fashion-layers 784,256,128,10 --fashion-rows 60000 \\
      --fashion-test-rows 10000 --epochs 10      # the Fashion-MNIST figure of docs/PERFORMANCE.md
"""

import argparse
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

SKIP = 77
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "identity"]
NORMALIZATIONS = ["none", "standard", "minmax"]
FASHION = "/usr/share/datasets/fashion-mnist"


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        for r in rows:
            w.writerow([("%.9g" % v) if isinstance(v, (float, np.floating)) else v for v in r])


def make_data(tmp):
    """Training CSVs (features + label) and feature-only CSVs to predict on, per task."""
    from sklearn.datasets import load_iris

    rng = np.random.default_rng(7)
    iris = load_iris()
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names]
    x = iris.data.astype(np.float32)
    species = [iris.target_names[t] for t in iris.target]
    sets = {}
    write_csv(f"{tmp}/iris.csv", names + ["species"], [list(r) + [s] for r, s in zip(x, species)])
    sets["iris"] = (f"{tmp}/iris.csv", x, names)
    # binary labels -1 / 1 (integer class names), 6 features
    xb = (rng.normal(size=(240, 6)) * [1, 2, 3, 0.5, 10, 1] + [0, 5, -3, 1, 100, 0]).astype(np.float32)
    yb = np.where(xb[:, 0] + 0.3 * xb[:, 1] - 0.2 * xb[:, 2] > 1.0, 1, -1)
    fb = [f"f{i}" for i in range(6)]
    write_csv(f"{tmp}/binary.csv", fb + ["y"], [list(r) + [int(t)] for r, t in zip(xb, yb)])
    sets["binary"] = (f"{tmp}/binary.csv", xb, fb)
    # regression: a target in large units, 5 features on different scales
    xr = (rng.normal(size=(200, 5)) * [1, 10, 0.1, 3, 50]).astype(np.float32)
    yr = 300 + 20 * xr[:, 0] + xr[:, 1] + 0.5 * xr[:, 3] ** 2 + rng.normal(size=200)
    fr = [f"x{i}" for i in range(5)]
    write_csv(f"{tmp}/reg.csv", fr + ["t"], [list(r) + [float(t)] for r, t in zip(xr, yr)])
    sets["reg"] = (f"{tmp}/reg.csv", xr, fr)
    # regression onto (0, 1) for a sigmoid output
    y01 = 1 / (1 + np.exp(-(xr[:, 0] + 0.1 * xr[:, 1])))
    write_csv(f"{tmp}/reg01.csv", fr + ["t"], [list(r) + [float(t)] for r, t in zip(xr, y01)])
    sets["reg01"] = (f"{tmp}/reg01.csv", xr, fr)
    for key, (_, xs, header) in sets.items():
        write_csv(f"{tmp}/{key}-x.csv", header, xs)
    return sets


def fashion_test_x(rows):
    """The first `rows` Fashion-MNIST test images as dptrain's loader scales them."""
    with gzip.open(f"{FASHION}/t10k-images-idx3-ubyte.gz") as f:
        px = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)[:rows]
    return px.astype(np.float32) * np.float32(1.0 / 255.0)


def bf16_unavailable(args):
    """dptrain's refusal of --precision bf16 on this machine, or "" when bf16 runs."""
    r = subprocess.run([args.dptrain, "train", "--data", "xor", "--layers", "2,2,1", "--epochs", "1",
                        "--quiet", "--precision", "bf16"], capture_output=True, text=True)
    if r.returncode == 0:
        return ""
    if r.returncode == 2 and "AVX512_BF16" in r.stderr:
        return r.stderr.strip()
    raise RuntimeError(f"the bf16 probe exited {r.returncode}: {r.stderr.strip()}")


def cases(args):
    """(name, train args, data key, classifier?) for every case of the matrix."""
    out = []
    tasks = {
        "ce": ("iris", ["--label", "species", "--hidden", "8,6"], True),
        "bce": ("binary", ["--label", "y", "--hidden", "7"], True),
        "mse": ("reg", ["--label", "t", "--layers", "5,9,1", "--loss", "mse"], False),
        "mse-target": ("reg", ["--label", "t", "--layers", "5,9,1", "--loss", "mse",
                               "--normalize-target"], False),
        "mse-sigmoid": ("reg01", ["--label", "t", "--layers", "5,6,1", "--loss", "mse",
                                  "--output", "sigmoid"], False),
    }
    for act in ACTIVATIONS:
        for task, (key, extra, cls) in tasks.items():
            for norm in NORMALIZATIONS:
                out.append((f"{task}-{act}-{norm}", extra + ["--activation", act, "--normalize", norm],
                            key, cls))
    out.append(("ce-dropout", tasks["ce"][1] + ["--dropout", "0.3", "--normalize", "standard"],
                "iris", True))
    why = bf16_unavailable(args)
    if why:  # an AVX2-only CPU (or oneDNN capped below AVX512_BF16) refuses bf16 by design
        print(f"ok - ce-bf16 ({args.runtime}) # SKIP {why}")
    else:
        out.append(("ce-bf16", tasks["ce"][1] + ["--precision", "bf16", "--normalize", "minmax"],
                    "iris", True))
    out.append(("fashion", ["--layers", args.fashion_layers, "--limit", str(args.fashion_rows),
                            "--batch-size", "64"], "fashion", True))
    if args.only:
        out = [c for c in out if c[0].startswith(args.only)]
    return out


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def read_predictions(path):
    """dptrain predict's CSV: (class column or None, values rows x k)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[0] == "class":
        return [r[0] for r in body], np.array([[float(v) for v in r[1:]] for r in body])
    return None, np.array([[float(v) for v in r] for r in body])


def close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    floor = 1e-6 * max(1.0, float(np.max(np.abs(b))))
    bad = np.abs(a - b) > 1e-5 * np.abs(b) + floor
    return not bad.any(), (float(np.max(np.abs(a - b))) if a.size else 0.0)


def run_opencv(model, float_output, x, tmp):
    import cv2
    import onnx.utils

    sub = f"{tmp}/float-part.onnx"
    onnx.utils.extract_model(model, sub, ["input"], [float_output])
    net = cv2.dnn.readNetFromONNX(sub)
    net.setInput(x)
    return {float_output: net.forward(float_output)}


def run_onnxruntime(model, x, tmp, args):
    np.ascontiguousarray(x, dtype=np.float32).tofile(f"{tmp}/x.bin")
    r = run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_runtime.js"),
             args.ort_dir, model, f"{tmp}/x.bin", str(x.shape[0]), str(x.shape[1]), f"{tmp}/out.json"])
    with open(f"{tmp}/out.json") as f:
        out = json.load(f)
    return {k: np.array(v["data"]).reshape(v["dims"]) for k, v in out.items()}


def check_case(name, train_args, key, classifier, sets, args, tmp):
    d = f"{tmp}/{name}"
    os.makedirs(d)
    if key == "fashion":
        run([args.dptrain, "train", "--data", "fashion-mnist", "--test-data", "none",
             "--epochs", str(args.epochs), "--threads", "1", "--quiet", "--save", f"{d}/m.dpt"]
            + train_args)
        x = fashion_test_x(args.fashion_test_rows)
        predict_data = ["--data", "fashion-mnist:test", "--limit", str(args.fashion_test_rows),
                        "--label", "none"]
    else:
        data, x, _ = sets[key]
        run([args.dptrain, "train", "--data", f"csv:{data}", "--test-data", "none",
             "--epochs", str(args.epochs), "--batch-size", "16", "--threads", "1", "--quiet",
             "--save", f"{d}/m.dpt"] + train_args)
        predict_data = ["--data", f"csv:{tmp}/{key}-x.csv", "--label", "none"]
    run([args.dptrain, "predict", "--model", f"{d}/m.dpt", "--out", f"{d}/p.csv"] + predict_data)
    run([args.dptrain, "export", "--model", f"{d}/m.dpt", "--out", f"{d}/m.onnx"])
    import onnx

    onnx.checker.check_model(onnx.load(f"{d}/m.onnx"))
    labels, want = read_predictions(f"{d}/p.csv")
    float_output = "probabilities" if classifier else "variable"
    if args.runtime == "opencv":
        got = run_opencv(f"{d}/m.onnx", float_output, x, d)
    else:
        got = run_onnxruntime(f"{d}/m.onnx", x, d, args)
    values = got[float_output].reshape(len(x), -1)
    if classifier and want.shape[1] == 1:  # one sigmoid unit: predict writes p1 only
        ok0, _ = close(values[:, 0] + values[:, 1], np.ones(len(x)))
        values = values[:, 1:]
        if not ok0:
            return f"probabilities do not sum to 1"
    good, diff = close(values, want)
    if not good or values.shape != want.shape:
        return f"values differ from dptrain predict (max |diff| {diff:.3g}, shapes {values.shape} {want.shape})"
    if classifier:
        top = values.argmax(axis=1) if values.shape[1] > 1 else (values[:, 0] >= 0.5).astype(int)
        names = json.loads(dict((p.key, p.value) for p in onnx.load(f"{d}/m.onnx").metadata_props)
                           .get("class_names", "[]"))
        top_labels = [names[i] if names else str(i) for i in top]
        if top_labels != labels:
            n = sum(a != b for a, b in zip(top_labels, labels))
            return f"top-1 differs from dptrain predict on {n} of {len(x)} rows"
        if "label" in got and [str(v) for v in got["label"].reshape(-1)] != labels:
            return "label output differs from dptrain predict's classes"
    print(f"ok - {name} ({args.runtime}): {len(x)} rows, max |diff| {diff:.2g}"
          + (", top-1 identical" if classifier else ""))
    return None


def check_refusals(args, tmp):
    """`dptrain export` refusals: exit 2, one message, nothing written."""
    failures = []
    model = f"{tmp}/refusal.dpt"
    run([args.dptrain, "train", "--data", "xor", "--layers", "2,3,1", "--epochs", "1", "--quiet",
         "--save", model])
    with open(f"{tmp}/keep.onnx", "w") as f:
        f.write("keep")
    for argv, text in [
        (["--out", f"{tmp}/m.onnx"], "--model <checkpoint.dpt> is required"),
        (["--model", model], "--out <model.onnx> is required"),
        (["--model", model, "--out", f"{tmp}/m.bin"], "cannot tell the export format"),
        (["--model", model, "--out", f"{tmp}/m.onnx", "--format", "tflite"], "unknown export format 'tflite'"),
        (["--model", model, "--out", "/dev/stdout", "--format", "onnx"], "open file descriptor"),
        (["--model", model, "--out", model, "--format", "onnx"], "input"),
        (["--model", f"{tmp}/missing.dpt", "--out", f"{tmp}/keep.onnx"], "missing.dpt"),
        (["--model", f"{tmp}/keep.onnx", "--out", f"{tmp}/new.onnx"], "keep.onnx"),
        (["--model", model, "--out", f"{tmp}/nodir/m.onnx"], "nodir"),
    ]:
        r = subprocess.run([args.dptrain, "export"] + argv, capture_output=True, text=True)
        if r.returncode != 2 or text not in r.stderr:
            failures.append(f"export {' '.join(argv)}: exit {r.returncode}, stderr {r.stderr.strip()!r}")
    with open(f"{tmp}/keep.onnx") as f:
        if f.read() != "keep":
            failures.append("a refused export changed keep.onnx")
    if os.path.exists(f"{tmp}/new.onnx") or os.path.exists(f"{tmp}/m.onnx"):
        failures.append("a refused export wrote a file")
    print("ok - refusals" if not failures else "not ok - refusals")
    return failures


def onnxruntime_unavailable(args):
    """None when onnxruntime-node is in args.ort_dir (tests/onnx_runtime_setup.sh), else why not."""
    if os.path.exists(f"{args.ort_dir}/node_modules/onnxruntime-node/package.json"):
        return None if shutil.which("node") else "node not found (Debian's nodejs package)"
    try:
        with open(f"{args.ort_dir}/unavailable") as f:
            return f.read().strip()
    except OSError:
        return f"onnxruntime-node is not installed in {args.ort_dir} (run tests/onnx_runtime_setup.sh)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dptrain", required=True)
    ap.add_argument("--runtime", choices=["opencv", "onnxruntime"], required=True)
    ap.add_argument("--ort-dir", help="where onnxruntime-node is installed (onnxruntime)")
    ap.add_argument("--only", help="run only the cases whose name starts with this")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--fashion-layers", default="784,32,10")
    ap.add_argument("--fashion-rows", type=int, default=1000)
    ap.add_argument("--fashion-test-rows", type=int, default=500)
    args = ap.parse_args()
    args.dptrain = os.path.abspath(args.dptrain)
    try:
        import onnx  # noqa: F401
        if args.runtime == "opencv":
            import cv2  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e} (python3-onnx, python3-opencv)")
        return SKIP
    if args.runtime == "onnxruntime":
        args.ort_dir = os.path.abspath(args.ort_dir or "onnxruntime-node")
        why = onnxruntime_unavailable(args)
        if why:
            print(f"skipped: {why}")
            return SKIP
    failures = []
    with tempfile.TemporaryDirectory(prefix="dptrain-onnx.") as tmp:
        sets = make_data(tmp)
        for name, train_args, key, classifier in cases(args):
            try:
                why = check_case(name, train_args, key, classifier, sets, args, tmp)
            except Exception as e:  # noqa: BLE001: a failed case is reported, the rest still run
                why = str(e)
            if why:
                print(f"not ok - {name} ({args.runtime}): {why}")
                failures.append(name)
        if not args.only:
            failures += check_refusals(args, tmp)
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
