#!/usr/bin/env python3
"""PyTorch reference benchmark for dptrain's MLP models.

Measures steady-state training-step throughput (zero_grad, forward, loss,
backward, optimizer.step) of the same reference models dptrain trains, so
dptrain's own numbers have a baseline. Data loading is excluded on purpose:
a small pool of synthetic batches is generated once up front and cycled.

Usage (Debian's python3-torch; run with the system interpreter):
    /usr/bin/python3 scripts/bench_pytorch.py --models A,B --threads 1,2 \
        --seconds 2 --repeats 3 --json out.json

Quality replay: `dptrain bench --quality --export DIR` writes, per model, the
training data, the initial parameters and the hyper-parameters of a fixed-step
training run (fixed cyclic row order, no shuffling) and dptrain's final loss.
`--replay DIR` runs the same steps in PyTorch from the same initial parameters
and reports the final loss and accuracy (or MSE) on the same rows, so the two
implementations can be compared number for number:
    /usr/bin/python3 scripts/bench_pytorch.py --models '' --replay DIR --json q.json

Only the standard library and torch are required. threadpoolctl is used for
BLAS thread control when it happens to be installed; otherwise OpenBLAS is
driven directly through ctypes.
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn

# --------------------------------------------------------------------------
# Reference models
# --------------------------------------------------------------------------

# name -> (layer sizes, hidden activation, loss kind, optimizer, lr, batch)
# Loss kinds: "ce" = softmax cross-entropy on logits over integer labels,
# "bce" = sigmoid BCE on logits, "mse" = mean squared error.
MODELS = {
    "A": ([784, 128, 10], "relu", "ce", "adam", 1e-3, 128),
    "B": ([784, 1024, 1024, 10], "relu", "ce", "sgd_momentum", 1e-2, 256),
    "C": ([8, 10, 8, 1], "relu", "bce", "adam", 1e-3, 32),
    "xor": ([2, 3, 1], "sigmoid", "bce", "sgd", 0.5, 4),
    "square": ([1, 10, 1], "relu", "mse", "adam", 1e-2, 32),
}

# Number of distinct pre-generated batches cycled through during timing.
# More than one keeps the benchmark from measuring a single perfectly-cached
# input, while staying small enough that generation cost is negligible and
# the pool fits in cache for the small models (as dptrain's would).
BATCH_POOL = 4


def build_model(sizes, act):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:  # no activation after the output layer
            layers.append(nn.ReLU() if act == "relu" else nn.Sigmoid())
    return nn.Sequential(*layers)


def build_loss(kind):
    return {"ce": nn.CrossEntropyLoss(),
            "bce": nn.BCEWithLogitsLoss(),
            "mse": nn.MSELoss()}[kind]


def build_optimizer(kind, params, lr):
    # Optimizer implementation flags (foreach etc.) are left at their
    # defaults so the baseline is "what a plain PyTorch user gets".
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    if kind == "sgd_momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    return torch.optim.SGD(params, lr=lr)


def make_batches(name, sizes, loss_kind, batch, gen):
    """Synthetic (inputs, targets) pool. Values only need the right shape and
    dtype; the actual numbers don't affect step cost."""
    n_in, n_out = sizes[0], sizes[-1]
    pool = []
    for _ in range(BATCH_POOL):
        if name == "xor":
            # The 4-row XOR truth table is the natural (and only) xor batch.
            x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
            y = torch.tensor([[0.], [1.], [1.], [0.]])
        else:
            x = torch.randn(batch, n_in, generator=gen)
            if loss_kind == "ce":
                y = torch.randint(0, n_out, (batch,), generator=gen)
            elif loss_kind == "bce":
                y = torch.randint(0, 2, (batch, n_out), generator=gen).float()
            else:  # mse
                y = torch.randn(batch, n_out, generator=gen)
        pool.append((x.contiguous(), y.contiguous()))
    return pool


# --------------------------------------------------------------------------
# BLAS discovery and thread control
# --------------------------------------------------------------------------

