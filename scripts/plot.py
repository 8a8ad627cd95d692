#!/usr/bin/python3
"""Draws dptrain's results as PNGs: one program, three subcommands.

  plot.py scaling [--log-y] results.csv [weak-results.csv] [PREFIX]
      The sweep of `dptrain scale --out results.csv`:
        PREFIX-speedup.png     speedup vs threads (median, min-max bars) of every strategy, the
                               ideal line, each strategy's Amdahl fit, noisy points ringed
        PREFIX-efficiency.png  efficiency (speedup / threads) vs threads
        PREFIX-split.png       time split of a step (fwd+bwd / reduce+update / wait) as stacked
                               bars (share of the step) per strategy and thread count; each
                               bar's tick label gives the step's wall time
        PREFIX-throughput.png  samples/s vs threads (median, min-max bars)
        PREFIX-strong-weak.png only with a second CSV from `dptrain scale --weak`: efficiency vs
                               threads of both sweeps, strong (fixed batch: speedup / threads)
                               solid and weak (batch x threads: samples/s at T / (T x at 1)) dashed
      PREFIX defaults to the first CSV's path without .csv. A dotted vertical line marks the core
      count: points right of it are oversubscribed. A weak-scaling CSV given alone is drawn like
      a strong one, its speedup labelled as the throughput ratio and no Amdahl fit. --log-y draws
      speedup and throughput on logarithmic axes (for sweeps over many thread counts).

  plot.py training [--log-y] run.jsonl [PREFIX]
      A training log of `dptrain train --log run.jsonl` (one JSON object per epoch: epoch,
      train_loss, train_metric, val_loss, val_metric, test_loss, test_metric, lr, schedule, ...):
        PREFIX-loss.png    train / validation / test loss per epoch
        PREFIX-metric.png  train / validation / test metric per epoch (accuracy, or MSE for
                           regression), the learning rate on the right axis when it changes
      With validation, the epoch of the lowest validation loss (the weights early stopping
      restores) is marked on both. A constant learning rate is named in the title rather than
      drawn on an axis of its own; a step schedule is drawn as steps. Series missing or null in
      every line are left out; lines without "epoch" (a header or summary object) are skipped.
      Axis ranges are computed here, so a constant series (a flat accuracy, one epoch) draws
      without gnuplot's "empty range" warnings. --log-y draws losses and metrics on a log axis.
      PREFIX defaults to the log's path without .jsonl.

  plot.py projection results.json [PREFIX]
      The cost model's projection of `dptrain scale --project ... --out results.csv` (read from
      the results.json written beside the CSV) as PREFIX-projection.png: samples/s against cores
      on a log2 axis, one line per plan (data/owner, data/buffers, intra, and the best G x T
      replica-group plan at each core count) through the model's prediction at every measured
      and projected count, and the measured medians as points. Oversubscribed measurements are
      left out. The title states the projection's assumptions. PREFIX defaults to the JSON's
      path without .json.

Every subcommand prints the PNGs it wrote, one per line. --dry-run prints the gnuplot scripts
instead of running them (what the tests read to check what was chosen). Bad input: one message
naming the file and what is wrong, exit status 2.

Why gnuplot rather than matplotlib: gnuplot (Debian's gnuplot-nox) was already a dependency and
everything asked of these plots is a few lines of it; Debian's python3-matplotlib would add a
package (and its closure) to scripts/setup.sh's lists for no new picture. Python (the standard
library only, Debian's /usr/bin/python3) reads the CSV/JSON, computes the ranges and writes the
data files and the gnuplot script, which gnuplot reads on its standard input.
"""
import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap


class BadInput(Exception):
    """One message for the user; the program exits with status 2."""


