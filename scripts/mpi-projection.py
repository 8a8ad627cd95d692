#!/usr/bin/env python3
"""Projected step time and efficiency of dptrain on R nodes (MPI ranks) -- a cost model, not a
measurement. Inputs are per-step figures measured on one node (`dptrain bench`, and under
`mpirun -np 2` for the loopback all-reduce); see docs/DISTRIBUTED.md.

Model, for a fixed global batch B split over R nodes with N threads each:
  compute(R)   = per_row * B / R + fixed            (forward+backward, in-process; per_row from
                                                     the one-node step, fixed = its wait/fork time)
  update       = reduce_update                      (memory-bound over all P parameters on every
                                                     node; does not shrink with R)
  allreduce(R) = 2 (R-1)/R * 4 P / (bw * eff) + 2 (R-1) * alpha      (ring all-reduce)
  step(R)      = compute(R) + update + allreduce(R)
speedup(R) = step(1) / step(R); efficiency = speedup / R (strong scaling: the global batch stays B).
Weak scaling (each node keeps B rows, the global batch grows to R*B): efficiency
= step(1) / (fb + wait + update + allreduce(R)).

usage: scripts/mpi-projection.py [--markdown]
"""
import argparse

# Measured on one 2-vCPU node here with 2 threads (dptrain bench --threads 2); see
# docs/DISTRIBUTED.md for the commands. Times in seconds.
MODELS = {
    "A 784-128-10, b128": dict(P=101_770, B=128, fb=391e-6, wait=27e-6, upd=76e-6),
    "B 784-1024-1024-10, b256": dict(P=1_863_690, B=256, fb=18.7e-3, wait=1.72e-3, upd=1.47e-3),
}
LINKS = {  # name: (bandwidth bytes/s, efficiency, per-message latency alpha in s)
    "10 Gb/s Ethernet (TCP)": (10e9 / 8, 0.8, 25e-6),
    "100 Gb/s (RDMA)": (100e9 / 8, 0.8, 3e-6),
}
NODES = [1, 2, 4, 8, 16, 32, 64]


def step_time(m, link, r):
    bw, eff, alpha = link
    compute = m["fb"] * (1.0 / r) + m["wait"]
    comm = 0.0 if r == 1 else 2 * (r - 1) / r * 4 * m["P"] / (bw * eff) + 2 * (r - 1) * alpha
    return compute + m["upd"] + comm, comm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args()
    for lname, link in LINKS.items():
        for mname, m in MODELS.items():
            t1, _ = step_time(m, link, 1)
            if args.markdown:
                print(f"\n**{mname}, {lname}** (projection)\n")
                print("| nodes | step ms | all-reduce ms | samples/s | speedup | efficiency | weak-scaling efficiency |")
                print("|---|---|---|---|---|---|---|")
            else:
                print(f"\n{mname}, {lname} (PROJECTION)")
                print(f"{'nodes':>5} {'step ms':>9} {'allred ms':>10} {'samples/s':>11} {'speedup':>8} {'eff':>6} {'weak eff':>9}")
            for r in NODES:
                t, comm = step_time(m, link, r)
                weak = t1 / (t1 + comm)
                row = (r, t * 1e3, comm * 1e3, m["B"] / t, t1 / t, t1 / t / r, weak)
                if args.markdown:
                    print("| %d | %.3f | %.3f | %.0f | %.2f | %.2f | %.2f |" % row)
                else:
                    print("%5d %9.3f %10.3f %11.0f %8.2f %6.2f %9.2f" % row)


if __name__ == "__main__":
    main()