class Blas:
    """Finds the OpenBLAS that torch's matmuls end up in and sets its thread
    count. torch.set_num_threads() only sizes ATen's own OpenMP pool; a torch
    built against a system BLAS (Debian's BLAS_INFO=generic build calls
    sgemm_ from libblas.so.3) leaves that BLAS's threading alone, so it has to
    be set separately or the thread sweep is meaningless for the GEMMs."""

    def __init__(self):
        self.lib = None
        self.path = None
        self.method = "none"
        self._tpc = None
        self._tpc_limit = None
        try:
            import threadpoolctl  # optional
            self._tpc = threadpoolctl
        except ImportError:
            pass
        self._find_openblas()
        if self._tpc is not None:
            self.method = "threadpoolctl"
        elif self.lib is not None:
            self.method = "ctypes:openblas_set_num_threads"

    def _find_openblas(self):
        # The BLAS is linked into libtorch_cpu, so it is mapped once torch is
        # imported. Prefer the real libopenblas; Debian's alternatives-managed
        # libblas.so.3 re-exports the openblas_* symbols too, so accept any
        # *blas* object that has them.
        candidates = []
        try:
            with open("/proc/self/maps") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 6 and "blas" in os.path.basename(parts[5]):
                        if parts[5] not in candidates:
                            candidates.append(parts[5])
        except OSError:
            return
        candidates.sort(key=lambda p: "openblas" not in os.path.basename(p))
        for path in candidates:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            if hasattr(lib, "openblas_set_num_threads"):
                self.lib, self.path = lib, path
                lib.openblas_get_corename.restype = ctypes.c_char_p
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
                return
        if candidates:
            self.path = candidates[0]  # some non-OpenBLAS BLAS; can't control it

    def _call_str(self, fn):
        if self.lib is None or not hasattr(self.lib, fn):
            return None
        v = getattr(self.lib, fn)()
        return v.decode() if v else None

    def parallel_mode(self):
        # openblas_get_parallel: 0 = single-threaded build, 1 = pthreads,
        # 2 = OpenMP. A single-threaded build ignores set_num_threads.
        if self.lib is None or not hasattr(self.lib, "openblas_get_parallel"):
            return None
        return {0: "serial", 1: "pthreads", 2: "openmp"}.get(
            self.lib.openblas_get_parallel(), "unknown")

    def set_threads(self, n):
        if self._tpc is not None:
            # Only the BLAS API: the OpenMP pool belongs to torch.set_num_threads
            # and threadpoolctl limiting it too would fight with that call.
            if self._tpc_limit is not None:
                self._tpc_limit.restore_original_limits()
            self._tpc_limit = self._tpc.threadpool_limits(limits=n,
                                                          user_api="blas")
        elif self.lib is not None:
            self.lib.openblas_set_num_threads(n)

    def get_threads(self):
        if self.lib is not None and hasattr(self.lib, "openblas_get_num_threads"):
            return self.lib.openblas_get_num_threads()
        return None

    def info(self):
        return {
            "library": self.path,
            "corename": self._call_str("openblas_get_corename"),
            "config": self._call_str("openblas_get_config"),
            "parallel": self.parallel_mode(),
            "thread_control": self.method,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        }


# --------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------