def gp(text):
    """`text` as a gnuplot double-quoted string (a newline becomes gnuplot's \\n)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Gnuplot:
    """Runs gnuplot scripts (or prints them with --dry-run) over data files in a private folder."""

    def __init__(self, dry_run):
        self.dry_run = dry_run
        if not dry_run and shutil.which("gnuplot") is None:
            raise BadInput("gnuplot not found (apt-get install gnuplot-nox)")
        self.dir = tempfile.mkdtemp(prefix="dptrain-plot.")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, lines):
        """Writes a data file; returns its path as a gnuplot string."""
        with open(self.path(name), "w") as f:
            f.writelines(line + "\n" for line in lines)
        return gp(self.path(name))

    def run(self, script):
        if self.dry_run:
            print(script)
            return
        done = subprocess.run(["gnuplot"], input=script, text=True)
        if done.returncode != 0:
            raise BadInput(f"gnuplot failed (exit status {done.returncode})")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def log_tics(values):
    """A '[lo:hi]' log range around the positive `values` and its 'set ytics (...)' line: gnuplot
    labels only powers of 10 on a log axis, so a range within one decade gets 1-9 (or 1, 2, 5)
    times each power of 10. (None, '') without positive values."""
    vs = [v for v in values if v > 0]
    if not vs:
        return None, ""
    lo, hi = min(vs) / 1.5, max(vs) * 1.5
    for mults in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1,)):
        tics = [m * 10.0 ** d for d in range(math.floor(math.log10(lo)),
                                             math.ceil(math.log10(hi)) + 1)
                for m in mults if lo <= m * 10.0 ** d <= hi]
        if len(tics) <= 12:
            break
    return f"[{lo!r}:{hi!r}]", ("set ytics (" + ", ".join(f"{t:.3g}" for t in tics) + ")"
                                if tics else "")


# ---- scaling ---------------------------------------------------------------------------------

SCALE_COLUMNS = {"parallelism", "threads", "speedup", "speedup_min", "speedup_max", "efficiency",
                 "fwd_bwd_us", "reduce_update_us", "wait_us", "noisy", "oversubscribed",
                 "samples_per_s", "samples_per_s_min", "samples_per_s_max", "cores"}
SPLIT_KEYS = ("fwd_bwd_us", "reduce_update_us", "wait_us")


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read '{path}' ({e})") from e


def num(v, default="NaN"):
    return v if v not in ("", None) else default


def by_strategy(rows):
    """{strategy: its rows by thread count}, strategies in the CSV's order."""
    out = {}
    for r in rows:
        out.setdefault(r["parallelism"], []).append(r)
    return {s: sorted(mine, key=lambda r: int(r["threads"])) for s, mine in out.items()}


def colour(strategy):
    return {"data": "#1f77b4", "intra": "#d62728"}.get(strategy, "#2ca02c")


def point_line(r):
    return " ".join([r["threads"], num(r["speedup"]), num(r["speedup_min"]), num(r["speedup_max"]),
                     num(r["efficiency"]), r["noisy"], r["oversubscribed"],
                     num(r["samples_per_s"]), num(r["samples_per_s_min"]),
                     num(r["samples_per_s_max"])])


def split_line(r):
    """A bar of the time split: tick label (threads, * when oversubscribed, step time) and the
    three shares in %."""
    fwd, red, wait = (max(0.0, float(num(r[k], "0"))) for k in SPLIT_KEYS)
    total = fwd + red + wait or 1.0
    step = f"{total / 1000:.3g} ms" if total >= 1000 else f"{total:.3g} µs"
    label = r["threads"] + ("*" if r["oversubscribed"] == "1" else "") + "\\n" + step
    return f'"{label}" {100 * fwd / total:.6g} {100 * red / total:.6g} {100 * wait / total:.6g}'


def scale_title(first):
    weak = " x threads" if first.get("scaling") == "weak" else ""
    title = (f"dptrain scale: model {first.get('model', '?')} ({first.get('layers', '?')}, "
             f"batch {first.get('batch', '?')}{weak}), {first.get('cpu_model', '?')}, "
             f"{first['cores']} cores")
    return title.replace('"', "'")


