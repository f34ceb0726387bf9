#!/usr/bin/env python3
"""Time the field simulation kernel against its peers in one run (issue 16 §1).

Engines, on the same configurations and seed (SCIENCE.md defaults: Turing on, no
jitter, seed 42):
  numpy     the plain NumPy transcription of the reference
            (scripts/interop/numpy_reference.py)
  numba     the Numba port (scripts/bench/numba_reference.py; compiled before timing)
  mfn       `field::simulate` in-process (`kernel_timing simulate`: initial draws,
            steps, summary), one thread; two threads for N >= 256
  mfn-run   the same work as the peers (`kernel_timing run`: initial draws, steps, V,
            a and i as row-major arrays; `simulate` adds summary statistics and the
            fractal dimension, which the peers do not compute), one thread
  mfn-cli   `mfn simulate --repeat K` (the same call through the CLI), as a cross-check
  stencil   a plain one-array periodic 5-point stencil `u += α·L(u)` in Rust on the
            same grid, one thread: the machine-limit yardstick
            (crates/mfn-core/benches/common/plain_stencil.rs)

The machine may be shared: every round runs every engine once (a batch of K runs), in
an order that rotates between rounds. Each batch gives its median wall-clock time per
run and its CPU time per run (the thread's CPU time, which leaves out time other
processes held the core; for two threads, the sum over all threads); the figures
reported are medians over rounds. On a shared machine, use the CPU-time table. Before any
timing, the field, activator and inhibitor of numpy, numba and mfn are compared bit
for bit on each configuration.

    python scripts/bench/kernel.py --mfn target/release/mfn \\
        --timing target/release/examples/kernel_timing [--rounds 7] [--json out.json]
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
sys.path.insert(0, HERE)
import numba_reference  # noqa: E402
import numpy_reference  # noqa: E402

SEED = 42


def sha(x):
    return hashlib.sha256(np.ascontiguousarray(x).astype("<f8").tobytes()).hexdigest()


def batch_size(n, steps):
    """Runs per batch: about the same work per batch for every grid."""
    return max(1, min(200, int(2.6e7 // (n * n * steps))))


def py_batch(fn, n, steps, k):
    walls = []
    cpu0 = time.thread_time_ns()
    for _ in range(k):
        t = time.perf_counter()
        fn(SEED, n, steps)
        walls.append((time.perf_counter() - t) * 1e3)
    return {"wall": statistics.median(walls), "cpu": (time.thread_time_ns() - cpu0) / 1e6 / k}


def timing_batch(timing, what, n, steps, k, threads=1):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = json.loads(subprocess.run([timing, what, str(n), str(steps), str(k)], check=True,
                                    capture_output=True, text=True, env=env).stdout)
    return {"wall": out["median_ms"], "cpu": out["cpu_ms"] if threads == 1 else None,
            "cpu_all": out.get("cpu_all_ms")}


def cli_batch(mfn, n, steps, k, threads=1):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = json.loads(subprocess.run(
        [mfn, "--format", "json", "simulate", "--seed", str(SEED), "--grid-size", str(n),
         "--steps", str(steps), "--repeat", str(k)],
        check=True, capture_output=True, text=True, env=env).stdout)
    return {"wall": out["timing"]["median_ms"], "cpu": None}


def check_bit_exact(mfn, n, steps):
    V, a, i, *_ = numpy_reference.simulate(SEED, n, steps)
    Vb, ab, ib, *_ = numba_reference.simulate(SEED, n, steps)
    out = json.loads(subprocess.run(
        [mfn, "--format", "json", "simulate", "--seed", str(SEED), "--grid-size", str(n),
         "--steps", str(steps)], check=True, capture_output=True, text=True).stdout)
    want = (sha(V), sha(a), sha(i))
    numba_ok = (sha(Vb), sha(ab), sha(ib)) == want
    mfn_ok = (out["field_sha256"], out["activator_sha256"], out["inhibitor_sha256"]) == want
    return numba_ok, mfn_ok


def fmt(x):
    return "—" if x is None else ("%.3g ms" % x if x < 100 else "%.0f ms" % x)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mfn", required=True)
    ap.add_argument("--timing", required=True, help="the kernel_timing example binary")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--configs", default="64x64,128x100,512x100")
    args = ap.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]

    numba_reference.simulate(SEED, 8, 2)  # compile (cached on disk) before timing
    for n, steps in configs:
        numba_ok, mfn_ok = check_bit_exact(args.mfn, n, steps)
        print("bit-exact with numpy at %dx%dx%d: numba %s, mfn %s" % (n, n, steps, numba_ok, mfn_ok))
        if not (numba_ok and mfn_ok):
            sys.exit("not bit-exact: timings would compare different computations")

    load_before = os.getloadavg()
    started = time.time()
    results = {}
    for n, steps in configs:
        k = batch_size(n, steps)
        engines = {
            "numpy": lambda: py_batch(numpy_reference.simulate, n, steps, max(1, k // 8)),
            "numba": lambda: py_batch(numba_reference.simulate, n, steps, k),
            "mfn": lambda: timing_batch(args.timing, "simulate", n, steps, k),
            "mfn-run": lambda: timing_batch(args.timing, "run", n, steps, k),
            "mfn-cli": lambda: cli_batch(args.mfn, n, steps, k),
            "stencil": lambda: timing_batch(args.timing, "stencil", n, steps, k),
        }
        if n >= 256:
            engines["mfn-2t"] = lambda: timing_batch(args.timing, "simulate", n, steps, k, threads=2)
            engines["mfn-cli-2t"] = lambda: cli_batch(args.mfn, n, steps, k, threads=2)
        names = list(engines)
        rounds = {name: [] for name in names}
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                rounds[name].append(engines[name]())
        med = {}
        for name, rs in rounds.items():
            cpus = [x["cpu"] for x in rs if x["cpu"] is not None]
            med[name] = {"wall": statistics.median(x["wall"] for x in rs),
                         "wall_min": min(x["wall"] for x in rs),
                         "wall_max": max(x["wall"] for x in rs),
                         "cpu": statistics.median(cpus) if cpus else None}
            alls = [x["cpu_all"] for x in rs if x.get("cpu_all") is not None]
            if alls:
                med[name]["cpu_all"] = statistics.median(alls)
        results["%dx%dx%d" % (n, n, steps)] = {"n": n, "steps": steps, "batch_runs": k,
                                              "rounds": rounds, "median": med}
        print("done %dx%dx%d (%.0f s)" % (n, n, steps, time.time() - started), flush=True)
    load_after = os.getloadavg()

    print("\nload average before: %s; after: %s; %d rounds\n"
          % (" ".join("%.2f" % x for x in load_before), " ".join("%.2f" % x for x in load_after),
             args.rounds))
    print("Wall clock, median over rounds of each batch's median (one thread unless said):\n")
    print("| grid | NumPy | Numba | mfn | mfn CLI | mfn 2 threads | plain stencil "
          "| mfn vs NumPy | mfn vs Numba | mfn / stencil | mfn cell-updates/s | stencil cell-updates/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, res in results.items():
        m = {k: v["wall"] for k, v in res["median"].items()}
        cells = res["n"] ** 2 * res["steps"]
        two = ("%s (%.2f× 1 thread)" % (fmt(m["mfn-2t"]), m["mfn"] / m["mfn-2t"])) if "mfn-2t" in m else "—"
        print("| %s | %s | %s | %s | %s | %s | %s | %.1f× | %.2f× | %.2f× | %.0f M/s | %.0f M/s |" % (
            key, fmt(m["numpy"]), fmt(m["numba"]), fmt(m["mfn"]), fmt(m["mfn-cli"]), two,
            fmt(m["stencil"]), m["numpy"] / m["mfn"], m["numba"] / m["mfn"], m["mfn"] / m["stencil"],
            cells / m["mfn"] / 1e3, cells / m["stencil"] / 1e3))
    print("\nCPU time per run (thread CPU time, median over rounds; one thread). mfn = "
          "`simulate` (draws, steps, summary statistics and fractal dimension); mfn run = the "
          "peers' work (draws, steps, V/a/i as arrays, no summary):\n")
    print("| grid | NumPy | Numba | mfn | mfn run | plain stencil | mfn vs NumPy | mfn vs Numba "
          "| mfn run vs NumPy | mfn run vs Numba | mfn run / stencil | mfn run cell-updates/s | "
          "stencil cell-updates/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, res in results.items():
        c = {k: v["cpu"] for k, v in res["median"].items()}
        cells = res["n"] ** 2 * res["steps"]
        print("| %s | %s | %s | %s | %s | %s | %.1f× | %.2f× | %.1f× | %.2f× | %.2f× | %.0f M/s | %.0f M/s |" % (
            key, fmt(c["numpy"]), fmt(c["numba"]), fmt(c["mfn"]), fmt(c["mfn-run"]), fmt(c["stencil"]),
            c["numpy"] / c["mfn"], c["numba"] / c["mfn"], c["numpy"] / c["mfn-run"],
            c["numba"] / c["mfn-run"], c["mfn-run"] / c["stencil"],
            cells / c["mfn-run"] / 1e3, cells / c["stencil"] / 1e3))
    two = [(k, r["median"]) for k, r in results.items() if "mfn-2t" in r["median"]]
    if two:
        print("\nTwo threads vs one (mfn in-process; wall clock is only meaningful on an idle "
              "machine, CPU time summed over all threads shows the parallel overhead):\n")
        print("| grid | 1 thread wall | 2 threads wall | wall ratio | 1 thread CPU (all threads) "
              "| 2 threads CPU (all threads) | CPU 2t / 1t |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for key, m in two:
            c1, c2 = m["mfn"].get("cpu_all"), m["mfn-2t"].get("cpu_all")
            print("| %s | %s | %s | %.2f× | %s | %s | %s |" % (
                key, fmt(m["mfn"]["wall"]), fmt(m["mfn-2t"]["wall"]), m["mfn"]["wall"] / m["mfn-2t"]["wall"],
                fmt(c1), fmt(c2), "%.2f" % (c2 / c1) if c1 and c2 else "—"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"load_before": load_before, "load_after": load_after, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