def bench_one(name, seconds, repeats, seed):
    sizes, act, loss_kind, opt_kind, lr, batch = MODELS[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_model(sizes, act)
    loss_fn = build_loss(loss_kind)
    opt = build_optimizer(opt_kind, model.parameters(), lr)
    pool = make_batches(name, sizes, loss_kind, batch, gen)
    batch = pool[0][0].shape[0]  # xor's batch is fixed by the truth table

    state = {"i": 0, "loss": None}

    def step():
        x, y = pool[state["i"] % BATCH_POOL]
        state["i"] += 1
        # set_to_none avoids a memset per parameter; it is what current
        # PyTorch does by default and what an optimized loop would use.
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        state["loss"] = loss

    def window(duration):
        # Check the clock every step: perf_counter costs well under a
        # microsecond, small next to even the tiniest model's step, and it
        # keeps windows accurate for both µs and ms step times.
        steps = 0
        t0 = time.perf_counter()
        deadline = t0 + duration
        while True:
            step()
            steps += 1
            t = time.perf_counter()
            if t >= deadline:
                return steps, t - t0

    # Warm-up: first steps allocate optimizer state, grow the caching
    # allocator, spin up OpenMP threads and fault in pages.
    window(max(0.2, 0.25 * seconds))

    per_window = []
    for _ in range(repeats):
        steps, elapsed = window(seconds)
        per_window.append(steps / elapsed)  # steps/s

    # Guard against benchmarking something broken (e.g. NaN blow-up).
    final = float(state["loss"].detach())
    if final != final:
        print(f"warning: model {name} loss is NaN after benchmarking",
              file=sys.stderr)

    med = statistics.median(per_window)
    return {
        "model": name,
        "batch": batch,
        "samples_per_s": med * batch,
        "us_per_step": 1e6 / med,
        "repeats": [r * batch for r in per_window],  # samples/s per window
        "final_loss": final,
    }


# --------------------------------------------------------------------------
# Quality replay of a dptrain fixed-step run (dptrain bench --export DIR)
# --------------------------------------------------------------------------

def _read_tensor(path, dtype, shape):
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    t = torch.frombuffer(buf, dtype=dtype)
    return t.reshape(shape).clone()


def _activation(name):
    return {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
            "leaky_relu": nn.LeakyReLU(0.01), "identity": None}[name]


def replay_one(directory, spec):
    """Replays one manifest entry; returns the final loss/metric on its rows."""
    d = spec["data"]
    rows, features = d["rows"], d["features"]
    x = _read_tensor(os.path.join(directory, d["x"]), torch.float32,
                     (rows, features))
    loss_kind, out_act = spec["loss"], spec["output"]
    if d.get("labels"):
        labels = _read_tensor(os.path.join(directory, d["labels"]),
                              torch.int32, (rows,)).long()
        y = labels if loss_kind == "ce" else labels.float().reshape(rows, 1)
    else:
        y = _read_tensor(os.path.join(directory, d["targets"]), torch.float32,
                         (rows, d["target_width"]))
        labels = None

    layers = []
    init = spec["init"]
    for i, l in enumerate(init):
        lin = nn.Linear(l["in"], l["out"])
        w = _read_tensor(os.path.join(directory, l["weight"]), torch.float32,
                         (l["in"], l["out"]))  # dptrain: in x out, row-major
        b = _read_tensor(os.path.join(directory, l["bias"]), torch.float32,
                         (l["out"],))
        with torch.no_grad():
            lin.weight.copy_(w.t())
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(init) - 1:
            act = _activation(l["activation"])
            if act is not None:
                layers.append(act)
    model = nn.Sequential(*layers)

    # Losses as dptrain defines them (see the manifest's loss_note).
    if loss_kind == "ce":
        loss_fn = nn.CrossEntropyLoss()
    elif loss_kind == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        out = _activation(out_act) if out_act != "softmax" else nn.Softmax(1)
        mse = nn.MSELoss()

        def loss_fn(z, t):
            return 0.5 * mse(out(z) if out is not None else z, t)

    params = model.parameters()
    kind, lr = spec["optimizer"], spec["lr"]
    if kind == "sgd":
        opt = torch.optim.SGD(params, lr=lr)
    elif kind in ("momentum", "nesterov"):
        opt = torch.optim.SGD(params, lr=lr, momentum=spec["momentum"],
                              nesterov=kind == "nesterov")
    elif kind == "adam":
        opt = torch.optim.Adam(params, lr=lr,
                               betas=(spec["beta1"], spec["beta2"]),
                               eps=spec["epsilon"])
    else:
        raise SystemExit(f"replay: optimizer {kind} not supported")

    batch, steps = spec["batch"], spec["steps"]
    offsets = torch.arange(batch)
    t0 = time.perf_counter()
    for s in range(steps):
        idx = (s * batch + offsets) % rows
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0

    with torch.no_grad():
        z = model(x)
        final = float(loss_fn(z, y))
        if labels is not None:
            if z.shape[1] == 1:
                pred = (torch.sigmoid(z[:, 0]) >= 0.5).long()
            else:
                pred = z.argmax(1)
            metric, metric_name = float((pred == labels).float().mean()), "acc"
        else:
            o = z
            if out_act == "sigmoid":
                o = torch.sigmoid(z)
            metric, metric_name = float(((o - y) ** 2).mean()), "mse"
    return {"kind": "quality", "model": spec["name"], "data": d["spec"],
            "rows": rows, "steps": steps, "threads": 1, "loss": final,
            "metric": metric, "metric_name": metric_name, "seconds": seconds,
            "dptrain": spec.get("dptrain")}


def replay(directory, blas):
    with open(os.path.join(directory, "manifest.json")) as f:
        manifest = json.load(f)
    torch.set_num_threads(1)
    blas.set_threads(1)
    out = []
    print(f"\nquality replay of {directory} (1 thread; same data, initial "
          f"parameters, row order and hyper-parameters as dptrain)")
    print(f"{'model':<7} {'steps':>6} {'torch loss':>11} {'dptrain loss':>13} "
          f"{'metric':>6} {'torch':>8} {'dptrain':>8}")
    for spec in manifest["models"]:
        r = replay_one(directory, spec)
        dp = r["dptrain"] or {}
        print(f"{r['model']:<7} {r['steps']:>6} {r['loss']:>11.5f} "
              f"{dp.get('loss', float('nan')):>13.5f} {r['metric_name']:>6} "
              f"{r['metric']:>8.4f} {dp.get('metric', float('nan')):>8.4f}")
        out.append(r)
    return out


def parse_list(s, conv=str):
    return [conv(v.strip()) for v in s.split(",") if v.strip()]


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch training-step throughput baseline for dptrain's "
                    "reference MLPs (synthetic data, data loading excluded).")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ",".join(MODELS))
    ap.add_argument("--threads", default="1",
                    help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="length of each timed window (default 2.0)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="timed windows per measurement; median reported")
    ap.add_argument("--aten-threads", type=int, default=0,
                    help="ATen (torch.set_num_threads) threads, BLAS keeping --threads: e.g. "
                         "--threads 2 --aten-threads 1, often PyTorch's best on few cores "
                         "(default: the same as --threads)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH",
                    help="also write the results as a JSON list to PATH")
    ap.add_argument("--replay", metavar="DIR",
                    help="also replay the fixed-step runs exported by "
                         "`dptrain bench --export DIR` (final loss/metric)")
    args = ap.parse_args()

    models = parse_list(args.models)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    threads = parse_list(args.threads, int)
    if not threads or min(threads) < 1:
        ap.error("--threads needs positive integers")
    if args.repeats < 1 or args.seconds <= 0:
        ap.error("--repeats must be >= 1 and --seconds > 0")

    # Inter-op parallelism can only be configured once, before any parallel
    # work starts; a sequential training loop has no use for it.
    torch.set_num_interop_threads(1)
    torch.set_default_dtype(torch.float32)

    blas = Blas()
    binfo = blas.info()
    backend = next((l.split(":", 1)[1].strip()
                    for l in torch.__config__.parallel_info().splitlines()
                    if l.startswith("ATen parallel backend")), "unknown")
    print(f"torch {torch.__version__} on {platform.python_implementation()} "
          f"{platform.python_version()}, ATen parallel backend: {backend}")
    print(f"BLAS library : {binfo['library'] or 'not found'}")
    print(f"BLAS kernel  : {binfo['corename'] or 'unknown'}"
          f" (OPENBLAS_CORETYPE={binfo['OPENBLAS_CORETYPE'] or 'unset'})")
    print(f"BLAS config  : {binfo['config'] or 'unknown'}")
    print(f"BLAS threads : {binfo['parallel'] or 'unknown'} build, "
          f"controlled via {binfo['thread_control']}")
    if binfo["parallel"] == "serial" and max(threads) > 1:
        print("note: this OpenBLAS is single-threaded; GEMMs stay on one "
              "thread whatever --threads says (only ATen's elementwise/"
              "reduction kernels use the extra threads)")
    if blas.lib is None and max(threads) > 1:
        print("note: no OpenBLAS found; BLAS thread count not controlled")
    print()

    results = []
    for n in threads:
        torch.set_num_threads(args.aten_threads or n)
        blas.set_threads(n)
        eff_blas = blas.get_threads()
        if torch.get_num_threads() != (args.aten_threads or n):
            print(f"warning: asked torch for {args.aten_threads or n} threads, got "
                  f"{torch.get_num_threads()}", file=sys.stderr)
        for name in models:
            r = bench_one(name, args.seconds, args.repeats, args.seed)
            r.update({
                "kind": "throughput",
                "threads": n,
                "torch_threads": torch.get_num_threads(),
                "blas_threads": eff_blas,
                "torch_version": torch.__version__,
                "blas_info": binfo,
            })
            results.append(r)
            print(f"  {name:<7} threads={n}  {r['samples_per_s']:>13,.0f} "
                  f"samples/s  {r['us_per_step']:>10.2f} us/step",
                  file=sys.stderr, flush=True)

    # Human-readable summary (progress lines above went to stderr).
    hdr = f"{'model':<7} {'batch':>5} {'threads':>7} {'blas_thr':>8} " \
          f"{'samples/s':>14} {'µs/step':>11} {'spread':>7}"
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        reps = r["repeats"]
        # Spread = (max-min)/median of the windows: a quick noise indicator.
        spread = (max(reps) - min(reps)) / r["samples_per_s"] * 100
        bt = "-" if r["blas_threads"] is None else r["blas_threads"]
        print(f"{r['model']:<7} {r['batch']:>5} {r['threads']:>7} {bt:>8} "
              f"{r['samples_per_s']:>14,.0f} {r['us_per_step']:>11.2f} "
              f"{spread:>6.1f}%")

    if args.replay:
        results.extend(replay(args.replay, blas))

    if args.json:
        # Atomically: a temporary file in the same folder, then rename.
        tmp = f"{args.json}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(tmp, args.json)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