def scale_axes(title, cores, max_threads):
    return "\n".join([
        "set terminal pngcairo size 1100,650 enhanced font 'DejaVu Sans,11' noenhanced",
        f"set title {gp(title)}", "set grid", "set key outside right top box",
        "set xlabel 'threads'", "set logscale x 2", f"set xrange [0.8:{max_threads} * 1.3]",
        "set xtics 2",
        f"set arrow from {cores}, graph 0 to {cores}, graph 1 nohead dt 3 lw 2 lc rgb 'gray40'",
        f"set label 'cores' at {cores}, graph 0.97 offset 0.5,0 tc rgb 'gray40'"])


def speedup_plot(g, axes, prefix, rows, files, cores, max_threads, log_y):
    weak = rows[0].get("scaling") == "weak"
    plots = [f"(x <= {cores} ? x : {cores}) with lines dt 2 lw 1.5 lc rgb 'gray50' "
             "title 'ideal: min(n, cores)'"]
    for s, (dat, fit) in files.items():
        c = colour(s)
        plots.append(f"{dat} using 1:2:3:4 with yerrorlines pt 7 ps 1.3 lw 2 lc rgb '{c}' "
                     f"title '{s}: median, min-max'")
        if fit:
            plots.append(f"1 / ({fit} + (1 - {fit}) / x) with lines dt 4 lw 1.5 lc rgb '{c}' "
                         f"title sprintf('{s}: Amdahl fit, f = %.3f', {fit})")
    title = "title 'noisy: spread > threshold'"
    for dat, _ in files.values():
        plots.append(f"{dat} using 1:($6 == 1 ? $2 : NaN) with points pt 6 ps 3 lw 2 "
                     f"lc rgb 'orange' {title}")
        title = "notitle"
    label = ("weak scaling (batch x threads): samples/s over 1 thread" if weak
             else "speedup over 1 thread (same strategy)")
    values = [float(r[k]) for r in rows for k in ("speedup_min", "speedup_max") if r.get(k)]
    yaxis = log_axis(values + [1, min(max_threads, int(cores or 1))]) if log_y else "set yrange [0:*]"
    g.run(f"{axes}\nset output {gp(prefix + '-speedup.png')}\nset ylabel '{label}'\n{yaxis}\n"
          f"plot {', '.join(plots)}")


def log_axis(values):
    span, tics = log_tics(values)
    if span is None:
        return "set yrange [*:*]"
    return f"set logscale y\nset yrange {span}" + (f"\n{tics}" if tics else "")


def efficiency_plot(g, axes, prefix, files, cores):
    plots = [f"(x <= {cores} ? 1 : {cores} / x) with lines dt 2 lc rgb 'gray50' "
             "title 'ideal: min(n, cores) / n'"]
    plots += [f"{dat} using 1:5 with linespoints pt 7 ps 1.3 lw 2 lc rgb '{colour(s)}' title '{s}'"
              for s, (dat, _) in files.items()]
    g.run(f"{axes}\nset output {gp(prefix + '-efficiency.png')}\n"
          f"set ylabel 'efficiency = speedup / threads'\nset yrange [0:1.2]\nplot {', '.join(plots)}")


def throughput_plot(g, axes, prefix, rows, files, log_y):
    plots = [f"{dat} using 1:8:9:10 with yerrorlines pt 7 ps 1.3 lw 2 lc rgb '{colour(s)}' "
             f"title '{s}: median, min-max'" for s, (dat, _) in files.items()]
    values = [float(r[k]) for r in rows for k in ("samples_per_s_min", "samples_per_s_max")
              if r.get(k)]
    yaxis = log_axis(values) if log_y else "set yrange [0:*]"
    g.run(f"{axes}\nset output {gp(prefix + '-throughput.png')}\nset ylabel 'samples/s'\n{yaxis}\n"
          f"set format y '%.0s%c'\nplot {', '.join(plots)}")


def split_plot(g, prefix, title, splits):
    plots = []
    for i, (s, dat) in enumerate(splits.items()):
        t1, t2, t3 = (("title 'forward+backward'", "title 'reduce+update'",
                       "title 'wait (join, imbalance, fork)'") if i == 0 else ("notitle",) * 3)
        plots.append(f"newhistogram '{s}' lt 1, {dat} using 2:xtic(1) {t1} lc rgb '#4c72b0', "
                     f"'' using 3 {t2} lc rgb '#dd8452', '' using 4 {t3} lc rgb '#8c8c8c'")
    full = title + "\ntime split of one training step; tick labels: threads (* = oversubscribed)" \
        " and step time"
    g.run("\n".join([
        "set terminal pngcairo size 1200,650 enhanced font 'DejaVu Sans,11' noenhanced",
        f"set title {gp(full)}", f"set output {gp(prefix + '-split.png')}", "set grid ytics",
        "set key outside right top box", "set bmargin 6", "set style data histograms",
        "set style histogram rowstacked title offset 0,-1.5",
        "set style fill solid 0.85 border rgb 'black'", "set boxwidth 0.7",
        "set ylabel 'share of the step (%)'", "set yrange [0:100]", "plot " + ", ".join(plots)]))


def strong_weak_plot(g, axes, prefix, files, weak_files, cores):
    plots = [f"(x <= {cores} ? 1 : {cores} / x) with lines dt 2 lc rgb 'gray50' "
             "title 'ideal: min(n, cores) / n'"]
    plots += [f"{dat} using 1:5 with linespoints pt 7 ps 1.3 lw 2 lc rgb '{colour(s)}' "
              f"title '{s}: strong (fixed batch)'" for s, (dat, _) in files.items()]
    plots += [f"{dat} using 1:2 with linespoints dt 2 pt 5 ps 1.3 lw 2 lc rgb '{colour(s)}' "
              f"title '{s}: weak (batch x threads)'" for s, dat in weak_files.items()]
    g.run(f"{axes}\nset output {gp(prefix + '-strong-weak.png')}\n"
          "set ylabel 'efficiency: strong = speedup / T, weak = samples/s(T) / (T x samples/s(1))'\n"
          f"set yrange [0:1.2]\nplot {', '.join(plots)}")


def scaling(args, g):
    names = args.files
    path = names[0]
    weak_path = names[1] if len(names) > 1 and names[1].endswith(".csv") else None
    rest = names[2 if weak_path else 1:]
    if len(rest) > 1:
        raise BadInput("too many arguments (see --help)")
    prefix = rest[0] if rest else re.sub(r"\.csv$", "", path)
    rows = read_csv(path)
    if not rows or not SCALE_COLUMNS <= set(rows[0]):
        missing = sorted(SCALE_COLUMNS - set(rows[0] if rows else []))
        raise BadInput(f"'{path}' is not a `dptrain scale` CSV (missing columns {missing})")
    weak_rows = read_csv(weak_path) if weak_path else []
    if weak_path and (not weak_rows or not SCALE_COLUMNS <= set(weak_rows[0]) or
                      weak_rows[0].get("scaling") != "weak"):
        raise BadInput(f"'{weak_path}' is not a `dptrain scale --weak` CSV")
    files, splits, weak_files = {}, {}, {}
    for i, (s, mine) in enumerate(by_strategy(rows).items()):
        fit = num(mine[0].get("amdahl_serial_fraction", ""), "")
        files[s] = (g.write(f"s{i}.dat", [point_line(r) for r in mine]), fit)
        splits[s] = g.write(f"s{i}-split.dat", [split_line(r) for r in mine])
    for i, (s, mine) in enumerate(by_strategy(weak_rows).items()):
        weak_files[s] = g.write(f"w{i}.dat", [f"{r['threads']} {num(r['efficiency'])} "
                                              f"{num(r['samples_per_s'])}" for r in mine])
    cores = rows[0]["cores"]
    max_threads = max(int(r["threads"]) for r in rows + weak_rows)
    title = scale_title(rows[0])
    axes = scale_axes(title, cores, max_threads)
    speedup_plot(g, axes, prefix, rows, files, cores, max_threads, args.log_y)
    efficiency_plot(g, axes, prefix, files, cores)
    throughput_plot(g, axes, prefix, rows, files, args.log_y)
    split_plot(g, prefix, title, splits)
    written = [f"{prefix}-{f}.png" for f in ("speedup", "efficiency", "split", "throughput")]
    if weak_files:
        strong_weak_plot(g, axes, prefix, files, weak_files, cores)
        written.append(f"{prefix}-strong-weak.png")
    return written


# ---- training --------------------------------------------------------------------------------

LOG_COLUMNS = ["epoch", "train_loss", "val_loss", "test_loss", "train_metric", "val_metric",
               "test_metric", "lr"]
SETS = (("train", "train", "lc rgb '#1f77b4' pt 7"), ("val", "validation", "lc rgb '#ff7f0e' pt 5"),
        ("test", "test", "lc rgb '#2ca02c' pt 9"))


class TrainingLog:
    """The epoch lines of a `--log`: rows of LOG_COLUMNS (NaN where absent), sorted by epoch."""

    def __init__(self, path):
        self.rows, self.present, self.metric_name, self.schedule = [], set(), None, None
        try:
            with open(path) as f:
                lines = list(f)
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"cannot read '{path}' ({e})") from e
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    self.add(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BadInput(f"'{path}' line {n} is not JSON: {e}") from e
        if not self.rows:
            raise BadInput(f"'{path}' has no epoch lines (objects with an \"epoch\" key)")
        self.rows.sort(key=lambda r: r[0])

    def add(self, obj):
        if not isinstance(obj, dict) or obj.get("epoch") is None:
            return
        # "metric" names it in dptrain's logs ("acc" or "mse"); "metric_name" in older ones.
        for key in ("metric", "metric_name"):
            if not self.metric_name and isinstance(obj.get(key), str):
                self.metric_name = {"acc": "accuracy", "mse": "MSE"}.get(obj[key], obj[key])
        self.schedule = self.schedule or obj.get("schedule")
        row = []
        for c in LOG_COLUMNS:
            v = obj.get(c)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                row.append(float(v))
                self.present.add(c)
            else:
                row.append(math.nan)
        self.rows.append(row)

    def values(self, names):
        idx = [LOG_COLUMNS.index(c) for c in names]
        return [r[i] for r in self.rows for i in idx if not math.isnan(r[i])]

    def best(self):
        """(epoch, loss) of the lowest validation loss, the first of equals (early stopping's
        choice), or None."""
        best = None
        for r in self.rows:
            v = r[LOG_COLUMNS.index("val_loss")]
            if not math.isnan(v) and (best is None or v < best[1]):
                best = (r[0], v)
        return best


def span(values, log):
    """A '[lo:hi]' range for gnuplot that is never empty (a constant series gets a margin)."""
    if log:
        values = [v for v in values if v > 0]
    if not values:
        return "[*:*]"
    lo, hi = min(values), max(values)
    if log:
        lo, hi = (lo / 1.5, hi * 1.5) if hi <= lo * 1.0001 else (lo / 1.1, hi * 1.1)
    else:
        pad = (hi - lo) * 0.05 if hi > lo else max(abs(lo) * 0.05, 1e-3)
        lo, hi = lo - pad, hi + pad
    return f"[{lo!r}:{hi!r}]"


def learning_rate(log):
    """How to draw the learning rate: ('none' | 'constant' | 'lines' | 'fsteps', title text,
    range, log axis). Constant: named in the title; changing: the right axis, as steps for a
    step schedule, on a log axis when it spans a factor of 10 or more without reaching 0."""
    lrs = log.values(["lr"])
    if not lrs:
        return "none", "", "[*:*]", False
    if max(lrs) == min(lrs):
        return "constant", f"learning rate {lrs[0]:.4g} (constant)", "[*:*]", False
    is_log = min(lrs) > 0 and max(lrs) >= 10 * min(lrs)
    return ("fsteps" if log.schedule == "step" else "lines"), "", span(lrs, is_log), is_log


def training_axes(path, log, lr_text, best):
    epochs = [r[0] for r in log.rows]
    first, last = epochs[0], epochs[-1]
    xrange = f"[{first - 0.5!r}:{last + 0.5!r}]" if last == first else f"[{first!r}:{last!r}]"
    subtitle = f"{len(epochs)} epoch(s)" + (f", {lr_text}" if lr_text else "")
    lines = ["set terminal pngcairo size 1000,600 enhanced font 'DejaVu Sans,11' noenhanced",
             f"set title {gp(os.path.basename(path) + ': ' + subtitle)}", "set grid",
             "set key outside right top box", "set xlabel 'epoch'", f"set xrange {xrange}",
             "set datafile missing 'NaN'"]
    if len(epochs) <= 20:
        lines.append("set xtics 1")
    if best:  # a vertical line at the best epoch, named in the key (a label would cross curves)
        lines.append(f"set arrow from {best[0]:g}, graph 0 to {best[0]:g}, graph 1 nohead dt 2 "
                     "lw 1.5 lc rgb '#d62728'")
    return "\n".join(lines)


def series(log, dat, kind):
    """The plot clauses of the train / validation / test columns of `kind` that are present."""
    return [f"{dat} using 1:{LOG_COLUMNS.index(f'{s}_{kind}') + 1} with linespoints lw 2 ps 0.8 "
            f"{style} title '{name}'" for s, name, style in SETS if f"{s}_{kind}" in log.present]


def training(args, g):
    if len(args.files) > 2:
        raise BadInput("too many arguments (see --help)")
    path = args.files[0]
    prefix = args.files[1] if len(args.files) > 1 else re.sub(r"\.jsonl$", "", path)
    log = TrainingLog(path)
    dat = g.write("curves.dat", [" ".join("NaN" if math.isnan(v) else repr(v) for v in r)
                                 for r in log.rows])
    lr_mode, lr_text, lr_range, lr_log = learning_rate(log)
    best = log.best()
    axes = training_axes(path, log, lr_text, best)
    if args.log_y:
        axes += "\nset logscale y"
    best_key = (f", NaN with lines dt 2 lw 1.5 lc rgb '#d62728' title 'best epoch {best[0]:g} "
                f"(val loss {best[1]:.4g})'" if best else "")
    written = []
    for kind, label in (("loss", "loss"), ("metric", None)):
        plots = series(log, dat, kind)
        png = f"{prefix}-{kind}.png"
        if not plots:
            print(f"plot.py training: no {kind} values in '{path}'; {png} not drawn",
                  file=sys.stderr)
            continue
        values = log.values([f"{s}_{kind}" for s, _, _ in SETS])
        script = [axes, f"set output {gp(png)}",
                  f"set ylabel {gp(label or metric_label(log))}",
                  f"set yrange {span(values, args.log_y)}"]
        if args.log_y:
            script.append(log_tics(values)[1])
        if kind == "metric" and lr_mode in ("lines", "fsteps"):
            plots.append(f"{dat} using 1:{LOG_COLUMNS.index('lr') + 1} axes x1y2 with {lr_mode} "
                         "dt 2 lw 1.5 lc rgb 'gray40' title 'learning rate (right axis)'")
            script += ["set y2label 'learning rate'", "set y2tics", "set ytics nomirror",
                       f"set y2range {lr_range}", "set format y2 '%.1e'"]
            if lr_log:
                script.append("set logscale y2")
        g.run("\n".join(script + ["plot " + ", ".join(plots) + best_key]))
        written.append(png)
    if not written:
        raise BadInput(f"'{path}' has neither loss nor metric values")
    return written


def metric_label(log):
    name = log.metric_name
    return name if isinstance(name, str) else "metric (accuracy, or MSE for regression)"


# ---- projection ------------------------------------------------------------------------------

PLANS = ("data/owner", "data/buffers", "intra", "GxT")
PLAN_STYLE = (("#1f77b4", "data/owner"), ("#ff7f0e", "data/buffers"), ("#2ca02c", "intra"),
              ("#9467bd", "best GxT"))
GROUPS = re.compile(r"^\d+x\d+/(owner|buffers)$")  # G x T labels, e.g. 4x2/owner


def read_projection(path):
    try:
        with open(path) as f:
            run = json.load(f)
        return run, run["projection"], run["model"]["batch"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadInput(f"'{path}' is not a dptrain scale --project JSON ({e})") from e


def projection(args, g):
    if len(args.files) > 2:
        raise BadInput("too many arguments (see --help)")
    path = args.files[0]
    prefix = args.files[1] if len(args.files) > 1 else re.sub(r"\.json$", "", path)
    run, proj, batch = read_projection(path)
    predicted = {p: {} for p in PLANS}  # cores -> samples/s, the best plan of each kind
    measured = {p: {} for p in PLANS}

    def keep_best(table, plan, cores, rate):
        plan = "GxT" if GROUPS.match(plan) else plan
        table[plan][cores] = max(rate, table[plan].get(cores, 0))

    try:
        for m in proj["predicted_vs_measured"]:
            if not m.get("oversubscribed"):
                keep_best(predicted, m["plan"], m["cores"], batch * 1e6 / m["step_us"])
                keep_best(measured, m["plan"], m["cores"], batch * 1e6 / m["measured_us"])
        for point in proj["points"]:
            for plan, step in point["step_us_by_plan"].items():
                keep_best(predicted, plan, point["cores"], batch * 1e6 / step)
        assumptions = proj["assumptions"]["text"]
    except (KeyError, TypeError, AttributeError, ZeroDivisionError) as e:
        raise BadInput(f"'{path}' is not a dptrain scale --project JSON ({e!r})") from e
    plots = []
    for kind, table, style in (("predicted", predicted, "linespoints lw 2 pt 7 ps 0.6"),
                               ("measured", measured, "points pt 5 ps 1.6")):
        for i, (plan, (c, name)) in enumerate(zip(PLANS, PLAN_STYLE)):
            rows = [f"{cores} {table[plan][cores]}" for cores in sorted(table[plan])] or ["NaN NaN"]
            name = "GxT" if kind == "measured" and plan == "GxT" else name
            plots.append(f"{g.write(f'{kind}{i}.dat', rows)} with {style} lc rgb {gp(c)} "
                         f"title {gp(name + ', ' + kind)}")
    model = run["model"].get("what", run["model"].get("name", "?"))
    title = "\n".join([f"PROJECTION of model {model}"] + textwrap.wrap(assumptions, 120))
    png = f"{prefix}-projection.png"
    g.run("\n".join([
        'set terminal pngcairo size 1000,650 font "sans,10"', f"set output {gp(png)}",
        f"set title {gp(title)} noenhanced", "set logscale x 2", "set logscale y 10",
        'set xlabel "cores"', 'set ylabel "samples/s"', "set key top left", "set grid",
        "plot " + ", \\\n     ".join(plots)]))
    return [png]


# ---- command line ----------------------------------------------------------------------------

def parser():
    top = argparse.ArgumentParser(
        prog="plot.py", description=__doc__.split("\n\n", 1)[0],
        epilog="scripts/plot.py's docstring describes every picture.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, files, help_text in (
            ("scaling", "results.csv [weak-results.csv] [PREFIX]", "dptrain scale's sweep"),
            ("training", "run.jsonl [PREFIX]", "a dptrain train --log"),
            ("projection", "results.json [PREFIX]", "dptrain scale --project's cost model")):
        p = sub.add_parser(name, help=help_text, usage=f"plot.py {name} [options] {files}")
        if name != "projection":
            p.add_argument("--log-y", action="store_true",
                           help="logarithmic y axis (speedup and throughput; loss and metric)")
        p.add_argument("--dry-run", action="store_true",
                       help="print the gnuplot scripts instead of drawing")
        p.add_argument("files", nargs="+", metavar="FILE")
    return top


def main(argv):
    args = parser().parse_args(argv)
    args.log_y = getattr(args, "log_y", False)
    g = None
    try:
        g = Gnuplot(args.dry_run)
        written = {"scaling": scaling, "training": training,
                   "projection": projection}[args.command](args, g)
    except BadInput as e:
        print(f"plot.py {args.command}: {e}", file=sys.stderr)
        return 2
    finally:
        if g:
            g.close()
    if not args.dry_run:
        print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
